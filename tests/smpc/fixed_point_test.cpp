#include "heal/smpc/fixed_point.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "heal/core/rng.h"

namespace heal::smpc {
namespace {

TEST(FixedPoint, RoundTripWithinHalfAnUlp) {
  SeededRng rng(seed_from_u64(11));
  for (int f : {0, 8, 16, 24, 32}) {
    const double bound = std::ldexp(0.5, -f) * (1 + 1e-12);  // 2^-(f+1), plus the double's own rounding
    const double mag = std::min(1e6, std::ldexp(1.0, 52 - f));
    for (int i = 0; i < 20000; ++i) {
      const double x = (2 * rng.uniform_double() - 1) * mag;
      EXPECT_LE(std::fabs(fixed_decode(fixed_encode(x, f), f) - x), bound) << "x=" << x << " f=" << f;
    }
  }
  EXPECT_EQ(fixed_decode(fixed_encode(-1.5)), -1.5);
  EXPECT_EQ(fixed_encode(-1.5), ~std::uint64_t{0} - 3 * (std::uint64_t{1} << 15) + 1);  // 2^64 - 1.5 * 2^16
}

TEST(FixedPoint, SumsOfNegativesWrapCorrectly) {
  SeededRng rng(seed_from_u64(12));
  const int k = 64;
  std::vector<double> plain(1000, 0.0);
  std::vector<std::uint64_t> acc(1000, 0);
  for (int j = 0; j < k; ++j) {
    std::vector<double> x(1000);
    for (auto& v : x) v = -1000.0 * rng.uniform_double();  // all negative: every word is near 2^64
    for (std::size_t i = 0; i < x.size(); ++i) plain[i] += x[i];
    add_in_place(acc, fixed_encode(x));
  }
  const auto dec = fixed_decode(acc);
  for (std::size_t i = 0; i < dec.size(); ++i) {
    EXPECT_LT(dec[i], 0.0);
    EXPECT_LE(std::fabs(dec[i] - plain[i]), k * std::ldexp(1.0, -17) + 1e-9);
  }
  // 50 x 1e14 then 51 x -1e14: the partial sums leave the signed range (and wrap 2^64) many times,
  // the final sum -1e14 is within it and comes out exactly.
  std::vector<std::uint64_t> w(1, 0);
  for (int j = 0; j < 101; ++j) add_in_place(w, std::vector<std::uint64_t>{fixed_encode(j < 50 ? 1e14 : -1e14)});
  EXPECT_EQ(fixed_decode(w[0]), -1e14);
}

TEST(FixedPoint, WeightedMeanMultipliesByIntegerWeightsAndDividesAfterDecoding) {
  const std::vector<double> x{-2.25, 3.5, 10.0};
  const std::vector<std::uint64_t> w{3, 1, 2};
  std::vector<std::uint64_t> acc(1, 0);
  for (std::size_t k = 0; k < x.size(); ++k) {
    std::vector<std::uint64_t> e{fixed_encode(x[k])};
    scale_in_place(e, w[k]);
    add_in_place(acc, e);
  }
  EXPECT_DOUBLE_EQ(fixed_decode(acc[0]) / 6.0, (-2.25 * 3 + 3.5 + 20.0) / 6.0);
}

TEST(FixedPoint, RangeIsEnforced) {
  EXPECT_EQ(fixed_point_limit(16), std::ldexp(1.0, 47));
  EXPECT_NO_THROW(fixed_encode(std::ldexp(1.0, 47) - 1.0));
  EXPECT_THROW(fixed_encode(std::ldexp(1.0, 47)), std::invalid_argument);
  EXPECT_THROW(fixed_encode(-std::ldexp(1.0, 47)), std::invalid_argument);
  EXPECT_THROW(fixed_encode(std::nan("")), std::invalid_argument);
  EXPECT_THROW(fixed_encode(1.0, 53), std::invalid_argument);
  // A sum that leaves the signed range decodes to the wrong sign: that is the documented limit.
  std::vector<std::uint64_t> acc{fixed_encode(std::ldexp(1.0, 46) + 1.0)};
  add_in_place(acc, std::vector<std::uint64_t>{fixed_encode(std::ldexp(1.0, 46))});
  EXPECT_LT(fixed_decode(acc[0]), 0.0);
}

}  // namespace
}  // namespace heal::smpc
