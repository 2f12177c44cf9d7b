// Threshold decryption with noise flooding (protocol CKS of ePrint 2020/304 with target key 0),
// n-of-n with additive secrets s_i, and t-of-n via Shamir re-sharing of the additive secrets
// (Mouchet, Bertrand, Hubaux, "An Efficient Threshold Access-Structure for RLWE-Based
// Multiparty Homomorphic Encryption", ePrint 2022/780): each party Shamir-shares its s_i over
// every RNS prime (math/shamir.h); party j sums what it receives into S(x_j), a share of
// s = sum_i s_i on a degree t-1 polynomial S. A quorum T of t parties decrypts with the additive
// shares lambda_j^T S(x_j) (Lagrange coefficients at 0), so any t parties decrypt and any t-1
// learn nothing (their shares are uniformly random).
#pragma once

#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/multiparty/flooding.h"
#include "heal/ckks/multiparty/shares.h"
#include "heal/ckks/plaintext.h"
#include "heal/core/status.h"

namespace heal::ckks::multiparty {

/// A party's Shamir share S(x_party) of the collective secret (threshold t). Secret; wiped.
struct ThresholdSecret {
  PartyId party = 0;
  std::size_t threshold = 0;
  SecretKey share;  ///< NTT form over the key basis
};

/// Setup of t-of-n decryption from the parties' additive secrets (one Shamir round).
class ThresholdKeyGen {
 public:
  /// `parties`: distinct ids >= 1 (the Shamir points); 1 <= threshold <= parties.size().
  ThresholdKeyGen(ContextPtr ctx, std::size_t threshold, std::vector<PartyId> parties);
  /// Party `sender` shares its additive secret: one kShamirSecret share per party (itself
  /// included), each to be sent privately to its recipient.
  std::vector<KeyShare> gen_share(PartyId sender, const SecretKey& s_i, Rng& rng) const;
  /// Recipient side: sums the shares it received from every party (one per sender).
  KeyShare aggregate_shares(PartyId recipient, std::span<const KeyShare> received) const;
  /// The recipient's threshold secret S(x_recipient).
  ThresholdSecret finalize(const KeyShare& aggregate) const;

  std::size_t threshold() const { return t_; }
  const std::vector<PartyId>& parties() const { return parties_; }

 private:
  ContextPtr ctx_;
  std::size_t t_;
  std::vector<PartyId> parties_;
};

/// Flooded threshold decryption. Before any share leaves the party, the decryptor checks
///  - at construction, validate(ctx, flooding): B_ct is not below the bound the party derives
///    itself from FloodingParams::fresh_encryptions (unless the caller explicitly vouches for it);
///  - for every share, check_share: check_flooding_precision passes for the shares combined and the
///    ciphertext's scale and encoding, at FloodingParams::required_bits;
///  - that it has produced fewer than FloodingParams::max_decryptions shares (the flooding bound
///    assumes at most that many).
class ThresholdDecryptor {
 public:
  /// Throws std::invalid_argument if validate(*ctx, flooding) fails or sigma exceeds 2^55.
  ThresholdDecryptor(ContextPtr ctx, FloodingParams flooding);
  /// Ok if a share of `ct` combined with others into `shares` shares (FloodingParams::parties
  /// when larger) keeps FloodingParams::required_bits; FailedPrecondition otherwise. gen_share
  /// throws std::invalid_argument with the same message instead of producing such a share.
  Status check_share(const Ciphertext& ct, std::size_t shares) const;
  /// n-of-n party step: h_i = c1 * s_i + e_flood (s_i: the party's additive secret); checked for
  /// FloodingParams::parties shares.
  DecryptionShare gen_share(PartyId party, const Ciphertext& ct, const SecretKey& s_i, Rng& noise_rng);
  /// t-of-n party step for quorum `quorum` (must contain the party, |quorum| >= threshold):
  /// h_j = c1 * lambda_j^T S(x_j) + e_flood.
  DecryptionShare gen_share(const ThresholdSecret& secret, std::span<const PartyId> quorum, const Ciphertext& ct,
                            Rng& noise_rng);
  /// Sum of shares from distinct parties (all at the same level).
  DecryptionShare aggregate_shares(std::span<const DecryptionShare> shares) const;
  /// m = c0 + sum_i h_i: the plaintext (NTT form, ct's level and scale).
  Plaintext finalize(const Ciphertext& ct, const DecryptionShare& aggregate) const;

  /// sigma of each party's flooding noise.
  double sigma() const { return sigma_; }
  std::uint64_t shares_generated() const { return generated_; }

 private:
  DecryptionShare share_with(PartyId party, const Ciphertext& ct, std::size_t shares, const math::RnsPoly& s,
                             Rng& noise_rng);
  ContextPtr ctx_;
  FloodingParams flood_;
  double sigma_;
  std::uint64_t generated_ = 0;
};

/// Sums compact symmetric encryptions made under ONE public `a` (the same seed) by different
/// parties, each under its own additive secret s_i (Encryptor::encrypt_seeded(pt, seed, rng)):
/// (sum_i c0_i, a) encrypts sum_i m_i under s_C = sum_i s_i, which a quorum decrypts with
/// threshold shares of s_C (the fl layer's aggregation). The inputs are outside bytes, hence
/// Status: InvalidArgument when `cts` is empty; Corruption when seeds, levels, scales or slot
/// counts differ or a c0 does not match the context.
Result<SeededCiphertext> sum_seeded_ciphertexts(const Context& ctx, std::span<const SeededCiphertext> cts);

/// Combines decryption shares received from other parties (outside bytes, hence Status rather
/// than HEAL_REQUIRE): m = c0 + sum_i h_i, the plaintext in NTT form at ct's level, scale and
/// slots. Equals ThresholdDecryptor::finalize(ct, aggregate_shares(shares)) and, for a complete
/// set of n-of-n shares or a quorum of t-of-n shares, the single-key decryption c0 + c1 s up to
/// the flooding noise. InvalidArgument when `shares` is empty or two shares name the same party;
/// Corruption when a share is not an NTT-form polynomial at ct's level over the context's ring.
Result<Plaintext> combine_decryption_shares(const Context& ctx, const Ciphertext& ct,
                                            std::span<const DecryptionShare> shares);
/// The same for a compact seeded ciphertext (its c1 is implied by the seed; only c0 is read).
Result<Plaintext> combine_decryption_shares(const Context& ctx, const SeededCiphertext& ct,
                                            std::span<const DecryptionShare> shares);

}  // namespace heal::ckks::multiparty
