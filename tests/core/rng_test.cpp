#include "heal/core/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "heal/core/hash.h"

namespace heal {
namespace {

TEST(SeededRng, DeterministicAndStreamSeparated) {
  Seed s = seed_from_u64(7);
  SeededRng a(s), b(s), c(s, 1);
  std::vector<std::uint8_t> x(10000), y(10000), z(10000);
  // Different read granularity must give the same stream.
  for (std::size_t i = 0; i < x.size(); i += 7) a.fill(std::span(x).subspan(i, std::min<std::size_t>(7, x.size() - i)));
  b.fill(y);
  c.fill(z);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(SeededRng, UniformIsUnbiasedEnough) {
  SeededRng r(seed_from_u64(1));
  const std::uint64_t bound = 3;
  std::vector<int> counts(bound);
  const int n = 30000;
  for (int i = 0; i < n; ++i) counts[r.uniform(bound)]++;
  for (int c : counts) EXPECT_NEAR(c, n / 3.0, 5 * std::sqrt(n * (1.0 / 3) * (2.0 / 3)));
}

TEST(SystemRng, ProducesDistinctSeeds) { EXPECT_NE(random_seed(), random_seed()); }

TEST(Hash, KnownBlake2bAndSha256Vectors) {
  // BLAKE2b-256("abc") and SHA-256("abc") from the RFC 7693 / FIPS 180-2 test vectors.
  EXPECT_EQ(digest_hex(blake2b_256(std::string_view("abc"))),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  std::string abc = "abc";
  EXPECT_EQ(digest_hex(sha256({reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Blake2b inc;
  inc.update("a");
  inc.update("bc");
  EXPECT_EQ(inc.finish(), blake2b_256(std::string_view("abc")));
}

}  // namespace
}  // namespace heal
