// Circuit privacy of the server's output (encrypted diagnosis): the client, who holds the secret
// key, must learn the logits and nothing else about the model.
//
//  * Masking: every slot other than the logits is zero. Single mode evaluates the last linear
//    stage with the (clean) diagonal layout, whose diagonals are zero outside the logit slots, so
//    the 0/1 mask is folded into the stage's weights (no level); batch mode puts one image per slot
//    and the slots the client left empty hold the model's output on the zero image it sent.
//  * Noise flooding (Gentry's thesis, 2009, Sec. 21; "noise flooding"): before the last rescale,
//    while the logits still have the large scale s_pre (batch: scale^2 * q_l; single: scale * q_l *
//    2^boost, the last stage's weights encoded 2^boost larger), the server adds a fresh encryption
//    of zero under the client's public key whose error carries a rounded Gaussian of width
//
//        sigma = 2^(lambda - 1) * sqrt(N) * B,
//
//    B a bound on ||e||_inf (coefficients) of the noise the server's final operations add on top of
//    the approximate logits (key switching: ModDown rounding r0 + r1 s, ckks::multiparty::
//    fresh_noise_bound, per key switch). With ||e||_2 <= sqrt(N) B, the statistical distance between
//    N(0, sigma^2 I) and N(e, sigma^2 I) is at most ||e||_2 / (2 sigma) (Pinsker) = 2^-lambda, so the
//    final ciphertext is 2^-lambda-close to one that depends on the approximate logits only (over D
//    queries: D * 2^-lambda). This is the IND-CPA^D-style argument of Li-Micciancio (ePrint
//    2020/1533) and de Castro et al. applied to the server's output instead of a decryption.
//    After the last rescale the flood shrinks by q_l with the message, so it costs slot precision
//    sigma * sqrt(N/2) / s_pre only (checked against kFloodPrecisionBits at engine construction).
//  * Not hidden (docs/security.md): the logits, and their approximation error (~1e-4, the product
//    of the weights with the noise of the earlier stages) whose distribution depends on the model.
#pragma once

#include <cstddef>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/params.h"
#include "heal/core/rng.h"

namespace heal::he_infer {

/// Statistical security of the output flood (lambda, bits).
inline constexpr double kFloodSecurityBits = 40;
/// The flood's slot error on the logits must stay below 2^-kFloodPrecisionBits (one standard
/// deviation; the logits' approximation error is about 1e-4 = 2^-13).
inline constexpr double kFloodPrecisionBits = 14;
/// Bits kept free above |logit| * scale in the last levels (|logit| < 2^kLogitBits, sign, margin).
inline constexpr int kLogitHeadroomBits = 8;

/// How the server's output is sanitised (the public numbers; no secret).
struct OutputFlood {
  double noise_bound = 0;  ///< B, bound on ||e||_inf of the noise flooded
  double sigma = 0;        ///< Gaussian width of the flood (coefficients)
  double scale = 0;        ///< the logits' scale where the flood is added
  std::size_t level = 0;   ///< level where the flood is added
  /// Predicted standard deviation of the flood in the real part of each slot: sigma * sqrt(N/2) / scale
  /// (a slot is a sum of N coefficients times roots of unity; half the variance in the real part).
  double slot_std(const ckks::Context& ctx) const;
};

/// sigma = 2^(lambda - 1) * sqrt(N) * B (lambda = kFloodSecurityBits).
double flood_sigma(const ckks::Context& ctx, double noise_bound);
/// Bound B on the noise of `key_switches` key switches (plus one fresh encryption) added together.
double key_switch_noise_bound(const ckks::Context& ctx, std::size_t key_switches);

/// Enc_pk(e_flood): a fresh public-key encryption (by `enc`, the client's public key) of the
/// polynomial e_flood, coefficients from a rounded Gaussian of width f.sigma (CSPRNG, wiped after
/// use), at f.level; an encryption of zero whose error is flooded.
/// `rng` (tests only: deterministic floods) replaces the CSPRNG for e_flood; `enc` draws u, e0, e1.
ckks::Ciphertext flooding_encryption(const ckks::Context& ctx, const OutputFlood& f, double scale, std::size_t slots,
                                     ckks::Encryptor& enc, Rng* rng = nullptr);
/// ct += flood (both at f.level; ct relinearized). Each flood ciphertext must be used once.
void add_flood_inplace(const ckks::Context& ctx, const OutputFlood& f, ckks::Ciphertext& ct, const ckks::Ciphertext& flood);
/// ct += Enc_pk(e_flood): a fresh public-key encryption (by `enc`, the client's public key) of the
/// polynomial e_flood with coefficients from a rounded Gaussian of width f.sigma (CSPRNG, wiped
/// after use), at ct's level and scale. ct must have 2 polynomials and be at f.level.
void flood_inplace(const ckks::Context& ctx, const OutputFlood& f, ckks::Ciphertext& ct, ckks::Encryptor& enc);

}  // namespace heal::he_infer
