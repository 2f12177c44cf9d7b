// Small random HE-friendly models for he_infer tests.
#pragma once

#include <random>

#include "heal/nn/model_ir.h"

namespace heal::he_infer::testing {

/// conv(1 -> c, k x k, stride 2, pad 1) -> BN -> poly -> flatten -> dense(hidden) -> BN -> poly -> dense(classes)
/// on a side x side image, with random weights (fixed seed) and normalisation metadata.
inline nn::ModelIr tiny_cnn(int side = 8, int c = 2, int hidden = 6, int classes = 3, unsigned seed = 7) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.5f, 1.5f);
  nn::ModelIr m;
  m.input = {1, side, side};
  m.num_classes = classes;
  m.meta.norm_mean = {0.5f};
  m.meta.norm_std = {0.25f};
  auto fill = [&](std::vector<float>& v, std::size_t n, float s) {
    v.resize(n);
    for (auto& x : v) x = nd(g) * s;
  };
  auto bn = [&](int ch, const std::string& name) {
    nn::Layer l;
    l.kind = nn::OpKind::kBatchNorm;
    l.name = name;
    l.in_channels = ch;
    fill(l.gamma, ch, 0.3f);
    for (auto& x : l.gamma) x += 1.0f;
    fill(l.beta, ch, 0.1f);
    fill(l.running_mean, ch, 0.2f);
    l.running_var.resize(ch);
    for (auto& x : l.running_var) x = ud(g);
    return l;
  };
  auto poly = [&](const std::string& name) {
    nn::Layer l;
    l.kind = nn::OpKind::kPolyAct;
    l.name = name;
    l.a = 0.12;
    l.b = 0.5;
    l.c = 0.2;
    return l;
  };
  nn::Layer conv;
  conv.kind = nn::OpKind::kConv2d;
  conv.name = "conv0";
  conv.in_channels = 1;
  conv.out_channels = c;
  conv.kernel = 3;
  conv.stride = 2;
  conv.padding = 1;
  fill(conv.weight, static_cast<std::size_t>(c) * 9, 0.3f);
  fill(conv.bias, c, 0.1f);
  m.layers.push_back(conv);
  m.layers.push_back(bn(c, "bn0"));
  m.layers.push_back(poly("act0"));
  nn::Layer fl;
  fl.kind = nn::OpKind::kFlatten;
  fl.name = "flatten";
  m.layers.push_back(fl);
  const int side2 = (side + 2 - 3) / 2 + 1;
  const int flat = c * side2 * side2;
  nn::Layer d1;
  d1.kind = nn::OpKind::kDense;
  d1.name = "fc1";
  d1.in_channels = flat;
  d1.out_channels = hidden;
  fill(d1.weight, static_cast<std::size_t>(flat) * hidden, 1.0f / static_cast<float>(flat));
  fill(d1.bias, hidden, 0.1f);
  m.layers.push_back(d1);
  m.layers.push_back(bn(hidden, "bn_fc"));
  m.layers.push_back(poly("act_fc"));
  nn::Layer d2;
  d2.kind = nn::OpKind::kDense;
  d2.name = "fc2";
  d2.in_channels = hidden;
  d2.out_channels = classes;
  fill(d2.weight, static_cast<std::size_t>(hidden) * classes, 0.5f);
  fill(d2.bias, classes, 0.1f);
  m.layers.push_back(d2);
  return m;
}

/// Random images in [0, 1].
inline std::vector<float> random_images(std::size_t count, std::size_t dim, unsigned seed = 3) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(count * dim);
  for (auto& x : v) x = u(g);
  return v;
}

}  // namespace heal::he_infer::testing
