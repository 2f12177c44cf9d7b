#include "heal/math/sampler.h"

#include <gtest/gtest.h>

#include <cmath>

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

TEST(Sampler, GaussianStatisticsAndBound) {
  SeededRng rng(seed_from_u64(22));
  const std::size_t n = 1 << 16;
  auto v = sample_gaussian(rng, n, 3.2);
  double sum = 0, sq = 0;
  std::int64_t mx = 0;
  for (auto x : v) {
    sum += static_cast<double>(x);
    sq += static_cast<double>(x * x);
    mx = std::max<std::int64_t>(mx, std::llabs(x));
  }
  EXPECT_NEAR(sum / n, 0.0, 0.05);
  // Rounding adds 1/12 to the variance.
  EXPECT_NEAR(sq / n, 3.2 * 3.2 + 1.0 / 12, 0.25);
  EXPECT_LE(mx, 19);  // 6 sigma = 19.2
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

}  // namespace
}  // namespace heal::math
