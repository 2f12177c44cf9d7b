// Circuit compilation: the lowered circuit computes the model's function.
#include "heal/he_infer/circuit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "heal/he_infer/plan.h"
#include "heal/nn/forward.h"
#include "nn/nn_test_util.h"
#include "test_models.h"

namespace heal::he_infer {
namespace {

// nn::fold_batch_norm stores the folded weights as float, so the circuit agrees with the unfolded
// model only up to float rounding (~1e-7 relative).
constexpr double kTol = 1e-6;

// The circuit's plaintext evaluation equals the reference forward pass on `n` random images.
void expect_matches_forward(const Circuit& c, const nn::ModelIr& m, std::size_t n) {
  const auto imgs = testing::random_images(n, m.input.size());
  const auto ref = nn::forward(m, imgs, n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto y = c.evaluate(std::span<const float>(imgs).subspan(i * m.input.size(), m.input.size()));
    for (int k = 0; k < m.num_classes; ++k) EXPECT_NEAR(y[k], ref[i * m.num_classes + k], kTol * (1 + std::fabs(ref[i * m.num_classes + k])));
  }
}

TEST(Circuit, MatchesReferenceForward) {
  const nn::ModelIr m = testing::tiny_cnn();
  const Circuit c = compile(m);
  EXPECT_EQ(c.linears.size(), 3u);
  EXPECT_EQ(c.depth(), 5);
  expect_matches_forward(c, m, 5);
}

TEST(Circuit, ConsecutivePolysAndZeroA) {
  nn::ModelIr m = testing::tiny_cnn();
  // Make act_fc affine (a = 0): it must fold away and the depth drop to 3.
  for (auto& l : m.layers)
    if (l.name == "act_fc") l.a = 0.0;
  const Circuit c = compile(m);
  EXPECT_EQ(c.depth(), 3);
  const auto imgs = testing::random_images(2, m.input.size());
  const auto ref = nn::forward(m, imgs, 2);
  const auto y = c.evaluate(std::span<const float>(imgs).subspan(0, m.input.size()));
  for (int k = 0; k < m.num_classes; ++k) EXPECT_NEAR(y[k], ref[k], kTol * (1 + std::fabs(ref[k])));
}

// A conv output channel with no weights (a merged ensemble's constant channel) is a constant: the
// compiler moves it, squared, into the next stage's bias and drops it from the circuit.
TEST(Circuit, DropsConstantOutputs) {
  nn::ModelIr m = testing::tiny_cnn();
  const int full = compile(m).linears[0].out_dim;
  nn::Layer& conv = m.layers[0];
  ASSERT_EQ(conv.kind, nn::OpKind::kConv2d);
  ASSERT_EQ(conv.out_channels, 2);
  const std::size_t per = conv.weight.size() / 2;
  for (std::size_t k = 0; k < per; ++k) conv.weight[k] = 0.0f;  // channel 0: bias only
  conv.bias[0] = 0.7f;
  const Circuit c = compile(m);
  EXPECT_EQ(c.linears[0].out_dim, full / 2);
  EXPECT_EQ(c.linears[1].in_dim, full / 2);
  EXPECT_EQ(c.depth(), 5);
  expect_matches_forward(c, m, 4);
}

// Selecting rows / columns of a sparse map: y_rows(x) = rows of y(x); with columns `keep`, the map
// of the kept inputs equals the full map applied to x with the other inputs zero.
TEST(SparseLinear, SelectRowsAndColumns) {
  const Circuit c = compile(testing::tiny_cnn());
  const SparseLinear& l = c.linears[0];
  std::vector<double> x(static_cast<std::size_t>(l.in_dim));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37 * static_cast<double>(i)) + 0.1;
  const auto full = l.apply(x);
  const std::vector<std::int32_t> rows = {static_cast<std::int32_t>(l.out_dim - 1), 0, 5, 5};
  const auto sel = l.select_rows(rows).apply(x);
  ASSERT_EQ(sel.size(), rows.size());
  for (std::size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(sel[k], full[static_cast<std::size_t>(rows[k])]);
  std::vector<std::int32_t> keep;
  std::vector<double> masked(x.size(), 0.0);
  for (std::int32_t j = l.in_dim - 1; j >= 0; j -= 3) {
    keep.push_back(j);
    masked[static_cast<std::size_t>(j)] = x[static_cast<std::size_t>(j)];
  }
  std::vector<double> xk;
  for (const auto j : keep) xk.push_back(x[static_cast<std::size_t>(j)]);
  const SparseLinear cols = l.select_columns(keep);
  EXPECT_EQ(cols.in_dim, static_cast<int>(keep.size()));
  const auto a = cols.apply(xk), b = l.apply(masked);
  for (std::size_t r = 0; r < a.size(); ++r) EXPECT_NEAR(a[r], b[r], 1e-12);
  EXPECT_THROW((void)l.select_rows(std::vector<std::int32_t>{l.out_dim}), std::invalid_argument);
  EXPECT_THROW((void)l.select_columns(std::vector<std::int32_t>{-1}), std::invalid_argument);
}

TEST(Circuit, RejectsRelu) {
  nn::ModelIr m = testing::tiny_cnn();
  m.layers[2].kind = nn::OpKind::kRelu;
  EXPECT_THROW(compile(m), std::invalid_argument);
}

// ModelIr v2 transformer ops have no CKKS evaluation here: compile names the op and the reason,
// before the residual adds of a DeiT could give a misleading "not sequential" error.
TEST(Circuit, RejectsTransformerOpsClearly) {
  auto message = [](const nn::ModelIr& m) {
    try {
      (void)compile(m);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("compiled");
  };
  const std::string deit = message(nn::testutil::small_deit(1));
  EXPECT_NE(deit.find("'tokens' is a tokens (ModelIr v2 transformer op)"), std::string::npos) << deit;
  EXPECT_NE(deit.find("reference forward"), std::string::npos) << deit;
  nn::ModelIr m = testing::tiny_cnn();
  m.layers[2] = nn::Layer{};
  m.layers[2].kind = nn::OpKind::kGelu;  // sequential CNN with a GELU in place of its activation
  m.layers[2].name = "act";
  ASSERT_TRUE(m.validate().ok());
  const std::string gelu = message(m);
  EXPECT_NE(gelu.find("'act' is a gelu"), std::string::npos) << gelu;
}

// Re-planned for the 2024 bounds (ePrint 2024/463 Table 5.2; issue 14): depth 5 (the hecnn)
// keeps N = 2^13 with 25-bit scales (Q = 7 x 25, P = 33, log QP = 208 <= 214); under the 2018
// table (218) it had 26-bit scales and log QP = 216, which the 2024 bound refuses.
TEST(Plan, SecureChoices) {
  const ParamPlan p5 = plan_params(5);
  EXPECT_EQ(p5.spec.log_n, 13);
  EXPECT_EQ(p5.scale_bits, 25);
  EXPECT_LE(7 * 25 + p5.spec.p_bits[0], 214);
  const auto ctx5 = ckks::Context::create(p5.spec);
  EXPECT_LE(ctx5->log_qp(), 214);
  EXPECT_TRUE(ctx5->meets_security_bound());
  const ParamPlan p7 = plan_params(7);
  EXPECT_EQ(p7.spec.log_n, 14);
  // Every depth the planner accepts gives a set Context::create accepts without allow_insecure.
  for (int depth = 1; depth <= 30; ++depth) {
    const ParamPlan p = plan_params(depth);
    int bits = p.spec.p_bits[0];
    for (int b : p.spec.q_bits) bits += b;
    EXPECT_LE(bits, ckks::max_secure_log_qp(p.spec.log_n)) << p.describe();
    EXPECT_GE(p.scale_bits, 25) << p.describe();
  }
  EXPECT_THROW(plan_params(5, {.min_scale_bits = 25, .max_scale_bits = 30, .log_n = 12, .allow_insecure = false}), std::invalid_argument);
}

}  // namespace
}  // namespace heal::he_infer
