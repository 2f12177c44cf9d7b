#include "heal/nn/model_ir.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "heal/core/serialization.h"
#include "heal/nn/forward.h"
#include "nn_test_util.h"

namespace heal::nn {
namespace {

TEST(ModelIr, ValidatesAndInfersShapes) {
  const ModelIr m = testutil::small_hecnn(1);
  auto shapes = m.infer_shapes();
  ASSERT_TRUE(shapes.ok()) << shapes.status().to_string();
  EXPECT_EQ((*shapes)[0], (Shape{3, 5, 5}));
  EXPECT_EQ((*shapes)[3], (Shape{75, 1, 1}));
  EXPECT_EQ(shapes->back(), (Shape{2, 1, 1}));
  EXPECT_NE(m.summary().find("poly_act"), std::string::npos);
}

TEST(ModelIr, RejectsInconsistentModels) {
  auto expect_bad = [](ModelIr m, const std::string& fragment) {
    const Status s = m.validate();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.to_string();
  };
  ModelIr m = testutil::small_hecnn(1);
  { auto b = m; b.layers[0].weight.pop_back(); expect_bad(b, "weight size"); }
  { auto b = m; b.layers[0].in_channels = 2; expect_bad(b, "in_channels"); }
  { auto b = m; b.layers[4].in_channels = 74; expect_bad(b, "in_features"); }
  { auto b = m; b.layers[1].running_var[0] = -1; expect_bad(b, "negative"); }
  { auto b = m; b.layers[4].weight[3] = std::numeric_limits<float>::quiet_NaN(); expect_bad(b, "non-finite"); }
  { auto b = m; b.layers[2].a = std::numeric_limits<double>::infinity(); expect_bad(b, "non-finite"); }
  { auto b = m; b.num_classes = 3; expect_bad(b, "classes"); }
  { auto b = m; b.layers[3].inputs = {5}; expect_bad(b, "later layer"); }
  { auto b = m; b.layers[0].padding = 5; expect_bad(b, "padding"); }
  { auto b = m; b.meta.norm_std = {0}; expect_bad(b, "std"); }
  { auto b = m; b.layers[2].input_min = std::nan(""); expect_bad(b, "NaN"); }
}

TEST(Serialization, RoundTripIsExact) {
  ModelIr m = testutil::small_hecnn(2);
  SeededRng rng(seed_from_u64(3));
  const auto imgs = testutil::random_floats(rng, 4 * 144);
  record_ranges(m, imgs, 4);
  const Bytes b = serialize_model(m);
  auto back = deserialize_model(b);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(serialize_model(*back), b);
  EXPECT_EQ(back->meta.class_names, m.meta.class_names);
  EXPECT_EQ(back->meta.metrics, m.meta.metrics);
  EXPECT_EQ(back->layers[2].input_min, m.layers[2].input_min);
  EXPECT_EQ(forward(*back, imgs, 4), forward(m, imgs, 4));

  const auto path = (std::filesystem::temp_directory_path() / "heal_model_ir_test.heal").string();
  ASSERT_TRUE(save_model(m, path).ok());
  auto loaded = load_model(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(serialize_model(*loaded), b);
  std::filesystem::remove(path);
  auto missing = load_model(path);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(Serialization, EveryTruncationFailsCleanly) {
  const Bytes b = serialize_model(testutil::small_hecnn(4));
  for (std::size_t n = 0; n < b.size(); ++n) {
    auto r = deserialize_model(std::span<const std::uint8_t>(b.data(), n));
    ASSERT_FALSE(r.ok()) << "prefix " << n;
  }
  auto r = deserialize_model(std::span<const std::uint8_t>(b.data(), b.size() - 3));
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().to_string();
}

TEST(Serialization, CorruptedBytesNeverCrash) {
  const Bytes b = serialize_model(testutil::small_hecnn(5));
  SeededRng rng(seed_from_u64(6));
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    Bytes c = b;
    const int flips = 1 + static_cast<int>(rng.uniform(4));
    for (int k = 0; k < flips; ++k) c[rng.uniform(c.size())] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
    auto r = deserialize_model(c);
    if (!r.ok()) {
      ++rejected;
      EXPECT_FALSE(r.status().message().empty());
    } else {
      EXPECT_TRUE(r->validate().ok());  // whatever loads is a consistent model
    }
  }
  EXPECT_GT(rejected, 1000);
}

TEST(Serialization, SpecificErrors) {
  const Bytes good = serialize_model(testutil::small_hecnn(7));
  {  // wrong magic
    Bytes c = good;
    c[0] = 'X';
    EXPECT_NE(deserialize_model(c).status().message().find("magic"), std::string::npos);
  }
  {  // wrong type tag
    Bytes c = good;
    c[6] = static_cast<std::uint8_t>(ObjectType::kCkksCiphertext);
    EXPECT_EQ(deserialize_model(c).status().code(), StatusCode::kInvalidArgument);
  }
  {  // future version
    Bytes c = good;
    c[4] = 3;
    EXPECT_EQ(deserialize_model(c).status().code(), StatusCode::kUnsupported);
  }
  {  // trailing garbage
    Bytes c = good;
    c.push_back(0);
    EXPECT_NE(deserialize_model(c).status().message().find("unexpected bytes"), std::string::npos);
  }
  {  // NaN weight written by a buggy producer: serialize refuses, a hand-patched file is rejected
    ModelIr m = testutil::small_hecnn(7);
    m.layers[7].bias[1] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(serialize_model(m), std::invalid_argument);
    Bytes c = good;
    const float good_bias = testutil::small_hecnn(7).layers[7].bias[1];
    // The last layer's bias is followed by 4 empty BN arrays (4 x 8 bytes), eps (4) and 5 doubles (40).
    const std::size_t off = c.size() - 40 - 4 - 32 - 4;
    float f = 0;
    std::memcpy(&f, c.data() + off, 4);
    ASSERT_EQ(f, good_bias);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(c.data() + off, &nan, 4);
    auto r = deserialize_model(c);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("non-finite"), std::string::npos) << r.status().to_string();
  }
  {  // absurd layer count
    Bytes c = good;
    ModelIr m = testutil::small_hecnn(7);
    m.layers.resize(1);
    m.layers[0] = testutil::simple(OpKind::kFlatten);
    m.input = {2, 1, 1};
    m.meta.norm_mean.clear();
    m.meta.norm_std.clear();
    const Bytes tiny = serialize_model(m);
    // Layer count is the u32 right before the first layer (kind byte 5, name length 7 "flatten").
    Bytes t = tiny;
    const std::size_t layer_start = t.size() - (1 + 4 + 7 + 4 + 20 + 6 * 8 + 4 + 40);
    const std::uint32_t huge = 0xFFFFFFFFu;
    std::memcpy(t.data() + layer_start - 4, &huge, 4);
    auto r = deserialize_model(t);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("layer count"), std::string::npos) << r.status().to_string();
  }
}

// Format version 2: the transformer ops.

TEST(ModelIrV2, TransformerValidatesAndInfersShapes) {
  const ModelIr m = testutil::small_deit(1);
  auto shapes = m.infer_shapes();
  ASSERT_TRUE(shapes.ok()) << shapes.status().to_string();
  EXPECT_EQ((*shapes)[0], (Shape{6, 2, 2}));   // patch conv
  EXPECT_EQ((*shapes)[1], (Shape{6, 1, 6}));   // 2 learned + 4 patch tokens of 6 features
  EXPECT_EQ((*shapes)[7], (Shape{6, 1, 12}));  // fc1
  EXPECT_EQ((*shapes)[12], (Shape{12, 1, 1}));  // class + distillation token
  EXPECT_EQ(shapes->back(), (Shape{2, 1, 1}));
  EXPECT_EQ(model_format_version(m), 2);
  EXPECT_EQ(model_format_version(testutil::small_hecnn(1)), 1);
  const std::string sum = m.summary();
  for (const char* op : {"tokens", "layer_norm", "self_attention", "token_dense", "gelu", "select_tokens"}) {
    EXPECT_NE(sum.find(op), std::string::npos) << op;
  }
}

TEST(ModelIrV2, RejectsInconsistentTransformers) {
  auto expect_bad = [](ModelIr m, const std::string& fragment) {
    const Status s = m.validate();
    EXPECT_FALSE(s.ok()) << fragment;
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.to_string();
  };
  const ModelIr m = testutil::small_deit(2);
  { auto b = m; b.layers[1].bias.pop_back(); expect_bad(b, "position embedding"); }
  { auto b = m; b.layers[1].weight.pop_back(); expect_bad(b, "tokens*features"); }
  { auto b = m; b.layers[1].in_channels = 5; expect_bad(b, "in_channels"); }
  { auto b = m; b.layers[3].out_channels = 4; expect_bad(b, "heads must divide"); }
  { auto b = m; b.layers[3].out_channels = 0; expect_bad(b, "heads must divide"); }
  { auto b = m; b.layers[3].weight.pop_back(); expect_bad(b, "3D*D"); }
  { auto b = m; b.layers[2].gamma.pop_back(); expect_bad(b, "gamma/beta"); }
  { auto b = m; b.layers[2].eps = 0; expect_bad(b, "eps"); }
  { auto b = m; b.layers[2].running_var = {1, 1, 1, 1, 1, 1}; expect_bad(b, "batch-norm parameters"); }
  { auto b = m; b.layers[4].in_channels = 5; expect_bad(b, "in_features"); }
  { auto b = m; b.layers[12].out_channels = 7; expect_bad(b, "token count"); }
  { auto b = m; b.layers[8].weight = {1.0f}; expect_bad(b, "unexpected weights"); }  // gelu
  { auto b = m; b.layers[2].inputs = {0}; expect_bad(b, "token sequence"); }  // layer norm on the conv output
  { auto b = m; b.layers[3].weight[5] = std::numeric_limits<float>::infinity(); expect_bad(b, "non-finite"); }
}

TEST(ModelIrV2, SerialisationRoundTripAndVersions) {
  ModelIr m = testutil::small_deit(3);
  SeededRng rng(seed_from_u64(4));
  auto imgs = testutil::random_floats(rng, 3 * 64);
  for (auto& v : imgs) v = 0.5f + 0.5f * v;
  record_ranges(m, imgs, 3);
  const Bytes b = serialize_model(m);
  EXPECT_EQ(b[4], 2);  // version (u16 little-endian after the magic)
  EXPECT_EQ(b[5], 0);
  auto back = deserialize_model(b);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(serialize_model(*back), b);
  EXPECT_EQ(forward(*back, imgs, 3), forward(m, imgs, 3));
  EXPECT_EQ(back->layers[3].out_channels, 2);
  EXPECT_EQ(back->layers[1].bias, m.layers[1].bias);

  // CNN files keep format version 1.
  const Bytes cnn = serialize_model(testutil::small_hecnn(3));
  EXPECT_EQ(cnn[4], 1);
  EXPECT_EQ(cnn[5], 0);
  {  // a version-1 header on a transformer: the op needs version 2
    Bytes c = b;
    c[4] = 1;
    auto r = deserialize_model(c);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("needs format version 2"), std::string::npos) << r.status().to_string();
  }
  {  // a version-2 header on a CNN is not what a writer produces
    Bytes c = cnn;
    c[4] = 2;
    auto r = deserialize_model(c);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("without an op that needs it"), std::string::npos) << r.status().to_string();
  }
  for (std::size_t n = 0; n < b.size(); n += 7) {
    ASSERT_FALSE(deserialize_model(std::span<const std::uint8_t>(b.data(), n)).ok()) << "prefix " << n;
  }
  int rejected = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    Bytes c = b;
    c[rng.uniform(c.size())] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
    auto r = deserialize_model(c);
    if (!r.ok()) {
      ++rejected;
    } else {
      EXPECT_TRUE(r->validate().ok());
    }
  }
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace heal::nn
