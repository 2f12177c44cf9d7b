// Small model builders shared by the nn tests.
#pragma once

#include <vector>

#include "heal/core/rng.h"
#include "heal/nn/model_ir.h"

namespace heal::nn::testutil {

inline std::vector<float> random_floats(Rng& rng, std::size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>((2 * rng.uniform_double() - 1) * scale);
  return v;
}

inline Layer conv(int in, int out, int k, int stride, int pad, Rng& rng) {
  Layer l;
  l.kind = OpKind::kConv2d;
  l.name = "conv";
  l.in_channels = in;
  l.out_channels = out;
  l.kernel = k;
  l.stride = stride;
  l.padding = pad;
  l.weight = random_floats(rng, static_cast<std::size_t>(out * in * k * k), 0.5);
  l.bias = random_floats(rng, static_cast<std::size_t>(out), 0.2);
  return l;
}

inline Layer dense(int in, int out, Rng& rng) {
  Layer l;
  l.kind = OpKind::kDense;
  l.name = "dense";
  l.in_channels = in;
  l.out_channels = out;
  l.weight = random_floats(rng, static_cast<std::size_t>(out * in), 0.3);
  l.bias = random_floats(rng, static_cast<std::size_t>(out), 0.2);
  return l;
}

inline Layer bn(int c, Rng& rng) {
  Layer l;
  l.kind = OpKind::kBatchNorm;
  l.name = "bn";
  l.in_channels = c;
  l.gamma = random_floats(rng, static_cast<std::size_t>(c), 1.0);
  l.beta = random_floats(rng, static_cast<std::size_t>(c), 0.5);
  l.running_mean = random_floats(rng, static_cast<std::size_t>(c), 0.5);
  l.running_var = random_floats(rng, static_cast<std::size_t>(c), 1.0);
  for (auto& v : l.running_var) v = 0.2f + std::abs(v);
  l.eps = 1e-5f;
  return l;
}

inline Layer simple(OpKind k) {
  Layer l;
  l.kind = k;
  l.name = op_name(k);
  return l;
}

inline Layer poly(double a, double b, double c) {
  Layer l = simple(OpKind::kPolyAct);
  l.a = a;
  l.b = b;
  l.c = c;
  return l;
}

/// conv(5x5, s2, p1) -> BN -> poly -> flatten -> dense -> BN -> poly -> dense on 1x12x12.
inline ModelIr small_hecnn(std::uint64_t seed) {
  SeededRng rng(seed_from_u64(seed));
  ModelIr m;
  m.input = {1, 12, 12};
  m.num_classes = 2;
  m.layers.push_back(conv(1, 3, 5, 2, 1, rng));  // -> 3x5x5
  m.layers.push_back(bn(3, rng));
  m.layers.push_back(poly(0.12, 0.5, 0.37));
  m.layers.push_back(simple(OpKind::kFlatten));
  m.layers.push_back(dense(75, 6, rng));
  m.layers.push_back(bn(6, rng));
  m.layers.push_back(poly(0.1, 0.5, 0.3));
  m.layers.push_back(dense(6, 2, rng));
  m.meta.architecture = "test";
  m.meta.dataset = "synthetic";
  m.meta.class_names = {"neg", "pos"};
  m.meta.norm_mean = {0.5f};
  m.meta.norm_std = {0.25f};
  m.meta.metrics["test.auc"] = 0.5;
  m.meta.notes["seed"] = std::to_string(seed);
  return m;
}

}  // namespace heal::nn::testutil
