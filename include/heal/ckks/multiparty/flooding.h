// Noise flooding of partial decryptions against the Li-Micciancio IND-CPA^D key-recovery attack
// (ePrint 2020/1533): a raw CKKS decryption m + e reveals e, and with it c1 * s. Each party adds a
// fresh Gaussian e_flood of standard deviation
//
//     sigma_flood = 2^(lambda/2) * sqrt(N * D) * B_ct
//
// to its share c1 * s_i, where B_ct bounds ||e_ct||_inf (coefficient domain) of the ciphertext
// being decrypted, N is the ring degree and D the number of decryptions allowed per key epoch.
// Rationale (Renyi divergence of order 2, Bai et al. ePrint 2015/483; applied to CKKS by
// Li-Micciancio-Schultz-Sorrell, CRYPTO'22, ePrint 2022/816): for D decryptions the divergence
// between flooded outputs with and without the secret-dependent e_ct is
// exp(D * ||e_ct||_2^2 / sigma^2) <= exp(D * N * B_ct^2 / sigma^2) = exp(2^-lambda), so an attack
// that recovers the key (a search problem) with probability p against real decryptions succeeds
// with probability >= p^2 / e^(2^-lambda) against simulated ones, i.e. lambda bits are kept.
// The price: slot error of about sigma_flood * sqrt(parties * N) / scale after decoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "heal/ckks/params.h"
#include "heal/core/status.h"

namespace heal::ckks::multiparty {

/// How the fresh encryptions summed into a decrypted ciphertext were made (sets their noise bound).
enum class FreshEncryption {
  kPublicKey,  ///< Encryptor with a (collective) public key: fresh_noise_bound(ctx, secret_parties)
  kSymmetric,  ///< c0 = -a s_i + m + e with e from sample_gaussian: symmetric_noise_bound()
};

/// Flooding parameters of threshold decryption, and what the decrypting party knows about the
/// ciphertexts it decrypts. ThresholdDecryptor produces a share only when (1) B_ct is at least the
/// bound the party derives itself from `fresh_encryptions` (or the caller explicitly vouches for
/// B_ct) and (2) check_flooding_precision passes for `parties` shares at the ciphertext's scale
/// and `required_bits`; see validate() and ThresholdDecryptor::check_share.
struct FloodingParams {
  double security_bits = 40;          ///< lambda (statistical); at least 40 is enforced
  /// B_ct, bound on ||e_ct||_inf of decrypted ciphertexts. 0: use the derived bound
  /// (derived_noise_bound); a smaller value than the derived bound is refused.
  double ciphertext_noise_bound = 0;
  std::uint64_t max_decryptions = 256;  ///< D, decryptions per key epoch (each decryptor refuses more)
  /// Shares combined per decryption (n for n-of-n; for t-of-n the quorum size is used when larger).
  std::size_t parties = 0;
  /// Precision the decryption must keep: check_flooding_precision(..., required_bits) must pass.
  /// NaN (the default) must be replaced by the caller's need.
  double required_bits = std::numeric_limits<double>::quiet_NaN();
  /// Ternary secrets summed in the decryption key (the fresh public-key noise grows with it).
  std::size_t secret_parties = 0;
  /// Every decrypted ciphertext is a sum of at most this many fresh encryptions (no other
  /// operation: no products, rotations, rescales). The party derives B_ct from it.
  std::size_t fresh_encryptions = 0;
  FreshEncryption fresh_kind = FreshEncryption::kPublicKey;
  /// Explicit opt-in for other circuits (products, rotations, ...), whose noise the party cannot
  /// bound: then B_ct (> 0) is the caller's word and the flooding argument rests on it.
  bool caller_vouches_for_noise_bound = false;
};

/// Throws std::invalid_argument unless lambda >= 40, D >= 1, parties >= 1, required_bits is set
/// (finite), secret_parties >= 1, and either fresh_encryptions >= 1 with B_ct = 0 or
/// B_ct >= derived_noise_bound, or caller_vouches_for_noise_bound with B_ct > 0.
void validate(const Context& ctx, const FloodingParams& p);

/// The noise bound the party derives itself: fresh_encryptions times the bound of one fresh
/// encryption of kind fresh_kind (0 when fresh_encryptions == 0).
double derived_noise_bound(const Context& ctx, const FloodingParams& p);

/// The B_ct the flooding is sized for: max(ciphertext_noise_bound, derived_noise_bound).
double effective_noise_bound(const Context& ctx, const FloodingParams& p);

/// sigma_flood = 2^(lambda/2) * sqrt(N * D) * B_ct (see the header comment), B_ct = effective_noise_bound.
double flooding_sigma(const Context& ctx, const FloodingParams& p);

/// Bound on ||e||_inf of a fresh symmetric encryption c0 = -a s + m + e: sample_gaussian truncates
/// e at 6 sigma (sigma = math::kDefaultSigma), so 6 sigma is a hard bound.
double symmetric_noise_bound();

/// High-probability (6-sigma) bound on ||e||_inf of a fresh public-key encryption under a key
/// whose secret is the sum of `secret_parties` ternary secrets: the ModDown rounding r0 + r1 s
/// dominates (variance (1 + N * 2/3 * parties) / 12), the (u e + e0 + e1 s)/P terms add < 1.
/// Sums of k ciphertexts have bound k * B; plaintext multiplication by w scales it by ||w||.
double fresh_noise_bound(const Context& ctx, std::size_t secret_parties);

/// Predicted standard deviation of the slot error added by flooding when `parties` flooded
/// shares are combined and the message has scale `scale` (sigma * sqrt(parties * N) / scale).
double flooded_slot_error_std(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale);

/// The same for a coefficient-encoded message (Ciphertext::slots() == 0, e.g. the fl layer's
/// packing): no decoding FFT sums N coefficients into a slot, so sigma * sqrt(parties) / scale.
double flooded_coeff_error_std(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale);

/// Ok if 8 predicted standard deviations of the flooded error stay below 2^-required_bits (so the
/// caller's precision need is met with overwhelming probability); FailedPrecondition naming the
/// achievable bits and the scale that would be needed otherwise. `slots` == 0 selects the
/// coefficient-encoding error (flooded_coeff_error_std), anything else the slot error.
Status check_flooding_precision(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale,
                                double required_bits, std::size_t slots = 1);

}  // namespace heal::ckks::multiparty
