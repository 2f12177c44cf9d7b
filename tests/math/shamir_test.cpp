#include "heal/math/shamir.h"

#include <gtest/gtest.h>

#include "heal/math/sampler.h"

namespace heal::math {
namespace {

TEST(Shamir, ScalarShareReconstructAnyTSubset) {
  const Modulus q(generate_ntt_primes(50, 1, 1024)[0]);
  SeededRng rng(seed_from_u64(1));
  const u64 secret = sample_uniform_mod(rng, q);
  const std::vector<u64> xs{1, 2, 3, 4, 5};
  const auto shares = shamir_share(secret, xs, 3, q, rng);
  for (std::size_t a = 0; a < 5; ++a)
    for (std::size_t b = a + 1; b < 5; ++b)
      for (std::size_t c = b + 1; c < 5; ++c) {
        const std::vector<u64> px{xs[a], xs[b], xs[c]}, ps{shares[a], shares[b], shares[c]};
        EXPECT_EQ(shamir_reconstruct(px, ps, q), secret);
      }
  // Two shares interpolate a line, not the secret (fails with probability 1/q).
  const std::vector<u64> px{xs[0], xs[1]}, ps{shares[0], shares[1]};
  EXPECT_NE(shamir_reconstruct(px, ps, q), secret);
}

TEST(Shamir, LagrangeCoefficientsSumToOne) {
  const Modulus q(generate_ntt_primes(40, 1, 1024)[0]);
  const std::vector<u64> xs{2, 7, 11, 30};
  u64 sum = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) sum = q.add(sum, lagrange_at_zero(xs, i, q));
  EXPECT_EQ(sum, 1u);  // interpolating the constant 1
  const std::vector<u64> dup{2, 2};
  EXPECT_THROW(lagrange_at_zero(dup, 0, q), std::invalid_argument);
  const std::vector<u64> zero{0, 3};
  EXPECT_THROW(lagrange_at_zero(zero, 1, q), std::invalid_argument);
}

TEST(Shamir, RnsPolyShareAndReconstruct) {
  const RnsBasis basis(6, generate_ntt_primes(40, 3, 64));
  SeededRng rng(seed_from_u64(2));
  RnsPoly s = sample_uniform_poly(rng, basis, 3, true);
  const std::vector<u64> xs{1, 2, 3, 4};
  auto shares = shamir_share_poly(s, basis, xs, 2, rng);
  ASSERT_EQ(shares.size(), 4u);
  const std::vector<u64> px{3, 1};
  const std::vector<RnsPoly> ps{shares[2], shares[0]};
  EXPECT_TRUE(shamir_reconstruct_poly(px, ps, basis) == s);
  const std::vector<u64> one{2};
  const std::vector<RnsPoly> p1{shares[1]};
  EXPECT_FALSE(shamir_reconstruct_poly(one, p1, basis) == s);
  EXPECT_THROW(shamir_share_poly(s, basis, xs, 5, rng), std::invalid_argument);
}

}  // namespace
}  // namespace heal::math
