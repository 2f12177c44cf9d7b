// DeiT (Touvron et al., arXiv:2012.12877) in nn/torch: the oracle check that the exported ModelIr
// (format version 2) run by the plain C++ reference forward pass reproduces libtorch's logits,
// the default size, AdamW, and hard-label distillation from a ModelIr teacher.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "heal/core/rng.h"
#include "heal/nn/forward.h"
#include "heal/nn/passes.h"
#include "heal/nn/torch/trainer.h"

namespace heal::nn::torch_backend {
namespace {

const bool kOneThread = (set_num_threads(1), true);

// Label 1 when the image is brighter, plus per-pixel noise; `channels` copies of the image with
// per-channel gains (so the channels differ). (The CNN tests' left-versus-right task needs the
// position embeddings to be learned first: a tiny DeiT is at chance on it after 4 epochs.)
io::SplitData synthetic(std::size_t n, int side, std::uint64_t seed, int channels = 1) {
  io::SplitData d;
  d.channels = channels;
  d.height = d.width = side;
  SeededRng rng(seed_from_u64(seed));
  std::vector<float> img(static_cast<std::size_t>(side) * side);
  for (std::size_t i = 0; i < n; ++i) {
    const int y = static_cast<int>(rng.uniform(2));
    d.labels.push_back(y);
    for (int r = 0; r < side; ++r) {
      for (int c = 0; c < side; ++c) {
        const double base = y == 1 ? 0.56 : 0.44;
        img[static_cast<std::size_t>(r * side + c)] =
            static_cast<float>(std::clamp(base + 0.25 * (rng.uniform_double() - 0.5), 0.0, 1.0));
      }
    }
    for (int ch = 0; ch < channels; ++ch) {
      for (float v : img) d.images.push_back(v * (1.0f - 0.2f * static_cast<float>(ch)));
    }
  }
  return d;
}

TrainOptions quick() {
  TrainOptions o;
  o.augment = false;
  o.batch_size = 32;
  o.learning_rate = 2e-3;
  o.optimizer = OptimizerKind::kAdamW;
  o.weight_decay = 0.05;
  return o;
}

ModelSpec small_deit(int channels = 1) {
  return ModelSpec{.arch = Architecture::kDeiT,
                   .in_channels = channels,
                   .image_size = 16,
                   .width = 24,
                   .depth = 2,
                   .hidden = 48,
                   .patch = 4,
                   .heads = 4};
}

// Reported by the test (ctest output) and quoted in src/nn/README.md.
TEST(DeiT, IrForwardEqualsLibtorch) {
  for (int channels : {1, 3}) {
    Trainer t(small_deit(channels), 21);
    const auto train = synthetic(64, 16, 1, channels), test = synthetic(32, 16, 2, channels);
    TrainOptions o = quick();
    o.augment = true;
    t.train_epochs(train, {}, 1, o);  // off the initialisation (layer norms, biases)
    auto ir = t.export_ir();
    ASSERT_TRUE(ir.ok()) << ir.status().to_string();
    EXPECT_EQ(model_format_version(*ir), 2);
    EXPECT_EQ(ir->input, (Shape{channels, 16, 16}));
    EXPECT_EQ(ir->layers.back().in_channels, 2 * 24);  // class + distillation token
    const auto a = t.predict_logits(test);
    const auto b = forward(*ir, test.images, test.size());
    ASSERT_EQ(a.size(), b.size());
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      diff = std::max(diff, std::abs(a[i] - b[i]));
      scale = std::max(scale, std::abs(a[i]));
    }
    std::printf("deit %d channel(s): max |logit libtorch - reference forward| = %.3g (max |logit| %.3g)\n", channels,
                diff, scale);
    EXPECT_LT(diff, 1e-5);
    EXPECT_GT(scale, 0.05);  // the logits are not trivially zero
    auto back = deserialize_model(serialize_model(*ir));
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(forward(*back, test.images, test.size()), b);
    EXPECT_FALSE(depth_report(*ir).he_compatible);
  }
}

TEST(DeiT, DefaultSizeAndParameterCount) {
  Trainer t(ModelSpec{.arch = Architecture::kDeiT}, 1);  // 1x28x28, 2 classes
  const ModelSpec& s = t.spec();
  EXPECT_EQ(s.width, 120);
  EXPECT_EQ(s.depth, 4);
  EXPECT_EQ(s.hidden, 240);
  EXPECT_EQ(s.heads, 4);
  EXPECT_EQ(s.patch, 4);  // 7x7 = 49 patches
  // patch conv 2,040 + tokens 240 + positions 51*120 + 4 blocks * 116,520 + norm 240 + heads 484.
  EXPECT_EQ(t.num_trainable(), 475204u);
  EXPECT_EQ(t.num_parameters(), t.num_trainable());  // no batch-norm statistics
  auto ir = t.export_ir();
  ASSERT_TRUE(ir.ok()) << ir.status().to_string();
  EXPECT_EQ(ir->layers.size(), 2u + 4u * 9u + 3u);  // patch conv, tokens, blocks, norm, features, head
  EXPECT_EQ(ir->num_parameters(), 475204u - 2u);    // the two heads become one dense layer
  const auto shapes = ir->infer_shapes();
  ASSERT_TRUE(shapes.ok());
  EXPECT_EQ((*shapes)[1], (Shape{51, 1, 120}));
  EXPECT_EQ((*shapes)[shapes->size() - 2], (Shape{240, 1, 1}));  // the features
  EXPECT_EQ(ir->layers[ir->layers.size() - 2].name, "features");
  Trainer rgb(ModelSpec{.arch = Architecture::kDeiT, .in_channels = 3}, 1);
  EXPECT_EQ(rgb.num_trainable(), 475204u + 2u * 16u * 120u);
  Trainer big(ModelSpec{.arch = Architecture::kDeiT, .image_size = 64}, 1);
  EXPECT_EQ(big.spec().patch, 9);  // still a 7x7 grid
  EXPECT_THROW(Trainer(ModelSpec{.arch = Architecture::kDeiT, .width = 30, .heads = 4}, 1), std::invalid_argument);
}

TEST(DeiT, LearnsSyntheticTaskDeterministically) {
  const auto train = synthetic(256, 16, 3), test = synthetic(128, 16, 4);
  Trainer a(small_deit(), 3), b(small_deit(), 3);
  a.train_epochs(train, {}, 4, quick());
  b.train_epochs(train, {}, 4, quick());
  EXPECT_EQ(a.get_weights(), b.get_weights());
  const auto m = a.evaluate(test);
  std::printf("deit on the synthetic task: test accuracy %.3f, AUC %.3f\n", m.accuracy, m.auc);
  EXPECT_GT(m.accuracy, 0.9);
}

// Hard-label distillation (DeiT sec. 5.2) from an exported CNN evaluated by the reference
// forward pass: with labels independent of the task the class head learns nothing useful; the
// distillation head learns the teacher's argmax, which carries the task. (Without the teacher the
// test accuracy is whatever the label noise happens to favour; it is deterministic for these seeds
// and printed.)
TEST(DeiT, HardDistillationFromAModelIrTeacher) {
  const auto train = synthetic(256, 16, 51), test = synthetic(128, 16, 52);
  Trainer cnn(ModelSpec{.image_size = 16}, 5);
  TrainOptions to = quick();
  to.optimizer = OptimizerKind::kAdam;
  to.weight_decay = 1e-4;
  to.learning_rate = 3e-3;
  cnn.train_epochs(train, {}, 3, to);
  auto teacher = cnn.export_ir();
  ASSERT_TRUE(teacher.ok());
  ASSERT_GT(cnn.evaluate(test).accuracy, 0.9);
  // Labels independent of the task by construction: within each true class, alternate 0 / 1.
  io::SplitData noisy = train;
  int seen[2] = {0, 0};
  for (std::size_t i = 0; i < noisy.size(); ++i) noisy.labels[i] = seen[train.labels[i]]++ % 2;
  TrainOptions kd = quick();
  kd.hard_teacher = &*teacher;
  Trainer student(small_deit(), 6), alone(small_deit(), 6);
  student.train_epochs(noisy, {}, 5, kd);
  alone.train_epochs(noisy, {}, 5, quick());
  const double acc_kd = student.evaluate(test).accuracy, acc_alone = alone.evaluate(test).accuracy;
  std::printf("deit on task-independent labels: test accuracy %.3f with the teacher, %.3f without\n", acc_kd,
              acc_alone);
  EXPECT_GT(acc_kd, 0.85);
  EXPECT_LT(acc_alone, 0.75);

  // A CNN student (no distillation head) gets 0.5 CE(y) + 0.5 CE(teacher): still follows it.
  Trainer cnn_student(ModelSpec{.image_size = 16}, 7);
  TrainOptions ck = to;
  ck.hard_teacher = &*teacher;
  cnn_student.train_epochs(noisy, {}, 4, ck);
  EXPECT_GT(cnn_student.evaluate(test).accuracy, 0.85);

  // A teacher of another input shape is refused.
  ModelIr wrong = *teacher;
  wrong.input = {1, 8, 8};
  TrainOptions bad = quick();
  bad.hard_teacher = &wrong;
  Trainer c(small_deit(), 8);
  EXPECT_THROW(c.train_epochs(train, {}, 1, bad), std::invalid_argument);
}

}  // namespace
}  // namespace heal::nn::torch_backend
