// Writes a small hecnn-shaped backbone for the CLI checks that must run without libtorch (the
// debug / sanitizer build has none): 1x28x28 -> conv0 (1->4, 5x5, stride 2, pad 1) -> bn0 -> act0
// (degree-2 polynomial) -> flatten (676) -> fc1 (676->16) -> act1 -> fc2 (16->2). Weights are
// random from a fixed seed (SeededRng), so the file is the same on every run.
// Usage: heal_make_test_model OUT.heal [NUM_CLASSES [SEED [relu]]]   (default 2: fc2 16->2; more classes widen
// fc2; SEED: other random weights, same architecture; relu: act0 becomes a ReLU, a model HE cannot evaluate)
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "heal/core/rng.h"
#include "heal/nn/model_ir.h"

namespace {

using heal::nn::Layer;
using heal::nn::OpKind;

std::vector<float> uniform(heal::Rng& rng, std::size_t n, double scale) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>((2 * rng.uniform_double() - 1) * scale);
  return v;
}

Layer named(OpKind k, const char* name) {
  Layer l;
  l.kind = k;
  l.name = name;
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  const int classes = argc >= 3 ? std::atoi(argv[2]) : 2;
  const bool relu = argc == 5 && std::string(argv[4]) == "relu";
  if (argc < 2 || argc > 5 || classes < 2 || classes > 100 || (argc == 5 && !relu)) {
    std::cerr << "usage: heal_make_test_model OUT.heal [NUM_CLASSES (2..100, default 2) [SEED [relu]]]\n";
    return 2;
  }
  const auto nc = static_cast<std::size_t>(classes);
  const std::uint64_t seed = argc >= 4 ? std::strtoull(argv[3], nullptr, 10) : 20261204;
  heal::SeededRng rng(heal::seed_from_u64(seed));
  heal::nn::ModelIr m;
  m.input = {1, 28, 28};
  m.num_classes = classes;
  Layer conv = named(OpKind::kConv2d, "conv0");
  conv.in_channels = 1;
  conv.out_channels = 4;
  conv.kernel = 5;
  conv.stride = 2;
  conv.padding = 1;
  conv.weight = uniform(rng, 4 * 25, 1.0 / 5);  // ~1/sqrt(fan-in)
  conv.bias = uniform(rng, 4, 0.1);
  m.layers.push_back(conv);
  Layer bn = named(OpKind::kBatchNorm, "bn0");
  bn.in_channels = 4;
  bn.gamma = {1.0f, 0.9f, 1.1f, 1.0f};
  bn.beta = {0.0f, 0.1f, -0.1f, 0.05f};
  bn.running_mean = {0.0f, 0.1f, -0.1f, 0.0f};
  bn.running_var = {1.0f, 0.8f, 1.2f, 1.0f};
  m.layers.push_back(bn);
  Layer act0 = named(OpKind::kPolyAct, "act0");
  act0.a = 0.1;
  act0.b = 0.5;
  act0.c = 0.2;
  Layer act0_out = act0;
  if (relu) act0_out.kind = OpKind::kRelu;
  m.layers.push_back(act0_out);
  m.layers.push_back(named(OpKind::kFlatten, "flatten"));
  Layer fc1 = named(OpKind::kDense, "fc1");
  fc1.in_channels = 676;
  fc1.out_channels = 16;
  fc1.weight = uniform(rng, 16 * 676, 1.0 / std::sqrt(676.0));
  fc1.bias = uniform(rng, 16, 0.1);
  m.layers.push_back(fc1);
  Layer act1 = act0;
  act1.name = "act1";
  m.layers.push_back(act1);
  Layer fc2 = named(OpKind::kDense, "fc2");
  fc2.in_channels = 16;
  fc2.out_channels = classes;
  fc2.weight = uniform(rng, nc * 16, 0.25);
  fc2.bias.assign(nc, 0.0f);
  m.layers.push_back(fc2);
  m.meta.architecture = relu ? "test-relu-cnn" : "test-hecnn";
  m.meta.dataset = "none (random weights)";
  for (int k = 0; k < classes; ++k) m.meta.class_names.push_back("class" + std::to_string(k));
  m.meta.norm_mean = {0.5f};
  m.meta.norm_std = {0.25f};
  const heal::Status st = heal::nn::save_model(m, argv[1]);
  if (!st.ok()) {
    std::cerr << "error: " << st.to_string() << "\n";
    return 1;
  }
  return 0;
}
