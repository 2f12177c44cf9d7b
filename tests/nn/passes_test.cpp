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

}  // namespace
}  // namespace heal::nn
