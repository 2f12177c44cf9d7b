// Fixed-point encoding of real vectors into Z_{2^64} (unsigned 64-bit wrap-around arithmetic), the
// ring that additive sharing and secure aggregation (heal/smpc/additive.h, heal/smpc/secagg.h) sum in.
//
// Encoding: x -> round(x * 2^f) as a two's-complement 64-bit word (round half away from zero,
// std::round). Decoding reads the word as a signed int64 and divides by 2^f.
//  - f (frac_bits) is in [0, 52]; the default kDefaultFracBits = 16 gives a resolution of
//    2^-16 ~ 1.5e-5, ample for model updates and statistics, and leaves 47 integer bits.
//  - Range: encode() requires |x| < 2^(63-f) (2^47 ~ 1.4e14 for f = 16), else HEAL_REQUIRE throws.
//  - Round trip: |decode(encode(x)) - x| <= 2^-(f+1) for |x| <= 2^(52-f) (there the double holds
//    x * 2^f exactly up to the rounding to an integer); above that the double's own 53-bit
//    precision dominates (relative error 2^-53).
//  - Sums: encode(a) + encode(b) (mod 2^64) decodes to a + b (within the rounding errors, which add
//    up: k values give at most k * 2^-(f+1)) as long as every partial sum, truncated to the
//    signed range, stays within (-2^(63-f), 2^(63-f)): the sum of k values of magnitude <= B needs
//    k * B < 2^(63-f). Intermediate wrap-around is harmless: only the final sum must fit.
//    Negative values wrap (e.g. -1.5 is 2^64 - 1.5 * 2^f) and sums of negatives decode correctly.
//  - No truncation after multiplication is done here: a weighted mean sum_k w_k x_k / sum_k w_k is
//    computed by multiplying encode(x_k) by the integer weight w_k (scale_in_place, mod 2^64),
//    summing, decoding, and dividing by sum_k w_k in double after decoding. The weighted sum must
//    itself satisfy |sum_k w_k x_k| < 2^(63-f).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace heal::smpc {

inline constexpr int kDefaultFracBits = 16;

/// 2^(63 - frac_bits): encode() accepts |x| strictly below this, and every decoded sum must be too.
double fixed_point_limit(int frac_bits = kDefaultFracBits);

/// round(x * 2^frac_bits) mod 2^64. Requires finite x with |x| < fixed_point_limit(frac_bits) and
/// 0 <= frac_bits <= 52 (HEAL_REQUIRE).
std::uint64_t fixed_encode(double x, int frac_bits = kDefaultFracBits);
/// The word read as a signed int64, times 2^-frac_bits.
double fixed_decode(std::uint64_t v, int frac_bits = kDefaultFracBits);

std::vector<std::uint64_t> fixed_encode(std::span<const double> x, int frac_bits = kDefaultFracBits);
std::vector<double> fixed_decode(std::span<const std::uint64_t> v, int frac_bits = kDefaultFracBits);

/// acc[i] += x[i] mod 2^64 (sizes must match).
void add_in_place(std::span<std::uint64_t> acc, std::span<const std::uint64_t> x);
/// acc[i] -= x[i] mod 2^64 (sizes must match).
void sub_in_place(std::span<std::uint64_t> acc, std::span<const std::uint64_t> x);
/// v[i] *= w mod 2^64: an integer weight, for weighted sums (divide by the weight sum after decoding).
void scale_in_place(std::span<std::uint64_t> v, std::uint64_t w);

}  // namespace heal::smpc
