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

#include <cstdint>

#include "heal/ckks/params.h"
#include "heal/core/status.h"

namespace heal::ckks::multiparty {

/// Flooding parameters of threshold decryption.
struct FloodingParams {
  double security_bits = 40;          ///< lambda (statistical); at least 40 is enforced
  double ciphertext_noise_bound = 0;  ///< B_ct, bound on ||e_ct||_inf of decrypted ciphertexts (> 0)
  std::uint64_t max_decryptions = 256;  ///< D, decryptions per key epoch (each decryptor refuses more)
};

/// Throws std::invalid_argument unless lambda >= 40, B_ct > 0 and D >= 1.
void validate(const FloodingParams& p);

/// sigma_flood = 2^(lambda/2) * sqrt(N * D) * B_ct (see the header comment).
double flooding_sigma(const Context& ctx, const FloodingParams& p);

/// High-probability (6-sigma) bound on ||e||_inf of a fresh public-key encryption under a key
/// whose secret is the sum of `secret_parties` ternary secrets: the ModDown rounding r0 + r1 s
/// dominates (variance (1 + N * 2/3 * parties) / 12), the (u e + e0 + e1 s)/P terms add < 1.
/// Sums of k ciphertexts have bound k * B; plaintext multiplication by w scales it by ||w||.
double fresh_noise_bound(const Context& ctx, std::size_t secret_parties);

/// Predicted standard deviation of the slot error added by flooding when `parties` flooded
/// shares are combined and the message has scale `scale` (sigma * sqrt(parties * N) / scale).
double flooded_slot_error_std(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale);

/// Ok if 8 predicted standard deviations of the flooded slot error stay below 2^-required_bits
/// (so the caller's precision need is met with overwhelming probability); FailedPrecondition
/// naming the achievable bits and the scale that would be needed otherwise.
Status check_flooding_precision(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale,
                                double required_bits);

}  // namespace heal::ckks::multiparty
