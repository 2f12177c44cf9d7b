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

/// A tiny DeiT-style transformer (format version 2) on 1x8x8: patch conv 4x4 (D = 6, 2x2 grid),
/// class + distillation tokens with position embedding, one pre-norm block (2 heads, MLP 12,
/// GELU), final layer norm, the two tokens concatenated (12) -> dense 2.
inline ModelIr small_deit(std::uint64_t seed) {
  SeededRng rng(seed_from_u64(seed));
  constexpr int d = 6, t = 6, hidden = 12;
  ModelIr m;
  m.input = {1, 8, 8};
  m.num_classes = 2;
  auto emit = [&m](Layer l, std::vector<int> ins) {
    l.inputs = std::move(ins);
    m.layers.push_back(std::move(l));
    return static_cast<int>(m.layers.size()) - 1;
  };
  auto ln = [&rng](const char* name) {
    Layer l = simple(OpKind::kLayerNorm);
    l.name = name;
    l.in_channels = d;
    l.gamma = random_floats(rng, d, 1.0);
    l.beta = random_floats(rng, d, 0.3);
    l.eps = 1e-6f;
    return l;
  };
  auto token_dense = [&rng](int in, int out, const char* name) {
    Layer l = dense(in, out, rng);
    l.kind = OpKind::kTokenDense;
    l.name = name;
    return l;
  };
  int x = emit(conv(1, d, 4, 4, 0, rng), {kInputValue});
  Layer tok = simple(OpKind::kTokens);
  tok.in_channels = d;
  tok.out_channels = 2;
  tok.weight = random_floats(rng, 2 * d, 0.5);
  tok.bias = random_floats(rng, t * d, 0.2);
  x = emit(tok, {x});
  int h = emit(ln("ln1"), {x});
  Layer at = simple(OpKind::kSelfAttention);
  at.in_channels = d;
  at.out_channels = 2;
  at.weight = random_floats(rng, 3 * d * d, 0.6);
  at.bias = random_floats(rng, 3 * d, 0.2);
  h = emit(at, {h});
  h = emit(token_dense(d, d, "proj"), {h});
  x = emit(simple(OpKind::kAdd), {x, h});
  h = emit(ln("ln2"), {x});
  h = emit(token_dense(d, hidden, "fc1"), {h});
  h = emit(simple(OpKind::kGelu), {h});
  h = emit(token_dense(hidden, d, "fc2"), {h});
  x = emit(simple(OpKind::kAdd), {x, h});
  x = emit(ln("norm"), {x});
  Layer sel = simple(OpKind::kSelectTokens);
  sel.out_channels = 2;
  x = emit(sel, {x});
  emit(dense(2 * d, 2, rng), {x});
  m.meta.architecture = "deit";
  m.meta.norm_mean = {0.5f};
  m.meta.norm_std = {0.25f};
  return m;
}

}  // namespace heal::nn::testutil
