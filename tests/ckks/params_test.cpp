#include "heal/ckks/params.h"

#include <gtest/gtest.h>

namespace heal::ckks {
namespace {

TEST(Params, AnchorSetsAreSecureAndShaped) {
  for (int log_n : {13, 14}) {
    auto ctx = Context::create(anchor_params(log_n));
    EXPECT_EQ(ctx->n(), std::size_t{1} << log_n);
    EXPECT_EQ(ctx->p_count(), 1u);
    EXPECT_EQ(ctx->dnum(), ctx->q_count());
    EXPECT_LE(ctx->log_qp(), max_secure_log_qp(log_n));
    EXPECT_EQ(ctx->q(0).bits(), 60);
    EXPECT_EQ(ctx->q(1).bits(), 40);
  }
  EXPECT_EQ(anchor_params(14).q_bits.size(), 8u);
  EXPECT_EQ(anchor_params(16).q_bits.size(), 41u);
}

TEST(Params, SecurityBoundEnforced) {
  ParamsSpec s = anchor_params(14);
  s.q_bits.push_back(40);  // 440 > 430
  try {
    Context::create(s);
    FAIL() << "expected a security refusal";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("430"), std::string::npos) << e.what();
  }
  s.allow_insecure = true;
  EXPECT_NO_THROW(Context::create(s));
  ParamsSpec tiny;
  tiny.log_n = 10;
  EXPECT_THROW(Context::create(tiny), std::invalid_argument);
  tiny.allow_insecure = true;
  EXPECT_NO_THROW(Context::create(tiny));
  ParamsSpec bad;
  bad.q_bits = {61};
  EXPECT_THROW(Context::create(bad), std::invalid_argument);
}

// Issue 14: the 2024 guidelines (Bossuat et al., ePrint 2024/463, Table 5.2, 128-bit classical,
// uniform ternary) replace the 2018 HomomorphicEncryption.org bounds 109/218/438/881.
TEST(Params, SecurityTableIsThe2024Guidelines) {
  EXPECT_EQ(max_secure_log_qp(11), 0);
  EXPECT_EQ(max_secure_log_qp(12), 106);
  EXPECT_EQ(max_secure_log_qp(13), 214);
  EXPECT_EQ(max_secure_log_qp(14), 430);
  EXPECT_EQ(max_secure_log_qp(15), 868);
  EXPECT_EQ(max_secure_log_qp(16), 1747);
  EXPECT_EQ(max_secure_log_qp(17), 0);
  ParamsSpec s;
  s.log_n = 12;
  s.q_bits = {44, 44};  // the old FL preset: 107.98 bits, within 2018's 109
  s.p_bits = {20};
  EXPECT_THROW(Context::create(s), std::invalid_argument);
  s.q_bits = {43, 43};
  const auto ctx = Context::create(s);
  EXPECT_LE(ctx->log_qp(), 106);
  EXPECT_TRUE(ctx->meets_security_bound());
}

// Every preset (anchors, depth presets) passes the bound without allow_insecure.
TEST(Params, EveryPresetMeetsTheBound) {
  for (int log_n = 13; log_n <= 16; ++log_n) {
    const ParamsSpec a = anchor_params(log_n);
    int bits = 0;
    for (int b : a.q_bits) bits += b;
    for (int b : a.p_bits) bits += b;
    EXPECT_LE(bits, max_secure_log_qp(log_n)) << "anchor 2^" << log_n;
    EXPECT_TRUE(security_violation(a, bits).empty()) << security_violation(a, bits);
  }
  for (std::size_t depth = 1; depth <= 40; ++depth) {
    const ParamsSpec p = preset_for_depth(depth);
    const double bits = 60.0 + 40.0 * static_cast<double>(depth) + 60.0;
    EXPECT_TRUE(security_violation(p, bits).empty()) << "depth " << depth << ": " << security_violation(p, bits);
  }
}

// Issue 14: a sparse secret used to pass with any Hamming weight in [1, N] under the uniform-ternary
// bound. Now: weight >= 128, N >= 2^14 and the sparse-secret rows (h = 128: 361/718/1450, h = 256:
// 413/818/1637 for N = 2^14/2^15/2^16).
TEST(Params, SparseSecretsAreBounded) {
  auto refused_with = [](const ParamsSpec& s, const std::string& what) {
    try {
      Context::create(s);
      ADD_FAILURE() << "accepted a sparse secret of weight " << s.hamming_weight << " at N = 2^" << s.log_n;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  ParamsSpec s;
  s.log_n = 14;
  s.q_bits = {60, 40};
  s.p_bits = {60};
  s.secret = SecretDistribution::kTernaryHamming;
  for (std::size_t h : {1u, 2u, 64u, 127u}) {
    s.hamming_weight = h;
    refused_with(s, "below the minimum of 128");
  }
  s.hamming_weight = 128;
  EXPECT_TRUE(Context::create(s)->meets_security_bound());
  s.q_bits = {60, 40, 40, 40, 40, 40, 40, 40};  // log QP ~ 400: above h=128's 361, below h=256's 413
  s.hamming_weight = 192;
  refused_with(s, "bound of 361");
  s.hamming_weight = 256;
  EXPECT_NO_THROW(Context::create(s));
  EXPECT_EQ(max_secure_log_qp(s), 413);
  s.hamming_weight = 192;
  s.log_n = 13;
  s.q_bits = {60, 40};
  refused_with(s, "sparse secrets need N >= 2^14");
  s.log_n = 16;
  s.hamming_weight = 128;
  EXPECT_EQ(max_secure_log_qp(s), 1450);
  s.hamming_weight = 1 << 15;
  EXPECT_EQ(max_secure_log_qp(s), 1637);
  // The calling code can still build weak sets for tests, and the context says they are weak.
  ParamsSpec weak;
  weak.log_n = 14;
  weak.q_bits = {60, 40};
  weak.p_bits = {60};
  weak.secret = SecretDistribution::kTernaryHamming;
  weak.hamming_weight = 1;
  weak.allow_insecure = true;
  EXPECT_FALSE(Context::create(weak)->meets_security_bound());
}

TEST(Params, PresetsAndDigits) {
  EXPECT_EQ(preset_for_depth(2).log_n, 13);
  EXPECT_EQ(preset_for_depth(3).log_n, 14);
  EXPECT_EQ(preset_for_depth(7).log_n, 14);
  EXPECT_EQ(preset_for_depth(8).log_n, 15);
  EXPECT_EQ(preset_for_depth(18).log_n, 15);  // 840 <= 868
  EXPECT_EQ(preset_for_depth(19).log_n, 16);  // 880 > 868 (2^15 under the 2018 table's 881)
  EXPECT_EQ(preset_for_depth(40).log_n, 16);
  EXPECT_THROW(preset_for_depth(41), std::invalid_argument);
  EXPECT_THROW(preset_for_depth(100), std::invalid_argument);
  ParamsSpec s;
  s.log_n = 10;
  s.q_bits = {60, 40, 40, 40, 40};
  s.p_bits = {60, 60};
  s.dnum = 2;
  s.allow_insecure = true;
  auto ctx = Context::create(s);
  EXPECT_EQ(ctx->alpha(), 3u);
  EXPECT_EQ(ctx->dnum(), 2u);
  EXPECT_EQ(ctx->digits_at(4), 2u);
  EXPECT_EQ(ctx->digits_at(2), 1u);
  EXPECT_EQ(ctx->galois_elt_for_step(0), 1u);
  EXPECT_EQ(ctx->galois_elt_for_step(1), 5u);
  EXPECT_EQ(ctx->galois_elt_for_step(-1), ctx->galois_elt_for_step(static_cast<long>(ctx->slots()) - 1));
}

}  // namespace
}  // namespace heal::ckks
