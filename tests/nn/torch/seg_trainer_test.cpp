// SegTrainer: aligned augmentation, training on tiny images, native-resolution prediction, model
// files (issue 20). Tiny U-Nets only; the real covid_seg runs are benchmark scripts.
#include "heal/nn/torch/seg_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "heal/nn/torch/seg_pipeline.h"
#include "heal/nn/torch/seg_prior.h"
#include "nn/torch/seg_models.h"

namespace heal::nn::torch_backend {
namespace {

namespace fs = std::filesystem;

// An image with a bright textured disk (the "lesion") on a darker noisy background, its mask, at a
// non-square native size.
io::SegSample disk_sample(int w, int h, std::uint64_t seed, const std::string& id) {
  SeededRng rng(seed_from_u64(seed), 0);
  io::SegSample s;
  s.id = id;
  s.image.width = s.image.original_width = w;
  s.image.height = s.image.original_height = h;
  s.image.pixels.resize(static_cast<std::size_t>(w) * h);
  s.mask.resize(s.image.pixels.size());
  const double cx = w * (0.3 + 0.4 * rng.uniform_double()), cy = h * (0.3 + 0.4 * rng.uniform_double());
  const double r = std::min(w, h) * (0.12 + 0.1 * rng.uniform_double());
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * w + x;
      const bool in = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
      s.mask[i] = in ? 1 : 0;
      s.image.pixels[i] = static_cast<float>((in ? 0.7 : 0.3) + 0.1 * (rng.uniform_double() - 0.5));
    }
  }
  return s;
}

std::vector<io::SegSample> disks(int n, std::uint64_t seed) {
  std::vector<io::SegSample> v;
  for (int i = 0; i < n; ++i) v.push_back(disk_sample(40 + 3 * (i % 4), 36 + 2 * (i % 3), seed + i, std::to_string(i)));
  return v;
}

SegModelSpec tiny_unet() {
  SegModelSpec s;
  s.arch = "unet";
  s.width = 4;
  s.image_size = 32;
  return s;
}

// Two lesion kinds at a non-square native size: class 1 a mid-grey disk in the left half, class 2 a
// bright disk in the right half (as ground-glass opacity and consolidation differ in density).
io::SegSample two_class_sample(int w, int h, std::uint64_t seed, const std::string& id) {
  SeededRng rng(seed_from_u64(seed), 0);
  io::SegSample s;
  s.id = id;
  s.image.width = s.image.original_width = w;
  s.image.height = s.image.original_height = h;
  s.image.pixels.resize(static_cast<std::size_t>(w) * h);
  s.mask.assign(s.image.pixels.size(), 0);
  const double c1x = w * (0.2 + 0.1 * rng.uniform_double()), c2x = w * (0.7 + 0.1 * rng.uniform_double());
  const double c1y = h * (0.3 + 0.4 * rng.uniform_double()), c2y = h * (0.3 + 0.4 * rng.uniform_double());
  const double r1 = std::min(w, h) * (0.1 + 0.08 * rng.uniform_double());
  const double r2 = std::min(w, h) * (0.1 + 0.08 * rng.uniform_double());
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * w + x;
      const bool in1 = (x - c1x) * (x - c1x) + (y - c1y) * (y - c1y) < r1 * r1;
      const bool in2 = (x - c2x) * (x - c2x) + (y - c2y) * (y - c2y) < r2 * r2;
      s.mask[i] = in1 ? 1 : in2 ? 2 : 0;
      s.image.pixels[i] = static_cast<float>((in1 ? 0.6 : in2 ? 0.95 : 0.25) + 0.1 * (rng.uniform_double() - 0.5));
    }
  }
  return s;
}

std::vector<io::SegSample> two_class_set(int n, std::uint64_t seed) {
  std::vector<io::SegSample> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(two_class_sample(44 + 3 * (i % 4), 36 + 2 * (i % 3), seed + i, std::to_string(i)));
  }
  return v;
}

TEST(SegAugment, ImageAndMaskStayAligned) {
  // The image is its own mask (0/1 values): after augmentation without intensity changes the
  // image thresholded at 0.5 must still be the mask, whatever the rotation, zoom, shift and flip.
  auto gen = ::torch::make_generator<::torch::CPUGeneratorImpl>(5);
  ::torch::Tensor m = (::torch::rand({8, 1, 32, 32}, gen) > 0.7f).to(::torch::kFloat);
  m = (::torch::avg_pool2d(m, 5, 1, 2) > 0.3f).to(::torch::kFloat);  // blobs, not salt
  ::torch::Tensor x = m.clone();
  SegTrainOptions o;
  o.max_rotation_deg = 30;
  o.max_scale = 0.2;
  o.max_brightness = 0;
  o.max_contrast = 0;
  SeededRng rng(seed_from_u64(9), 1);
  ::torch::Tensor x0 = x.clone();
  augment_aligned(x, m, o, rng);
  EXPECT_GT((x - x0).abs().sum().item<double>(), 10.0) << "the augmentation must change the batch";
  const double disagree = ((x >= 0.5f).to(::torch::kFloat) - m).abs().mean().item<double>();
  EXPECT_LT(disagree, 0.01) << "image and mask moved differently";
  // Negative control: a second, independent draw for the mask does not stay aligned.
  ::torch::Tensor x2 = x0.clone(), m2 = x0.clone(), junk = x0.clone(), mj = x0.clone();
  SeededRng r1(seed_from_u64(9), 1), r2(seed_from_u64(10), 1);
  augment_aligned(x2, junk, o, r1);
  augment_aligned(m2, mj, o, r2);
  EXPECT_GT(((x2 >= 0.5f).to(::torch::kFloat) - (m2 >= 0.5f).to(::torch::kFloat)).abs().mean().item<double>(), 0.05);
}

TEST(SegAugment, OneHotMasksStayOneHotAndAligned) {
  // A 3-class label map drawn into the image as its grey level (0, 0.5, 1): after augmentation the
  // mask is still one-hot at every pixel and its argmax is the image's nearest level.
  auto gen = ::torch::make_generator<::torch::CPUGeneratorImpl>(6);
  ::torch::Tensor u = ::torch::avg_pool2d(::torch::rand({6, 1, 32, 32}, gen), 7, 1, 3);
  ::torch::Tensor labels = (u > 0.52f).to(::torch::kLong) + (u > 0.56f).to(::torch::kLong);
  ::torch::Tensor m = ::torch::one_hot(labels.squeeze(1), 3).permute({0, 3, 1, 2}).to(::torch::kFloat);
  ::torch::Tensor x = labels.to(::torch::kFloat) / 2;
  ASSERT_GT((labels == 2).sum().item<long>(), 50) << "the test needs every class";
  ASSERT_GT((labels == 1).sum().item<long>(), 50);
  SegTrainOptions o;
  o.max_rotation_deg = 30;
  o.max_scale = 0.2;
  o.max_brightness = 0;
  o.max_contrast = 0;
  SeededRng rng(seed_from_u64(4), 1);
  const ::torch::Tensor x0 = x.clone();
  augment_aligned(x, m, o, rng);
  EXPECT_GT((x - x0).abs().sum().item<double>(), 10.0);
  ASSERT_EQ(m.sizes(), (std::vector<long>{6, 3, 32, 32}));
  EXPECT_TRUE(m.sum(1).eq(1).all().item<bool>()) << "a pixel with no class or two";
  const ::torch::Tensor nearest = (x * 2).round().to(::torch::kLong).squeeze(1);
  const double disagree = (m.argmax(1) != nearest).to(::torch::kFloat).mean().item<double>();
  EXPECT_LT(disagree, 0.03) << "image and class mask moved differently";
}

TEST(SegTrainer, LearnsDisksAndPredictsAtNativeSize) {
  const auto train = disks(24, 100), test = disks(8, 500);
  SegTrainer t(tiny_unet(), 3);
  const SegMetrics before = t.evaluate(test);
  SegFitOptions fo;
  fo.train.epochs = 25;
  fo.train.batch_size = 8;
  fo.train.learning_rate = 1e-2;
  const SegFitResult r = t.fit(train, {}, fo);
  EXPECT_EQ(r.history.size(), 25u);
  const SegMetrics after = t.evaluate(test);
  std::printf("tiny U-Net on disks: Dice %.3f before, %.3f after (%.1f s)\n", before.dice, after.dice, r.seconds);
  EXPECT_GT(after.dice, 0.8);
  EXPECT_GT(after.dice, before.dice + 0.2);
  ASSERT_EQ(after.images.size(), 8u);
  const auto p = t.predict(test[0].image);
  EXPECT_EQ(p.size(), test[0].mask.size());  // native resolution, not the network's 32 x 32
  for (float v : p) ASSERT_TRUE(v >= 0 && v <= 1);
}

// Segment-then-classify: the prior channel is the model's own prediction for the grey channel,
// which stays as it was; empty splits keep the channel count consistent.
TEST(SegPrior, AppendsThePredictedMapAsASecondChannel) {
  const auto train = disks(16, 100);
  SegTrainer t(tiny_unet(), 3);
  SegFitOptions fo;
  fo.train.epochs = 15;
  fo.train.batch_size = 8;
  fo.train.learning_rate = 1e-2;
  t.fit(train, {}, fo);
  io::Dataset ds;
  ds.num_classes = 2;
  for (io::SplitData* s : {&ds.train, &ds.test, &ds.val}) s->height = s->width = 24;
  const auto src = disks(5, 900);
  for (std::size_t i = 0; i < src.size(); ++i) {
    const io::Image small = io::resize(src[i].image, 24, 24);
    io::SplitData& s = i < 3 ? ds.train : ds.test;
    s.images.insert(s.images.end(), small.pixels.begin(), small.pixels.end());
    s.labels.push_back(static_cast<int>(i % 2));
  }
  const io::Dataset before = ds;
  const SegPriorStats st = append_segmentation_channel(t, ds);
  EXPECT_EQ(st.images, 5u);
  EXPECT_GT(st.mean_foreground, 0.02) << "the trained model finds the disks";
  EXPECT_LT(st.mean_foreground, 0.6);
  for (const auto& [b, a] : {std::pair{&before.train, &ds.train}, std::pair{&before.test, &ds.test}}) {
    ASSERT_EQ(a->channels, 2);
    for (std::size_t i = 0; i < a->size(); ++i) {
      io::Image g;
      g.width = g.original_width = g.height = g.original_height = 24;
      g.pixels.assign(b->image(i), b->image(i) + 576);
      const auto expect = t.predict(g);
      for (std::size_t j = 0; j < 576; ++j) {
        ASSERT_EQ(a->image(i)[j], b->image(i)[j]);
        ASSERT_FLOAT_EQ(a->image(i)[576 + j], expect[j]);
      }
    }
  }
  EXPECT_EQ(ds.val.channels, 2);
  EXPECT_EQ(ds.val.size(), 0u);
}

TEST(SegTrainer, ValidationSelectsTheBestEpochAndStopsEarly) {
  const auto train = disks(12, 100), val = disks(4, 900);
  SegTrainer t(tiny_unet(), 4);
  SegFitOptions fo;
  fo.train.epochs = 40;
  fo.train.batch_size = 4;
  fo.train.learning_rate = 1e-2;
  fo.patience = 3;
  const SegFitResult r = t.fit(train, val, fo);
  ASSERT_GE(r.best_epoch, 0);
  double best = -1;
  for (const auto& e : r.history) best = std::max(best, e.val_dice);
  EXPECT_DOUBLE_EQ(r.history[static_cast<std::size_t>(r.best_epoch)].val_dice, best);
  if (r.history.size() < 40u) {
    EXPECT_EQ(static_cast<int>(r.history.size()) - 1 - r.best_epoch, 3);
  }
}

TEST(SegTrainer, ModelFileRoundTripAndRejectsDamage) {
  SegModelSpec spec = tiny_unet();
  spec.normalizer.mode = io::IntensityMode::kHistogram;
  SegTrainer t(spec, 7);
  const auto data = disks(4, 1);
  t.fit_normalizer(data);
  SegTrainOptions o;
  o.epochs = 1;
  t.train_epochs(data, {}, 1, o);
  const auto bytes = t.to_bytes();
  auto back = SegTrainer::from_bytes(bytes);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->spec().arch, "unet");
  EXPECT_EQ(back->spec().normalizer.mode, io::IntensityMode::kHistogram);
  EXPECT_EQ(back->spec().normalizer.standard, t.spec().normalizer.standard);
  EXPECT_EQ(back->get_weights(), t.get_weights());
  EXPECT_EQ(back->predict(data[0].image), t.predict(data[0].image));
  // Damage: every truncation point in the header, then random flips; never a crash.
  for (std::size_t n = 0; n < 200; ++n) EXPECT_FALSE(SegTrainer::from_bytes(std::span(bytes).first(n)).ok());
  std::uint64_t st = 99;
  auto next = [&st] { return st = st * 6364136223846793005ull + 1442695040888963407ull, st >> 33; };
  int rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    auto b = bytes;
    const std::size_t pos = trial % 2 == 0 ? next() % 200 : next() % b.size();  // header or weights
    b[pos] ^= static_cast<std::uint8_t>(1 + next() % 255);
    rejected += !SegTrainer::from_bytes(b).ok();
  }
  EXPECT_GT(rejected, 0);
  auto wrong = bytes;
  wrong.resize(wrong.size() - 4);
  EXPECT_FALSE(SegTrainer::from_bytes(wrong).ok());
}

// Mirrors an image (or a map of the same width) left to right.
template <typename T>
std::vector<T> mirror_rows(const std::vector<T>& v, int w) {
  std::vector<T> out(v.size());
  const std::size_t h = v.size() / static_cast<std::size_t>(w);
  for (std::size_t y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) out[y * w + x] = v[y * w + (w - 1 - x)];
  }
  return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  return m;
}

// Flip test-time augmentation: the map is the mean of the image's and its mirror's (mirrored back),
// so it is exactly mirror-equivariant, which the plain network is not; the switch is stored in the
// model file, and files without it predict once.
TEST(SegTrainer, FlipTestTimeAugmentationAveragesTheMirroredMaps) {
  const auto data = disks(6, 40);
  SegTrainer t(tiny_unet(), 11);
  SegTrainOptions o;
  o.learning_rate = 1e-2;
  t.train_epochs(data, {}, 3, o);
  const io::Image& img = data[1].image;  // 43 x 38: odd width, non-square
  io::Image mir = img;
  mir.pixels = mirror_rows(img.pixels, img.width);
  const std::vector<float> plain = t.predict(img), plain_mirror = t.predict(mir);
  EXPECT_GT(max_abs_diff(plain_mirror, mirror_rows(plain, img.width)), 1e-3);  // the network alone is not symmetric
  t.set_tta_flip(true);
  EXPECT_TRUE(t.spec().tta_flip);
  const std::vector<float> tta = t.predict(img);
  std::vector<float> expected(plain.size());
  const std::vector<float> back = mirror_rows(plain_mirror, img.width);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = 0.5f * (plain[i] + back[i]);
  EXPECT_LT(max_abs_diff(tta, expected), 1e-5);
  EXPECT_GT(max_abs_diff(tta, plain), 1e-3);
  EXPECT_LT(max_abs_diff(t.predict(mir), mirror_rows(tta, img.width)), 1e-5);
  // Both class maps of predict_classes still sum to 1.
  const auto maps = t.predict_classes(img);
  for (std::size_t i = 0; i < maps[0].size(); ++i) ASSERT_NEAR(maps[0][i] + maps[1][i], 1.0f, 1e-5);

  const auto bytes = t.to_bytes();
  auto back_model = SegTrainer::from_bytes(bytes);
  ASSERT_TRUE(back_model.ok()) << back_model.status().to_string();
  EXPECT_TRUE(back_model->spec().tta_flip);
  EXPECT_EQ(back_model->predict(img), tta);
  // The header rewritten: without the key (a file from before), and with a value that is no bool.
  const auto with_header = [&bytes](const std::function<void(nlohmann::json&)>& edit) {
    std::uint64_t len = 0;
    std::memcpy(&len, bytes.data() + 8, 8);
    auto j = nlohmann::json::parse(bytes.begin() + 16, bytes.begin() + 16 + static_cast<long>(len));
    edit(j);
    const std::string js = j.dump();
    std::vector<std::uint8_t> out(bytes.begin(), bytes.begin() + 8);
    const std::uint64_t n = js.size();
    out.insert(out.end(), reinterpret_cast<const std::uint8_t*>(&n), reinterpret_cast<const std::uint8_t*>(&n) + 8);
    out.insert(out.end(), js.begin(), js.end());
    out.insert(out.end(), bytes.begin() + 16 + static_cast<long>(len), bytes.end());
    return out;
  };
  auto old = SegTrainer::from_bytes(with_header([](nlohmann::json& j) { j.erase("tta_flip"); }));
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_FALSE(old->spec().tta_flip);
  EXPECT_EQ(old->predict(img), plain);
  auto bad = SegTrainer::from_bytes(with_header([](nlohmann::json& j) { j["tta_flip"] = "yes"; }));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
}

TEST(SegTrainer, MulticlassModelSegmentsEachClassAndRoundTrips) {
  SegModelSpec spec = tiny_unet();
  spec.classes = 3;
  spec.width = 8;
  // The classes differ in absolute grey level (as ground-glass opacity and consolidation differ in
  // density); a per-image z-score moves those levels with each image's lesion area, and this tiny
  // network then confuses the two classes (class 1 Dice 0.47 with it, 0.95 without: checked).
  spec.normalizer.mode = io::IntensityMode::kNone;
  const auto train = two_class_set(24, 300), test = two_class_set(8, 900);
  SegTrainer t(spec, 5);
  SegFitOptions fo;
  fo.train.epochs = 40;
  fo.train.batch_size = 8;
  fo.train.learning_rate = 1e-2;
  t.fit(train, {}, fo);
  const SegMetrics fg = t.evaluate(test);
  const std::vector<SegMetrics> per = t.evaluate_classes(test);
  ASSERT_EQ(per.size(), 2u);
  std::printf("tiny 3-class U-Net: foreground Dice %.3f, class 1 %.3f, class 2 %.3f\n", fg.dice, per[0].dice,
              per[1].dice);
  EXPECT_GT(per[0].dice, 0.7);
  EXPECT_GT(per[1].dice, 0.7);
  EXPECT_GT(fg.dice, 0.8);
  // The class maps are at native size and sum to 1; the foreground map is 1 - P(background).
  const auto maps = t.predict_classes(test[0].image);
  ASSERT_EQ(maps.size(), 3u);
  const auto fgmap = t.predict(test[0].image);
  for (std::size_t i = 0; i < test[0].mask.size(); i += 7) {
    ASSERT_NEAR(maps[0][i] + maps[1][i] + maps[2][i], 1.0, 1e-4);
    ASSERT_FLOAT_EQ(fgmap[i], 1.0f - maps[0][i]);
  }
  // The label map finds class 2 where the truth has it (and class 1 where it has 1).
  const auto labels = argmax_labels(maps);
  std::size_t agree = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) agree += labels[i] == test[0].mask[i];
  EXPECT_GT(static_cast<double>(agree) / static_cast<double>(labels.size()), 0.95);
  // Model file: the class count travels; a file from before multi-class models (no "classes") is binary.
  const auto bytes = t.to_bytes();
  auto back = SegTrainer::from_bytes(bytes);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->spec().classes, 3);
  EXPECT_EQ(back->predict_classes(test[1].image), t.predict_classes(test[1].image));
  // Rewrites the JSON header of a model file (magic, u64 length, JSON, weights).
  const auto rewrite = [](const std::vector<std::uint8_t>& b, const std::string& from, const std::string& to) {
    std::uint64_t len = 0;
    std::memcpy(&len, b.data() + 8, 8);
    std::string js(b.begin() + 16, b.begin() + 16 + static_cast<long>(len));
    const auto at = js.find(from);
    if (at == std::string::npos) return std::vector<std::uint8_t>{};
    js.replace(at, from.size(), to);
    std::vector<std::uint8_t> out(b.begin(), b.begin() + 8);
    const std::uint64_t nl = js.size();
    out.insert(out.end(), reinterpret_cast<const std::uint8_t*>(&nl), reinterpret_cast<const std::uint8_t*>(&nl) + 8);
    out.insert(out.end(), js.begin(), js.end());
    out.insert(out.end(), b.begin() + 16 + static_cast<long>(len), b.end());
    return out;
  };
  SegTrainer binary(tiny_unet(), 5);
  const auto old_file = rewrite(binary.to_bytes(), "\"classes\":2,", "");
  ASSERT_FALSE(old_file.empty());
  auto old_model = SegTrainer::from_bytes(old_file);
  ASSERT_TRUE(old_model.ok()) << old_model.status().to_string();
  EXPECT_EQ(old_model->spec().classes, 2);
  EXPECT_FALSE(SegTrainer::from_bytes(rewrite(bytes, "\"classes\":3", "\"classes\":2")).ok())
      << "a 3-class weight vector read as a binary model";
  EXPECT_FALSE(SegTrainer::from_bytes(rewrite(bytes, "\"classes\":3", "\"classes\":99")).ok());
  EXPECT_FALSE(SegTrainer::from_bytes(rewrite(bytes, "\"classes\":3", "\"classes\":1")).ok());
  // SegCaps has one output capsule type, and a mask class beyond the model's is refused.
  SegModelSpec caps;
  caps.arch = "segcaps";
  caps.classes = 3;
  EXPECT_THROW(SegTrainer(caps, 1), std::invalid_argument);
  auto bad = two_class_set(2, 1);
  bad[0].mask[0] = 3;
  SegTrainOptions o;
  EXPECT_THROW(t.train_epochs(bad, {}, 1, o), std::exception);
}

TEST(SegTrainer, ClassMetricsScoreTheArgmaxLabelMap) {
  // Four pixels (2 x 2), truth classes 1, 1, 2, 0. Pixel 0: class 1 is the most probable (0.45) though
  // below 0.5, so the label map has it (a true positive that thresholding P(1) at 0.5 would miss);
  // pixel 1: background wins (0.4), a false negative; pixel 2: class 2; pixel 3: background.
  io::SegSample s;
  s.id = "p";
  s.image.width = s.image.original_width = 2;
  s.image.height = s.image.original_height = 2;
  s.image.pixels.assign(4, 0.5f);
  s.mask = {1, 1, 2, 0};
  const std::vector<std::vector<float>> maps = {
      {0.30f, 0.40f, 0.10f, 0.90f}, {0.45f, 0.35f, 0.10f, 0.05f}, {0.25f, 0.25f, 0.80f, 0.05f}};
  EXPECT_EQ(argmax_labels(maps), (std::vector<std::uint8_t>{1, 0, 2, 0}));
  const SegClassEvaluation e = evaluate_map(maps, s);
  ASSERT_EQ(e.per_class.size(), 2u);
  EXPECT_DOUBLE_EQ(e.per_class[0].dice, 2.0 / 3.0);  // 1 TP, 1 FN, 0 FP
  EXPECT_DOUBLE_EQ(e.per_class[0].sensitivity, 0.5);
  EXPECT_DOUBLE_EQ(e.per_class[1].dice, 1.0);
  EXPECT_NEAR(e.per_class[0].mae, (0.55 + 0.65 + 0.10 + 0.05) / 4, 1e-6);  // of P(1), not of the label map
  // The foreground is 1 - P(background) at 0.5: pixels 0 (0.7), 1 (0.6), 2 (0.9) against truth 1, 1, 1, 0.
  EXPECT_DOUBLE_EQ(e.foreground.dice, 1.0);
  // Binary maps: the foreground is the second map itself.
  const SegClassEvaluation b = evaluate_map({{0.8f, 0.2f, 0.6f, 0.9f}, {0.2f, 0.8f, 0.4f, 0.1f}}, s);
  EXPECT_TRUE(b.per_class.empty());
  EXPECT_DOUBLE_EQ(b.foreground.dice, 2.0 / 4.0);  // predicted {1}, truth {0, 1, 2}
}

TEST(SegPipeline, TrainReportOverlaysAndSegmentFile) {
  const fs::path root = fs::temp_directory_path() / ("heal_segpipe_" + std::to_string(::getpid()));
  fs::remove_all(root);
  for (const char* split : {"train", "test"}) {
    fs::create_directories(root / "data" / split / "images");
    fs::create_directories(root / "data" / split / "masks");
    const auto samples = disks(std::string(split) == "train" ? 8 : 3, std::string(split) == "train" ? 10 : 70);
    for (const auto& s : samples) {
      ASSERT_TRUE(io::save_png(s.image, (root / "data" / split / "images" / (s.id + ".png")).string()).ok());
      io::Image m = s.image;
      for (std::size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = s.mask[i] ? 1.0f : 0.0f;
      ASSERT_TRUE(io::save_png(m, (root / "data" / split / "masks" / (s.id + ".png")).string()).ok());
    }
  }
  SegRunConfig cfg;
  cfg.data = (root / "data").string();
  cfg.model = tiny_unet();
  cfg.fit.train.epochs = 2;
  cfg.holdout = 2;
  cfg.out_dir = (root / "out").string();
  cfg.overlays = 2;
  auto r = run_segmentation_training(cfg);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->train_images, 6u);
  EXPECT_EQ(r->val_images, 2u);
  EXPECT_EQ(r->test_images, 3u);
  EXPECT_TRUE(fs::exists(r->model_path));
  EXPECT_TRUE(fs::exists(r->report_path));
  EXPECT_TRUE(fs::exists(r->figure_path));
  EXPECT_TRUE(fs::exists(root / "out" / "overlays" / "0_overlay.png"));
  auto model = SegTrainer::load(r->model_path);
  ASSERT_TRUE(model.ok());
  auto f = segment_file(*model, (root / "data/test/images/1.png").string(), (root / "seg").string(),
                        (root / "data/test/masks/1.png").string());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_TRUE(f->has_truth);
  EXPECT_TRUE(fs::exists(f->mask_path));
  EXPECT_TRUE(fs::exists(f->overlay_path));
  // The pipeline's metrics of that image equal the file path's.
  for (const auto& m : r->test.images) {
    if (m.id == "1") {
      EXPECT_NEAR(m.dice, f->metrics.dice, 1e-12);
    }
  }
  EXPECT_FALSE(segment_file(*model, (root / "missing.png").string(), (root / "seg").string()).ok());
  cfg.holdout = 8;  // no training image left
  EXPECT_FALSE(run_segmentation_training(cfg).ok());
  fs::remove_all(root);
}

TEST(SegPipeline, CrossValidationHoldsEachTrainingImageOutOnce) {
  const fs::path root = fs::temp_directory_path() / ("heal_segcv_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "data" / "train" / "images");
  fs::create_directories(root / "data" / "train" / "masks");
  for (const auto& s : disks(8, 10)) {
    ASSERT_TRUE(io::save_png(s.image, (root / "data/train/images" / (s.id + ".png")).string()).ok());
    io::Image m = s.image;
    for (std::size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = s.mask[i] ? 1.0f : 0.0f;
    ASSERT_TRUE(io::save_png(m, (root / "data/train/masks" / (s.id + ".png")).string()).ok());
  }
  // A test split that does not even decode: cross-validation must never read it.
  fs::create_directories(root / "data" / "test" / "images");
  fs::create_directories(root / "data" / "test" / "masks");
  ASSERT_TRUE(io::save_png(disks(1, 99)[0].image, (root / "data/test/images/t.png").string()).ok());
  std::ofstream(root / "data/test/masks/t.png") << "not a png";
  SegRunConfig cfg;
  cfg.data = (root / "data").string();
  cfg.model = tiny_unet();
  cfg.fit.train.epochs = 2;
  cfg.fit.train.loss = SegLoss::kStructure;
  cfg.out_dir = (root / "out").string();
  int calls = 0;
  auto r = run_segmentation_cv(cfg, 3, [&calls](int f, const SegMetrics&) { EXPECT_EQ(f, calls++); });
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r->pool, 8u);
  ASSERT_EQ(r->fold_metrics.size(), 3u);
  std::map<std::string, int> seen;
  std::size_t sizes[3] = {0, 0, 0};
  for (int f = 0; f < 3; ++f) {
    sizes[f] = r->fold_metrics[f].images.size();
    for (const auto& m : r->fold_metrics[f].images) seen[m.id] += 1;
  }
  EXPECT_EQ(seen.size(), 8u);
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(sizes[0] + sizes[1] + sizes[2], 8u);
  EXPECT_EQ(std::count(r->fold_of.begin(), r->fold_of.end(), 0), static_cast<long>(sizes[0]));
  EXPECT_EQ(r->pooled.images.size(), 8u);
  double mean = 0;
  for (const auto& m : r->fold_metrics) mean += m.dice / 3;
  EXPECT_NEAR(r->mean_dice, mean, 1e-12);
  EXPECT_TRUE(fs::exists(r->report_path));
  // The same seed gives the same folds and the same scores.
  auto again = run_segmentation_cv(cfg, 3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->fold_of, r->fold_of);
  EXPECT_DOUBLE_EQ(again->mean_dice, r->mean_dice);
  EXPECT_TRUE(again->no_tta_fold_metrics.empty());
  // With flip test-time augmentation the same models (same seed) are also scored without it: those
  // scores are the plain run's, fold by fold, and the augmented ones differ.
  cfg.model.tta_flip = true;
  auto tta = run_segmentation_cv(cfg, 3);
  ASSERT_TRUE(tta.ok()) << tta.status().to_string();
  ASSERT_EQ(tta->no_tta_fold_metrics.size(), 3u);
  double toolbox_plain = 0, toolbox_tta = 0;
  for (int f = 0; f < 3; ++f) {
    EXPECT_DOUBLE_EQ(tta->no_tta_fold_metrics[f].dice, r->fold_metrics[f].dice) << f;
    EXPECT_DOUBLE_EQ(tta->no_tta_fold_metrics[f].infnet.dice, r->fold_metrics[f].infnet.dice) << f;
    toolbox_plain += r->fold_metrics[f].infnet.dice;
    toolbox_tta += tta->fold_metrics[f].infnet.dice;
  }
  EXPECT_NE(toolbox_tta, toolbox_plain);
  EXPECT_DOUBLE_EQ(tta->no_tta_mean_dice, r->mean_dice);
  std::ifstream cvj(tta->report_path);
  const auto j = nlohmann::json::parse(cvj);
  EXPECT_TRUE(j.at("model").at("tta_flip").get<bool>());
  EXPECT_EQ(j.at("without_tta").at("per_fold").size(), 3u);
  EXPECT_DOUBLE_EQ(j.at("without_tta").at("mean_dice").get<double>(), r->mean_dice);
  cfg.model.tta_flip = false;
  EXPECT_FALSE(run_segmentation_cv(cfg, 1).ok());
  EXPECT_FALSE(run_segmentation_cv(cfg, 9).ok());
  fs::remove_all(root);
}

// Self-training: the unlabelled set's train and val images (not its test split) are pseudo-labelled
// by the teacher; a student trained mostly on those labels segments the lesions, which it can only
// do if the pseudo-labels are the teacher's maps, aligned with their images.
TEST(SegPipeline, SelfTrainingLearnsFromPseudoLabelledImages) {
  const fs::path root = fs::temp_directory_path() / ("heal_segself_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const auto write_seg = [&root](const char* split, const std::vector<io::SegSample>& samples) {
    fs::create_directories(root / "data" / split / "images");
    fs::create_directories(root / "data" / split / "masks");
    for (const auto& s : samples) {
      ASSERT_TRUE(io::save_png(s.image, (root / "data" / split / "images" / (s.id + ".png")).string()).ok());
      io::Image m = s.image;
      for (std::size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = s.mask[i] ? 1.0f : 0.0f;
      ASSERT_TRUE(io::save_png(m, (root / "data" / split / "masks" / (s.id + ".png")).string()).ok());
    }
  };
  write_seg("train", disks(6, 10));
  write_seg("test", disks(6, 70));
  // The unlabelled images: a classification dataset <root>/unl/<split>/<class>/, 20 train + 4 val
  // (two classes whose names mean nothing here) and 5 test images, which must not be used.
  std::size_t truth_fg = 0, truth_px = 0;
  const auto write_unl = [&](const char* split, int n, std::uint64_t seed) {
    for (const char* cls : {"a", "b"}) fs::create_directories(root / "unl" / split / cls);
    const auto samples = disks(n, seed);
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const char* cls = i % 2 == 0 ? "a" : "b";
      ASSERT_TRUE(
          io::save_png(samples[i].image, (root / "unl" / split / cls / (samples[i].id + ".png")).string()).ok());
      if (std::string(split) != "test") {
        truth_fg += std::count(samples[i].mask.begin(), samples[i].mask.end(), 1);
        truth_px += samples[i].mask.size();
      }
    }
  };
  write_unl("train", 40, 200);
  write_unl("val", 8, 300);
  write_unl("test", 5, 400);
  SegRunConfig cfg;
  cfg.data = (root / "data").string();
  cfg.model = tiny_unet();
  cfg.fit.train.epochs = 40;
  cfg.fit.train.batch_size = 2;
  cfg.fit.train.learning_rate = 1e-2;
  cfg.out_dir = (root / "out").string();
  cfg.overlays = 0;
  cfg.seed = 3;
  cfg.self_training.unlabeled = (root / "unl").string();
  std::vector<std::string> stages;
  cfg.on_stage = [&stages](const std::string& s, int) { stages.push_back(s); };
  auto r = run_segmentation_training(cfg);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(r->self_training.has_value());
  const SegSelfTrainingReport& st = *r->self_training;
  EXPECT_EQ(st.unlabeled, 48u);  // train + val, not test
  // As many optimiser steps as the teacher's: 40 epochs x 6 images over 6 + 48 images.
  EXPECT_EQ(st.student_epochs, 5);
  EXPECT_EQ(r->fit.history.size(), 5u);
  EXPECT_EQ(stages, (std::vector<std::string>{"teacher", "student"}));
  const double truth_fraction = static_cast<double>(truth_fg) / static_cast<double>(truth_px);
  std::printf("self-training: pseudo-labelled lesion share %.3f (truth %.3f); test Dice teacher %.3f, student %.3f\n",
              st.pseudo_foreground, truth_fraction, r->teacher_test.dice, r->test.dice);
  EXPECT_GT(r->teacher_test.dice, 0.8);
  EXPECT_NEAR(st.pseudo_foreground, truth_fraction, 0.05);
  // 48 of the student's 54 images carry only pseudo-labels. (Checked by mutation: pseudo-labels
  // turned by 180 degrees give 0.54 here, empty ones 0.)
  EXPECT_GT(r->test.dice, 0.9);
  std::ifstream in(r->report_path);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["training"]["self_training"]["images"], 48);
  EXPECT_NEAR(j["training"]["self_training"]["teacher_test"]["dice"].get<double>(), r->teacher_test.dice, 1e-12);

  // The student started from the teacher's weights, at a learning rate too small to move them,
  // segments as the teacher does; started afresh, it does not.
  cfg.self_training.from_teacher = true;
  cfg.self_training.student_epochs = 1;
  cfg.fit.train.learning_rate = 1e-7;
  auto warm = run_segmentation_training(cfg);
  ASSERT_TRUE(warm.ok()) << warm.status().to_string();
  EXPECT_NEAR(warm->test.dice, warm->teacher_test.dice, 0.02);
  cfg.self_training.from_teacher = false;
  auto cold = run_segmentation_training(cfg);
  ASSERT_TRUE(cold.ok()) << cold.status().to_string();
  EXPECT_LT(cold->test.dice, 0.5);
  // min_lesion above every pseudo-label's lesion share: no unlabelled image is kept.
  cfg.self_training.min_lesion = 0.5;
  auto none_kept = run_segmentation_training(cfg);
  ASSERT_TRUE(none_kept.ok()) << none_kept.status().to_string();
  EXPECT_EQ(none_kept->self_training->unlabeled, 48u);
  EXPECT_EQ(none_kept->self_training->kept, 0u);
  EXPECT_EQ(st.kept, 48u);
  cfg.self_training.min_lesion = 0;
  cfg.fit.train.learning_rate = 1e-2;

  // A subset, fine-tuning, and cross-validation: the teacher's held-out scores beside the student's.
  cfg.fit.train.epochs = 2;
  cfg.self_training.max_images = 7;
  cfg.self_training.student_epochs = 1;
  cfg.self_training.finetune_epochs = 2;
  stages.clear();
  auto sub = run_segmentation_training(cfg);
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  EXPECT_EQ(sub->self_training->unlabeled, 7u);
  EXPECT_EQ(sub->fit.history.size(), 3u);
  EXPECT_EQ(stages, (std::vector<std::string>{"teacher", "student", "finetune"}));
  stages.clear();
  auto cv = run_segmentation_cv(cfg, 3);
  ASSERT_TRUE(cv.ok()) << cv.status().to_string();
  ASSERT_EQ(cv->teacher_fold_metrics.size(), 3u);
  ASSERT_EQ(cv->self_training.size(), 3u);
  EXPECT_EQ(stages.size(), 9u);
  double teacher_mean = 0;
  for (const auto& m : cv->teacher_fold_metrics) {
    EXPECT_EQ(m.images.size(), 2u);
    teacher_mean += m.dice / 3;
  }
  EXPECT_NEAR(cv->teacher_mean_dice, teacher_mean, 1e-12);
  cfg.self_training.unlabeled = (root / "missing").string();
  auto bad = run_segmentation_training(cfg);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unlabelled"), std::string::npos) << bad.status().to_string();
  fs::remove_all(root);
}

TEST(SegTrainer, LossNamesParse) {
  EXPECT_EQ(*parse_seg_loss("structure"), SegLoss::kStructure);
  EXPECT_EQ(*parse_seg_loss("bce-dice"), SegLoss::kBceDice);
  EXPECT_STREQ(seg_loss_name(SegLoss::kStructure), "structure");
  EXPECT_FALSE(parse_seg_loss("dice").ok());
}

}  // namespace
}  // namespace heal::nn::torch_backend
