// Helpers shared by the ckks sources (not installed).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/params.h"
#include "heal/core/check.h"

namespace heal::ckks::detail {

/// Relative tolerance under which two scales count as equal.
inline constexpr double kScaleRelTolerance = 1e-9;

inline bool scales_match(double a, double b) { return std::fabs(a - b) <= kScaleRelTolerance * std::max(a, b); }

/// round(v) reduced modulo each of the first `limbs` primes of `basis` (any finite v).
std::vector<math::u64> round_to_residues(double v, const math::RnsBasis& basis, std::size_t limbs);

/// Checks that `ct` is a well-formed ciphertext for ctx (degree, limbs, NTT form).
void check_ciphertext(const Context& ctx, const Ciphertext& ct, const char* op);

}  // namespace heal::ckks::detail
