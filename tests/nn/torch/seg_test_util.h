// Synthetic segmentation task shared by the fast and slow segmentation-network tests.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "nn/torch/seg_models.h"

namespace heal::nn::torch_backend {

// Images of a textured disk of random centre and size (noise of standard deviation 1.2) on
// smoother noise (0.3) of the same mean, and its mask: the lesion is told apart by its texture, not
// by brightness (an untrained capsule network's lengths already follow the brightness).
inline void blobs(int n, int side, std::uint64_t seed, ::torch::Tensor& x, ::torch::Tensor& m) {
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

inline double dice(const ::torch::Tensor& probs, const ::torch::Tensor& mask) {
  const auto p = (probs > 0.5).to(::torch::kFloat);
  return ((2 * (p * mask).sum() + 1e-9) / (p.sum() + mask.sum() + 1e-9)).item<double>();
}

inline double train_and_score(const std::string& arch, int steps, int side) {
  ::torch::manual_seed(3);
  SegNetSpec spec;
  spec.arch = arch;
  const bool unet = arch.rfind("unet", 0) == 0;  // unet, unet-ag
  spec.width = unet ? 8 : 16;
  auto net = make_seg_network(spec);
  ::torch::Tensor x, m, xt, mt;
  blobs(32, side, 11, x, m);
  blobs(16, side, 12, xt, mt);
  ::torch::optim::Adam opt(net->parameters(), ::torch::optim::AdamOptions(unet ? 1e-2 : 3e-3));
  net->eval();
  const double before = dice(net->probabilities(net->forward(xt)), mt);
  for (int s = 0; s < steps; ++s) {
    net->train();
    const auto idx = ::torch::arange((s * 8) % 32, (s * 8) % 32 + 8);
    const auto xb = x.index_select(0, idx), mb = m.index_select(0, idx);
    opt.zero_grad();
    const auto loss = net->loss(xb, net->forward(xb), mb, SegLoss::kBceDice);
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

}  // namespace heal::nn::torch_backend
