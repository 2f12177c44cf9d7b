// Trainer (libtorch) tests on small synthetic data: determinism, weights round trip, FedProx,
// and the oracle check that the exported ModelIr's C++ forward pass matches libtorch.
#include "heal/nn/torch/trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <torch/torch.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "heal/core/rng.h"
#include "heal/nn/forward.h"
#include "heal/nn/passes.h"
#include "nn/torch/halves_data.h"

namespace heal::nn::torch_backend {
namespace {

// One intra-op thread: on the shared 2-core machine two OpenMP threads mostly spin at barriers.
const bool kOneThread = (set_num_threads(1), true);

io::SplitData synthetic(std::size_t n, int side, std::uint64_t seed) { return testing::halves_data(n, side, seed); }

TrainOptions quick() {
  TrainOptions o;
  o.augment = false;
  o.batch_size = 32;
  o.learning_rate = 3e-3;
  return o;
}

double max_logit_diff(const Trainer& t, const ModelIr& ir, const io::SplitData& d) {
  const auto a = t.predict_logits(d);
  const auto b = forward(ir, d.images, d.size());
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

class ExportMatches : public ::testing::TestWithParam<Architecture> {};

TEST_P(ExportMatches, IrForwardEqualsLibtorch) {
  ModelSpec spec;
  spec.arch = GetParam();
  spec.image_size = 16;
  spec.width = 4;
  spec.hidden = 16;
  if (spec.arch == Architecture::kResNet) spec.depth = 2;
  Trainer t(spec, 7);
  const auto train = synthetic(128, 16, 1), test = synthetic(64, 16, 2);
  TrainOptions o = quick();
  o.augment = true;  // exercise the augmentation path too
  t.train_epochs(train, {}, 2, o);
  auto ir = t.export_ir();
  ASSERT_TRUE(ir.ok()) << ir.status().to_string();
  for (const auto& l : ir->layers) EXPECT_NE(l.kind, OpKind::kBatchNorm) << "batch norm must be folded";
  const double diff = max_logit_diff(t, *ir, test);
  EXPECT_LT(diff, 1e-4);
  // Serialisation keeps it exact.
  auto back = deserialize_model(serialize_model(*ir));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(forward(*back, test.images, test.size()), forward(*ir, test.images, test.size()));
}

INSTANTIATE_TEST_SUITE_P(Archs, ExportMatches,
                         ::testing::Values(Architecture::kHeCnn, Architecture::kHeCnnWide, Architecture::kResNet),
                         [](const auto& p) {
                           std::string n = architecture_name(p.param);
                           std::erase(n, '-');
                           return n;
                         });

// The allocator tuning (tune_cpu_allocator): a 64 MiB tensor, twice glibc's mmap ceiling, must come
// from the heap, not from a fresh mapping, and the heap must keep it after the tensor is freed.
// Without the tuning glibc maps it (hblks + 1) and unmaps it on free.
TEST(Trainer, LargeTensorsStayInTheHeapAfterAllocatorTuning) {
#if !defined(__GLIBC__) || defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "glibc's allocator only (a sanitizer replaces it)";
#else
  if (std::getenv("MALLOC_MMAP_MAX_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr)
    GTEST_SKIP() << "the user's MALLOC_ settings win";
  ASSERT_TRUE(tune_cpu_allocator());
  EXPECT_TRUE(tune_cpu_allocator());  // idempotent
  const struct mallinfo2 before = mallinfo2();
  {
    auto t = ::torch::ones({16 << 20}, ::torch::kFloat);  // 64 MiB, touched
    const struct mallinfo2 during = mallinfo2();
    EXPECT_EQ(during.hblks, before.hblks) << "the tensor was given its own mapping";
    EXPECT_EQ(during.hblkhd, before.hblkhd);
    EXPECT_DOUBLE_EQ(t.sum().item<double>(), static_cast<double>(16 << 20));
  }
  // Trimming: a block larger than any free one comes from the top of the heap, and stays in the
  // heap after it is freed (nothing is allocated after it).
  constexpr std::size_t kBytes = std::size_t{256} << 20;
  void* p = std::malloc(kBytes);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kBytes);
  const std::size_t heap_during = mallinfo2().arena;
  std::free(p);
  EXPECT_GE(mallinfo2().arena, heap_during) << "the heap was trimmed after the block was freed";
#endif
}

TEST(Trainer, DefaultHeCnnIsShallowUnderCkks) {
  ModelSpec spec;  // hecnn at 28x28
  Trainer t(spec, 1);
  auto ir = t.export_ir();
  ASSERT_TRUE(ir.ok());
  const DepthReport r = depth_report(*ir);
  EXPECT_TRUE(r.he_compatible);
  EXPECT_LE(r.total_absorbed, 6);
  EXPECT_EQ(ir->input, (Shape{1, 28, 28}));
}

TEST(Trainer, LearnsSyntheticTask) {
  Trainer t(ModelSpec{.image_size = 16}, 3);
  const auto train = synthetic(256, 16, 3), test = synthetic(128, 16, 4);
  t.train_epochs(train, {}, 3, quick());
  const auto m = t.evaluate(test);
  EXPECT_GT(m.accuracy, 0.9);
  EXPECT_GT(m.auc, 0.95);
}

TEST(Trainer, DeterministicForASeedAndWeightsRoundTrip) {
  const auto train = synthetic(96, 16, 5);
  std::vector<std::size_t> subset;
  for (std::size_t i = 0; i < 64; ++i) subset.push_back(i);
  Trainer a(ModelSpec{.image_size = 16}, 11), b(ModelSpec{.image_size = 16}, 11), c(ModelSpec{.image_size = 16}, 12);
  EXPECT_EQ(a.get_weights(), b.get_weights());
  EXPECT_NE(a.get_weights(), c.get_weights());
  TrainOptions o = quick();
  o.augment = true;
  const double la = a.train_epochs(train, subset, 1, o);
  const double lb = b.train_epochs(train, subset, 1, o);
  EXPECT_EQ(la, lb);
  EXPECT_EQ(a.get_weights(), b.get_weights());
  EXPECT_EQ(a.get_weights().size(), a.num_parameters());
  EXPECT_GT(a.num_parameters(), a.num_trainable());
  c.set_weights(a.get_weights());
  EXPECT_EQ(c.get_weights(), a.get_weights());
  EXPECT_EQ(c.predict_logits(train), a.predict_logits(train));
  EXPECT_THROW(c.set_weights(std::vector<float>(3)), std::invalid_argument);
}

TEST(Trainer, FedProxKeepsWeightsNearGlobal) {
  const auto train = synthetic(128, 16, 6);
  Trainer free(ModelSpec{.image_size = 16}, 1), prox(ModelSpec{.image_size = 16}, 1);
  const auto global = free.get_weights();
  TrainOptions o = quick();
  free.train_epochs(train, {}, 2, o);
  o.fedprox_mu = 100.0;
  o.global_weights = global;
  o.optimizer = OptimizerKind::kSgd;
  o.learning_rate = 0.005;
  prox.train_epochs(train, {}, 2, o);
  auto dist = [&](const std::vector<float>& w) {
    double s = 0;
    for (std::size_t i = 0; i < free.num_trainable(); ++i) s += (w[i] - global[i]) * (w[i] - global[i]);
    return std::sqrt(s);
  };
  EXPECT_LT(dist(prox.get_weights()), 0.5 * dist(free.get_weights()));
}

TEST(Trainer, CapsNetTrainsButDoesNotExport) {
  ModelSpec spec{.arch = Architecture::kCapsNet, .image_size = 28, .width = 8, .depth = 4};
  Trainer t(spec, 2);
  const auto train = synthetic(96, 28, 7), test = synthetic(64, 28, 8);
  t.train_epochs(train, {}, 3, quick());
  const auto m = t.evaluate(test);
  EXPECT_GT(m.accuracy, 0.8);
  const auto p = t.predict_proba(test);
  EXPECT_NEAR(p[0] + p[1], 1.0, 1e-6);
  EXPECT_FALSE(t.exportable());
  EXPECT_EQ(t.export_ir().status().code(), StatusCode::kUnsupported);
}

TEST(Trainer, FitRestoresBestEpoch) {
  io::Dataset ds;
  ds.num_classes = 2;
  ds.train = synthetic(192, 16, 9);
  ds.val = synthetic(64, 16, 10);
  Trainer t(ModelSpec{.image_size = 16}, 4);
  FitOptions fo;
  fo.train = quick();
  fo.epochs = 4;
  fo.patience = 2;
  const auto r = t.fit(ds, fo);
  ASSERT_FALSE(r.history.empty());
  ASSERT_GE(r.best_epoch, 0);
  const auto vm = t.evaluate(ds.val);
  EXPECT_NEAR(vm.auc, r.history[static_cast<std::size_t>(r.best_epoch)].val_auc, 1e-9);
}

// monitor "last": no checkpoint selection and no early stopping; the final weights are kept (the
// same weights as the same training without validation-driven restore).
TEST(Trainer, FitMonitorLastKeepsFinalWeights) {
  io::Dataset ds;
  ds.num_classes = 2;
  ds.train = synthetic(192, 16, 9);
  ds.val = synthetic(64, 16, 10);
  Trainer t(ModelSpec{.image_size = 16}, 4), u(ModelSpec{.image_size = 16}, 4);
  FitOptions fo;
  fo.train = quick();
  fo.epochs = 5;
  fo.patience = 1;
  fo.monitor = "last";
  const auto r = t.fit(ds, fo);
  EXPECT_EQ(r.history.size(), 5u);
  EXPECT_EQ(r.best_epoch, 4);
  const auto vm = t.evaluate(ds.val);
  EXPECT_NEAR(vm.auc, r.history.back().val_auc, 1e-9);
  TrainOptions o = quick();
  o.on_epoch = nullptr;
  // fit() sets the learning rate per epoch exactly as train_epochs() does: same final weights.
  u.train_epochs(ds.train, {}, 5, o);
  EXPECT_EQ(t.get_weights(), u.get_weights());
  fo.monitor = "median";
  EXPECT_THROW(t.fit(ds, fo), std::invalid_argument);
}

// With EMA, validation and checkpointing use the averaged weights: the restored weights must
// reproduce the best epoch's validation AUC, differ from a run without EMA, and export exactly.
TEST(Trainer, FitWithEmaDropoutAndSmoothing) {
  io::Dataset ds;
  ds.num_classes = 2;
  ds.train = synthetic(192, 16, 9);
  ds.val = synthetic(64, 16, 10);
  FitOptions fo;
  fo.train = quick();
  fo.train.label_smoothing = 0.1;
  fo.train.warmup_epochs = 1;
  fo.epochs = 4;
  fo.patience = 0;
  Trainer plain(ModelSpec{.image_size = 16, .dropout = 0.2}, 4);
  plain.fit(ds, fo);
  fo.ema_decay = 0.9;
  Trainer t(ModelSpec{.image_size = 16, .dropout = 0.2}, 4);
  const auto r = t.fit(ds, fo);
  ASSERT_EQ(r.history.size(), 4u);
  const auto vm = t.evaluate(ds.val);
  EXPECT_NEAR(vm.auc, r.history[static_cast<std::size_t>(r.best_epoch)].val_auc, 1e-9);
  EXPECT_GT(vm.auc, 0.9);
  const auto wa = plain.get_weights(), wb = t.get_weights();
  double diff = 0;
  for (std::size_t i = 0; i < wa.size(); ++i) diff = std::max(diff, static_cast<double>(std::abs(wa[i] - wb[i])));
  EXPECT_GT(diff, 1e-4);
  auto ir = t.export_ir();
  ASSERT_TRUE(ir.ok()) << ir.status().to_string();
  EXPECT_LT(max_logit_diff(t, *ir, ds.val), 1e-4);
  fo.ema_decay = 1.0;
  EXPECT_THROW(t.fit(ds, fo), std::invalid_argument);
}

TEST(Trainer, ZoomIntensityAndMixupAreDeterministicAndLearn) {
  const auto train = synthetic(256, 16, 21), test = synthetic(128, 16, 22);
  TrainOptions o = quick();
  o.augment = true;
  o.hflip = false;  // a flip swaps the synthetic classes
  o.max_scale = 0.1;
  o.max_brightness = 0.1;
  o.max_contrast = 0.2;
  o.mixup_alpha = 0.4;
  Trainer a(ModelSpec{.image_size = 16}, 8), b(ModelSpec{.image_size = 16}, 8), plain(ModelSpec{.image_size = 16}, 8);
  const double la = a.train_epochs(train, {}, 4, o);
  EXPECT_EQ(la, b.train_epochs(train, {}, 4, o));
  EXPECT_EQ(a.get_weights(), b.get_weights());
  TrainOptions p = quick();
  p.augment = true;
  p.hflip = false;
  plain.train_epochs(train, {}, 4, p);
  EXPECT_NE(a.get_weights(), plain.get_weights());  // the options change training
  const auto m = a.evaluate(test);
  EXPECT_GT(m.accuracy, 0.9);
  EXPECT_GT(m.auc, 0.95);
}

// Knowledge distillation: with random labels the cross-entropy alone cannot learn the task, the
// distillation term alone (alpha = 1) learns the teacher's function; alpha = 0 is bit for bit the
// training without a teacher (scoring the teacher draws nothing and changes no state).
TEST(Trainer, DistillationLearnsTheTeachersFunction) {
  const auto train = synthetic(256, 16, 51), test = synthetic(128, 16, 52);
  Trainer teacher(ModelSpec{.arch = Architecture::kResNet, .image_size = 16}, 5);
  teacher.train_epochs(train, {}, 3, quick());
  ASSERT_GT(teacher.evaluate(test).accuracy, 0.9);
  io::SplitData noisy = train;
  SeededRng rng(seed_from_u64(53));
  for (auto& y : noisy.labels) y = static_cast<int>(rng.uniform(2));
  TrainOptions kd = quick();
  kd.distill_teacher = &teacher;
  kd.distill_alpha = 1.0;
  kd.distill_temperature = 2.0;
  Trainer student(ModelSpec{.image_size = 16}, 6), alone(ModelSpec{.image_size = 16}, 6);
  student.train_epochs(noisy, {}, 4, kd);
  alone.train_epochs(noisy, {}, 4, quick());
  EXPECT_GT(student.evaluate(test).accuracy, 0.9);
  EXPECT_LT(alone.evaluate(test).accuracy, 0.8);

  TrainOptions zero = quick();
  zero.distill_teacher = &teacher;
  zero.distill_alpha = 0.0;
  Trainer z(ModelSpec{.image_size = 16}, 7), plain(ModelSpec{.image_size = 16}, 7);
  z.train_epochs(train, {}, 1, zero);
  plain.train_epochs(train, {}, 1, quick());
  EXPECT_EQ(z.get_weights(), plain.get_weights());

  Trainer caps(ModelSpec{.arch = Architecture::kCapsNet, .image_size = 28}, 8);
  EXPECT_THROW(caps.train_epochs(synthetic(32, 28, 54), {}, 1, kd), std::invalid_argument);
}

// Binary soft targets of randomly drawn other rows (with replacement): targets unrelated to the
// images they are paired with, the negative control of the distillation tests.
std::vector<double> shuffled_targets(const std::vector<double>& q, std::uint64_t seed) {
  const std::size_t n = q.size() / 2;
  std::vector<double> out(q.size());
  SeededRng rng(seed_from_u64(seed));
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = rng.uniform(n);
    out[2 * i] = q[2 * j];
    out[2 * i + 1] = q[2 * j + 1];
  }
  return out;
}

// A ResNet teacher trained on the synthetic task (its test ACC checked), the unlabelled reference
// images (seed), a test split (seed + 1), the teacher's soft targets on the reference, and the
// shuffled control targets.
struct TeacherTargets {
  io::SplitData ref, test;
  std::vector<double> q, shuffled;
};
TeacherTargets teacher_targets(std::uint64_t seed, std::uint64_t teacher_seed) {
  TeacherTargets t{synthetic(256, 16, seed), synthetic(128, 16, seed + 1), {}, {}};
  Trainer teacher(ModelSpec{.arch = Architecture::kResNet, .image_size = 16}, teacher_seed);
  teacher.train_epochs(synthetic(256, 16, seed + 2), {}, 3, quick());
  EXPECT_GT(teacher.evaluate(t.test).accuracy, 0.9);
  t.q = teacher.predict_proba(t.ref);
  t.shuffled = shuffled_targets(t.q, seed + 3);
  return t;
}

// Federated distillation's digest step: students of other architectures trained only on the
// teacher's soft predictions on unlabelled reference images learn its function; the negative control
// (targets of a shuffled reference, i.e. unrelated to the images) does not.
TEST(Trainer, DistillEpochsLearnsFromSoftTargetsOnly) {
  const auto [ref, test, q, shuffled] = teacher_targets(61, 9);
  Trainer student(ModelSpec{.image_size = 16}, 10), control(ModelSpec{.image_size = 16}, 10);
  student.distill_epochs(ref, q, 4, quick());
  control.distill_epochs(ref, shuffled, 4, quick());
  EXPECT_GT(student.evaluate(test).accuracy, 0.9);
  EXPECT_LT(control.evaluate(test).accuracy, 0.75);
  // capsnet (28 px): its soft margin loss follows the targets too.
  const auto ref28 = synthetic(192, 28, 65), test28 = synthetic(96, 28, 66);
  Trainer t28(ModelSpec{.arch = Architecture::kResNet, .image_size = 28}, 11);
  t28.train_epochs(synthetic(192, 28, 67), {}, 3, quick());
  ASSERT_GT(t28.evaluate(test28).accuracy, 0.9);
  Trainer caps(ModelSpec{.arch = Architecture::kCapsNet, .image_size = 28}, 12);
  caps.distill_epochs(ref28, t28.predict_proba(ref28), 3, quick());
  EXPECT_GT(caps.evaluate(test28).accuracy, 0.85);

  Trainer bad(ModelSpec{.image_size = 16}, 13);
  EXPECT_THROW(bad.distill_epochs(ref, std::span<const double>(q).subspan(2), 1, quick()), std::invalid_argument);
  auto out_of_range = q;
  out_of_range[0] = 1.5;
  EXPECT_THROW(bad.distill_epochs(ref, out_of_range, 1, quick()), std::invalid_argument);
  EXPECT_THROW(bad.distill_epochs(ref28, t28.predict_proba(ref28), 1, quick()), std::invalid_argument);
}

// SimCLR-style pretraining (Trainer::contrastive_epochs): without labels, the NT-Xent loss falls
// well below chance (log(2B - 1)), also on held-out images (the network tells two views of an image
// from the views of other images better than at initialisation), and the labels are not read (the
// same run with every label changed gives the same weights).
TEST(Trainer, ContrastivePretrainingLearnsViewsWithoutLabels) {
  const auto train = synthetic(256, 16, 81), held_out = synthetic(128, 16, 82);
  const ModelSpec spec{.image_size = 16, .num_classes = 16};  // 16: the projection dimension
  TrainOptions o = quick();
  o.augment = true;
  o.hflip = false;
  o.max_shift_px = 2;
  o.max_rotation_deg = 10;
  o.max_brightness = 0.1;
  o.max_contrast = 0.2;
  TrainOptions probe = o;  // scores the loss: no step moves a weight
  probe.learning_rate = 0;
  probe.range_penalty = 0;
  const double chance = std::log(2.0 * 32 - 1);

  Trainer t(spec, 21), untrained(spec, 21);
  std::vector<double> losses;
  o.on_epoch = [&](int, double l) { losses.push_back(l); };
  t.contrastive_epochs(train, 16, o, 0.5);
  const std::vector<float> trained = t.get_weights();
  ASSERT_EQ(losses.size(), 16u);
  EXPECT_LT(losses.back(), losses.front());
  // The halves images differ only in their noise, so telling one image's views from the others'
  // is hard; the margins below are well outside what the untrained network scores.
  EXPECT_LT(losses.back(), chance - 0.6) << "chance " << chance;
  const double held_trained = t.contrastive_epochs(held_out, 1, probe, 0.5);
  const double held_untrained = untrained.contrastive_epochs(held_out, 1, probe, 0.5);
  EXPECT_GT(held_untrained, chance - 0.6);
  EXPECT_LT(held_trained, held_untrained - 0.3) << held_trained << " vs " << held_untrained;

  auto relabelled = train;
  for (int& y : relabelled.labels) y = 1 - y;
  Trainer same(spec, 21);
  o.on_epoch = nullptr;
  same.contrastive_epochs(relabelled, 16, o, 0.5);
  EXPECT_EQ(same.get_weights(), trained);

  Trainer bad(spec, 22);
  EXPECT_THROW(bad.contrastive_epochs(train, 1, quick(), 0.5), std::invalid_argument);  // augmentation off
  EXPECT_THROW(bad.contrastive_epochs(train, 1, o, 0.0), std::invalid_argument);
  EXPECT_THROW(bad.contrastive_epochs(synthetic(8, 28, 83), 1, o, 0.5), std::invalid_argument);
  Trainer caps(ModelSpec{.arch = Architecture::kCapsNet, .image_size = 28}, 23);
  EXPECT_THROW(caps.contrastive_epochs(synthetic(8, 28, 84), 1, o, 0.5), std::invalid_argument);
}

// Joint distillation (TrainOptions::consensus_*): a member whose private data holds one class only
// learns the other from the consortium's consensus on unlabelled reference images, because every
// private step also fits the consensus. The same private training without it predicts one class,
// and a consensus unrelated to the images (targets of a shuffled reference) teaches nothing.
TEST(Trainer, JointDistillationTeachesTheClassAHospitalNeverSaw) {
  const auto [ref, test, q, shuffled] = teacher_targets(71, 14);
  const auto all = synthetic(256, 16, 75);
  std::vector<std::size_t> only0;  // the label-skewed hospital: class 0 only
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all.labels[i] == 0) only0.push_back(i);
  }
  TrainOptions o = quick();
  o.class_weighting = false;
  TrainOptions joint = o, unrelated = o;
  joint.consensus_images = unrelated.consensus_images = &ref;
  joint.consensus_targets = q;
  unrelated.consensus_targets = shuffled;
  joint.consensus_weight = unrelated.consensus_weight = 1.0;
  Trainer a(ModelSpec{.image_size = 16}, 15), b(ModelSpec{.image_size = 16}, 15), c(ModelSpec{.image_size = 16}, 15);
  a.train_epochs(all, only0, 4, joint);
  b.train_epochs(all, only0, 4, o);
  c.train_epochs(all, only0, 4, unrelated);
  EXPECT_GT(a.evaluate(test).accuracy, 0.85);
  EXPECT_LT(b.evaluate(test).accuracy, 0.65);
  EXPECT_LT(c.evaluate(test).accuracy, 0.75);
  // Weight 0 is off: the same weights as private training alone.
  TrainOptions zero = joint;
  zero.consensus_weight = 0;
  Trainer z(ModelSpec{.image_size = 16}, 15);
  z.train_epochs(all, only0, 4, zero);
  EXPECT_EQ(z.get_weights(), b.get_weights());
  // Bad consensus shapes and values are refused.
  Trainer bad(ModelSpec{.image_size = 16}, 16);
  TrainOptions short_q = joint;
  short_q.consensus_targets.resize(q.size() - 2);
  EXPECT_THROW(bad.train_epochs(all, only0, 1, short_q), std::invalid_argument);
  TrainOptions out_of_range = joint;
  out_of_range.consensus_targets[0] = 1.5;
  EXPECT_THROW(bad.train_epochs(all, only0, 1, out_of_range), std::invalid_argument);
  const auto ref28 = synthetic(16, 28, 76);
  TrainOptions wrong_size = joint;
  wrong_size.consensus_images = &ref28;
  wrong_size.consensus_targets.assign(ref28.size() * 2, 0.5);
  EXPECT_THROW(bad.train_epochs(all, only0, 1, wrong_size), std::invalid_argument);
}

// Three independently trained members merged into one ModelIr: its C++ forward pass is the mean of
// the members' libtorch logits, with the activation polynomials each member learned. One, two and
// three conv blocks (the recipes v5, v7/v8 and v9): from two on, every conv after the first is
// zero-padded and reads its members' activation constants through the added constant channel.
class MergedEnsemble : public ::testing::TestWithParam<int> {};

TEST_P(MergedEnsemble, MatchesMeanOfLibtorchLogits) {
  const auto train = synthetic(192, 16, 31), test = synthetic(64, 16, 32);
  std::vector<Trainer> members;
  std::vector<ModelIr> irs;
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    members.emplace_back(ModelSpec{.image_size = 16, .depth = GetParam()}, seed);
    members.back().train_epochs(train, {}, 2, quick());
    auto ir = members.back().export_ir();
    ASSERT_TRUE(ir.ok()) << ir.status().to_string();
    irs.push_back(*ir);
  }
  ASSERT_NE(irs[0].layers[1].a, irs[1].layers[1].a);  // learned polynomials differ
  const auto merged = merge_ensemble(irs);
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  std::vector<double> mean(test.size() * 2, 0.0);
  for (const auto& t : members) {
    const auto l = t.predict_logits(test);
    for (std::size_t i = 0; i < l.size(); ++i) mean[i] += l[i] / 3.0;
  }
  const auto got = forward(*merged, test.images, test.size());
  double d = 0;
  for (std::size_t i = 0; i < got.size(); ++i) d = std::max(d, std::abs(got[i] - mean[i]));
  EXPECT_LT(d, 1e-4);
  EXPECT_EQ(depth_report(*merged).total_absorbed, depth_report(irs[0]).total_absorbed);
  EXPECT_EQ(std::count_if(merged->layers.begin(), merged->layers.end(), [](const auto& l) { return l.kind == OpKind::kConv2d; }),
            GetParam());
}
INSTANTIATE_TEST_SUITE_P(Blocks, MergedEnsemble, ::testing::Values(1, 2, 3),
                         [](const auto& p) { return "depth" + std::to_string(p.param); });

// Transfer learning: a new trainer initialised from an exported model computes (nearly) the same
// function before any training (batch norms restart as the identity, eps aside).
TEST(Trainer, InitFromExportedModel) {
  const auto train = synthetic(128, 16, 41), test = synthetic(64, 16, 42);
  Trainer src(ModelSpec{.image_size = 16}, 5);
  src.train_epochs(train, {}, 2, quick());
  const auto ir = src.export_ir();
  ASSERT_TRUE(ir.ok());
  Trainer dst(ModelSpec{.image_size = 16}, 6);
  const auto before = max_logit_diff(dst, *ir, test);
  const auto taken = dst.init_from(*ir);
  ASSERT_TRUE(taken.ok()) << taken.status().to_string();
  EXPECT_EQ(taken->size(), 5u);  // conv0, act0, fc1, act_fc, fc2
  const auto after = max_logit_diff(dst, *ir, test);
  EXPECT_GT(before, 1e-2);
  EXPECT_LT(after, 1e-3);
  // A classifier of another shape stays random; other shapes and families are refused.
  Trainer three(ModelSpec{.image_size = 16, .num_classes = 3}, 6);
  const auto t3 = three.init_from(*ir);
  ASSERT_TRUE(t3.ok());
  EXPECT_EQ(t3->size(), 4u);
  Trainer wide(ModelSpec{.image_size = 16, .width = 4}, 6);
  EXPECT_FALSE(wide.init_from(*ir).ok());
  Trainer bigger(ModelSpec{.image_size = 20}, 6);
  EXPECT_FALSE(bigger.init_from(*ir).ok());
  // An empty bias in the IR means zero (valid IR), not a shape mismatch.
  ModelIr no_bias = *ir;
  for (auto& l : no_bias.layers) {
    if (l.name == "fc1") l.bias.clear();
  }
  ASSERT_TRUE(no_bias.validate().ok());
  Trainer nb(ModelSpec{.image_size = 16}, 6);
  EXPECT_TRUE(nb.init_from(no_bias).ok());
}

// Fine-tuning a backbone trained under another recipe: the network is built from the model's
// layer list (here 2 conv blocks and other widths, where the target spec would build 1 block),
// every layer is taken, and the first forward before any step is the model's reference forward.
TEST(Trainer, FineTuneFromModelOfAnotherDepth) {
  const auto train = synthetic(128, 16, 51), test = synthetic(64, 16, 52);
  for (const int src_depth : {2, 1}) {
    SCOPED_TRACE("source depth " + std::to_string(src_depth));
    Trainer src(ModelSpec{.image_size = 16, .width = 4, .depth = src_depth, .hidden = 24, .poly_range = 3.0}, 5);
    src.train_epochs(train, {}, 2, quick());
    const auto ir = src.export_ir();
    ASSERT_TRUE(ir.ok()) << ir.status().to_string();
    // The target's own recipe: another depth, default widths, dropout that the IR cannot know.
    const ModelSpec target{.image_size = 16, .depth = 3 - src_depth, .dropout = 0.2};
    Trainer by_recipe(target, 6);
    const auto refused = by_recipe.init_from(*ir);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().to_string().find("another number of layers"), std::string::npos);

    const auto spec = spec_from_ir(*ir, target);
    ASSERT_TRUE(spec.ok()) << spec.status().to_string();
    EXPECT_EQ(spec->arch, Architecture::kHeCnn);
    EXPECT_EQ(spec->depth, src_depth);
    EXPECT_EQ(spec->width, 4);
    EXPECT_EQ(spec->hidden, 24);
    EXPECT_DOUBLE_EQ(spec->poly_range, 3.0);
    EXPECT_DOUBLE_EQ(spec->dropout, 0.2);  // the target's
    EXPECT_EQ(spec->num_classes, 2);
    Trainer dst(*spec, 6);
    EXPECT_EQ(dst.num_trainable(), src.num_trainable());
    const double before = max_logit_diff(dst, *ir, test);
    const auto taken = dst.init_from(*ir);
    ASSERT_TRUE(taken.ok()) << taken.status().to_string();
    EXPECT_EQ(taken->size(), 2u * static_cast<std::size_t>(src_depth) + 3);  // conv/act per block, fc1, act_fc, fc2
    EXPECT_EQ(taken->back(), "fc2");
    EXPECT_GT(before, 1e-2);
    EXPECT_LT(max_logit_diff(dst, *ir, test), 1e-3);
    // End-to-end fine-tuning moves every block, and the result keeps the model's layer list.
    dst.train_epochs(train, {}, 1, quick());
    const auto tuned = dst.export_ir();
    ASSERT_TRUE(tuned.ok());
    ASSERT_EQ(tuned->layers.size(), ir->layers.size());
    for (std::size_t i = 0; i < ir->layers.size(); ++i) {
      EXPECT_EQ(tuned->layers[i].name, ir->layers[i].name);
      if (ir->layers[i].kind == OpKind::kConv2d || ir->layers[i].kind == OpKind::kDense) {
        EXPECT_NE(tuned->layers[i].weight, ir->layers[i].weight) << ir->layers[i].name;
      }
    }
    // Another class count: the architecture still comes from the model, only fc2 starts random.
    ModelSpec three = target;
    three.num_classes = 3;
    const auto spec3 = spec_from_ir(*ir, three);
    ASSERT_TRUE(spec3.ok());
    EXPECT_EQ(spec3->num_classes, 3);
    Trainer t3(*spec3, 6);
    const auto taken3 = t3.init_from(*ir);
    ASSERT_TRUE(taken3.ok());
    EXPECT_EQ(taken3->size(), 2u * static_cast<std::size_t>(src_depth) + 2);
    EXPECT_EQ(std::count(taken3->begin(), taken3->end(), "fc2"), 0);
  }
}

// What cannot be fine-tuned is still refused, with the reason.
TEST(Trainer, FineTuneRefusesIncompatibleModels) {
  const auto train = synthetic(64, 16, 61);
  Trainer src(ModelSpec{.image_size = 16, .depth = 2}, 5);
  src.train_epochs(train, {}, 1, quick());
  const auto ir = src.export_ir();
  ASSERT_TRUE(ir.ok());
  auto message = [](const Result<ModelSpec>& r) { return r.ok() ? std::string("ok") : r.status().to_string(); };
  // Another input size or channel count.
  const auto other_size = spec_from_ir(*ir, ModelSpec{.image_size = 20});
  EXPECT_NE(message(other_size).find("takes 1x16x16 images, this training 1x20x20"), std::string::npos)
      << message(other_size);
  const auto other_channels = spec_from_ir(*ir, ModelSpec{.in_channels = 3, .image_size = 16});
  EXPECT_NE(message(other_channels).find("this training 3x16x16"), std::string::npos) << message(other_channels);
  // Another family, on either side.
  const auto resnet_target = spec_from_ir(*ir, ModelSpec{.arch = Architecture::kResNet, .image_size = 16});
  EXPECT_NE(message(resnet_target).find("builds a resnet"), std::string::npos) << message(resnet_target);
  Trainer res(ModelSpec{.arch = Architecture::kResNet, .image_size = 16, .width = 4, .depth = 1}, 5);
  const auto res_ir = res.export_ir();
  ASSERT_TRUE(res_ir.ok());
  const auto from_resnet = spec_from_ir(*res_ir, ModelSpec{.image_size = 16});
  EXPECT_NE(message(from_resnet).find("not an hecnn"), std::string::npos) << message(from_resnet);
  // An hecnn-labelled model whose layers are not an hecnn chain (a second conv of kernel 5).
  ModelIr odd = *ir;
  for (auto& l : odd.layers) {
    if (l.name == "conv1") l.name = "convX";
  }
  const auto renamed = spec_from_ir(odd, ModelSpec{.image_size = 16});
  EXPECT_NE(message(renamed).find("layer 2 ('convX') is not the flatten"), std::string::npos) << message(renamed);
}

}  // namespace
}  // namespace heal::nn::torch_backend
