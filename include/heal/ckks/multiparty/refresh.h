// Collective bootstrapping (interactive refresh, protocol "RefreshProtocol"/CBS of Mouchet,
// Troncoso-Pastoriza, Bossuat, Hubaux, ePrint 2020/304, Sec. IV-D): the parties holding shares
// of the secret s raise a ciphertext (c0, c1) at a low level l (modulus Q_l) to the top level L
// without any bootstrapping circuit. With a' uniform over Q_L from a public seed, party i sends
//
//     h0_i = s_i c1 + M_i + e0_i  (mod Q_l),      h1_i = -s_i a' - M_i + e1_i  (mod Q_L),
//
// M_i a uniform mask, e0_i flooding noise (sigma of flooding.h), e1_i fresh RLWE noise. Then
// c0 + sum_i h0_i = m + e_ct + sum_i M_i + sum_i e0_i holds over the integers (no wrap mod Q_l:
// checked), is lifted centered and exactly from Q_l to Q_L, and (lift + sum_i h1_i, a') is an
// encryption of m + e_ct + sum_i (e0_i + e1_i) at level L with the input's scale and slots.
// t-of-n: a quorum of Shamir share holders uses lambda_j^T S(x_j) as ThresholdDecryptor does.
#pragma once

#include <cstdint>
#include <limits>
#include <set>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/multiparty/flooding.h"
#include "heal/ckks/multiparty/shares.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/core/status.h"

namespace heal::ckks::multiparty {

/// What a refreshing party knows about the ciphertexts it refreshes.
struct RefreshParams {
  /// Sizes the flooding noise e0_i exactly as for ThresholdDecryptor: lambda (also the mask's
  /// statistical parameter), B_ct of the input ciphertexts (derived from fresh_encryptions, or
  /// the caller's word with caller_vouches_for_noise_bound), D = refreshes allowed per key epoch,
  /// parties per refresh, and required_bits the refreshed ciphertext must keep.
  FloodingParams flooding;
  /// Bound on |value| of every encoded slot (coefficient when Ciphertext::slots() == 0) of the
  /// refreshed messages. Must be stated: the masks are sized from it.
  double message_bound = std::numeric_limits<double>::quiet_NaN();
};

/// Collective bootstrapping, n-of-n (additive secrets s_i) or t-of-n (ThresholdSecret + quorum).
/// Before a share leaves the party, gen_share checks (and otherwise throws std::invalid_argument):
///  - check_share: the masks of all shares plus the message fit below Q_l / 4 (no wrap) and the
///    flooding keeps RefreshParams::flooding.required_bits at the ciphertext's scale;
///  - that the a' seed (derived from the CRS, the session number and the ciphertext) was not used
///    by this object before (two refreshes with one a' would leak the difference of the messages)
///    and that fewer than max_decryptions refresh shares were produced.
class CollectiveBootstrapper {
 public:
  /// Throws std::invalid_argument if validate(*ctx, params.flooding) fails, sigma exceeds 2^55 or
  /// message_bound is not positive and finite.
  CollectiveBootstrapper(ContextPtr ctx, const Seed& crs, RefreshParams params);

  /// Ok when a share of `ct` combined into `shares` shares (FloodingParams::parties when larger)
  /// fits (mask_bits) and keeps the precision; FailedPrecondition naming the problem otherwise.
  Status check_share(const Ciphertext& ct, std::size_t shares) const;
  /// n-of-n party step with the party's additive secret s_i.
  RefreshShare gen_share(PartyId party, const Ciphertext& ct, std::uint64_t session, const SecretKey& s_i, Rng& rng);
  /// t-of-n party step for `quorum` (contains the party, |quorum| >= threshold), with the
  /// additive share lambda_j^T S(x_j).
  RefreshShare gen_share(const ThresholdSecret& secret, std::span<const PartyId> quorum, const Ciphertext& ct,
                         std::uint64_t session, Rng& rng);
  /// Sum of shares of distinct parties for the same ciphertext, session (seed) and quorum.
  RefreshShare aggregate_shares(std::span<const RefreshShare> shares) const;
  /// The refreshed ciphertext at the top level (input's scale and slots). Refuses an aggregate
  /// made for another ciphertext or session, one missing a quorum member, or (n-of-n) one of
  /// fewer than FloodingParams::parties shares.
  Ciphertext finalize(const Ciphertext& ct, const RefreshShare& aggregate) const;

  /// Seed of a': BLAKE2b of the CRS, the session number and the ciphertext (level, scale, slots, words).
  Seed refresh_seed(const Ciphertext& ct, std::uint64_t session) const;
  /// Masks are uniform in [-2^b, 2^b) with b = ceil(lambda + log2 N + log2(scale * message_bound + B_ct)),
  /// so that the masked message is within statistical distance 2^-lambda of the mask (N coefficients).
  int mask_bits(const Ciphertext& ct) const;
  /// log2 of the bound the combined c0 + sum h0 stays below for `shares` shares (must be < log2 Q_l - 2).
  double combined_bound_bits(const Ciphertext& ct, std::size_t shares) const;
  double sigma() const { return sigma_; }
  std::uint64_t shares_generated() const { return generated_; }

 private:
  RefreshShare share_with(PartyId party, const Ciphertext& ct, std::uint64_t session, std::size_t shares,
                          const math::RnsPoly& s, Rng& rng);
  void check_ciphertext(const Ciphertext& ct, const char* op) const;
  ContextPtr ctx_;
  Seed crs_;
  RefreshParams params_;
  double sigma_;
  std::uint64_t generated_ = 0;
  std::set<Seed> used_seeds_;
};

}  // namespace heal::ckks::multiparty
