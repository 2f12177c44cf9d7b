// Segmentation networks (src/nn/torch/seg_models.h): capsule-layer shapes and routing, and both
// networks learning a synthetic lesion task (a bright blob on noise) from a few dozen steps.
#include "nn/torch/seg_models.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "heal/nn/torch/trainer.h"

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

// Images of a textured disk of random centre and size (noise of standard deviation 1.2) on
// smoother noise (0.3) of the same mean, and its mask: the lesion is told apart by its texture, not
// by brightness (an untrained capsule network's lengths already follow the brightness).
void blobs(int n, int side, std::uint64_t seed, ::torch::Tensor& x, ::torch::Tensor& m) {
  auto gen = ::torch::make_generator<::torch::CPUGeneratorImpl>(seed);
  x = ::torch::randn({n, 1, side, side}, gen);
  m = ::torch::zeros({n, 1, side, side});
  auto centre = ::torch::rand({n, 2}, gen) * (side / 2.0) + side / 4.0;
  auto radius = ::torch::rand({n}, gen) * (side / 8.0) + side / 8.0;
  auto yy = ::torch::arange(side).view({side, 1}).to(::torch::kFloat);
  auto xx = ::torch::arange(side).view({1, side}).to(::torch::kFloat);
  for (int i = 0; i < n; ++i) {
    const auto d = (yy - centre[i][0]).pow(2) + (xx - centre[i][1]).pow(2);
    m[i][0] = (d < radius[i].pow(2)).to(::torch::kFloat);
  }
  x = x * (0.3 + 0.9 * m);
}

double dice(const ::torch::Tensor& probs, const ::torch::Tensor& mask) {
  const auto p = (probs > 0.5).to(::torch::kFloat);
  return ((2 * (p * mask).sum() + 1e-9) / (p.sum() + mask.sum() + 1e-9)).item<double>();
}

double train_and_score(const std::string& arch, int steps, int side) {
  ::torch::manual_seed(3);
  SegNetSpec spec;
  spec.arch = arch;
  spec.width = arch == "unet" ? 8 : 16;
  auto net = make_seg_network(spec);
  ::torch::Tensor x, m, xt, mt;
  blobs(32, side, 11, x, m);
  blobs(16, side, 12, xt, mt);
  ::torch::optim::Adam opt(net->parameters(), ::torch::optim::AdamOptions(arch == "unet" ? 1e-2 : 3e-3));
  net->eval();
  const double before = dice(net->probabilities(net->forward(xt)), mt);
  for (int s = 0; s < steps; ++s) {
    net->train();
    const auto idx = ::torch::arange((s * 8) % 32, (s * 8) % 32 + 8);
    const auto xb = x.index_select(0, idx), mb = m.index_select(0, idx);
    opt.zero_grad();
    const auto loss = net->loss(xb, net->forward(xb), mb);
    loss.backward();
    opt.step();
  }
  net->eval();
  ::torch::NoGradGuard ng;
  const double after = dice(net->probabilities(net->forward(xt)), mt);
  std::printf("%s: held-out Dice %.3f before, %.3f after %d steps (%dx%d)\n", arch.c_str(), before, after, steps, side,
              side);
  return after;
}

TEST(SegNetworks, UNetLearnsTexturedLesions) { EXPECT_GT(train_and_score("unet", 60, 32), 0.8); }

TEST(SegNetworks, SegCapsLearnsTexturedLesions) { EXPECT_GT(train_and_score("segcaps", 60, 16), 0.7); }

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
}

}  // namespace
}  // namespace heal::nn::torch_backend
