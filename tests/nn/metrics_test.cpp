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
  // Per-class entries exist for binary tasks too; the scalar fields are those of the positive class.
  ASSERT_EQ(m.per_class.size(), 2u);
  EXPECT_EQ(m.positive_class, 1);
  EXPECT_EQ(m.per_class[1].support, 3u);
  EXPECT_DOUBLE_EQ(m.per_class[1].sensitivity, m.sensitivity);
  EXPECT_DOUBLE_EQ(m.per_class[1].specificity, m.specificity);
  EXPECT_DOUBLE_EQ(m.per_class[1].auc, m.auc);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 2.0 / 3);  // TP 2, FP 1
  EXPECT_DOUBLE_EQ(m.per_class[0].sensitivity, 1.0 / 2);
  EXPECT_DOUBLE_EQ(m.per_class[0].specificity, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 1.0 / 2);
  // confusion [[1,1],[1,2]]: p_o = 3/5, p_e = (2*2 + 3*3)/25 = 13/25, kappa = (2/25)/(12/25) = 1/6;
  // with two classes the quadratic weights are the unweighted ones.
  EXPECT_NEAR(m.kappa, 1.0 / 6, 1e-12);
  EXPECT_NEAR(m.quadratic_kappa, 1.0 / 6, 1e-12);
  // Class 0 as the positive class: its recall, specificity and p(class 0) AUC.
  const auto m0 = compute_metrics(p, y, 2, 0);
  EXPECT_EQ(m0.positive_class, 0);
  EXPECT_DOUBLE_EQ(m0.sensitivity, 1.0 / 2);
  EXPECT_DOUBLE_EQ(m0.specificity, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m0.auc, 5.0 / 6);
  EXPECT_NE(format_metrics_table(m0, {"normal", "pneumonia"}).find("positive class normal"), std::string::npos);
}

// Three classes, seven images (rows: p(0), p(1), p(2); argmax = prediction):
//   r0 y=0 (.7 .2 .1) -> 0     r1 y=0 (.3 .2 .5) -> 2     r2 y=1 (.2 .6 .2) -> 1
//   r3 y=1 (.1 .3 .6) -> 2     r4 y=2 (.1 .1 .8) -> 2     r5 y=2 (.5 .3 .2) -> 0     r6 y=2 (.1 .2 .7) -> 2
// confusion [[1,0,1],[0,1,1],[1,0,2]].
const std::vector<double> kProbs3{.7, .2, .1, .3, .2, .5, .2, .6, .2, .1, .3, .6, .1, .1, .8, .5, .3, .2, .1, .2, .7};
const std::vector<int> kLabels3{0, 0, 1, 1, 2, 2, 2};

TEST(ComputeMetrics, MultiClassPerClassOneVsRest) {
  const auto m = compute_metrics(kProbs3, kLabels3, 3);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<std::size_t>>{{1, 0, 1}, {0, 1, 1}, {1, 0, 2}}));
  ASSERT_EQ(m.per_class.size(), 3u);
  // class 0: TP 1, FN 1 (r1), FP 1 (r5), TN 4.
  EXPECT_EQ(m.per_class[0].support, 2u);
  EXPECT_DOUBLE_EQ(m.per_class[0].sensitivity, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[0].specificity, 0.8);
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[0].f1, 0.5);
  // class 1: TP 1, FN 1 (r3), FP 0, TN 5; F1 = 2/(2+0+1).
  EXPECT_EQ(m.per_class[1].support, 2u);
  EXPECT_DOUBLE_EQ(m.per_class[1].sensitivity, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[1].specificity, 1.0);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 1.0);
  EXPECT_DOUBLE_EQ(m.per_class[1].f1, 2.0 / 3);
  // class 2: TP 2, FN 1 (r5), FP 2 (r1, r3), TN 2; F1 = 4/(4+2+1).
  EXPECT_EQ(m.per_class[2].support, 3u);
  EXPECT_DOUBLE_EQ(m.per_class[2].sensitivity, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.per_class[2].specificity, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[2].precision, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[2].f1, 4.0 / 7);
  // AUC of p(0): positives {.7,.3} vs negatives {.2,.1,.1,.5,.1}: 5 + 4 of 10 pairs.
  EXPECT_DOUBLE_EQ(m.per_class[0].auc, 0.9);
  // p(1): positives {.6,.3} vs {.2,.2,.1,.3,.2}: 5 + (4 + one tie) = 9.5 of 10.
  EXPECT_DOUBLE_EQ(m.per_class[1].auc, 0.95);
  // p(2): positives {.8,.2,.7} vs {.1,.5,.2,.6}: 4 + (1 + one tie) + 4 = 9.5 of 12.
  EXPECT_DOUBLE_EQ(m.per_class[2].auc, 9.5 / 12);
  // Macro values: means over the classes.
  EXPECT_NEAR(m.auc, (0.9 + 0.95 + 9.5 / 12) / 3, 1e-12);
  EXPECT_NEAR(m.sensitivity, (0.5 + 0.5 + 2.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(m.specificity, (0.8 + 1.0 + 0.5) / 3, 1e-12);
  EXPECT_NEAR(m.macro_f1, (0.5 + 2.0 / 3 + 4.0 / 7) / 3, 1e-12);
  // kappa: rows (2,2,3), columns (2,1,4), n 7: p_o = 4/7, p_e = (4+2+12)/49 = 18/49,
  // kappa = (28-18)/(49-18) = 10/31.
  EXPECT_NEAR(m.kappa, 10.0 / 31, 1e-12);
  // quadratic: w = (i-j)^2/4. observed sum w O = 1 (0->2) + 1/4 (1->2) + 1 (2->0) = 9/4; expected
  // sum w r_i c_j / n = (1/4*2*1 + 2*4 + 1/4*2*2 + 1/4*2*4 + 3*2 + 1/4*3*1) / 7 = 18.25/7;
  // kappa_w = 1 - (9/4) / (18.25/7) = 10/73.
  EXPECT_NEAR(m.quadratic_kappa, 10.0 / 73, 1e-12);
  const std::string table = format_metrics_table(m, {"mild", "moderate", "severe"});
  for (const char* want : {"per class", "moderate", "severe", "kappa        0.3226", "macro", "0.9500"}) {
    EXPECT_NE(table.find(want), std::string::npos) << want << " missing in\n" << table;
  }
  // The lines scripts read by their last field still end with the value.
  EXPECT_NE(table.find("  ROC AUC      0.8806\n"), std::string::npos) << table;
  EXPECT_NE(table.find("  accuracy     0.5714\n"), std::string::npos) << table;
}

TEST(ComputeMetrics, AbsentClassGivesNaNForThatClassOnly) {
  // Only classes 0 and 1 occur among the labels of a 3-class task.
  const std::vector<double> p{.8, .1, .1, .3, .6, .1, .2, .3, .5, .6, .3, .1};
  const std::vector<int> y{0, 1, 1, 0};
  const auto m = compute_metrics(p, y, 3);
  ASSERT_EQ(m.per_class.size(), 3u);
  EXPECT_EQ(m.per_class[2].support, 0u);
  EXPECT_TRUE(std::isnan(m.per_class[2].auc));
  EXPECT_TRUE(std::isnan(m.per_class[2].sensitivity));
  EXPECT_DOUBLE_EQ(m.per_class[2].specificity, 3.0 / 4);  // r2 predicted 2
  EXPECT_DOUBLE_EQ(m.per_class[2].precision, 0.0);
  // p(0): positives {.8,.6} vs {.3,.2}: 1; p(1): positives {.6,.3} vs {.1,.3}: 3.5/4.
  EXPECT_DOUBLE_EQ(m.per_class[0].auc, 1.0);
  EXPECT_DOUBLE_EQ(m.per_class[1].auc, 0.875);
  // Macro values skip the undefined class instead of turning NaN.
  EXPECT_DOUBLE_EQ(m.auc, (1.0 + 0.875) / 2);
  EXPECT_DOUBLE_EQ(m.sensitivity, (1.0 + 0.5) / 2);
  EXPECT_FALSE(std::isnan(m.kappa));
  const auto curves = roc_curves_one_vs_rest(p, y, 3);
  ASSERT_EQ(curves.size(), 3u);
  for (const auto& pt : curves[2]) EXPECT_EQ(pt.tpr, 0.0);
  EXPECT_NE(format_metrics_table(m).find("nan"), std::string::npos);
}

TEST(Kappa, HandComputedExamples) {
  // Cohen's 2x2 textbook example: p_o = 35/50 = 0.7, p_e = (25*30 + 25*20)/2500 = 0.5 -> 0.4.
  const std::vector<std::vector<std::size_t>> two{{20, 5}, {10, 15}};
  EXPECT_NEAR(cohen_kappa(two), 0.4, 1e-12);
  EXPECT_NEAR(quadratic_kappa(two), 0.4, 1e-12);
  // Symmetric 3x3, all marginals 5, n 15: p_o = 11/15, p_e = 1/3 -> kappa 0.6. Quadratic: the four
  // off-by-one errors weigh 1/4 each (observed 1); expected counts 5/3 everywhere, weights sum
  // 4 * 1/4 + 2 * 1 = 3 -> expected 5; kappa_w = 1 - 1/5 = 0.8.
  const std::vector<std::vector<std::size_t>> sym{{4, 1, 0}, {1, 3, 1}, {0, 1, 4}};
  EXPECT_NEAR(cohen_kappa(sym), 0.6, 1e-12);
  EXPECT_NEAR(quadratic_kappa(sym), 0.8, 1e-12);
  // Unequal marginals: rows (12,10,8), columns (14,8,8), n 30. p_o = 21/30, p_e = 312/900 ->
  // kappa = (630-312)/(900-312) = 53/98. Observed sum w O = (2+3+2+1)/4 + 1 = 3; expected
  // sum w r_i c_j / n = (24 + 96 + 35 + 20 + 112 + 16)/30 = 10.1 -> kappa_w = 1 - 3/10.1 = 71/101.
  const std::vector<std::vector<std::size_t>> asym{{10, 2, 0}, {3, 5, 2}, {1, 1, 6}};
  EXPECT_NEAR(cohen_kappa(asym), 53.0 / 98, 1e-12);
  EXPECT_NEAR(quadratic_kappa(asym), 71.0 / 101, 1e-12);
  EXPECT_THROW(cohen_kappa({{1, 2}, {3}}), std::invalid_argument);
  EXPECT_THROW(quadratic_kappa({{1, 2}, {3}}), std::invalid_argument);
}

TEST(Kappa, PerfectChanceAndDegenerate) {
  const std::vector<std::vector<std::size_t>> perfect{{3, 0, 0}, {0, 4, 0}, {0, 0, 2}};
  EXPECT_DOUBLE_EQ(cohen_kappa(perfect), 1.0);
  EXPECT_DOUBLE_EQ(quadratic_kappa(perfect), 1.0);
  // Counts equal to the product of the marginals: exactly chance level.
  const std::vector<std::vector<std::size_t>> chance{{2, 2, 2}, {2, 2, 2}, {2, 2, 2}};
  EXPECT_NEAR(cohen_kappa(chance), 0.0, 1e-12);
  EXPECT_NEAR(quadratic_kappa(chance), 0.0, 1e-12);
  // Independent random predictions: kappa near 0 (standard error ~ 1/sqrt(n) ~ 0.013 here).
  SeededRng rng(seed_from_u64(7));
  std::vector<std::vector<std::size_t>> random(4, std::vector<std::size_t>(4, 0));
  for (int i = 0; i < 6000; ++i) ++random[rng.uniform(4)][rng.uniform(4)];
  EXPECT_NEAR(cohen_kappa(random), 0.0, 0.05);
  EXPECT_NEAR(quadratic_kappa(random), 0.0, 0.05);
  // Undefined: no images, or both raters use a single class (p_e = 1).
  EXPECT_TRUE(std::isnan(cohen_kappa({{0, 0}, {0, 0}})));
  EXPECT_TRUE(std::isnan(quadratic_kappa({{0, 0}, {0, 0}})));
  EXPECT_TRUE(std::isnan(cohen_kappa({{5, 0}, {0, 0}})));
  EXPECT_TRUE(std::isnan(quadratic_kappa({{5, 0}, {0, 0}})));
  // Ordinal: two off-by-one errors cost less than two off-by-two errors with the same margins of
  // the unweighted kappa.
  const std::vector<std::vector<std::size_t>> near{{4, 1, 0}, {0, 5, 0}, {0, 1, 4}};
  const std::vector<std::vector<std::size_t>> far{{4, 0, 1}, {0, 5, 0}, {1, 0, 4}};
  EXPECT_GT(quadratic_kappa(near), quadratic_kappa(far));
  EXPECT_GT(quadratic_kappa(near), cohen_kappa(near));
}

TEST(RocCurves, OneVsRestMatchesRocCurveAndAuc) {
  const auto m = compute_metrics(kProbs3, kLabels3, 3);
  const auto curves = roc_curves_one_vs_rest(kProbs3, kLabels3, 3);
  ASSERT_EQ(curves.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    std::vector<double> s;
    std::vector<int> pos;
    for (std::size_t i = 0; i < kLabels3.size(); ++i) {
      s.push_back(kProbs3[i * 3 + k]);
      pos.push_back(kLabels3[i] == static_cast<int>(k));
    }
    const auto ref = roc_curve(s, pos);
    ASSERT_EQ(curves[k].size(), ref.size());
    double area = 0;
    for (std::size_t j = 0; j < ref.size(); ++j) {
      EXPECT_EQ(curves[k][j].fpr, ref[j].fpr);
      EXPECT_EQ(curves[k][j].tpr, ref[j].tpr);
      if (j > 0) area += (ref[j].fpr - ref[j - 1].fpr) * (ref[j].tpr + ref[j - 1].tpr) / 2;
    }
    EXPECT_NEAR(area, m.per_class[k].auc, 1e-12);
  }
  EXPECT_THROW(roc_curves_one_vs_rest(kProbs3, std::vector<int>{0, 1}, 3), std::invalid_argument);
  EXPECT_THROW(roc_curves_one_vs_rest(kProbs3, std::vector<int>{0, 0, 1, 1, 2, 2, 3}, 3), std::invalid_argument);
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

bool is_png(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {};
  f.read(sig, 8);
  return f && std::string(sig + 1, 3) == "PNG";
}

TEST(Plots, WritesMultiClassRocPng) {
  const auto dir = std::filesystem::temp_directory_path() / "heal_nn_plot_multi_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "roc_multi.png").string();
  const auto m = compute_metrics(kProbs3, kLabels3, 3);
  const auto curves = roc_curves_one_vs_rest(kProbs3, kLabels3, 3);
  const Status st = plot_roc_one_vs_rest(path, curves, m, {"mild", "moderate", "severe"}, "test ROC");
  if (st.code() == StatusCode::kUnsupported) GTEST_SKIP() << st.to_string();
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_TRUE(is_png(path));
  EXPECT_GT(std::filesystem::file_size(path), 1000u);
  // Binary: the positive class's curve through plot_roc.
  const std::vector<double> p2{0.1, 0.9, 0.3, 0.7, 0.6, 0.4, 0.8, 0.2};
  const std::vector<int> y2{1, 1, 1, 0};
  const std::string bpath = (dir / "roc_binary.png").string();
  ASSERT_TRUE(plot_roc_one_vs_rest(bpath, roc_curves_one_vs_rest(p2, y2, 2), compute_metrics(p2, y2, 2), {}, "b").ok());
  EXPECT_TRUE(is_png(bpath));
  // Curves that do not match the metrics are refused, not plotted.
  EXPECT_EQ(plot_roc_one_vs_rest(path, {curves[0]}, m, {}, "t").code(), StatusCode::kInvalidArgument);
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
