#include "heal/math/modulus.h"

#include <gtest/gtest.h>

#include "heal/core/rng.h"

namespace heal::math {
namespace {

TEST(Modulus, ReduceAndMulMatchWideArithmetic) {
  SeededRng rng(seed_from_u64(1));
  for (u64 q : {u64{65537}, u64{1099511922689ull}, u64{1152921504606584833ull}, (u64{1} << 61) - 1}) {
    const Modulus m(q);
    for (int i = 0; i < 20000; ++i) {
      const u64 x = rng.next_u64();
      const u128 y = (static_cast<u128>(rng.next_u64()) << 64) | rng.next_u64();
      ASSERT_EQ(m.reduce(x), x % q);
      ASSERT_EQ(m.reduce128(y), static_cast<u64>(y % q));
      const u64 a = x % q, b = static_cast<u64>(y % q);
      ASSERT_EQ(m.mul(a, b), static_cast<u64>(static_cast<u128>(a) * b % q));
      ASSERT_EQ(m.add(a, b), static_cast<u64>((static_cast<u128>(a) + b) % q));
      ASSERT_EQ(m.sub(a, b), static_cast<u64>((static_cast<u128>(a) + q - b) % q));
      const u64 ws = shoup_precompute(b, q);
      ASSERT_EQ(mul_shoup(x, b, ws, q), static_cast<u64>(static_cast<u128>(x) * b % q));
      ASSERT_LT(mul_shoup_lazy(x, b, ws, q), 2 * q);
    }
    ASSERT_EQ(m.reduce128(~static_cast<u128>(0)), static_cast<u64>(~static_cast<u128>(0) % q));
  }
}

TEST(Modulus, InverseAndPowAndSigned) {
  const Modulus m(1099511922689ull);
  for (u64 a : {u64{2}, u64{3}, u64{123456789}, u64{1099511922688ull}}) {
    EXPECT_EQ(m.mul(a, m.inv(a)), 1u);
  }
  EXPECT_EQ(m.pow(3, m.value() - 1), 1u);  // Fermat
  EXPECT_EQ(m.from_signed(-1), m.value() - 1);
  EXPECT_EQ(m.from_signed(-static_cast<std::int64_t>(m.value())), 0u);
  EXPECT_EQ(m.centered(m.value() - 5), -5);
  EXPECT_THROW(Modulus(15).inv(5), std::invalid_argument);
  EXPECT_THROW(Modulus(u64{1} << 62), std::invalid_argument);
}

TEST(Primes, MillerRabinAndNttPrimeGeneration) {
  EXPECT_TRUE(is_prime(2));
  EXPECT_TRUE(is_prime(1099511922689ull));
  EXPECT_TRUE(is_prime((u64{1} << 61) - 1));
  EXPECT_FALSE(is_prime(1));
  EXPECT_FALSE(is_prime(3215031751ull));              // strong pseudoprime to bases 2,3,5,7
  EXPECT_FALSE(is_prime(3825123056546413051ull));     // strong pseudoprime to bases up to 23
  EXPECT_FALSE(is_prime(((u64{1} << 31) - 1) * ((u64{1} << 31) - 1)));
  const std::size_t n = 1 << 14;
  auto ps = generate_ntt_primes(40, 8, n);
  ASSERT_EQ(ps.size(), 8u);
  for (std::size_t i = 0; i < ps.size(); ++i) {
    EXPECT_TRUE(is_prime(ps[i]));
    EXPECT_EQ(ps[i] % (2 * n), 1u);
    EXPECT_EQ(64 - __builtin_clzll(ps[i]), 40);
    if (i) {
      EXPECT_LT(ps[i], ps[i - 1]);  // distinct, descending
    }
  }
  auto more = generate_ntt_primes(40, 2, n, ps);
  for (u64 p : more) EXPECT_EQ(std::count(ps.begin(), ps.end(), p), 0);
  EXPECT_THROW(generate_ntt_primes(20, 100, n), std::invalid_argument);
}

TEST(Primes, PrimitiveRoot) {
  const std::size_t n = 1 << 12;
  const Modulus q(generate_ntt_primes(50, 1, n)[0]);
  const u64 psi = minimal_primitive_root(2 * n, q);
  EXPECT_EQ(q.pow(psi, n), q.value() - 1);
  EXPECT_EQ(q.pow(psi, 2 * n), 1u);
}

}  // namespace
}  // namespace heal::math
