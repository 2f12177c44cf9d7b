// Samplers for RLWE: uniform mod q (rejection), ternary (uniform or fixed Hamming weight),
// discrete Gaussian (sigma = 3.2, truncated at 6 sigma; exact CDT), and seed-expanded uniform
// polynomials.
// All randomness comes from heal::Rng (SystemRng for secrets and noise, SeededRng(seed, stream)
// for public `a` polynomials that are stored as their seed).
#pragma once

#include <cstdint>
#include <vector>

#include "heal/core/rng.h"
#include "heal/math/rns_poly.h"

namespace heal::math {

inline constexpr double kDefaultSigma = 3.2;

/// Uniform element of [0, q) by rejection on masked 64-bit words.
u64 sample_uniform_mod(Rng& rng, const Modulus& q);
/// Fills each of the first `limbs` limbs with independent uniform residues (a uniform element of
/// R_Q); the result is marked as being in `ntt_form` (uniform is uniform in either form).
RnsPoly sample_uniform_poly(Rng& rng, const RnsBasis& basis, std::size_t limbs, bool ntt_form);
/// Deterministic expansion: the uniform polynomial derived from (seed, stream).
RnsPoly expand_uniform_poly(const Seed& seed, std::uint64_t stream, const RnsBasis& basis,
                            std::size_t limbs, bool ntt_form);
/// n coefficients uniform in {-1, 0, 1}.
std::vector<std::int64_t> sample_ternary(Rng& rng, std::size_t n);
/// n coefficients in {-1, 0, 1} with exactly h nonzero entries (random positions and signs).
std::vector<std::int64_t> sample_ternary_hw(Rng& rng, std::size_t n, std::size_t h);
/// n samples of the discrete Gaussian D_{Z,sigma} truncated to |x| <= 6 sigma. For sigma <= 64
/// an exact cumulative-distribution table with 64-bit thresholds, scanned in full for every
/// sample (no sample-dependent timing); for larger sigma (noise flooding) a rounded continuous
/// Gaussian (Box-Muller), resampled when |x| > 6 sigma.
std::vector<std::int64_t> sample_gaussian(Rng& rng, std::size_t n, double sigma = kDefaultSigma);

}  // namespace heal::math
