#include "heal/nn/forward.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"

namespace heal::nn {
namespace {

using testutil::simple;

std::vector<float> iota9() { return {1, 2, 3, 4, 5, 6, 7, 8, 9}; }

TEST(Forward, ConvPolyDenseByHand) {
  ModelIr m;
  m.input = {1, 3, 3};
  m.num_classes = 2;
  Layer c = simple(OpKind::kConv2d);
  c.in_channels = 1;
  c.out_channels = 1;
  c.kernel = 2;
  c.weight = {1, 0, 0, 1};
  c.bias = {0.5f};
  m.layers.push_back(c);  // [6.5, 8.5; 12.5, 14.5]
  m.layers.push_back(testutil::poly(0.5, -1, 2));
  m.layers.push_back(simple(OpKind::kFlatten));
  Layer d = simple(OpKind::kDense);
  d.in_channels = 4;
  d.out_channels = 2;
  d.weight = {1, 0, 0, 0, 0, 1, -1, 0.25f};
  d.bias = {0, 1};
  m.layers.push_back(d);
  auto p = [](double x) { return 0.5 * x * x - x + 2; };
  const auto out = forward(m, iota9(), 1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_DOUBLE_EQ(out[0], p(6.5));
  EXPECT_DOUBLE_EQ(out[1], p(8.5) - p(12.5) + 0.25 * p(14.5) + 1);
}

TEST(Forward, PaddedStridedConvByHand) {
  ModelIr m;
  m.input = {1, 3, 3};
  m.num_classes = 4;
  Layer c = simple(OpKind::kConv2d);
  c.in_channels = 1;
  c.out_channels = 1;
  c.kernel = 3;
  c.stride = 2;
  c.padding = 1;
  c.weight.assign(9, 1.0f);
  m.layers.push_back(c);
  m.layers.push_back(simple(OpKind::kFlatten));
  const auto out = forward(m, iota9(), 1);
  EXPECT_EQ(out, (std::vector<double>{12, 16, 24, 28}));
}

TEST(Forward, BatchNormAvgPoolReluAddNormalisation) {
  ModelIr m;
  m.input = {1, 4, 4};
  m.num_classes = 4;
  m.meta.norm_mean = {1.0f};
  m.meta.norm_std = {2.0f};
  Layer b = simple(OpKind::kBatchNorm);
  b.in_channels = 1;
  b.gamma = {2};
  b.beta = {1};
  b.running_mean = {0.5f};
  b.running_var = {3.99999f};
  b.eps = 1e-5f;
  m.layers.push_back(b);                         // y = 2 * (x - 0.5) / 2 + 1 = x + 0.5
  m.layers.push_back(simple(OpKind::kRelu));     // 1
  Layer pool = simple(OpKind::kAvgPool);
  pool.kernel = 2;
  pool.stride = 2;
  m.layers.push_back(pool);                      // 2: 1x2x2
  Layer pool_in = pool;
  pool_in.inputs = {kInputValue};
  m.layers.push_back(pool_in);                   // 3: pooled normalised input
  Layer add = simple(OpKind::kAdd);
  add.inputs = {2, 3};
  m.layers.push_back(add);
  m.layers.push_back(simple(OpKind::kFlatten));
  std::vector<float> img(16);
  for (int i = 0; i < 16; ++i) img[static_cast<std::size_t>(i)] = static_cast<float>(i) - 4;  // normalised: (v-1)/2
  auto norm = [](double v) { return (v - 1) / 2; };
  auto relu_bn = [&](double v) { return std::max(0.0, norm(v) + 0.5); };
  std::vector<double> expect(4);
  for (int oy = 0; oy < 2; ++oy) {
    for (int ox = 0; ox < 2; ++ox) {
      double s1 = 0, s2 = 0;
      for (int dy = 0; dy < 2; ++dy) {
        for (int dx = 0; dx < 2; ++dx) {
          const double v = img[static_cast<std::size_t>((2 * oy + dy) * 4 + 2 * ox + dx)];
          s1 += relu_bn(v);
          s2 += norm(v);
        }
      }
      expect[static_cast<std::size_t>(oy * 2 + ox)] = s1 / 4 + s2 / 4;
    }
  }
  const auto out = forward(m, img, 1);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(out[static_cast<std::size_t>(k)], expect[static_cast<std::size_t>(k)], 1e-6);
}

TEST(Forward, BatchOfImagesMatchesOneByOneAndTrace) {
  ModelIr m = testutil::small_hecnn(3);
  SeededRng rng(seed_from_u64(9));
  const auto imgs = testutil::random_floats(rng, 3 * 144);
  const auto all = forward(m, imgs, 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::span<const float> one(imgs.data() + i * 144, 144);
    const auto single = forward(m, one, 1);
    EXPECT_EQ(single[0], all[2 * i]);
    EXPECT_EQ(single[1], all[2 * i + 1]);
    const auto trace = forward_trace(m, one);
    ASSERT_EQ(trace.size(), m.layers.size());
    EXPECT_EQ(trace.back(), single);
  }
}

TEST(Forward, RecordRangesCoversEveryLayerInput) {
  ModelIr m = testutil::small_hecnn(4);
  SeededRng rng(seed_from_u64(10));
  const auto imgs = testutil::random_floats(rng, 5 * 144);
  record_ranges(m, imgs, 5);
  for (const auto& l : m.layers) EXPECT_TRUE(l.has_range()) << l.name;
  // The first layer sees the normalised input: (x - 0.5) / 0.25 with x in [-1, 1].
  EXPECT_GE(m.layers[0].input_min, -6.0);
  EXPECT_LE(m.layers[0].input_max, 2.0);
  const auto t0 = forward_trace(m, std::span<const float>(imgs.data(), 144));
  for (double v : t0[1]) {  // output of BN = input of the poly layer 2
    EXPECT_GE(v, m.layers[2].input_min);
    EXPECT_LE(v, m.layers[2].input_max);
  }
}

TEST(Forward, RejectsWrongInputSize) {
  ModelIr m = testutil::small_hecnn(5);
  std::vector<float> img(10);
  EXPECT_THROW(forward(m, img, 1), std::invalid_argument);
}

// Transformer ops (format version 2), each against a hand computation.

TEST(ForwardV2, GeluByHand) {
  ModelIr m;
  m.input = {1, 1, 3};
  m.num_classes = 3;
  m.layers.push_back(simple(OpKind::kGelu));
  const auto out = forward(m, std::vector<float>{-1, 0, 1}, 1);
  EXPECT_NEAR(out[0], -0.15865525393145707, 1e-15);  // x * Phi(x)
  EXPECT_EQ(out[1], 0.0);
  EXPECT_NEAR(out[2], 0.8413447460685429, 1e-15);
}

TEST(ForwardV2, TokensTransposeAndPrepend) {
  ModelIr m;
  m.input = {2, 1, 2};  // D = 2 channels on a 1x2 grid: channel 0 = [a, b], channel 1 = [c, d]
  m.num_classes = 6;
  Layer t = simple(OpKind::kTokens);
  t.in_channels = 2;
  t.out_channels = 1;
  t.weight = {9, 8};
  t.bias = {0, 0, 0.5f, 0, 0, -1};
  m.layers.push_back(t);
  const auto out = forward(m, std::vector<float>{1, 2, 3, 4}, 1);
  EXPECT_EQ(out, (std::vector<double>{9, 8, 1.5, 3, 2, 3}));  // [learned] (a, c) (b, d) + position
}

TEST(ForwardV2, LayerNormByHand) {
  ModelIr m;
  m.input = {2, 1, 4};  // two tokens
  m.num_classes = 8;
  Layer l = simple(OpKind::kLayerNorm);
  l.in_channels = 4;
  l.gamma = {1, 1, 1, 2};
  l.beta = {0, 0, 0, 1};
  l.eps = 1e-6f;
  m.layers.push_back(l);
  const auto out = forward(m, std::vector<float>{1, 2, 3, 4, 5, 5, 5, 5}, 1);
  const double sd = std::sqrt(1.25 + static_cast<double>(1e-6f));  // mean 2.5, biased variance 1.25
  EXPECT_NEAR(out[0], -1.5 / sd, 1e-12);
  EXPECT_NEAR(out[3], 2 * 1.5 / sd + 1, 1e-12);
  EXPECT_NEAR(out[4], 0.0, 1e-12);  // constant token: zero after centring
  EXPECT_NEAR(out[7], 1.0, 1e-12);
}

TEST(ForwardV2, SelfAttentionByHand) {
  // One head, D = 1, q = k = v = x: token i gets sum_j softmax_j(x_i x_j) x_j.
  ModelIr m;
  m.input = {2, 1, 1};
  m.num_classes = 2;
  Layer a = simple(OpKind::kSelfAttention);
  a.in_channels = 1;
  a.out_channels = 1;
  a.weight = {1, 1, 1};
  m.layers.push_back(a);
  const auto out = forward(m, std::vector<float>{1, 2}, 1);
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e4 = std::exp(4.0);
  EXPECT_NEAR(out[0], (e1 + 2 * e2) / (e1 + e2), 1e-12);
  EXPECT_NEAR(out[1], (e2 + 2 * e4) / (e2 + e4), 1e-12);

  // Two heads on D = 2: zero queries and keys make each head average its value feature over the
  // tokens; the value bias shifts it, the query bias cannot change uniform attention.
  ModelIr h;
  h.input = {3, 1, 2};
  h.num_classes = 6;
  Layer b = simple(OpKind::kSelfAttention);
  b.in_channels = 2;
  b.out_channels = 2;
  b.weight = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2};  // W_q = W_k = 0, W_v = diag(1, 2)
  b.bias = {3, -1, 0, 0, 0.5f, 0};
  h.layers.push_back(b);
  const auto o2 = forward(h, std::vector<float>{1, 10, 2, 20, 6, 60}, 1);
  for (int t = 0; t < 3; ++t) {
    EXPECT_NEAR(o2[2 * t], 3 + 0.5, 1e-12);
    EXPECT_NEAR(o2[2 * t + 1], 2 * 30, 1e-12);
  }
}

TEST(ForwardV2, TokenDenseAndSelect) {
  ModelIr m;
  m.input = {3, 1, 2};
  m.num_classes = 2;
  Layer d = simple(OpKind::kTokenDense);
  d.in_channels = 2;
  d.out_channels = 1;
  d.weight = {1, -1};
  d.bias = {0.5f};
  m.layers.push_back(d);  // per token x0 - x1 + 0.5: (3, 1, 1)
  Layer s = simple(OpKind::kSelectTokens);
  s.out_channels = 2;
  m.layers.push_back(s);
  EXPECT_EQ(forward(m, std::vector<float>{4, 1, 2, 5, 7, 7}, 1), (std::vector<double>{3.5, -2.5}));
}

}  // namespace
}  // namespace heal::nn
