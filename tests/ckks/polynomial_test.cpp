// Chebyshev-basis polynomial evaluation: accuracy vs the plaintext polynomial, depth and scale.
#include "heal/ckks/polynomial_evaluator.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"

namespace heal::ckks {
namespace {

using testing::precision_bits;
using testing::Vec;

struct Pe {
  Pe() {
    ParamsSpec s;
    s.log_n = 11;
    s.q_bits = {60, 40, 40, 40, 40, 40};
    s.p_bits = {60};
    s.allow_insecure = true;
    ctx = Context::create(s);
    keygen = std::make_unique<KeyGenerator>(ctx, std::make_unique<SeededRng>(seed_from_u64(31)));
    encryptor = std::make_unique<Encryptor>(ctx, keygen->create_public_key());
    decryptor = std::make_unique<Decryptor>(ctx, keygen->secret_key());
    rk = keygen->create_relin_key();
  }
  // Evaluates p on `count` points of [a, b] under encryption; returns bits vs plaintext p.
  double run(const ChebyshevPoly& p, std::size_t expect_depth, const char* name, std::size_t level) {
    Encoder enc(ctx);
    Evaluator ev(ctx);
    SeededRng r(seed_from_u64(p.coeffs.size() + level));
    const std::size_t n = 256;
    std::vector<double> x(n);
    for (auto& v : x) v = p.a + (p.b - p.a) * r.uniform_double();
    const Ciphertext ct = encryptor->encrypt(enc.encode(x, ctx->default_scale(), level));
    PolynomialEvaluator pe(ev, rk);
    EXPECT_EQ(PolynomialEvaluator::depth(p), expect_depth);
    const Ciphertext y = pe.evaluate(ct, p);
    EXPECT_EQ(y.level(), level - expect_depth) << name;
    EXPECT_EQ(y.scale(), ct.scale()) << name;  // output scale = requested (input) scale exactly
    Vec want(n), got = enc.decode(decryptor->decrypt(y));
    got.resize(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = p(x[i]);
    const double bits = precision_bits(want, got);
    std::printf("[ poly ] %s: degree %zu, depth %zu (level %zu -> %zu), %.1f bits vs plaintext polynomial\n", name,
                p.degree(), expect_depth, level, y.level(), bits);
    return bits;
  }
  ContextPtr ctx;
  std::unique_ptr<KeyGenerator> keygen;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> decryptor;
  RelinKey rk;
};

Pe& pe() {
  static Pe p;
  return p;
}

TEST(Polynomial, ClenshawAndInterpolation) {
  const ChebyshevPoly t3{-1, 1, {0, 0, 0, 1}};
  EXPECT_NEAR(t3(0.3), 4 * 0.027 - 3 * 0.3, 1e-12);
  const auto sq = ChebyshevPoly::interpolate([](double v) { return v * v; }, -2, 3, 4);
  EXPECT_NEAR(sq(1.7), 2.89, 1e-10);
  EXPECT_NEAR(sq.coeffs[3], 0, 1e-12);  // higher coefficients vanish up to rounding
  EXPECT_NEAR(sq.coeffs[4], 0, 1e-12);
  EXPECT_EQ((ChebyshevPoly{-1, 1, {1, 2, 0, 0}}).degree(), 1u);
}

TEST(Polynomial, RandomDegree7DepthThree) {
  SeededRng r(seed_from_u64(5));
  ChebyshevPoly p{-1, 1, std::vector<double>(8)};
  for (auto& c : p.coeffs) c = 2 * r.uniform_double() - 1;
  EXPECT_GT(pe().run(p, 3, "random [-1,1]", 5), 20);
  EXPECT_GT(pe().run(p, 3, "random [-1,1] at level 3", 3), 20);
}

TEST(Polynomial, SigmoidAndReluApproximationsOnIntervals) {
  auto sig = ChebyshevPoly::interpolate([](double v) { return 1 / (1 + std::exp(-v)); }, -8, 8, 7);
  EXPECT_GT(pe().run(sig, 4, "sigmoid [-8,8]", 5), 20);
  // The approximation itself (not the encryption) is what limits accuracy vs the real sigmoid.
  double approx = 0;
  for (double v = -8; v <= 8; v += 0.01) approx = std::max(approx, std::fabs(sig(v) - 1 / (1 + std::exp(-v))));
  std::printf("[ poly ] degree-7 sigmoid approximation error on [-8,8]: %.3g\n", approx);
  EXPECT_LT(approx, 0.05);
  auto relu = ChebyshevPoly::interpolate([](double v) { return v > 0 ? v : 0.0; }, -1, 1, 7);
  EXPECT_GT(pe().run(relu, 3, "relu [-1,1]", 4), 20);
  // Degrees 1..15 consume ceil(log2(d+1)) levels.
  for (std::size_t d : {1u, 2u, 3u, 4u, 8u, 15u}) {
    ChebyshevPoly q{-1, 1, std::vector<double>(d + 1, 0.1)};
    EXPECT_EQ(PolynomialEvaluator::depth(q), static_cast<std::size_t>(std::ceil(std::log2(static_cast<double>(d) + 1.0))));
  }
  ChebyshevPoly q15{-1, 1, std::vector<double>(16, 0.05)};
  EXPECT_GT(pe().run(q15, 4, "degree 15", 5), 18);
  // Not enough levels: misuse.
  Encoder enc(pe().ctx);
  Evaluator ev(pe().ctx);
  PolynomialEvaluator pev(ev, pe().rk);
  const Ciphertext low = pe().encryptor->encrypt(enc.encode(std::vector<double>{0.5}, 0x1p40, 2));
  EXPECT_THROW(pev.evaluate(low, sig), std::invalid_argument);
}

}  // namespace
}  // namespace heal::ckks
