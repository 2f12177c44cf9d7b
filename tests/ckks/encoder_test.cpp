#include "heal/ckks/encoder.h"

#include <gtest/gtest.h>

#include <numbers>

#include "ckks_test_util.h"

namespace heal::ckks {
namespace {

using testing::precision_bits;
using testing::random_vec;
using testing::Vec;

ContextPtr small_ctx(int log_n = 10) {
  ParamsSpec s;
  s.log_n = log_n;
  s.q_bits = {60, 40, 40};
  s.p_bits = {60};
  s.allow_insecure = true;
  return Context::create(s);
}

TEST(Encoder, RoundTripFullAndSparse) {
  auto ctx = small_ctx();
  Encoder enc(ctx);
  for (std::size_t count : {std::size_t{512}, std::size_t{64}, std::size_t{1}, std::size_t{100}}) {
    Vec v = random_vec(count, count);
    Plaintext pt = enc.encode(v);
    EXPECT_EQ(pt.level(), ctx->max_level());
    Vec d = enc.decode(pt);
    ASSERT_GE(d.size(), count);
    d.resize(count);
    EXPECT_GT(precision_bits(v, d), 30) << "count " << count;
  }
}

TEST(Encoder, SlotsAreCanonicalEmbeddingAtPowersOfFive) {
  auto ctx = small_ctx(4);  // N = 16, 8 slots
  Encoder enc(ctx);
  Vec v = random_vec(8, 3);
  Plaintext pt = enc.encode(v, 0x1p30, 0);
  const auto coeffs = enc.decode_coeffs(pt);  // m(X) / scale
  const std::size_t n = 16;
  std::size_t g = 1;
  for (std::size_t j = 0; j < 8; ++j) {
    const std::complex<double> zeta = std::polar(1.0, std::numbers::pi * static_cast<double>(g) / static_cast<double>(n));
    std::complex<double> acc = 0, x = 1;
    for (std::size_t k = 0; k < n; ++k) {
      acc += coeffs[k] * x;
      x *= zeta;
    }
    EXPECT_LT(std::abs(acc - v[j]), 1e-7) << "slot " << j;
    g = (g * 5) % (2 * n);
  }
}

TEST(Encoder, LevelsLargeScaleAndCoefficients) {
  auto ctx = small_ctx();
  Encoder enc(ctx);
  Vec v = random_vec(512, 4);
  // Level 0 (one 60-bit prime) decodes exactly up to rounding.
  EXPECT_GT(precision_bits(v, enc.decode(enc.encode(v, 0x1p40, 0))), 30);
  // A scale beyond 2^62 per coefficient takes the multi-word rounding path.
  EXPECT_GT(precision_bits(v, enc.decode(enc.encode(v, 0x1p70, 2))), 40);
  std::vector<double> w = {1.5, -2.25, 3.0, 0.0, -7.125};
  auto c = enc.decode_coeffs(enc.encode_coeffs(w, 0x1p30, 1));
  for (std::size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(c[i], w[i], 1e-8);
  for (std::size_t i = w.size(); i < c.size(); ++i) EXPECT_EQ(c[i], 0.0);
  std::vector<std::int64_t> iv = {5, -3, 1000000007};
  auto ci = enc.decode_coeffs(enc.encode_coeffs_int(iv, 2));
  EXPECT_EQ(ci[0], 5.0);
  EXPECT_EQ(ci[1], -3.0);
  EXPECT_EQ(ci[2], 1000000007.0);
}

TEST(Encoder, Misuse) {
  auto ctx = small_ctx();
  Encoder enc(ctx);
  Vec big(513);
  EXPECT_THROW(enc.encode(big), std::invalid_argument);
  Vec v(4);
  EXPECT_THROW(enc.encode(v, 0x1p40, 3), std::invalid_argument);
  std::vector<double> nan = {std::nan("")};
  EXPECT_THROW(enc.encode(nan), std::invalid_argument);
  Plaintext coeff = enc.encode_coeffs(std::vector<double>{1.0}, 1.0, 0);
  EXPECT_THROW(enc.decode(coeff), std::invalid_argument);
}

}  // namespace
}  // namespace heal::ckks
