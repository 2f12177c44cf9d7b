#include <gtest/gtest.h>

#include "heal/core/rng.h"
#include "heal/math/base_converter.h"
#include "heal/math/rns_basis.h"
#include "heal/math/rns_poly.h"
#include "heal/math/sampler.h"

namespace heal::math {
namespace {

constexpr int kLogN = 6;
constexpr std::size_t kN = 64;

u128 random_below(Rng& rng, u128 bound) {
  const u128 x = (static_cast<u128>(rng.next_u64()) << 64) | rng.next_u64();
  return x % bound;
}

TEST(BaseConverter, MatchesBigIntegerCrtUpToMultiplesOfQ) {
  SeededRng rng(seed_from_u64(10));
  const auto qs = generate_ntt_primes(40, 3, kN);  // Q < 2^120
  const auto ps = generate_ntt_primes(50, 2, kN);
  const RnsBasis qb(kLogN, qs), pb(kLogN, ps);
  const u128 Q = static_cast<u128>(qs[0]) * qs[1] * qs[2];
  BaseConverter conv(qb.moduli(), pb.moduli());
  std::vector<u128> x(kN);
  std::vector<u64> in(3 * kN), out(2 * kN), scratch(3 * kN);
  for (std::size_t j = 0; j < kN; ++j) {
    x[j] = random_below(rng, Q);
    for (std::size_t i = 0; i < 3; ++i) in[i * kN + j] = static_cast<u64>(x[j] % qs[i]);
  }
  conv.convert(in.data(), out.data(), kN, scratch.data());
  for (std::size_t j = 0; j < kN; ++j) {
    for (std::size_t t = 0; t < 2; ++t) {
      bool found = false;
      for (u128 u = 0; u < 3 && !found; ++u) {
        // (x + uQ) mod p, computed without overflowing 128 bits.
        const u64 want = static_cast<u64>((x[j] % ps[t] + (u * (Q % ps[t]))) % ps[t]);
        found = out[t * kN + j] == want;
      }
      ASSERT_TRUE(found) << "coefficient " << j << " target " << t;
    }
  }
}

TEST(CrtComposer, ExactCenteredComposition) {
  SeededRng rng(seed_from_u64(11));
  const auto qs = generate_ntt_primes(40, 3, kN);
  const RnsBasis qb(kLogN, qs);
  const u128 Q = static_cast<u128>(qs[0]) * qs[1] * qs[2];
  CrtComposer crt(qb.moduli());
  std::vector<std::int64_t> vals(kN);
  std::vector<u64> in(3 * kN);
  for (std::size_t j = 0; j < kN; ++j) {
    vals[j] = static_cast<std::int64_t>(rng.next_u64() >> 2) * ((j & 1) ? -1 : 1);
    const u128 x = vals[j] >= 0 ? static_cast<u128>(vals[j]) : Q - static_cast<u128>(-vals[j]);
    for (std::size_t i = 0; i < 3; ++i) in[i * kN + j] = static_cast<u64>(x % qs[i]);
  }
  std::vector<double> out(kN);
  crt.compose_centered(in.data(), kN, kN, 1.0, out.data());
  for (std::size_t j = 0; j < kN; ++j) ASSERT_EQ(out[j], static_cast<double>(vals[j]));
  // A value close to Q/2 from above maps to a negative number of magnitude ~Q/2.
  const u128 big = Q / 2 + 12345;
  for (std::size_t i = 0; i < 3; ++i) in[i * kN] = static_cast<u64>(big % qs[i]);
  crt.compose_centered(in.data(), kN, 1, 1.0, out.data());
  EXPECT_NEAR(out[0], -static_cast<double>(Q - big), 1e-12 * static_cast<double>(Q));
}

TEST(RnsPoly, RescaleIsDivideAndRound) {
  SeededRng rng(seed_from_u64(12));
  const auto qs = generate_ntt_primes(40, 3, kN);
  const RnsBasis qb(kLogN, qs);
  const u128 Q = static_cast<u128>(qs[0]) * qs[1] * qs[2];
  for (bool ntt : {false, true}) {
    std::vector<u128> x(kN);
    RnsPoly p(kN, 3, false);
    for (std::size_t j = 0; j < kN; ++j) {
      x[j] = random_below(rng, Q);
      for (std::size_t i = 0; i < 3; ++i) p.limb(i)[j] = static_cast<u64>(x[j] % qs[i]);
    }
    if (ntt) p.ntt_inplace(qb);
    p.rescale_inplace(qb);
    if (ntt) p.intt_inplace(qb);
    ASSERT_EQ(p.num_limbs(), 2u);
    for (std::size_t j = 0; j < kN; ++j) {
      const u128 r = (x[j] + qs[2] / 2) / qs[2];  // round(x / q_2)
      for (std::size_t i = 0; i < 2; ++i) ASSERT_EQ(p.limb(i)[j], static_cast<u64>(r % qs[i]));
    }
  }
}

TEST(RnsPoly, ArithmeticAndDropLimb) {
  SeededRng rng(seed_from_u64(13));
  const RnsBasis qb(kLogN, generate_ntt_primes(40, 2, kN));
  RnsPoly a = sample_uniform_poly(rng, qb, 2, true), b = sample_uniform_poly(rng, qb, 2, true);
  RnsPoly c = a;
  c.add_inplace(b, qb);
  c.sub_inplace(b, qb);
  EXPECT_TRUE(c == a);
  c.negate_inplace(qb);
  c.add_inplace(a, qb);
  for (std::size_t j = 0; j < kN; ++j) EXPECT_EQ(c.limb(1)[j], 0u);
  RnsPoly d = a;
  d.mul_inplace(b, qb);
  EXPECT_EQ(d.limb(0)[5], qb.modulus(0).mul(a.limb(0)[5], b.limb(0)[5]));
  RnsPoly e(kN, 2, true);
  e.fma_inplace(a, b, qb);
  EXPECT_TRUE(e == d);
  d.drop_last_limb();
  EXPECT_EQ(d.num_limbs(), 1u);
  EXPECT_THROW(a.add_inplace(d, qb), std::invalid_argument);
}

}  // namespace
}  // namespace heal::math

#include "heal/math/poly_kernels.h"

namespace heal::math {
namespace {

}  // namespace
}  // namespace heal::math
