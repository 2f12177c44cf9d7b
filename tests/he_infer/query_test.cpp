// The query / result file codec of the client/server split (src/he_infer/query.h): round trip and
// clean errors on the ways another party's bytes can be wrong (fuzzed by fuzz_he_infer_query).
#include <gtest/gtest.h>

#include "he_infer/query.h"

namespace heal::he_infer::internal {
namespace {

ckks::ContextPtr small_ctx() {
  ckks::ParamsSpec s;
  s.log_n = 4;
  s.q_bits = {40, 30};
  s.p_bits = {40};
  s.allow_insecure = true;
  return ckks::Context::create(s);
}

Query sample(const ckks::Context& ctx) {
  Query q;
  q.mode = Mode::kSingle;
  q.count = 2;
  for (std::size_t c = 0; c < 2; ++c) {
    std::vector<math::RnsPoly> polys;
    for (int k = 0; k < 2; ++k) {
      math::RnsPoly p(ctx.n(), ctx.q_count() - c, true);
      for (std::size_t i = 0; i < p.num_limbs(); ++i) {
        for (std::size_t j = 0; j < ctx.n(); ++j) {
          p.limb(i)[j] = (j * 31 + i * 7 + c + static_cast<std::size_t>(k)) % ctx.q(i).value();
        }
      }
      polys.push_back(std::move(p));
    }
    q.cts.emplace_back(std::move(polys), 0x1p30, ctx.n() / 2);
  }
  return q;
}

TEST(HeInferQuery, RoundTrips) {
  const auto ctx = small_ctx();
  const Query q = sample(*ctx);
  auto back = decode_query(*ctx, encode_query(*ctx, q));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->mode, Mode::kSingle);
  EXPECT_EQ(back->count, 2u);
  ASSERT_EQ(back->cts.size(), 2u);
  EXPECT_EQ(back->cts[1].level(), q.cts[1].level());
  EXPECT_EQ(encode_query(*ctx, *back), encode_query(*ctx, q));
}

TEST(HeInferQuery, MalformedBytesAreErrors) {
  const auto ctx = small_ctx();
  const Bytes good = encode_query(*ctx, sample(*ctx));
  // Every truncation and one trailing byte.
  for (std::size_t len = 0; len < good.size(); ++len) {
    EXPECT_FALSE(decode_query(*ctx, std::span<const std::uint8_t>(good.data(), len)).ok()) << len;
  }
  Bytes b = good;
  b.push_back(0);
  EXPECT_FALSE(decode_query(*ctx, b).ok());
  // Bad magic, version and mode (offsets 0, 4, 6).
  for (std::size_t off : {0u, 4u, 6u}) {
    b = good;
    b[off] ^= 0x40;
    EXPECT_FALSE(decode_query(*ctx, b).ok()) << off;
  }
  // A ciphertext count over the limit is refused before any allocation.
  b = good;
  const std::uint32_t many = kMaxQueryCiphertexts + 1;
  for (int i = 0; i < 4; ++i) b[15 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(many >> (8 * i));
  auto r = decode_query(*ctx, b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("too many ciphertexts"), std::string::npos);
  // A ciphertext length pointing past the end.
  b = good;
  b[19 + 7] = 0x7f;
  r = decode_query(*ctx, b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos);
  // A ciphertext made for another context is refused by the ckks loader.
  ckks::ParamsSpec s;
  s.log_n = 5;
  s.q_bits = {40, 30};
  s.p_bits = {40};
  s.allow_insecure = true;
  EXPECT_FALSE(decode_query(*ckks::Context::create(s), good).ok());
}

}  // namespace
}  // namespace heal::he_infer::internal
