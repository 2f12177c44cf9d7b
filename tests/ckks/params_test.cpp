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
  s.q_bits.push_back(40);  // 440 > 438
  try {
    Context::create(s);
    FAIL() << "expected a security refusal";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("438"), std::string::npos) << e.what();
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

TEST(Params, PresetsAndDigits) {
  EXPECT_EQ(preset_for_depth(2).log_n, 13);
  EXPECT_EQ(preset_for_depth(3).log_n, 14);
  EXPECT_EQ(preset_for_depth(7).log_n, 14);
  EXPECT_EQ(preset_for_depth(8).log_n, 15);
  EXPECT_EQ(preset_for_depth(40).log_n, 16);
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
