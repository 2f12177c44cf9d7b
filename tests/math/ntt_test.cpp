#include "heal/math/ntt.h"

#include <gtest/gtest.h>

#include "heal/core/rng.h"
#include "heal/math/rns_poly.h"
#include "heal/math/sampler.h"

namespace heal::math {
namespace {

std::vector<u64> naive_negacyclic(const std::vector<u64>& a, const std::vector<u64>& b, const Modulus& q) {
  const std::size_t n = a.size();
  std::vector<u64> c(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const u64 p = q.mul(a[i], b[j]);
      const std::size_t k = i + j;
      if (k < n) c[k] = q.add(c[k], p);
      else c[k - n] = q.sub(c[k - n], p);
    }
  }
  return c;
}

std::vector<u64> random_vec(Rng& rng, std::size_t n, const Modulus& q) {
  std::vector<u64> v(n);
  for (auto& x : v) x = sample_uniform_mod(rng, q);
  return v;
}

TEST(Ntt, ProductMatchesNaiveNegacyclic) {
  SeededRng rng(seed_from_u64(2));
  for (int log_n : {1, 3, 6, 10}) {
    const std::size_t n = std::size_t{1} << log_n;
    for (int bits : {30, 40, 50, 60}) {
      const Modulus q(generate_ntt_primes(bits, 1, std::max<std::size_t>(n, 1024))[0]);
      const NttTables t(log_n, q);
      auto a = random_vec(rng, n, q), b = random_vec(rng, n, q);
      const auto expect = naive_negacyclic(a, b, q);
      ntt_forward(a.data(), t);
      ntt_forward(b.data(), t);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_LT(a[i], q.value());
        a[i] = q.mul(a[i], b[i]);
      }
      ntt_inverse(a.data(), t);
      ASSERT_EQ(a, expect) << "log_n " << log_n << " bits " << bits;
    }
  }
}

TEST(Ntt, RoundTripAndEvaluationOrder) {
  SeededRng rng(seed_from_u64(3));
  for (int log_n : {12, 14}) {
    const std::size_t n = std::size_t{1} << log_n;
    const Modulus q(generate_ntt_primes(60, 1, n)[0]);
    const NttTables t(log_n, q);
    auto a = random_vec(rng, n, q);
    const auto orig = a;
    ntt_forward(a.data(), t);
    // a[i] = A(psi^(2 bitrev(i) + 1)): check a few entries by Horner evaluation.
    for (std::size_t i : {std::size_t{0}, std::size_t{1}, n / 3, n - 1}) {
      const u64 x = q.pow(t.psi(), 2 * reverse_bits(static_cast<std::uint32_t>(i), log_n) + 1);
      u64 acc = 0;
      for (std::size_t k = n; k-- > 0;) acc = q.add(q.mul(acc, x), orig[k]);
      ASSERT_EQ(a[i], acc);
    }
    ntt_inverse(a.data(), t);
    ASSERT_EQ(a, orig);
  }
}

TEST(Ntt, LazyInputsUpToFourQ) {
  SeededRng rng(seed_from_u64(4));
  const int log_n = 10;
  const std::size_t n = 1024;
  const Modulus q(generate_ntt_primes(59, 1, n)[0]);
  const NttTables t(log_n, q);
  auto a = random_vec(rng, n, q);
  auto b = a;
  for (std::size_t i = 0; i < n; ++i) b[i] += (i % 4) * q.value();  // same residues in [0, 4q)
  ntt_forward(a.data(), t);
  ntt_forward(b.data(), t);
  EXPECT_EQ(a, b);
}

TEST(Ntt, GaloisPermutationMatchesCoefficientAutomorphism) {
  SeededRng rng(seed_from_u64(5));
  const int log_n = 10;
  const std::size_t n = 1024;
  const RnsBasis basis(log_n, generate_ntt_primes(40, 2, n));
  RnsPoly p = sample_uniform_poly(rng, basis, 2, false);
  for (std::uint64_t g : {std::uint64_t{5}, std::uint64_t{25}, 2 * n - 1, std::uint64_t{3}}) {
    RnsPoly coef = p.automorphism(g, basis);
    coef.ntt_inplace(basis);
    RnsPoly e = p;
    e.ntt_inplace(basis);
    RnsPoly ev = e.automorphism(g, basis);
    ASSERT_TRUE(ev == coef) << "galois element " << g;
  }
}

}  // namespace
}  // namespace heal::math

namespace heal::math {
namespace {

TEST(Ntt, SimdKernelsMatchScalar) {
  if (!cpu_has_ifma() || !cpu_has_avx512dq()) GTEST_SKIP() << "no AVX-512 IFMA/DQ on this CPU";
  SeededRng rng(seed_from_u64(6));
  for (int log_n : {5, 6, 9, 12, 14}) {
    const std::size_t n = std::size_t{1} << log_n;
    for (int bits : {30, 40, 49, 51, 55, 60}) {
      const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
      NttTables simd(log_n, q), scalar(log_n, q);
      ASSERT_EQ(simd.simd(), q.value() < (u64{1} << 50) ? NttTables::Simd::kIfma52 : NttTables::Simd::kAvx512x64);
      scalar.set_use_ifma(false);
      ASSERT_FALSE(scalar.use_ifma());
      auto a = random_vec(rng, n, q);
      for (std::size_t i = 0; i < n; i += 3) a[i] += q.value() * (i % 4);  // lazy inputs in [0, 4q)
      auto b = a;
      ntt_forward(a.data(), simd);
      ntt_forward(b.data(), scalar);
      ASSERT_EQ(a, b) << "forward log_n " << log_n << " bits " << bits;
      ntt_inverse(a.data(), simd);
      ntt_inverse(b.data(), scalar);
      ASSERT_EQ(a, b) << "inverse log_n " << log_n << " bits " << bits;
      auto c = a, d = a;
      ntt_forward_lazy(c.data(), simd);
      for (auto x : c) ASSERT_LT(x, 4 * q.value());
      ntt_forward(d.data(), scalar);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(c[i] % q.value(), d[i]);
    }
  }
}

}  // namespace
}  // namespace heal::math
