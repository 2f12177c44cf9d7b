#include "heal/nn/passes.h"

#include <gtest/gtest.h>

#include <cmath>

#include "heal/nn/forward.h"
#include "nn_test_util.h"

namespace heal::nn {
namespace {

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

TEST(FoldBatchNorm, PreservesOutputsAndRemovesBn) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const ModelIr m = testutil::small_hecnn(seed);
    const ModelIr f = fold_batch_norm(m);
    EXPECT_EQ(f.layers.size(), m.layers.size() - 2);
    for (const auto& l : f.layers) EXPECT_NE(l.kind, OpKind::kBatchNorm);
    ASSERT_TRUE(f.validate().ok()) << f.validate().to_string();
    SeededRng rng(seed_from_u64(100 + seed));
    const auto imgs = testutil::random_floats(rng, 8 * 144);
    const auto a = forward(m, imgs, 8), b = forward(f, imgs, 8);
    double scale = 0;
    for (double v : a) scale = std::max(scale, std::abs(v));
    EXPECT_LT(max_abs_diff(a, b), 1e-5 * std::max(1.0, scale)) << "seed " << seed;
  }
}

// conv -> BN -> relu -> conv -> BN -> add(skip from relu) -> BN (on an add: not foldable) -> flatten.
TEST(FoldBatchNorm, ResidualGraphAndUnfoldableBn) {
  SeededRng rng(seed_from_u64(77));
  ModelIr m;
  m.input = {2, 6, 6};
  m.num_classes = 2 * 36;
  m.layers.push_back(testutil::conv(2, 2, 3, 1, 1, rng));  // 0
  m.layers.push_back(testutil::bn(2, rng));                // 1
  m.layers.push_back(testutil::simple(OpKind::kRelu));     // 2
  m.layers.push_back(testutil::conv(2, 2, 3, 1, 1, rng));  // 3
  m.layers.push_back(testutil::bn(2, rng));                // 4
  Layer add = testutil::simple(OpKind::kAdd);
  add.inputs = {4, 2};
  m.layers.push_back(add);                                 // 5
  m.layers.push_back(testutil::bn(2, rng));                // 6: reads an add, kept
  m.layers.push_back(testutil::simple(OpKind::kFlatten));  // 7
  ASSERT_TRUE(m.validate().ok()) << m.validate().to_string();
  const ModelIr f = fold_batch_norm(m);
  ASSERT_TRUE(f.validate().ok()) << f.validate().to_string();
  ASSERT_EQ(f.layers.size(), 6u);
  EXPECT_EQ(f.layers[4].kind, OpKind::kBatchNorm);
  EXPECT_EQ(f.layers[3].inputs, (std::vector<int>{2, 1}));
  const auto imgs = testutil::random_floats(rng, 3 * 72);
  EXPECT_LT(max_abs_diff(forward(m, imgs, 3), forward(f, imgs, 3)), 1e-5);
}

TEST(FoldBatchNorm, ConvReadByTwoLayersIsNotFolded) {
  SeededRng rng(seed_from_u64(78));
  ModelIr m;
  m.input = {1, 4, 4};
  m.num_classes = 16;
  m.layers.push_back(testutil::conv(1, 1, 3, 1, 1, rng));  // 0
  m.layers.push_back(testutil::bn(1, rng));                // 1
  Layer add = testutil::simple(OpKind::kAdd);
  add.inputs = {1, 0};                                     // conv output also read here
  m.layers.push_back(add);
  m.layers.push_back(testutil::simple(OpKind::kFlatten));
  const ModelIr f = fold_batch_norm(m);
  EXPECT_EQ(f.layers.size(), 4u);
  const auto imgs = testutil::random_floats(rng, 16);
  EXPECT_LT(max_abs_diff(forward(m, imgs, 1), forward(f, imgs, 1)), 1e-9);
}

TEST(DepthReport, HeCnnBeforeAndAfterFolding) {
  const ModelIr m = testutil::small_hecnn(1);
  const DepthReport r = depth_report(m);
  // conv 1, bn 1, poly 2, dense 1, bn 1, poly 2, dense 1.
  EXPECT_EQ(r.total_naive, 9);
  // conv 1, bn 0, poly 1, dense 1, bn 0, poly 1, dense 1.
  EXPECT_EQ(r.total_absorbed, 5);
  EXPECT_TRUE(r.he_compatible);
  const DepthReport rf = depth_report(fold_batch_norm(m));
  EXPECT_EQ(rf.total_naive, 7);
  EXPECT_EQ(rf.total_absorbed, 5);
  EXPECT_NE(rf.to_string().find("absorbed 5"), std::string::npos);
}

TEST(DepthReport, ReluIsFlaggedAndSkipTakesMax) {
  SeededRng rng(seed_from_u64(79));
  ModelIr m;
  m.input = {1, 4, 4};
  m.num_classes = 16;
  m.layers.push_back(testutil::conv(1, 1, 3, 1, 1, rng));  // depth 1
  m.layers.push_back(testutil::conv(1, 1, 3, 1, 1, rng));  // depth 2
  m.layers.push_back(testutil::simple(OpKind::kRelu));
  Layer add = testutil::simple(OpKind::kAdd);
  add.inputs = {kInputValue, 2};
  m.layers.push_back(add);
  m.layers.push_back(testutil::simple(OpKind::kFlatten));
  const DepthReport r = depth_report(m);
  EXPECT_EQ(r.total_naive, 2);
  EXPECT_FALSE(r.he_compatible);
}

// Mean of the members' logits, computed member by member.
std::vector<double> mean_logits(const std::vector<ModelIr>& ms, const std::vector<float>& imgs, std::size_t n) {
  std::vector<double> mean;
  for (const auto& m : ms) {
    const auto l = forward(m, imgs, n);
    if (mean.empty()) mean.assign(l.size(), 0.0);
    for (std::size_t i = 0; i < l.size(); ++i) mean[i] += l[i] / static_cast<double>(ms.size());
  }
  return mean;
}

double max_abs(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s = std::max(s, std::abs(x));
  return s;
}

// Members with different weights AND different activation polynomials (learned coefficients).
std::vector<ModelIr> hecnn_members(int k) {
  std::vector<ModelIr> ms;
  for (int i = 0; i < k; ++i) {
    ModelIr m = testutil::small_hecnn(static_cast<std::uint64_t>(11 + i));
    m.layers[2].a = 0.08 + 0.03 * i, m.layers[2].b = 0.5 - 0.1 * i, m.layers[2].c = 0.3 + 0.05 * i;
    m.layers[6].a = 0.12 - 0.02 * i, m.layers[6].b = 0.4 + 0.2 * i, m.layers[6].c = -0.1 * i;
    ms.push_back(m);
  }
  return ms;
}

TEST(MergeEnsemble, LogitsAreTheMeanOfTheMembers) {
  for (int k : {1, 2, 3, 5}) {
    const auto ms = hecnn_members(k);
    const auto merged = merge_ensemble(ms);
    ASSERT_TRUE(merged.ok()) << merged.status().to_string();
    const ModelIr& e = merged.value();
    const ModelIr folded = fold_batch_norm(ms[0]);
    ASSERT_EQ(e.layers.size(), folded.layers.size());
    for (std::size_t i = 0; i < e.layers.size(); ++i) {
      EXPECT_EQ(e.layers[i].kind, folded.layers[i].kind) << i;
      if (e.layers[i].kind == OpKind::kPolyAct) {  // shared: member 0's polynomial
        EXPECT_EQ(e.layers[i].a, ms[0].layers[i + (i > 2 ? 2 : 1)].a);
      }
    }
    EXPECT_EQ(e.layers[0].out_channels, 3 * k);
    EXPECT_EQ(e.layers.back().out_channels, 2);
    EXPECT_EQ(depth_report(e).total_absorbed, depth_report(folded).total_absorbed);
    SeededRng rng(seed_from_u64(500 + static_cast<std::uint64_t>(k)));
    const auto imgs = testutil::random_floats(rng, 16 * 144);
    const auto want = mean_logits(ms, imgs, 16);
    const auto got = forward(e, imgs, 16);
    EXPECT_LT(max_abs_diff(want, got), 1e-5 * std::max(1.0, max_abs(want))) << "K = " << k;
  }
}

TEST(MergeEnsemble, MergingChangesTheFunction) {
  // The test above must be able to fail: dropping a member changes the logits.
  const auto ms = hecnn_members(3);
  const auto e3 = merge_ensemble(ms).value();
  const std::vector<ModelIr> two(ms.begin(), ms.begin() + 2);
  SeededRng rng(seed_from_u64(9));
  const auto imgs = testutil::random_floats(rng, 8 * 144);
  EXPECT_GT(max_abs_diff(forward(e3, imgs, 8), mean_logits(two, imgs, 8)), 1e-3);
}

// conv (no padding) -> poly -> conv -> poly -> avgpool -> flatten -> dense -> poly -> dense:
// block-diagonal convolutions and a constant moved through pooling and flatten.
TEST(MergeEnsemble, BlockDiagonalConvAndPooling) {
  std::vector<ModelIr> ms;
  for (int i = 0; i < 3; ++i) {
    SeededRng rng(seed_from_u64(40 + static_cast<std::uint64_t>(i)));
    ModelIr m;
    m.input = {2, 10, 10};
    m.num_classes = 3;
    m.layers.push_back(testutil::conv(2, 4, 3, 1, 0, rng));  // 4x8x8
    m.layers.push_back(testutil::poly(0.1 + 0.02 * i, 0.5, 0.2 * i));
    m.layers.push_back(testutil::conv(4, 3, 3, 1, 0, rng));  // 3x6x6
    m.layers.push_back(testutil::poly(0.2, 0.3 - 0.1 * i, 0.1));
    Layer pool = testutil::simple(OpKind::kAvgPool);
    pool.kernel = 2, pool.stride = 2;                          // 3x3x3
    m.layers.push_back(pool);
    m.layers.push_back(testutil::simple(OpKind::kFlatten));
    m.layers.push_back(testutil::dense(27, 5, rng));
    m.layers.push_back(testutil::poly(0.05, 1.0, -0.3 * i));
    m.layers.push_back(testutil::dense(5, 3, rng));
    ASSERT_TRUE(m.validate().ok());
    ms.push_back(m);
  }
  const auto e = merge_ensemble(ms);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e.value().layers[2].in_channels, 12);
  EXPECT_EQ(e.value().layers[2].out_channels, 9);
  SeededRng rng(seed_from_u64(3));
  const auto imgs = testutil::random_floats(rng, 6 * 200);
  const auto want = mean_logits(ms, imgs, 6);
  EXPECT_LT(max_abs_diff(want, forward(e.value(), imgs, 6)), 1e-5 * std::max(1.0, max_abs(want)));
}

TEST(MergeEnsemble, RefusesWhatItCannotMergeExactly) {
  EXPECT_EQ(merge_ensemble(std::vector<ModelIr>{}).status().code(), StatusCode::kInvalidArgument);
  auto ms = hecnn_members(2);
  ms[1].layers[6].a = -0.1;  // x^2 coefficients of opposite sign
  EXPECT_EQ(merge_ensemble(ms).status().code(), StatusCode::kUnsupported);
  ms = hecnn_members(2);
  ms[1].input = {1, 13, 13};
  EXPECT_EQ(merge_ensemble(ms).status().code(), StatusCode::kInvalidArgument);
}

// Members whose activations differ in front of a zero-padded (strided) conv, as in the two-block
// hecnn: the constants go through an added constant channel, exactly (also at the borders).
TEST(MergeEnsemble, ConstantChannelInFrontOfPaddedConv) {
  std::vector<ModelIr> padded;
  for (int i = 0; i < 3; ++i) {
    SeededRng rng(seed_from_u64(70 + static_cast<std::uint64_t>(i)));
    ModelIr m;
    m.input = {1, 7, 7};
    m.num_classes = 2;
    m.layers.push_back(testutil::conv(1, 3, 3, 1, 0, rng));  // 3x5x5
    m.layers.push_back(testutil::poly(0.1 + 0.03 * i, 0.5 - 0.1 * i, 0.3 * i - 0.2));
    m.layers.push_back(testutil::conv(3, 2, 3, 2, 1, rng));  // 2x3x3, zero-padded
    m.layers.push_back(testutil::poly(0.2, 0.4, 0.1 * i));
    m.layers.push_back(testutil::simple(OpKind::kFlatten));
    m.layers.push_back(testutil::dense(18, 4, rng));
    m.layers.push_back(testutil::poly(0.05, 1.0, -0.2 * i));
    m.layers.push_back(testutil::dense(4, 2, rng));
    ASSERT_TRUE(m.validate().ok());
    padded.push_back(m);
  }
  const auto e = merge_ensemble(padded);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e.value().layers[0].out_channels, 3 * 3 + 1);  // + the constant channel
  EXPECT_EQ(e.value().layers[2].in_channels, 3 * 3 + 1);
  EXPECT_EQ(e.value().layers[2].out_channels, 3 * 2);
  EXPECT_EQ(depth_report(e.value()).total_absorbed, depth_report(padded[0]).total_absorbed);
  SeededRng rng(seed_from_u64(71));
  const auto imgs = testutil::random_floats(rng, 5 * 49);
  const auto want = mean_logits(padded, imgs, 5);
  EXPECT_LT(max_abs_diff(want, forward(e.value(), imgs, 5)), 1e-5 * std::max(1.0, max_abs(want)));
  // Without the constant channel's taps the border outputs are wrong: the check can fail.
  ModelIr broken = e.value();
  Layer& conv = broken.layers[2];
  const std::size_t area = 9, cin = static_cast<std::size_t>(conv.in_channels);
  for (std::size_t o = 0; o < static_cast<std::size_t>(conv.out_channels); ++o) {
    for (std::size_t a = 0; a < area; ++a) conv.weight[(o * cin + cin - 1) * area + a] = 0.0f;
  }
  EXPECT_GT(max_abs_diff(want, forward(broken, imgs, 5)), 1e-3);
}

TEST(ShiftBinaryDecision, MovesTheMarginAndKeepsTheRanking) {
  ModelIr m = fold_batch_norm(testutil::small_hecnn(3));
  SeededRng rng(seed_from_u64(12));
  const auto imgs = testutil::random_floats(rng, 10 * 144);
  const auto before = forward(m, imgs, 10);
  ASSERT_TRUE(shift_binary_decision(m, 0.75).ok());
  ASSERT_TRUE(shift_binary_decision(m, -0.25).ok());
  const auto after = forward(m, imgs, 10);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_NEAR((after[2 * i + 1] - after[2 * i]) - (before[2 * i + 1] - before[2 * i]), -0.5, 1e-5);
  }
  EXPECT_EQ(m.meta.notes.at("decision_margin"), "0.5");
  m.num_classes = 3;
  EXPECT_EQ(shift_binary_decision(m, 1.0).code(), StatusCode::kUnsupported);
}

TEST(TransformerPasses, DepthReportFoldAndMerge) {
  const ModelIr m = testutil::small_deit(9);
  const DepthReport r = depth_report(m);
  EXPECT_FALSE(r.he_compatible);
  EXPECT_NE(r.reason.find("layer_norm"), std::string::npos) << r.reason;  // the first one, layer 2
  EXPECT_NE(r.to_string().find("not HE-compatible"), std::string::npos);
  // Nothing to fold: same layers, same function.
  const ModelIr f = fold_batch_norm(m);
  EXPECT_EQ(f.layers.size(), m.layers.size());
  const std::vector<float> img(64, 0.3f);
  EXPECT_EQ(forward(f, img, 1), forward(m, img, 1));
  const std::vector<ModelIr> two = {m, testutil::small_deit(10)};
  auto merged = merge_ensemble(two);
  ASSERT_FALSE(merged.ok());
  EXPECT_EQ(merged.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace heal::nn
