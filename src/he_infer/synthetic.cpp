// Synthetic HE-friendly CNNs (see synthetic.h).
#include "heal/he_infer/synthetic.h"

#include <random>
#include <string>

namespace heal::he_infer {

nn::ModelIr synthetic_cnn(const SyntheticSpec& s) {
  std::mt19937_64 g(s.seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.5f, 1.5f);
  nn::ModelIr m;
  m.input = {1, s.side, s.side};
  m.num_classes = s.classes;
  m.meta.architecture = "synthetic-hecnn";
  m.meta.norm_mean = {0.5f};
  m.meta.norm_std = {0.25f};
  auto fill = [&](std::vector<float>& v, std::size_t n, float sd) {
    v.resize(n);
    for (auto& x : v) x = nd(g) * sd;
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
  conv.out_channels = s.channels;
  conv.kernel = s.kernel;
  conv.stride = 2;
  conv.padding = 1;
  fill(conv.weight, static_cast<std::size_t>(s.channels) * s.kernel * s.kernel, 1.0f / static_cast<float>(s.kernel));
  fill(conv.bias, s.channels, 0.1f);
  m.layers.push_back(conv);
  m.layers.push_back(bn(s.channels, "bn0"));
  m.layers.push_back(poly("act0"));
  nn::Layer fl;
  fl.kind = nn::OpKind::kFlatten;
  fl.name = "flatten";
  m.layers.push_back(fl);
  const int side2 = (s.side + 2 - s.kernel) / 2 + 1;
  const int flat = s.channels * side2 * side2;
  nn::Layer d1;
  d1.kind = nn::OpKind::kDense;
  d1.name = "fc1";
  d1.in_channels = flat;
  d1.out_channels = s.hidden;
  fill(d1.weight, static_cast<std::size_t>(flat) * s.hidden, 1.0f / static_cast<float>(flat));
  fill(d1.bias, s.hidden, 0.1f);
  m.layers.push_back(d1);
  m.layers.push_back(bn(s.hidden, "bn_fc"));
  m.layers.push_back(poly("act_fc"));
  nn::Layer d2;
  d2.kind = nn::OpKind::kDense;
  d2.name = "fc2";
  d2.in_channels = s.hidden;
  d2.out_channels = s.classes;
  fill(d2.weight, static_cast<std::size_t>(s.hidden) * s.classes, 0.5f);
  fill(d2.bias, s.classes, 0.1f);
  m.layers.push_back(d2);
  return m;
}

std::vector<float> random_images(std::size_t count, std::size_t dim, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(count * dim);
  for (auto& x : v) x = u(g);
  return v;
}

}  // namespace heal::he_infer
