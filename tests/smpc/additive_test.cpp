#include "heal/smpc/additive.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace heal::smpc {
namespace {

TEST(Additive, SharesSumToTheSecretAndLookRandom) {
  SeededRng rng(seed_from_u64(21));
  std::vector<std::uint64_t> secret(257);
  std::iota(secret.begin(), secret.end(), ~std::uint64_t{0} - 100);  // wraps through 0
  for (std::size_t n : {1u, 2u, 5u}) {
    const auto shares = additive_share(secret, n, rng);
    ASSERT_EQ(shares.size(), n);
    EXPECT_EQ(additive_reconstruct(shares), secret);
    if (n > 1) {
      // Leaving any share out gives something unrelated to the secret.
      const std::vector<std::vector<std::uint64_t>> partial(shares.begin() + 1, shares.end());
      std::size_t equal = 0;
      const auto wrong = additive_reconstruct(partial);
      for (std::size_t i = 0; i < secret.size(); ++i) equal += wrong[i] == secret[i];
      EXPECT_EQ(equal, 0u);
    }
  }
}

TEST(ShamirBytes, AnyTSharesReconstructASeed) {
  SeededRng rng(seed_from_u64(22));
  Bytes seed(32);
  rng.fill(seed);
  seed[31] = 0xff;  // the last (4-byte) limb at its maximum
  const std::vector<std::uint64_t> xs{1, 2, 3, 4, 5};
  const auto shares = shamir_share_bytes(seed, xs, 3, rng);
  ASSERT_EQ(shares.size(), 5u);
  EXPECT_EQ(shares[0].limbs.size(), 5u);
  for (std::size_t a = 0; a < 5; ++a)
    for (std::size_t b = a + 1; b < 5; ++b)
      for (std::size_t c = b + 1; c < 5; ++c) {
        const std::vector<ByteShare> sub{shares[c], shares[a], shares[b]};
        auto r = shamir_reconstruct_bytes(sub, 3, 32);
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        EXPECT_EQ(Bytes(r->span().begin(), r->span().end()), seed);
      }
  auto all = shamir_reconstruct_bytes(shares, 3, 32);  // extra shares are checked for consistency
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Bytes(all->span().begin(), all->span().end()), seed);
  // Odd lengths.
  for (std::size_t len : {1u, 7u, 8u, 13u, 100u}) {
    Bytes s(len);
    rng.fill(s);
    const auto sh = shamir_share_bytes(s, xs, 2, rng);
    auto r = shamir_reconstruct_bytes(std::span<const ByteShare>(sh).subspan(3), 2, len);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(Bytes(r->span().begin(), r->span().end()), s);
  }
}

TEST(ShamirBytes, BadSharesGiveErrors) {
  SeededRng rng(seed_from_u64(23));
  Bytes seed(32, 0x5a);
  const std::vector<std::uint64_t> xs{1, 2, 3, 4};
  const auto shares = shamir_share_bytes(seed, xs, 3, rng);
  const std::span<const ByteShare> all(shares);
  EXPECT_EQ(shamir_reconstruct_bytes(all.first(2), 3, 32).status().code(), StatusCode::kFailedPrecondition);
  auto dup = shares;
  dup[1].x = dup[0].x;
  EXPECT_FALSE(shamir_reconstruct_bytes(dup, 3, 32).ok());
  auto zero = shares;
  zero[2].x = 0;
  EXPECT_FALSE(shamir_reconstruct_bytes(zero, 3, 32).ok());
  auto big = shares;
  big[0].limbs[1] = kShamirPrime;
  EXPECT_FALSE(shamir_reconstruct_bytes(big, 3, 32).ok());
  auto shortl = shares;
  shortl[3].limbs.pop_back();
  EXPECT_FALSE(shamir_reconstruct_bytes(shortl, 3, 32).ok());
  // One wrong share among four (t = 3): the extra share exposes the inconsistency.
  auto wrong = shares;
  wrong[3].limbs[2] = (wrong[3].limbs[2] + 1) % kShamirPrime;
  EXPECT_EQ(shamir_reconstruct_bytes(wrong, 3, 32).status().code(), StatusCode::kCorruption);
  wrong = shares;
  wrong[0].limbs[0] ^= 1;
  EXPECT_EQ(shamir_reconstruct_bytes(wrong, 3, 32).status().code(), StatusCode::kCorruption);
  EXPECT_THROW(shamir_share_bytes(seed, xs, 5, rng), std::invalid_argument);
  EXPECT_THROW(shamir_share_bytes(seed, std::vector<std::uint64_t>{1, 1, 2}, 2, rng), std::invalid_argument);
}

}  // namespace
}  // namespace heal::smpc
