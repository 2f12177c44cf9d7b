#include "heal/math/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "heal/math/simd.h"

namespace heal::math {
namespace {

TEST(Sampler, TernaryStatistics) {
  SeededRng rng(seed_from_u64(20));
  const std::size_t n = 1 << 16;
  auto v = sample_ternary(rng, n);
  double sum = 0, sq = 0;
  for (auto x : v) {
    ASSERT_TRUE(x >= -1 && x <= 1);
    sum += static_cast<double>(x);
    sq += static_cast<double>(x * x);
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(sq / n, 2.0 / 3.0, 0.02);
}

TEST(Sampler, HammingWeightIsExact) {
  SeededRng rng(seed_from_u64(21));
  for (std::size_t h : {std::size_t{0}, std::size_t{64}, std::size_t{192}, std::size_t{4096}}) {
    auto v = sample_ternary_hw(rng, 4096, h);
    std::size_t w = 0;
    for (auto x : v) {
      ASSERT_TRUE(x >= -1 && x <= 1);
      w += x != 0;
    }
    EXPECT_EQ(w, h);
  }
  EXPECT_THROW(sample_ternary_hw(rng, 16, 17), std::invalid_argument);
}

TEST(Sampler, DiscreteGaussianMatchesExactPmf) {
  // sigma = 3.2 goes through the CDT sampler: compare the histogram with the exact truncated
  // D_{Z,sigma} probabilities, cell by cell (binomial standard deviations).
  SeededRng rng(seed_from_u64(22));
  const std::size_t n = 1 << 17;
  const double sigma = 3.2;
  auto v = sample_gaussian(rng, n, sigma);
  std::map<std::int64_t, std::size_t> hist;
  double sq = 0;
  for (auto x : v) {
    ASSERT_LE(std::llabs(x), 19) << "beyond 6 sigma";
    hist[x]++;
    sq += static_cast<double>(x * x);
  }
  double z = 0;
  for (int k = -19; k <= 19; ++k) z += std::exp(-k * k / (2 * sigma * sigma));
  for (int k = -12; k <= 12; ++k) {
    const double p = std::exp(-k * k / (2 * sigma * sigma)) / z;
    const double expect = p * static_cast<double>(n);
    const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(hist[k]), expect, 5 * sd + 1) << "k = " << k;
  }
  // A discrete Gaussian with this sigma has variance sigma^2 (to ~1e-80), unlike a rounded
  // continuous one (sigma^2 + 1/12).
  EXPECT_NEAR(sq / static_cast<double>(n), sigma * sigma, 0.06);
}

TEST(Sampler, WideGaussianForFloodingStatisticsAndBound) {
  SeededRng rng(seed_from_u64(25));
  const std::size_t n = 1 << 16;
  const double sigma = 1e6;
  auto v = sample_gaussian(rng, n, sigma);
  double sum = 0, sq = 0;
  for (auto x : v) {
    ASSERT_LE(std::fabs(static_cast<double>(x)), 6 * sigma);
    sum += static_cast<double>(x);
    sq += static_cast<double>(x) * static_cast<double>(x);
  }
  EXPECT_NEAR(sum / n / sigma, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(sq / n) / sigma, 1.0, 0.02);
}

TEST(Sampler, UniformPolyIsDeterministicWhenSeededAndInRange) {
  const RnsBasis b(10, generate_ntt_primes(40, 3, 1024));
  const Seed s = seed_from_u64(23);
  RnsPoly x = expand_uniform_poly(s, 7, b, 3, true), y = expand_uniform_poly(s, 7, b, 3, true);
  RnsPoly z = expand_uniform_poly(s, 8, b, 3, true);
  EXPECT_TRUE(x == y);
  EXPECT_FALSE(x == z);
  EXPECT_TRUE(x.is_ntt());
  double mean = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const u64 q = b.modulus(i).value();
    for (std::size_t j = 0; j < 1024; ++j) {
      ASSERT_LT(x.limb(i)[j], q);
      mean += static_cast<double>(x.limb(i)[j]) / static_cast<double>(q);
    }
  }
  EXPECT_NEAR(mean / (3 * 1024), 0.5, 0.03);
}

TEST(Sampler, SeededNoiseIsReproducible) {
  SeededRng a(seed_from_u64(24)), b(seed_from_u64(24));
  EXPECT_EQ(sample_gaussian(a, 100), sample_gaussian(b, 100));
  EXPECT_EQ(sample_ternary(a, 100), sample_ternary(b, 100));
}

// The CDT sampler has a vector kernel per SIMD level; each must return the scalar kernel's samples
// word for word: same seed, same output, for lengths that leave every possible tail.
TEST(Sampler, GaussianIsIdenticalAtEverySimdLevel) {
  if (cpu_simd_level() == SimdLevel::kScalar) GTEST_SKIP() << "only the scalar level on this CPU";
  for (double sigma : {3.2, 1.0, 12.5}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{9}, std::size_t{255},
                          std::size_t{257}, std::size_t{4099}}) {
      std::vector<std::int64_t> ref;
      {
        const ScopedSimdLevel scope(SimdLevel::kScalar);
        SeededRng rng(seed_from_u64(31 + n));
        ref = sample_gaussian(rng, n, sigma);
      }
      for (SimdLevel level : {SimdLevel::kAvx2, SimdLevel::kAvx512}) {
        if (level > cpu_simd_level()) continue;
        const ScopedSimdLevel scope(level);
        SeededRng rng(seed_from_u64(31 + n));
        EXPECT_EQ(sample_gaussian(rng, n, sigma), ref) << "sigma " << sigma << ", n " << n << ", level "
                                                       << static_cast<int>(level);
      }
    }
  }
}

}  // namespace
}  // namespace heal::math
