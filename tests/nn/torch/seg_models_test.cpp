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

// F3Net's box: side 31 at 352 x 352 (arXiv 1911.11445), 11 at 128 x 128. A vertical edge between
// columns half - 1 (mask 1) and half (mask 0): a background pixel's weight is 1 + 5 x (the box's
// share of mask columns), so it is > 1 exactly up to `box / 2` columns past the edge.
TEST(SegLosses, StructureWeightsUseF3NetsBoxScaledToTheInput) {
  for (const auto& [side, box] : {std::pair{352, 31}, std::pair{128, 11}}) {
    auto m = ::torch::zeros({1, 1, side, side});
    m.slice(3, 0, side / 2).fill_(1);
    const auto w = structure_weights(m);
    const int row = side / 2, edge = side / 2, r = box / 2;
    const auto at = [&](int c) { return w[0][0][row][c].item<double>(); };
    EXPECT_NEAR(at(edge), 1 + 5.0 * r / box, 1e-5) << side;      // first background column
    EXPECT_NEAR(at(edge - 1), 1 + 5.0 * r / box, 1e-5) << side;  // last foreground column
    EXPECT_NEAR(at(edge + r - 1), 1 + 5.0 / box, 1e-5) << side;
    EXPECT_NEAR(at(edge + r), 1.0, 1e-6) << side;  // the box no longer reaches the mask
    EXPECT_NEAR(at(edge - r - 1), 1.0, 1e-6) << side;
    EXPECT_LE(w.max().item<double>(), 6.0 + 1e-6);
  }
}

// With a 1-pixel box (inputs under 12 pixels) every weight is 1: the loss is the mean BCE plus
// 1 - IoU with +1 smoothing, per image, averaged. Probabilities (SegCaps) and logits agree.
TEST(SegLosses, StructureLossIsBcePlusIouWhenUnweighted) {
  ::torch::manual_seed(5);
  const auto logits = ::torch::randn({3, 1, 8, 8}) * 2;
  const auto mask = (::torch::rand({3, 1, 8, 8}) > 0.6).to(::torch::kFloat);
  const auto p = ::torch::sigmoid(logits);
  double want = 0;
  for (int i = 0; i < 3; ++i) {
    const auto pi = p[i], mi = mask[i];
    const double bce = ::torch::binary_cross_entropy(pi, mi).item<double>();
    const double inter = (pi * mi).sum().item<double>(), uni = (pi + mi).sum().item<double>();
    want += (bce + 1 - (inter + 1) / (uni - inter + 1)) / 3;
  }
  EXPECT_NEAR(seg_head_loss(logits, mask, SegLoss::kStructure, true).item<double>(), want, 1e-5);
  EXPECT_NEAR(seg_head_loss(p, mask, SegLoss::kStructure, false).item<double>(), want, 1e-4);
  // The default loss is unchanged: mean BCE + soft Dice.
  const double bd =
      ::torch::binary_cross_entropy_with_logits(logits, mask).item<double>() + soft_dice_loss(p, mask).item<double>();
  EXPECT_NEAR(seg_head_loss(logits, mask, SegLoss::kBceDice, true).item<double>(), bd, 1e-6);
}

// The point of the weights: one wrong pixel on the lesion's boundary costs more than one wrong
// pixel far from it (under the unweighted loss the two cost the same BCE).
TEST(SegLosses, StructureLossPunishesBoundaryErrorsMore) {
  const int side = 64;
  auto mask = ::torch::zeros({1, 1, side, side});
  mask.slice(2, 24, 40).slice(3, 24, 40).fill_(1);
  const auto good = (mask * 2 - 1) * 4;  // confident and right everywhere
  auto boundary = good.clone(), far = good.clone();
  boundary[0][0][24][32] = -4;  // a foreground pixel on the top edge, called background
  far[0][0][4][4] = 4;          // a background pixel in the corner, called foreground
  const auto loss = [&](const ::torch::Tensor& s) {
    return seg_head_loss(s, mask, SegLoss::kStructure, true).item<double>();
  };
  EXPECT_LT(loss(good), loss(far));
  EXPECT_GT(loss(boundary) - loss(good), 1.5 * (loss(far) - loss(good)));
}

TEST(SegNetworks, UNetLearnsTexturedLesions) { EXPECT_GT(train_and_score("unet", 60, 32), 0.8); }

// About 5 s on one core (SegCaps' slower capsule decoder is in the slow tests).
TEST(SegNetworks, UCapsLearnsTexturedLesions) { EXPECT_GT(train_and_score("ucaps", 60, 16), 0.7); }

// Attention-gated skips (unet-ag, ucaps-ag): the same output shape, a gate per skip whose
// coefficients lie in [0, 1] at the skip's resolution, and every gate parameter gets a gradient.
TEST(SegNetworks, AttentionGatedVariantsGateEverySkip) {
  for (const char* arch : {"unet-ag", "ucaps-ag"}) {
    ::torch::manual_seed(2);
    SegNetSpec s;
    s.arch = arch;
    s.width = 8;
    auto net = make_seg_network(s);
    SegNetSpec plain = s;
    plain.arch = std::string(arch).substr(0, std::string(arch).size() - 3);
    std::size_t n_gated = 0, n_plain = 0;
    for (const auto& p : net->parameters()) n_gated += static_cast<std::size_t>(p.numel());
    for (const auto& p : make_seg_network(plain)->parameters()) n_plain += static_cast<std::size_t>(p.numel());
    EXPECT_GT(n_gated, n_plain) << arch;
    const auto x = ::torch::randn({2, 1, 16, 24});
    const auto scores = net->forward(x);
    EXPECT_EQ(scores.sizes(), (std::vector<std::int64_t>{2, 1, 16, 24})) << arch;
    int gates = 0;
    for (const auto& child : net->named_children()) {
      const auto* g = dynamic_cast<const AttentionGateImpl*>(child.value().get());
      if (g == nullptr) continue;
      ++gates;
      ASSERT_TRUE(g->last_alpha.defined()) << arch << " " << child.key();
      EXPECT_EQ(g->last_alpha.size(1), 1);
      EXPECT_GE(g->last_alpha.min().item<double>(), 0.0);
      EXPECT_LE(g->last_alpha.max().item<double>(), 1.0);
    }
    EXPECT_EQ(gates, 3) << arch;
    const auto mask = (::torch::rand({2, 1, 16, 24}) > 0.8).to(::torch::kFloat);
    net->loss(x, scores, mask, SegLoss::kBceDice).backward();
    for (const auto& item : net->named_parameters()) {
      if (item.key().rfind("g", 0) != 0) continue;
      ASSERT_TRUE(item.value().grad().defined()) << arch << " " << item.key();
      EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0)
          << arch << " " << item.key() << " gets no gradient";
    }
  }
}

TEST(SegNetworks, AttentionUNetLearnsTexturedLesions) { EXPECT_GT(train_and_score("unet-ag", 60, 32), 0.8); }

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
  net->loss(x, scores, mask, SegLoss::kBceDice).backward();
  int capsule_layers = 0;
  for (const auto& item : net->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0) << item.key() << " gets no gradient";
    capsule_layers += item.key().ends_with(".conv.weight") && item.key().rfind("c", 0) == 0;
  }
  EXPECT_EQ(capsule_layers, 5);  // c21, c22, c31, c32, c41 (votes by convolution)
}

TEST(SegLosses, MulticlassLossIsCrossEntropyPlusLesionDice) {
  auto gen = ::torch::make_generator<::torch::CPUGeneratorImpl>(21);
  const auto logits = ::torch::randn({2, 3, 8, 8}, gen) * 2;
  const auto labels = ::torch::randint(0, 3, {2, 8, 8}, gen);
  const auto onehot = ::torch::one_hot(labels, 3).permute({0, 3, 1, 2}).to(::torch::kFloat);
  // Direct: libtorch's cross-entropy on class indices, plus 1 - Dice per image and lesion class, averaged.
  const double ce = ::torch::nll_loss2d(::torch::log_softmax(logits, 1), labels).item<double>();
  const auto p = ::torch::softmax(logits, 1);
  double dice_loss = 0;
  for (int n = 0; n < 2; ++n) {
    for (int k = 1; k < 3; ++k) {
      const auto pk = p[n][k], mk = onehot[n][k];
      dice_loss += 1 - ((2 * (pk * mk).sum() + 1) / (pk.sum() + mk.sum() + 1)).item<double>();
    }
  }
  dice_loss /= 4;
  EXPECT_NEAR(multiclass_seg_loss(logits, onehot).item<double>(), ce + dice_loss, 1e-5);
  // Perfect, confident logits cost almost nothing; the wrong class costs more.
  EXPECT_LT(multiclass_seg_loss(onehot * 30, onehot).item<double>(), 0.01);
  EXPECT_GT(multiclass_seg_loss(onehot.roll(1, 1) * 30, onehot).item<double>(), 10.0);
  // one_hot_argmax: the largest channel wins; a pixel with all channels 0 is background.
  auto m = ::torch::zeros({1, 3, 1, 3});
  m[0][2][0][0] = 0.6;
  m[0][1][0][0] = 0.4;
  m[0][1][0][1] = 0.2;
  const auto oh = one_hot_argmax(m);
  EXPECT_EQ(oh[0][2][0][0].item<float>(), 1.0f);
  EXPECT_EQ(oh[0][1][0][1].item<float>(), 1.0f);
  EXPECT_EQ(oh[0][0][0][2].item<float>(), 1.0f);
  EXPECT_TRUE(oh.sum(1).eq(1).all().item<bool>());
}

TEST(SegNetworks, MulticlassHeadsGiveOneSoftmaxPerPixel) {
  for (const char* arch : {"unet", "unet-ag", "ucaps", "ucaps-ag"}) {
    SegNetSpec spec;
    spec.arch = arch;
    spec.width = 8;
    spec.classes = 3;
    auto net = make_seg_network(spec);
    net->eval();
    ::torch::NoGradGuard ng;
    const auto x = ::torch::randn({2, 1, 16, 16});
    const auto scores = net->forward(x);
    EXPECT_EQ(scores.sizes(), (std::vector<std::int64_t>{2, 3, 16, 16})) << arch;
    const auto p = net->probabilities(scores);
    EXPECT_LT((p.sum(1) - 1).abs().max().item<double>(), 1e-5) << arch;
    const auto onehot =
        ::torch::one_hot(::torch::zeros({2, 16, 16}, ::torch::kLong), 3).permute({0, 3, 1, 2}).to(::torch::kFloat);
    EXPECT_THROW(net->loss(x, scores, onehot, SegLoss::kStructure), std::invalid_argument) << arch;
    EXPECT_TRUE(std::isfinite(net->loss(x, scores, onehot, SegLoss::kBceDice).item<double>())) << arch;
  }
  SegNetSpec caps;
  caps.arch = "segcaps";
  caps.classes = 3;
  EXPECT_THROW(make_seg_network(caps), std::invalid_argument);
  caps.arch = "unet";
  caps.classes = 1;
  EXPECT_THROW(make_seg_network(caps), std::invalid_argument);
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
