// Shared helpers for the ckks tests: random slot vectors and bits of precision.
#pragma once

#include <cmath>
#include <complex>
#include <vector>

#include "heal/core/rng.h"

namespace heal::ckks::testing {

using Vec = std::vector<std::complex<double>>;

inline Vec random_vec(std::size_t n, std::uint64_t seed, double mag = 1.0) {
  SeededRng r(seed_from_u64(seed));
  Vec v(n);
  for (auto& x : v) x = {mag * (2 * r.uniform_double() - 1), mag * (2 * r.uniform_double() - 1)};
  return v;
}

/// -log2(max |a_i - b_i|).
inline double precision_bits(const Vec& a, const Vec& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m == 0 ? 60.0 : -std::log2(m);
}

}  // namespace heal::ckks::testing
