#include "heal/math/ntt.h"
#include "heal/math/simd.h"

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

// Every vector kernel the CPU supports gives exactly the scalar words, for primes below and
// above 2^50 and every supported size (the AVX2 kernel runs for n >= 8, AVX-512 for n >= 32).
TEST(Ntt, SimdKernelsMatchScalar) {
  const SimdLevel top = cpu_simd_level();
  if (top == SimdLevel::kScalar) GTEST_SKIP() << "no vector level on this CPU";
  SeededRng rng(seed_from_u64(6));
  int compared = 0;
  for (int log_n : {3, 4, 5, 6, 9, 12, 14}) {
    const std::size_t n = std::size_t{1} << log_n;
    for (int bits : {20, 30, 40, 49, 50, 51, 55, 60}) {
      const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
      const NttTables tab(log_n, q);
      auto a = random_vec(rng, n, q);
      for (std::size_t i = 0; i < n; i += 3) a[i] += q.value() * (i % 4);  // lazy inputs in [0, 4q)
      a[1] = 4 * q.value() - 1;
      a[2] = 0;
      std::vector<u64> ref_f = a, ref_i = a, ref_lazy = a;
      for (std::size_t i = 0; i < n; ++i) ref_i[i] %= 2 * q.value();  // inverse inputs are in [0, 2q)
      {
        const ScopedSimdLevel scalar(SimdLevel::kScalar);
        ASSERT_EQ(tab.kernel(), NttTables::Kernel::kScalar);
        ntt_forward(ref_f.data(), tab);
        ntt_inverse(ref_i.data(), tab);
      }
      for (SimdLevel level : {SimdLevel::kAvx2, SimdLevel::kAvx512}) {
        if (level > top) continue;
        const ScopedSimdLevel scope(level);
        auto f = a, in = a, lz = a;
        for (std::size_t i = 0; i < n; ++i) in[i] %= 2 * q.value();
        ntt_forward(f.data(), tab);
        ASSERT_EQ(f, ref_f) << simd_level_name(level) << " forward log_n " << log_n << " bits " << bits;
        ntt_inverse(in.data(), tab);
        ASSERT_EQ(in, ref_i) << simd_level_name(level) << " inverse log_n " << log_n << " bits " << bits;
        ntt_forward_lazy(lz.data(), tab);
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_LT(lz[i], 4 * q.value());
          ASSERT_EQ(lz[i] % q.value(), ref_f[i]);
        }
        if (tab.kernel() != NttTables::Kernel::kScalar) ++compared;
      }
    }
  }
  EXPECT_GT(compared, 0) << "no vector kernel ran";
}

// The kernel chosen at each level: AVX2 for n >= 8 (exact doubles for q < 2^50, emulated 64-bit
// lanes above), AVX-512 (IFMA for q < 2^50 when
// the CPU has it) for n >= 32; the scalar code otherwise.
TEST(Ntt, KernelSelectionFollowsTheLevel) {
  const Modulus small(generate_ntt_primes(40, 1, 1 << 12)[0]), big(generate_ntt_primes(60, 1, 1 << 12)[0]);
  const NttTables ts(12, small), tb(12, big);
  {
    const ScopedSimdLevel s(SimdLevel::kScalar);
    EXPECT_EQ(ts.kernel(), NttTables::Kernel::kScalar);
    EXPECT_EQ(tb.kernel(), NttTables::Kernel::kScalar);
  }
  if (cpu_simd_level() >= SimdLevel::kAvx2) {
    const ScopedSimdLevel s(SimdLevel::kAvx2);
    EXPECT_EQ(ts.kernel(), NttTables::Kernel::kAvx2);
    EXPECT_EQ(tb.kernel(), NttTables::Kernel::kAvx2x64);
  }
  if (cpu_simd_level() >= SimdLevel::kAvx512) {
    const ScopedSimdLevel s(SimdLevel::kAvx512);
    EXPECT_EQ(ts.kernel(), cpu_has_ifma52() ? NttTables::Kernel::kIfma52 : NttTables::Kernel::kAvx512);
    EXPECT_EQ(tb.kernel(), NttTables::Kernel::kAvx512);
  }
}

}  // namespace
}  // namespace heal::math
