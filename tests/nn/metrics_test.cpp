#include "heal/nn/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "heal/core/rng.h"
#include "heal/nn/plots.h"

namespace heal::nn {
namespace {

TEST(RocAuc, ClassicExample) {
  const std::vector<double> s{0.1, 0.4, 0.35, 0.8};
  const std::vector<int> y{0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(roc_auc(s, y), 0.75);
}

TEST(RocAuc, TiesCountHalf) {
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<double>{0.5, 0.5, 0.5, 0.5}, std::vector<int>{0, 1, 0, 1}), 0.5);
  // pos {0.5, 0.9}, neg {0.5, 0.1}: pairs (0.5,0.5)=0.5, (0.5,0.1)=1, (0.9,*)=2 -> 3.5/4.
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<double>{0.5, 0.9, 0.5, 0.1}, std::vector<int>{1, 1, 0, 0}), 0.875);
  EXPECT_TRUE(std::isnan(roc_auc(std::vector<double>{0.1, 0.2}, std::vector<int>{1, 1})));
}

TEST(RocAuc, MatchesBruteForcePairCount) {
  SeededRng rng(seed_from_u64(1));
  for (int trial = 0; trial < 20; ++trial) {
    const std::size_t n = 50 + rng.uniform(100);
    std::vector<double> s(n);
    std::vector<int> y(n);
    for (std::size_t i = 0; i < n; ++i) {
      s[i] = static_cast<double>(rng.uniform(12)) / 11.0;  // many ties
      y[i] = static_cast<int>(rng.uniform(2));
    }
    double num = 0, den = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (y[i] == 1 && y[j] == 0) {
          den += 1;
          num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
      }
    }
    EXPECT_NEAR(roc_auc(s, y), num / den, 1e-12);
    // The trapezoid area under roc_curve equals the AUC (ties are one diagonal step).
    const auto curve = roc_curve(s, y);
    double area = 0;
    for (std::size_t k = 1; k < curve.size(); ++k) {
      area += (curve[k].fpr - curve[k - 1].fpr) * (curve[k].tpr + curve[k - 1].tpr) / 2;
    }
    EXPECT_NEAR(area, num / den, 1e-12);
    EXPECT_DOUBLE_EQ(curve.back().fpr, 1.0);
    EXPECT_DOUBLE_EQ(curve.back().tpr, 1.0);
  }
}

TEST(ComputeMetrics, BinaryConfusionSensitivitySpecificity) {
  // labels: 1 1 1 0 0; predictions (p1 > 0.5): 1 1 0 0 1.
  const std::vector<double> p{0.1, 0.9, 0.3, 0.7, 0.6, 0.4, 0.8, 0.2, 0.45, 0.55};
  const std::vector<int> y{1, 1, 1, 0, 0};
  const auto m = compute_metrics(p, y, 2);
  EXPECT_EQ(m.n, 5u);
  EXPECT_DOUBLE_EQ(m.accuracy, 3.0 / 5);
  EXPECT_DOUBLE_EQ(m.sensitivity, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.specificity, 1.0 / 2);
  EXPECT_EQ(m.confusion[1][1], 2u);
  EXPECT_EQ(m.confusion[1][0], 1u);
  EXPECT_EQ(m.confusion[0][0], 1u);
  EXPECT_EQ(m.confusion[0][1], 1u);
  // Scores of positives {0.9, 0.7, 0.4}, negatives {0.2, 0.55}: 5 of 6 pairs ordered.
  EXPECT_DOUBLE_EQ(m.auc, 5.0 / 6);
  const double loss = -(std::log(0.9) + std::log(0.7) + std::log(0.4) + std::log(0.8) + std::log(0.45)) / 5;
  EXPECT_NEAR(m.loss, loss, 1e-12);
  EXPECT_NE(format_metrics_table(m, {"normal", "pneumonia"}).find("pneumonia"), std::string::npos);
  EXPECT_THROW(compute_metrics(p, std::vector<int>{1, 1, 1, 0, 2}, 2), std::invalid_argument);
}

TEST(Softmax, RowsSumToOneAndAreStable) {
  const auto p = softmax_rows(std::vector<double>{1000, 1001, -5, -5}, 2);
  EXPECT_NEAR(p[0] + p[1], 1.0, 1e-12);
  EXPECT_NEAR(p[1], 1 / (1 + std::exp(-1.0)), 1e-12);
  EXPECT_DOUBLE_EQ(p[2], 0.5);
}

TEST(Plots, WritesPngFiles) {
  const auto dir = std::filesystem::temp_directory_path() / "heal_nn_plot_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "roc.png").string();
  const std::vector<double> s{0.1, 0.4, 0.35, 0.8};
  const std::vector<int> y{0, 0, 1, 1};
  const Status st = plot_roc(path, roc_curve(s, y), 0.75, "test ROC");
  if (st.code() == StatusCode::kUnsupported) GTEST_SKIP() << st.to_string();
  ASSERT_TRUE(st.ok()) << st.to_string();
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {};
  f.read(sig, 8);
  EXPECT_EQ(std::string(sig + 1, 3), "PNG");
  EXPECT_GT(std::filesystem::file_size(path), 1000u);
  EXPECT_FALSE(plot_lines((dir / "no" / "x.png").string(), "t", "x", "y", {{"a", {0, 1}, {0, 1}}}).ok());
  std::filesystem::remove_all(dir);
}

TEST(Youden, PicksTheBestBalancedThreshold) {
  // desc: 0.9 P, 0.8 P, 0.4 N, 0.35 P, 0.1 N -> J is 2/3 between 0.8 and 0.4.
  const std::vector<double> s = {0.1, 0.4, 0.35, 0.8, 0.9};
  const std::vector<int> p = {0, 0, 1, 1, 1};
  EXPECT_DOUBLE_EQ(youden_threshold(s, p), 0.6);
  // Equal J at 2.5 and 0.5: the one closest to `prefer` wins.
  const std::vector<double> s2 = {0, 1, 2, 3};
  const std::vector<int> p2 = {0, 1, 0, 1};
  EXPECT_DOUBLE_EQ(youden_threshold(s2, p2, 0.0), 0.5);
  EXPECT_DOUBLE_EQ(youden_threshold(s2, p2, 3.0), 2.5);
  EXPECT_THROW(youden_threshold(s2, std::vector<int>{1, 1, 1, 1}), std::invalid_argument);
  EXPECT_THROW(youden_threshold(s2, std::vector<int>{1, 0}), std::invalid_argument);
  EXPECT_EQ(binary_margins(std::vector<double>{1, 3, 2, -1}), (std::vector<double>{2, -3}));
}

}  // namespace
}  // namespace heal::nn
