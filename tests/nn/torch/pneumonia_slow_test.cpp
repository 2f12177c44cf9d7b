// Real data: a few epochs of hecnn on PneumoniaMNIST must learn the task, and the exported
// ModelIr's reference forward pass must reproduce libtorch's logits on the official test split.
#include <gtest/gtest.h>

#include <cmath>

#include "heal/io/dataset.h"
#include "heal/nn/forward.h"
#include "heal/nn/passes.h"
#include "heal/nn/torch/trainer.h"
#include "testing/shared_data.h"

namespace heal::nn::torch_backend {
namespace {

// One intra-op thread: on the shared 2-core machine two OpenMP threads mostly spin at barriers.
const bool kOneThread = (set_num_threads(1), true);

TEST(PneumoniaSlow, HeCnnLearnsAndExportMatchesLibtorch) {
  HEAL_REQUIRE_SHARED_DATA(path, "pneumoniamnist.npz");
  auto ds = io::load_medmnist_npz(path);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  Trainer t(ModelSpec{}, 1);
  FitOptions fo;
  fo.epochs = 3;
  const auto fit = t.fit(*ds, fo);
  ASSERT_EQ(fit.history.size(), 3u);
  const auto m = t.evaluate(ds->test);
  EXPECT_GT(m.auc, 0.88);
  EXPECT_GT(m.accuracy, 0.78);
  auto ir = t.export_ir();
  ASSERT_TRUE(ir.ok()) << ir.status().to_string();
  EXPECT_LE(depth_report(*ir).total_absorbed, 6);
  const auto a = t.predict_logits(ds->test);
  const auto b = forward(*ir, ds->test.images, ds->test.size());
  ASSERT_EQ(a.size(), b.size());
  double diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  EXPECT_LT(diff, 1e-4);
  const auto irm = compute_metrics(softmax_rows(b, 2), ds->test.labels, 2);
  EXPECT_NEAR(irm.accuracy, m.accuracy, 2.0 / 624);
}

TEST(PneumoniaSlow, ResNetExportMatchesLibtorch) {
  HEAL_REQUIRE_SHARED_DATA(path, "pneumoniamnist.npz");
  auto ds = io::load_medmnist_npz(path);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  Trainer t(ModelSpec{.arch = Architecture::kResNet}, 1);
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < 1024; ++i) idx.push_back(i);
  t.train_epochs(ds->train, idx, 1, TrainOptions{});
  auto ir = t.export_ir();
  ASSERT_TRUE(ir.ok()) << ir.status().to_string();
  io::SplitData few = io::subset(ds->test, {0, 1, 2, 3, 4, 5, 6, 7, 100, 200, 300, 400, 500, 600});
  const auto a = t.predict_logits(few);
  const auto b = forward(*ir, few.images, few.size());
  double diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  EXPECT_LT(diff, 1e-4);
  EXPECT_FALSE(depth_report(*ir).he_compatible);
}

}  // namespace
}  // namespace heal::nn::torch_backend
