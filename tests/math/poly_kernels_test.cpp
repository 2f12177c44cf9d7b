// Element-wise kernels at every SIMD level the CPU has: the same words as the 128-bit scalar
// formulas, for primes below and above 2^50, with edge values (0, q - 1) and odd lengths (tails).
#include "heal/math/poly_kernels.h"

#include <gtest/gtest.h>

#include "heal/core/rng.h"
#include "heal/math/simd.h"

namespace heal::math {
namespace {

std::vector<u64> draw(SeededRng& rng, std::size_t n, const Modulus& q) {
  std::vector<u64> v(n);
  for (auto& x : v) x = rng.next_u64() % q.value();
  v[0] = 0;
  v[1] = q.value() - 1;
  return v;
}

TEST(PolyKernels, EveryLevelGivesTheScalarWords) {
  SeededRng rng(seed_from_u64(21));
  int vector_runs = 0;
  for (int bits : {20, 30, 45, 49, 50, 51, 55, 60}) {
    const Modulus q(generate_ntt_primes(bits, 1, 1024)[0]);
    const std::size_t n = 1027;  // not a multiple of 4 or 8: tails run the scalar code
    const auto a = draw(rng, n, q), b = draw(rng, n, q), c = draw(rng, n, q);
    const ShoupConst k(rng.next_u64() % q.value(), q.value());
    std::vector<u64> mul(n), fma(n), smc(n), add(n), sub(n), addc(n), lift(n);
    const u64 cst = rng.next_u64() % q.value();
    std::vector<std::int64_t> small(n);
    for (std::size_t i = 0; i < n; ++i) {
      // Small signed values of both signs, |s| < q.
      small[i] = static_cast<std::int64_t>(c[i]) - static_cast<std::int64_t>(a[i]);
      lift[i] = q.from_signed(small[i]);
      addc[i] = q.add(a[i], cst);
      add[i] = q.add(a[i], b[i]);
      sub[i] = q.sub(a[i], b[i]);
      mul[i] = q.mul(a[i], b[i]);
      fma[i] = q.add(q.mul(a[i], b[i]), c[i]);
      smc[i] = q.mul(q.sub(a[i], b[i]), k.value);
    }
    for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
      if (level > cpu_simd_level()) continue;
      const ScopedSimdLevel scope(level);
      std::vector<u64> out(n);
      mul_mod_vec(a.data(), b.data(), out.data(), n, q);
      EXPECT_EQ(out, mul) << "mul_mod_vec " << bits << " bits, " << simd_level_name(level);
      mul_add_mod_vec(a.data(), b.data(), c.data(), out.data(), n, q);
      EXPECT_EQ(out, fma) << "mul_add_mod_vec " << bits << " bits, " << simd_level_name(level);
      add_mod_vec(a.data(), b.data(), out.data(), n, q);
      EXPECT_EQ(out, add) << "add_mod_vec " << bits << " bits, " << simd_level_name(level);
      sub_mod_vec(a.data(), b.data(), out.data(), n, q);
      EXPECT_EQ(out, sub) << "sub_mod_vec " << bits << " bits, " << simd_level_name(level);
      sub_mul_const_vec(a.data(), b.data(), k, out.data(), n, q);
      EXPECT_EQ(out, smc) << "sub_mul_const_vec " << bits << " bits, " << simd_level_name(level);
      add_const_mod_vec(a.data(), cst, out.data(), n, q);
      EXPECT_EQ(out, addc) << "add_const_mod_vec " << bits << " bits, " << simd_level_name(level);
      add_const_mod_vec(b.data(), q.value() - 1, out.data(), n, q);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], q.sub(b[i], 1)) << "add_const_mod_vec(q - 1) " << i;
      lift_signed_vec(small.data(), out.data(), n, q);
      EXPECT_EQ(out, lift) << "lift_signed_vec " << bits << " bits, " << simd_level_name(level);
      vector_runs += level != SimdLevel::kScalar;
    }
  }
  if (cpu_simd_level() == SimdLevel::kScalar) GTEST_SKIP() << "only the scalar level on this CPU";
  EXPECT_GT(vector_runs, 0);
}

}  // namespace
}  // namespace heal::math
