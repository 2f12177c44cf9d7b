// The word pool never hands out (or frees) a block with old contents, and RnsPoly::wipe covers
// the whole allocation, including limbs dropped by drop_limbs / rescale.
#include <gtest/gtest.h>

#include <cstring>

#include "heal/math/buffer.h"
#include "heal/math/rns_poly.h"

namespace heal::math {
namespace {

std::size_t nonzero_bytes(const void* p, std::size_t bytes) {
  const volatile std::uint8_t* b = static_cast<const volatile std::uint8_t*>(p);
  std::size_t n = 0;
  for (std::size_t i = 0; i < bytes; ++i) n += b[i] != 0;
  return n;
}

TEST(Pool, RecycledBlockComesBackZeroed) {
  constexpr std::size_t kBytes = 8 * 1013;  // an odd size no other test uses: its own bucket
  void* p = pool::allocate(kBytes);
  std::memset(p, 0xab, kBytes);
  pool::release(p, kBytes);
  void* q = pool::allocate(kBytes);
  ASSERT_EQ(q, p) << "the pool should recycle the block just released";
  EXPECT_EQ(nonzero_bytes(q, (kBytes + 63) / 64 * 64), 0u);
  pool::release(q, kBytes);
}

TEST(Pool, UninitializedBufferNeverSeesAnEarlierSecret) {
  constexpr std::size_t kWords = 1021;
  const std::uint64_t* seen = nullptr;
  {
    U64Buffer secret(kWords);
    for (std::size_t i = 0; i < kWords; ++i) secret[i] = 0x5ec2e7 + i;
    seen = secret.data();
  }  // released without an explicit wipe
  U64Buffer next(kWords, /*zero=*/false);
  ASSERT_EQ(next.data(), seen);
  EXPECT_EQ(nonzero_bytes(next.data(), kWords * 8), 0u);
}

TEST(RnsPoly, WipeCoversDroppedLimbs) {
  constexpr std::size_t kN = 64, kLimbs = 5;
  RnsPoly p(kN, kLimbs);
  for (std::size_t i = 0; i < kN * kLimbs; ++i) p.data()[i] = 0x5ec2e7 + i;
  p.drop_limbs(kLimbs - 1);  // logical size kN words, allocation still kN * kLimbs
  const void* block = p.data();
  p.wipe();
  EXPECT_TRUE(p.empty());
  void* q = pool::allocate(kN * kLimbs * 8);
  ASSERT_EQ(q, block);
  EXPECT_EQ(nonzero_bytes(q, kN * kLimbs * 8), 0u);
  pool::release(q, kN * kLimbs * 8);
}

// A block declared public skips the wipe; a copy of it is a new block that starts out secret.
TEST(Pool, CopyOfAPublicBlockIsWipedOnRelease) {
  constexpr std::size_t kWords = 1019;
  U64Buffer pub(kWords);
  for (std::size_t i = 0; i < kWords; ++i) pub[i] = 0xc1 + i;
  pub.mark_public();
  const std::uint64_t* seen = nullptr;
  {
    U64Buffer copy = pub;
    EXPECT_FALSE(copy.is_public());
    for (std::size_t i = 0; i < kWords; ++i) copy[i] = 0x5ec2e7 + i;  // e.g. decryption in place
    seen = copy.data();
  }
  U64Buffer next(kWords, /*zero=*/false);
  ASSERT_EQ(next.data(), seen);
  EXPECT_EQ(nonzero_bytes(next.data(), kWords * 8), 0u);
  // Copy-assigning secret words into a public block makes it secret again.
  U64Buffer secret(kWords);
  for (std::size_t i = 0; i < kWords; ++i) secret[i] = 0x5ec2e7 + i;
  pub = secret;
  EXPECT_FALSE(pub.is_public());
}

TEST(Pool, PublicBlockIsRecycledWithoutTheWipe) {
  constexpr std::size_t kWords = 1009;
  const std::uint64_t* seen = nullptr;
  {
    U64Buffer pub(kWords);
    for (std::size_t i = 0; i < kWords; ++i) pub[i] = 0xc1 + i;
    pub.mark_public();
    seen = pub.data();
  }
  U64Buffer next(kWords, /*zero=*/false);
  ASSERT_EQ(next.data(), seen);
  EXPECT_EQ(next[5], 0xc1u + 5);  // kept: the words were public
  EXPECT_FALSE(next.is_public());
}

}  // namespace
}  // namespace heal::math
