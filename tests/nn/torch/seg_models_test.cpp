// Segmentation networks (src/nn/torch/seg_models.h): capsule-layer shapes and routing, and both
// networks learning a synthetic lesion task (a bright blob on noise) from a few dozen steps.
#include "nn/torch/seg_models.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "heal/nn/torch/trainer.h"
#include "seg_test_util.h"

namespace heal::nn::torch_backend {
namespace {

const bool kOneThread = (set_num_threads(1), true);

TEST(SegCapsules, ShapesAndRoutingCoefficients) {
  ::torch::manual_seed(1);
  ConvCapsules layer(3, 8, 4, 6, 5, 2, 3);
  const auto x = ::torch::randn({2, 3, 8, 16, 16});
  const auto y = layer->forward(x);
  EXPECT_EQ(y.sizes(), (std::vector<std::int64_t>{2, 4, 6, 8, 8}));
  // Every child type distributes its vote over the parent types: coefficients sum to 1.
  const auto sums = layer->last_coupling.sum(2);
  EXPECT_LT((sums - 1).abs().max().item<double>(), 1e-5);
  // Squashed capsules are shorter than 1.
  EXPECT_LT(y.pow(2).sum(2).sqrt().max().item<double>(), 1.0);
  ConvCapsules up(4, 6, 2, 5, 4, 2, 3, /*transposed=*/true);
  EXPECT_EQ(up->forward(y).sizes(), (std::vector<std::int64_t>{2, 2, 5, 16, 16}));
  EXPECT_THROW(ConvCapsules(0, 8, 4, 6, 5, 1, 3), std::invalid_argument);
  EXPECT_THROW(ConvCapsules(3, 8, 4, 6, 4, 1, 3), std::invalid_argument);  // even kernel without transposition
}

TEST(SegCapsules, SquashKeepsDirectionAndBoundsLength) {
  const auto s = ::torch::tensor({3.0, 4.0}).view({1, 2});
  const auto v = squash(s, 1);
  EXPECT_NEAR(v[0][0].item<double>() / v[0][1].item<double>(), 0.75, 1e-6);
  EXPECT_NEAR(v.pow(2).sum().sqrt().item<double>(), 25.0 / 26.0, 1e-6);  // |s|^2 / (1 + |s|^2) with |s| = 5
}

TEST(SegNetworks, UNetLearnsTexturedLesions) { EXPECT_GT(train_and_score("unet", 60, 32), 0.8); }

// About 5 s on one core (SegCaps' slower capsule decoder is in the slow tests).
TEST(SegNetworks, UCapsLearnsTexturedLesions) { EXPECT_GT(train_and_score("ucaps", 60, 16), 0.7); }

// UCaps: one logit per pixel, and the loss reaches every capsule layer's votes and the decoder.
TEST(SegNetworks, UCapsMapsToOneLogitPerPixelAndTrainsItsCapsules) {
  ::torch::manual_seed(1);
  SegNetSpec s;
  s.arch = "ucaps";
  s.width = 8;
  auto net = make_seg_network(s);
  const auto x = ::torch::randn({2, 1, 16, 24});
  const auto scores = net->forward(x);
  EXPECT_EQ(scores.sizes(), (std::vector<std::int64_t>{2, 1, 16, 24}));
  const auto p = net->probabilities(scores);
  EXPECT_GE(p.min().item<float>(), 0.0f);
  EXPECT_LE(p.max().item<float>(), 1.0f);
  const auto mask = (::torch::rand({2, 1, 16, 24}) > 0.8).to(::torch::kFloat);
  net->loss(x, scores, mask).backward();
  int capsule_layers = 0;
  for (const auto& item : net->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0) << item.key() << " gets no gradient";
    capsule_layers += item.key().ends_with(".conv.weight") && item.key().rfind("c", 0) == 0;
  }
  EXPECT_EQ(capsule_layers, 5);  // c21, c22, c31, c32, c41 (votes by convolution)
}


TEST(SegNetworks, RejectsBadSpecsAndSizes) {
  SegNetSpec s;
  s.arch = "vnet";
  EXPECT_THROW(make_seg_network(s), std::invalid_argument);
  s.arch = "segcaps";
  s.width = 8;
  EXPECT_THROW(make_seg_network(s), std::invalid_argument);
  s.arch = "unet";
  auto net = make_seg_network(s);
  EXPECT_ANY_THROW(net->forward(::torch::zeros({1, 1, 20, 20})));
  s.arch = "ucaps";
  EXPECT_ANY_THROW(make_seg_network(s)->forward(::torch::zeros({1, 1, 20, 20})));
}

}  // namespace
}  // namespace heal::nn::torch_backend
