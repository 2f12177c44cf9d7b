// Circuit compilation: the lowered circuit computes the model's function.
#include "heal/he_infer/circuit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "heal/he_infer/plan.h"
#include "heal/nn/forward.h"
#include "test_models.h"

namespace heal::he_infer {
namespace {

// nn::fold_batch_norm stores the folded weights as float, so the circuit agrees with the unfolded
// model only up to float rounding (~1e-7 relative).
constexpr double kTol = 1e-6;

TEST(Circuit, MatchesReferenceForward) {
  const nn::ModelIr m = testing::tiny_cnn();
  const Circuit c = compile(m);
  EXPECT_EQ(c.linears.size(), 3u);
  EXPECT_EQ(c.depth(), 5);
  const auto imgs = testing::random_images(5, m.input.size());
  const auto ref = nn::forward(m, imgs, 5);
  for (std::size_t i = 0; i < 5; ++i) {
    const auto y = c.evaluate(std::span<const float>(imgs).subspan(i * m.input.size(), m.input.size()));
    for (int k = 0; k < m.num_classes; ++k) EXPECT_NEAR(y[k], ref[i * m.num_classes + k], kTol * (1 + std::fabs(ref[i * m.num_classes + k])));
  }
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

TEST(Circuit, RejectsRelu) {
  nn::ModelIr m = testing::tiny_cnn();
  m.layers[2].kind = nn::OpKind::kRelu;
  EXPECT_THROW(compile(m), std::invalid_argument);
}

TEST(Plan, SecureChoices) {
  const ParamPlan p5 = plan_params(5);
  EXPECT_EQ(p5.spec.log_n, 13);
  EXPECT_EQ(p5.scale_bits, 26);
  EXPECT_LE(7 * 26 + p5.spec.p_bits[0], 218);
  const ParamPlan p7 = plan_params(7);
  EXPECT_EQ(p7.spec.log_n, 14);
  EXPECT_THROW(plan_params(5, {.min_scale_bits = 25, .max_scale_bits = 30, .log_n = 12, .allow_insecure = false}), std::invalid_argument);
}

}  // namespace
}  // namespace heal::he_infer
