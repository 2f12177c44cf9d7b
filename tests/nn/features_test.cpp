// Feature taps and export_features: features at the penultimate layer times the last dense layer
// must give the full forward pass's logits; taps resolve and fail clearly; the .npz holds what it says.
#include "heal/nn/features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "heal/io/npy.h"
#include "heal/nn/forward.h"
#include "heal/nn/passes.h"
#include "nn/nn_test_util.h"

namespace heal::nn {
namespace {

using testutil::dense;
using testutil::random_floats;
using testutil::simple;
using testutil::small_hecnn;

std::vector<float> random_images(std::size_t n, std::size_t dim, std::uint64_t seed) {
  SeededRng rng(seed_from_u64(seed));
  std::vector<float> v(n * dim);
  for (auto& x : v) x = static_cast<float>(rng.uniform_double());
  return v;
}

// z = W x + b of a dense layer, for one row of features.
std::vector<double> apply_dense(const Layer& l, const double* x) {
  std::vector<double> z(static_cast<std::size_t>(l.out_channels));
  for (std::size_t o = 0; o < z.size(); ++o) {
    double acc = l.bias.empty() ? 0.0 : l.bias[o];
    for (std::size_t i = 0; i < static_cast<std::size_t>(l.in_channels); ++i) {
      acc += static_cast<double>(l.weight[o * static_cast<std::size_t>(l.in_channels) + i]) * x[i];
    }
    z[o] = acc;
  }
  return z;
}

std::string error_of(const ModelIr& m, const std::string& spec) {
  auto t = resolve_feature_tap(m, spec);
  EXPECT_FALSE(t.ok()) << spec;
  if (t.ok()) return {};
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  return t.status().message();
}

TEST(FeatureTap, PenultimateTimesLastDenseGivesTheLogits) {
  const ModelIr m = small_hecnn(11);
  auto tap = resolve_feature_tap(m, "penultimate");
  ASSERT_TRUE(tap.ok()) << tap.status().to_string();
  EXPECT_EQ(tap->layer, 6u);  // poly_act before the last dense
  EXPECT_EQ(tap->dim, 6u);
  EXPECT_EQ(tap->shape, (Shape{6, 1, 1}));
  EXPECT_NE(tap->description.find("the input of dense layer 7"), std::string::npos) << tap->description;

  const std::size_t n = 9;
  const auto images = random_images(n, m.input.size(), 5);
  const auto logits = forward(m, images, n);
  const auto f64 = forward_to(m, tap->layer, images, n);
  const auto f32 = extract_features(m, *tap, images, n);
  ASSERT_EQ(f64.size(), n * tap->dim);
  ASSERT_EQ(f32.size(), n * tap->dim);
  const Layer& head = m.layers.back();
  double max_logit = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto z = apply_dense(head, f64.data() + i * tap->dim);
    std::vector<double> row32(f32.begin() + static_cast<std::ptrdiff_t>(i * tap->dim),
                              f32.begin() + static_cast<std::ptrdiff_t>((i + 1) * tap->dim));
    const auto z32 = apply_dense(head, row32.data());
    for (std::size_t c = 0; c < 2; ++c) {
      const double want = logits[i * 2 + c];
      max_logit = std::max(max_logit, std::abs(want));
      EXPECT_NEAR(z[c], want, 1e-12 * (1 + std::abs(want))) << i << "," << c;   // same double arithmetic
      EXPECT_NEAR(z32[c], want, 1e-5 * (1 + std::abs(want))) << i << "," << c;  // features rounded to float
    }
    for (std::size_t k = 0; k < tap->dim; ++k) {
      EXPECT_EQ(f32[i * tap->dim + k], static_cast<float>(f64[i * tap->dim + k]));
    }
  }
  EXPECT_GT(max_logit, 1e-3);  // the check above compared something non-trivial
}

// The identity for the other exported shapes: a residual model like nn/torch's resnet export (add,
// relu, global average pooling, flatten, dense, explicit inputs) and a merged ensemble.
void expect_penultimate_gives_logits(const ModelIr& m, std::size_t want_layer, std::size_t want_dim) {
  auto tap = resolve_feature_tap(m, "penultimate");
  ASSERT_TRUE(tap.ok()) << tap.status().to_string();
  EXPECT_EQ(tap->layer, want_layer);
  EXPECT_EQ(tap->dim, want_dim);
  const std::size_t n = 4;
  const auto images = random_images(n, m.input.size(), 17);
  const auto logits = forward(m, images, n);
  const auto f = forward_to(m, tap->layer, images, n);
  const auto nc = static_cast<std::size_t>(m.num_classes);
  for (std::size_t i = 0; i < n; ++i) {
    const auto z = apply_dense(m.layers.back(), f.data() + i * tap->dim);
    for (std::size_t c = 0; c < nc; ++c) EXPECT_NEAR(z[c], logits[i * nc + c], 1e-12 * (1 + std::abs(z[c])));
  }
}

TEST(FeatureTap, ResidualModelAndMergedEnsemble) {
  SeededRng rng(seed_from_u64(8));
  ModelIr res;
  res.input = {1, 8, 8};
  res.num_classes = 3;
  res.layers.push_back(testutil::conv(1, 2, 3, 1, 1, rng));  // 0: 2x8x8
  res.layers.push_back(simple(OpKind::kRelu));               // 1
  res.layers.push_back(testutil::conv(2, 2, 3, 1, 1, rng));  // 2
  Layer add = simple(OpKind::kAdd);
  add.inputs = {2, 1};
  res.layers.push_back(add);                    // 3
  res.layers.push_back(simple(OpKind::kRelu));  // 4
  Layer gap = simple(OpKind::kAvgPool);
  gap.kernel = 8;
  res.layers.push_back(gap);                       // 5: 2x1x1
  res.layers.push_back(simple(OpKind::kFlatten));  // 6
  Layer fc = dense(2, 3, rng);
  fc.inputs = {6};
  res.layers.push_back(fc);  // 7
  ASSERT_TRUE(res.validate().ok()) << res.validate().to_string();
  expect_penultimate_gives_logits(res, 6, 2);

  const std::vector<ModelIr> members = {small_hecnn(31), small_hecnn(32)};
  auto merged = merge_ensemble(members);
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  expect_penultimate_gives_logits(*merged, merged->layers.size() - 2, 12);  // both members' 6 hidden units
}

TEST(FeatureTap, IndexNameAndLastLayer) {
  ModelIr m = small_hecnn(3);
  m.layers[3].name = "flat";
  auto t = resolve_feature_tap(m, "3");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->layer, 3u);
  EXPECT_EQ(t->dim, 75u);  // 3x5x5 flattened
  t = resolve_feature_tap(m, "flat");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->layer, 3u);
  // The poly_act output (3x5x5) taken channel-major equals the flatten layer's output, and differs
  // from the conv output before batch norm and activation.
  const auto images = random_images(2, m.input.size(), 9);
  EXPECT_EQ(forward_to(m, 2, images, 2), forward_to(m, 3, images, 2));
  EXPECT_NE(forward_to(m, 0, images, 2), forward_to(m, 3, images, 2));
  // The last layer: the logits themselves.
  t = resolve_feature_tap(m, "7");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dim, 2u);
  EXPECT_NE(t->description.find("logits"), std::string::npos);
  const auto f = extract_features(m, *t, images, 2);
  const auto logits = forward(m, images, 2);
  for (std::size_t i = 0; i < f.size(); ++i) EXPECT_EQ(f[i], static_cast<float>(logits[i]));
}

TEST(FeatureTap, BadSpecsGiveClearErrors) {
  const ModelIr m = small_hecnn(4);
  EXPECT_NE(error_of(m, "8").find("layer 8 is out of range: the model has 8 layers"), std::string::npos);
  EXPECT_NE(error_of(m, "99999999999999999999").find("out of range"), std::string::npos);
  const std::string none = error_of(m, "fc9");
  EXPECT_NE(none.find("no layer 'fc9'"), std::string::npos) << none;
  EXPECT_NE(none.find("0..7"), std::string::npos) << none;
  EXPECT_NE(none.find("poly_act"), std::string::npos) << none;  // names listed
  EXPECT_NE(error_of(m, "dense").find("ambiguous (layers 4, 7)"), std::string::npos);
  EXPECT_NE(error_of(m, "").find("no layer ''"), std::string::npos);
  EXPECT_NE(error_of(m, "-1").find("no layer '-1'"), std::string::npos);

  // No dense layer: 'penultimate' is undefined.
  ModelIr conv_only = m;
  conv_only.layers.resize(4);  // conv, bn, poly, flatten: output 75 values
  conv_only.num_classes = 75;
  ASSERT_TRUE(conv_only.validate().ok()) << conv_only.validate().to_string();
  EXPECT_NE(error_of(conv_only, "penultimate").find("no dense layer"), std::string::npos);
  EXPECT_TRUE(resolve_feature_tap(conv_only, "2").ok());

  // A lone dense layer reading the input: no backbone.
  SeededRng rng(seed_from_u64(1));
  ModelIr linear;
  linear.input = {1, 4, 4};
  linear.num_classes = 2;
  linear.layers.push_back(dense(16, 2, rng));
  ASSERT_TRUE(linear.validate().ok()) << linear.validate().to_string();
  EXPECT_NE(error_of(linear, "penultimate").find("reads the model input"), std::string::npos);

  // An invalid model is refused, not run.
  ModelIr broken = m;
  broken.layers[4].weight.pop_back();
  EXPECT_NE(error_of(broken, "penultimate").find("does not validate"), std::string::npos);
}

TEST(FeatureTap, PenultimateFollowsAnExplicitInput) {
  // conv -> flatten(1) ; poly on the flatten (2) ; dense reading layer 1, skipping the poly.
  SeededRng rng(seed_from_u64(2));
  ModelIr m;
  m.input = {1, 6, 6};
  m.num_classes = 3;
  m.layers.push_back(testutil::conv(1, 2, 3, 1, 0, rng));  // 2x4x4
  m.layers.push_back(simple(OpKind::kFlatten));
  m.layers.push_back(testutil::poly(0.5, 0.1, 0.0));
  Layer head = dense(32, 3, rng);
  head.inputs = {1};
  m.layers.push_back(head);
  ASSERT_TRUE(m.validate().ok()) << m.validate().to_string();
  auto t = resolve_feature_tap(m, "penultimate");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->layer, 1u);
  EXPECT_EQ(t->dim, 32u);
}

TEST(FeatureTap, ExtractMisuseThrows) {
  const ModelIr m = small_hecnn(5);
  auto t = resolve_feature_tap(m, "penultimate");
  ASSERT_TRUE(t.ok());
  const auto images = random_images(2, m.input.size(), 1);
  EXPECT_THROW(extract_features(m, *t, std::span<const float>(images).subspan(1), 2), std::invalid_argument);
  FeatureTap far = *t;
  far.layer = 8;
  EXPECT_THROW(extract_features(m, far, images, 2), std::invalid_argument);
  FeatureTap wrong_dim = *t;
  wrong_dim.dim = 5;
  EXPECT_THROW(extract_features(m, wrong_dim, images, 2), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------

struct TempFile {
  std::string path;
  TempFile() {
    std::random_device rd;
    path = (std::filesystem::temp_directory_path() / ("heal_features_test_" + std::to_string(rd()) + ".npz")).string();
  }
  ~TempFile() { std::filesystem::remove(path); }
};

io::SplitData make_split(std::size_t n, std::uint64_t seed, int side = 12) {
  io::SplitData d;
  d.channels = 1;
  d.height = side;
  d.width = side;
  d.images = random_images(n, d.image_size(), seed);
  for (std::size_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int>(i % 3));
  return d;
}

io::Dataset tiny_dataset() {
  io::Dataset ds;
  ds.name = "tiny";
  ds.num_classes = 3;            // another number of classes than the backbone's 2: transfer is allowed
  ds.train = make_split(70, 1);  // more than one chunk of 64
  ds.val = make_split(0, 2);     // empty split
  ds.test = make_split(5, 3);
  return ds;
}

std::vector<double> member(const io::NpzArchive& a, const std::string& name, std::vector<std::uint64_t>* shape,
                           std::string* descr) {
  auto b = a.read(name + ".npy");
  EXPECT_TRUE(b.ok()) << name;
  if (!b.ok()) return {};
  auto arr = io::parse_npy(*b);
  EXPECT_TRUE(arr.ok()) << name;
  *shape = arr->header.shape;
  *descr = arr->header.descr;
  return io::npy_to_doubles(*arr);
}

TEST(ExportFeatures, WritesEverySplitWithMetadata) {
  const ModelIr m = small_hecnn(21);
  const io::Dataset ds = tiny_dataset();
  TempFile out;
  std::size_t ticked = 0;
  FeatureExportOptions opts;
  opts.on_images = [&](std::size_t n) { ticked += n; };
  auto r = export_features(m, ds, out.path, opts);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(ticked, 75u);
  EXPECT_EQ(r->tap.layer, 6u);
  ASSERT_EQ(r->splits.size(), 3u);
  EXPECT_EQ(r->splits[0].images, 70u);
  EXPECT_EQ(r->splits[0].class_counts, (std::vector<std::size_t>{24, 23, 23}));
  EXPECT_EQ(r->splits[1].images, 0u);
  EXPECT_GT(r->splits[0].mean_abs, 0.0);
  EXPECT_EQ(r->arrays, (std::vector<std::string>{"train_x", "train_y", "val_x", "val_y", "test_x", "test_y",
                                                 "feature_dim", "layer_index", "num_classes", "backbone_blake2b256"}));
  EXPECT_EQ(r->backbone_blake2b, blake2b_256(serialize_model(m)));
  EXPECT_EQ(r->file_bytes, std::filesystem::file_size(out.path));

  auto a = io::NpzArchive::from_file(out.path);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  std::vector<std::uint64_t> shape;
  std::string descr;
  const auto x = member(*a, "train_x", &shape, &descr);
  EXPECT_EQ(shape, (std::vector<std::uint64_t>{70, 6}));
  EXPECT_EQ(descr, "<f4");
  const auto want = extract_features(m, r->tap, ds.train.images, 70);
  ASSERT_EQ(x.size(), want.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i], static_cast<double>(want[i])) << i;
  const auto y = member(*a, "train_y", &shape, &descr);
  EXPECT_EQ(shape, (std::vector<std::uint64_t>{70}));
  EXPECT_EQ(descr, "<i8");
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], static_cast<double>(ds.train.labels[i]));
  member(*a, "val_x", &shape, &descr);
  EXPECT_EQ(shape, (std::vector<std::uint64_t>{0, 6}));
  member(*a, "test_x", &shape, &descr);
  EXPECT_EQ(shape, (std::vector<std::uint64_t>{5, 6}));
  EXPECT_EQ(member(*a, "feature_dim", &shape, &descr), (std::vector<double>{6}));
  EXPECT_TRUE(shape.empty());
  EXPECT_EQ(member(*a, "layer_index", &shape, &descr), (std::vector<double>{6}));
  EXPECT_EQ(member(*a, "num_classes", &shape, &descr), (std::vector<double>{3}));
  const auto h = member(*a, "backbone_blake2b256", &shape, &descr);
  EXPECT_EQ(descr, "|u1");
  ASSERT_EQ(h.size(), 32u);
  for (std::size_t i = 0; i < 32; ++i) EXPECT_EQ(h[i], r->backbone_blake2b[i]);
}

TEST(ExportFeatures, SubsetOfSplitsAndLayerByName) {
  ModelIr m = small_hecnn(22);
  m.layers[3].name = "flat";
  TempFile out;
  FeatureExportOptions opts;
  opts.layer = "flat";
  opts.splits = {io::Split::kTest};
  auto r = export_features(m, tiny_dataset(), out.path, opts);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->tap.dim, 75u);
  auto a = io::NpzArchive::from_file(out.path);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has("train_x.npy"));
  std::vector<std::uint64_t> shape;
  std::string descr;
  member(*a, "test_x", &shape, &descr);
  EXPECT_EQ(shape, (std::vector<std::uint64_t>{5, 75}));
}

TEST(ExportFeatures, ErrorsWriteNothing) {
  const ModelIr m = small_hecnn(23);
  TempFile out;
  FeatureExportOptions opts;
  opts.layer = "nope";
  auto r = export_features(m, tiny_dataset(), out.path, opts);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(out.path));

  opts = {};
  opts.splits = {io::Split::kTest, io::Split::kTest};
  r = export_features(m, tiny_dataset(), out.path, opts);
  EXPECT_NE(r.status().message().find("'test' asked for twice"), std::string::npos) << r.status().to_string();

  io::Dataset wrong = tiny_dataset();
  wrong.test = make_split(3, 4, 10);
  r = export_features(m, wrong, out.path, {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("expects 1x12x12 images, the test split of tiny has 1x10x10"), std::string::npos)
      << r.status().to_string();
  EXPECT_FALSE(std::filesystem::exists(out.path));

  // Features beyond float range: refused with the image named.
  ModelIr huge = m;
  huge.layers[6].a = 1e300;
  ASSERT_TRUE(huge.validate().ok()) << huge.validate().to_string();
  r = export_features(huge, tiny_dataset(), out.path, {});
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << r.status().to_string();
  EXPECT_NE(r.status().message().find("train image 0 is not finite"), std::string::npos) << r.status().to_string();
  EXPECT_FALSE(std::filesystem::exists(out.path));

  r = export_features(m, tiny_dataset(), "/nonexistent-heal-dir/f.npz", {});
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace heal::nn
