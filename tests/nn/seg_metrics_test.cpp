// Segmentation metrics (Inf-Net definitions) and overlays (issue 20).
#include "heal/nn/seg_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace heal::nn {
namespace {

TEST(SegMetrics, HandComputedCounts) {
  // 10 pixels: truth 4 foreground; prediction (p > 0.5) hits 3 of them and 1 background pixel.
  const std::vector<std::uint8_t> g = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<float> p = {0.9f, 0.8f, 0.6f, 0.2f, 0.7f, 0.1f, 0.0f, 0.0f, 0.5f, 0.3f};
  const SegImageMetrics m = segmentation_metrics(p, g);
  // TP 3, FP 1 (0.7; 0.5 is not > 0.5), FN 1, TN 5.
  EXPECT_DOUBLE_EQ(m.dice, 6.0 / 8.0);
  EXPECT_DOUBLE_EQ(m.iou, 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.sensitivity, 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(m.specificity, 5.0 / 6.0);
  // MAE of the soft map: |p - g| summed = 0.1+0.2+0.4+0.8+0.7+0.1+0+0+0.5+0.3 = 3.1.
  EXPECT_NEAR(m.mae, 0.31, 1e-7);
  EXPECT_EQ(m.truth_pixels, 4u);
  EXPECT_EQ(m.predicted_pixels, 4u);
  // Any nonzero class counts as foreground (multi-class masks).
  std::vector<std::uint8_t> g2 = g;
  g2[0] = 2;
  EXPECT_DOUBLE_EQ(segmentation_metrics(p, g2).dice, m.dice);
}

TEST(SegMetrics, EmptySetConventionsAndErrors) {
  const std::vector<std::uint8_t> empty(5, 0);
  const std::vector<float> zero(5, 0.0f), one(5, 1.0f);
  const auto both_empty = segmentation_metrics(zero, empty);
  EXPECT_EQ(both_empty.dice, 1.0);
  EXPECT_EQ(both_empty.iou, 1.0);
  EXPECT_EQ(both_empty.sensitivity, 1.0);
  EXPECT_EQ(both_empty.specificity, 1.0);
  const auto all_wrong = segmentation_metrics(one, empty);
  EXPECT_EQ(all_wrong.dice, 0.0);
  EXPECT_EQ(all_wrong.specificity, 0.0);
  EXPECT_EQ(all_wrong.mae, 1.0);
  EXPECT_THROW(segmentation_metrics(std::vector<float>(4), empty), std::invalid_argument);
  EXPECT_THROW(segmentation_metrics({}, {}), std::invalid_argument);
}

TEST(SegMetrics, MeansArePerImageNotPooled) {
  SegImageMetrics a, b;
  a.dice = 1.0, a.iou = 1.0, a.mae = 0.0;
  b.dice = 0.0, b.iou = 0.0, b.mae = 1.0;
  const SegMetrics s = summarize({a, b});
  EXPECT_DOUBLE_EQ(s.dice, 0.5);
  EXPECT_DOUBLE_EQ(s.mae, 0.5);
  EXPECT_NEAR(s.dice_sd, std::sqrt(0.5), 1e-12);
  const std::string t = format_seg_table(s, true);
  EXPECT_NE(t.find("mean"), std::string::npos);
  EXPECT_NE(t.find("2 images"), std::string::npos);
}

// A direct, per-threshold transcription of the Inf-Net toolbox (Fmeasure_calu, Enhancedmeasure) on
// an already stretched map r, for comparison with infnet_metrics' histogram form.
InfNetMetrics brute_force_thresholds(const std::vector<double>& r, const std::vector<std::uint8_t>& g) {
  const double eps = 2.220446049250313e-16;
  const double n = static_cast<double>(r.size());
  double truth = 0;
  for (auto v : g) truth += v != 0;
  InfNetMetrics m;
  for (int k = 0; k < 256; ++k) {
    const double t = 1.0 - k / 255.0;
    std::vector<double> fm(r.size());
    double tp = 0, pred = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
      fm[i] = r[i] >= t - 1e-12 ? 1.0 : 0.0;
      pred += fm[i];
      tp += fm[i] * (g[i] != 0);
    }
    if (tp > 0) {
      const double fn = truth - tp, fp = pred - tp, tn = n - pred - fn;
      m.dice += 2 * tp / (truth + pred) / 256;
      m.sensitivity += tp / truth / 256;
      m.specificity += tn / (tn + fp) / 256;
    }
    double sum = 0;
    const double mf = pred / n, mg = truth / n;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const double af = fm[i] - mf, ag = (g[i] != 0 ? 1.0 : 0.0) - mg;
      const double align = truth == 0 ? 0 : 2 * ag * af / (ag * ag + af * af + eps);
      sum += truth == 0 ? 1 - fm[i] : (align + 1) * (align + 1) / 4;
    }
    m.e_phi += sum / (n - 1 + eps) / 256;
  }
  return m;
}

TEST(SegMetricsInfNet, ThresholdAveragesMatchADirectTranscription) {
  // 12 x 10 map: a soft blob partly over a rectangular lesion; values on the 8-bit grid already
  // spanning [0, 1], so the toolbox's stretches leave them as they are.
  const int w = 12, h = 10;
  std::vector<float> p(w * h);
  std::vector<std::uint8_t> g(w * h, 0);
  std::vector<double> r(w * h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int i = y * w + x;
      g[i] = x >= 3 && x < 8 && y >= 2 && y < 6;
      const int q = std::max(0, 255 - 30 * (std::abs(x - 6) + std::abs(y - 4)));
      p[i] = static_cast<float>(q / 255.0);
      r[i] = q / 255.0;
    }
  }
  const InfNetMetrics got = infnet_metrics(p, g, w, h);
  const InfNetMetrics want = brute_force_thresholds(r, g);
  EXPECT_TRUE(got.computed);
  EXPECT_NEAR(got.dice, want.dice, 1e-12);
  EXPECT_NEAR(got.sensitivity, want.sensitivity, 1e-12);
  EXPECT_NEAR(got.specificity, want.specificity, 1e-12);
  EXPECT_NEAR(got.e_phi, want.e_phi, 1e-12);
  double mae = 0;
  for (int i = 0; i < w * h; ++i) mae += std::fabs(r[i] - g[i]) / (w * h);
  EXPECT_NEAR(got.mae, mae, 1e-12);
  // Only the order of the values matters (up to 8-bit rounding): a map rescaled into [0.2, 0.6]
  // (0.4 p + 0.2 keeps these values on a grid the stretch maps back exactly) scores the same.
  std::vector<float> squeezed(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) squeezed[i] = 0.2f + 0.4f * p[i];
  const InfNetMetrics again = infnet_metrics(squeezed, g, w, h);
  EXPECT_NEAR(again.dice, got.dice, 1e-9);
  EXPECT_NEAR(again.s_alpha, got.s_alpha, 1e-6);
  // And it is not the threshold-0.5 Dice.
  EXPECT_GT(std::fabs(got.dice - segmentation_metrics(p, g).dice), 0.01);
}

TEST(SegMetricsInfNet, PerfectAndConstantMapsByHand) {
  // 4 x 4, truth = the 2 x 2 top-left block (4 of 16 pixels).
  const int w = 4, h = 4;
  std::vector<std::uint8_t> g(16, 0);
  g[0] = g[1] = g[4] = g[5] = 1;
  std::vector<float> perfect(16);
  for (int i = 0; i < 16; ++i) perfect[i] = g[i] ? 0.9f : 0.1f;  // stretched to exactly {0, 1}
  const InfNetMetrics m = infnet_metrics(perfect, g, w, h);
  // Every threshold above 0 predicts the truth exactly (Dice 1); threshold 0 predicts all 16
  // pixels: Dice 2*4/(4+16), sensitivity 1, specificity 0.
  EXPECT_NEAR(m.dice, (255.0 + 8.0 / 20.0) / 256.0, 1e-12);
  EXPECT_NEAR(m.sensitivity, 1.0, 1e-12);
  EXPECT_NEAR(m.specificity, 255.0 / 256.0, 1e-12);
  // E-phi: aligned maps give 1 per pixel, divided by N - 1 (the toolbox's normaliser); an all-ones
  // map has zero alignment, 1/4 per pixel.
  EXPECT_NEAR(m.e_phi, (255.0 * 16.0 / 15.0 + 0.25 * 16.0 / 15.0) / 256.0, 1e-9);
  EXPECT_NEAR(m.s_alpha, 1.0, 1e-9);
  EXPECT_NEAR(m.mae, 0.0, 1e-12);

  // A constant map stays 0 after the stretch: only threshold 0 predicts anything.
  const std::vector<float> flat(16, 0.3f);
  const InfNetMetrics c = infnet_metrics(flat, g, w, h);
  EXPECT_NEAR(c.dice, (8.0 / 20.0) / 256.0, 1e-12);
  EXPECT_NEAR(c.sensitivity, 1.0 / 256.0, 1e-12);
  EXPECT_NEAR(c.specificity, 0.0, 1e-12);
  EXPECT_NEAR(c.mae, 4.0 / 16.0, 1e-12);
  // S-alpha by hand. Object part: foreground mean 0 -> 0; background (1 - 0 = 1 everywhere) ->
  // 2 / (1 + 1 + 0) = 1; weighted by the truth's area, 4/16: S_object = 12/16. Region part: the
  // centroid (1-based) is column round(1.5) = 2, row 2, so the top-left quadrant is exactly the
  // truth (weight 4/16: x = 0, y = 1, no variance: alpha = beta = 0 -> 1) and the other three hold
  // background only (x = y = 0 -> 1): S_region = 1. S = (0.75 + 1) / 2.
  EXPECT_NEAR(c.s_alpha, 0.875, 1e-12);

  // A diverged model's map (NaN, infinity) is not scored, and does not crash the 8-bit histogram.
  std::vector<float> broken = perfect;
  broken[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(infnet_metrics(broken, g, w, h).computed);
  broken[3] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(infnet_metrics(broken, g, w, h).computed);
  EXPECT_FALSE(summarize({segmentation_metrics(broken, g, w, h)}).infnet.computed);

  EXPECT_THROW(infnet_metrics(flat, g, 3, 4), std::invalid_argument);
  EXPECT_THROW(infnet_metrics({}, {}, 0, 0), std::invalid_argument);
}

TEST(SegMetricsInfNet, StructureMeasureOfAMisplacedPrediction) {
  // 4 x 1 strip: truth on the first two pixels; the map marks the last two. Stretched map
  // r = {0, 0, 1, 1}. Object part: foreground values {0, 0} -> 0; background values 1 - r over the
  // last two = {0, 0} -> 0: S_object = 0. Region part: centroid column round(1.5) = 2, row
  // round(1) = 1: the top-left quadrant is pixels 1-2 (r = 0, g = 1: x = 0 -> alpha 0, beta =
  // (0 + 1)(0 + 0) = 0 -> 1!), the top-right pixels 3-4 (r = 1, g = 0: alpha 0, beta 0 -> 1), the
  // bottom quadrants are empty. S_region = 2/4 * 1 + 2/4 * 1 = 1, S = 0.5: the region part's
  // variance-free quadrants score as "structurally identical", a known property of the measure.
  const std::vector<std::uint8_t> g = {1, 1, 0, 0};
  const std::vector<float> p = {0.0f, 0.0f, 1.0f, 1.0f};
  EXPECT_NEAR(infnet_metrics(p, g, 4, 1).s_alpha, 0.5, 1e-12);
  // Dice at every threshold > 0 is 0 (no truth pixel predicted); at 0, 2*2/(2+4).
  EXPECT_NEAR(infnet_metrics(p, g, 4, 1).dice, (4.0 / 6.0) / 256.0, 1e-12);
}

TEST(SegMetricsInfNet, SummaryAveragesAndTableLine) {
  const std::vector<std::uint8_t> g = {1, 1, 0, 0};
  const std::vector<float> p = {0.0f, 0.0f, 1.0f, 1.0f}, q = {1.0f, 1.0f, 0.0f, 0.0f};
  SegImageMetrics a = segmentation_metrics(p, g, 4, 1), b = segmentation_metrics(q, g, 4, 1);
  const SegMetrics s = summarize({a, b});
  EXPECT_TRUE(s.infnet.computed);
  EXPECT_NEAR(s.infnet.dice, (a.infnet.dice + b.infnet.dice) / 2, 1e-12);
  const std::string table = format_seg_table(s);
  EXPECT_NE(table.find("Inf-Net toolbox"), std::string::npos);
  char mae[32];
  std::snprintf(mae, sizeof mae, "MAE %.4f\n", s.infnet.mae);  // the whole line, not cut short
  EXPECT_NE(table.find(mae), std::string::npos) << table;
  // Without width and height nothing is claimed.
  const SegMetrics plain = summarize({segmentation_metrics(p, g)});
  EXPECT_FALSE(plain.infnet.computed);
  EXPECT_TRUE(infnet_fields(plain.infnet).empty());
  EXPECT_EQ(infnet_fields(s.infnet).size(), 6u);
  EXPECT_EQ(format_seg_table(plain).find("Inf-Net toolbox"), std::string::npos);
}

TEST(SegOverlay, ContoursInTheRightColours) {
  io::Image g;
  g.width = g.original_width = 8;
  g.height = g.original_height = 8;
  g.pixels.assign(64, 0.5f);
  std::vector<std::uint8_t> pred(64, 0), truth(64, 0);
  for (int y = 2; y < 6; ++y) {
    for (int x = 2; x < 6; ++x) pred[y * 8 + x] = 1;  // 4x4 square
  }
  for (int y = 0; y < 8; ++y) truth[y * 8 + 2] = 1;  // column 2: overlaps the square's left edge
  const io::Image o = overlay_contours(g, pred, truth);
  ASSERT_EQ(o.channels, 3);
  auto px = [&](int c, int x, int y) { return o.at(c, y, x); };
  // Square border, not on the truth: red.
  EXPECT_FLOAT_EQ(px(0, 5, 2), 1.0f);
  EXPECT_LT(px(1, 5, 2), 0.2f);
  // Square interior: tinted, not a contour.
  EXPECT_FLOAT_EQ(px(0, 3, 3), 0.75f * 0.5f + 0.25f);
  EXPECT_FLOAT_EQ(px(1, 3, 3), 0.5f);
  // Truth column outside the square: green. Both contours at (2, 3): yellow.
  EXPECT_FLOAT_EQ(px(1, 2, 0), 1.0f);
  EXPECT_LT(px(0, 2, 0), 0.2f);
  EXPECT_FLOAT_EQ(px(0, 2, 3), 1.0f);
  EXPECT_FLOAT_EQ(px(1, 2, 3), 1.0f);
  EXPECT_FLOAT_EQ(px(2, 2, 3), 0.0f);
  // Background untouched.
  EXPECT_FLOAT_EQ(px(0, 7, 7), 0.5f);
  EXPECT_THROW(overlay_contours(g, std::vector<std::uint8_t>(63)), std::invalid_argument);
}

TEST(SegOverlay, LabelMapsOutlineEachClassInItsColour) {
  io::Image g;
  g.width = g.original_width = 10;
  g.height = g.original_height = 6;
  g.pixels.assign(60, 0.5f);
  // Prediction: class 1 in columns 0-3, class 2 in columns 6-9 (rows 1-4). Truth: class 2 at 6-9, all rows.
  std::vector<std::uint8_t> pred(60, 0), truth(60, 0);
  for (int y = 1; y < 5; ++y) {
    for (int x = 0; x < 4; ++x) pred[y * 10 + x] = 1;
    for (int x = 6; x < 10; ++x) pred[y * 10 + x] = 2;
  }
  for (int y = 0; y < 6; ++y) {
    for (int x = 6; x < 10; ++x) truth[y * 10 + x] = 2;
  }
  const io::Image o = overlay_label_contours(g, pred, truth);
  ASSERT_EQ(o.channels, 3);
  auto px = [&](int x, int y) { return std::array<float, 3>{o.at(0, y, x), o.at(1, y, x), o.at(2, y, x)}; };
  EXPECT_EQ(px(3, 2), (std::array<float, 3>{1, 0.1f, 0.1f}));  // class 1 border: red
  EXPECT_EQ(px(6, 2), (std::array<float, 3>{1, 0.1f, 1}));     // class 2 border: magenta
  EXPECT_EQ(px(7, 0), (std::array<float, 3>{0.1f, 0.9f, 1}));  // truth class 2 border, no prediction: cyan
  const auto inside = px(8, 3);                                // class 2 interior: tinted magenta
  EXPECT_FLOAT_EQ(inside[0], 0.75f * 0.5f + 0.25f);
  EXPECT_FLOAT_EQ(inside[1], 0.75f * 0.5f + 0.25f * 0.1f);
  EXPECT_EQ(px(5, 3), (std::array<float, 3>{0.5f, 0.5f, 0.5f}));  // background untouched
  // A class-1 region touching a class-2 region: both are outlined at the shared edge.
  std::vector<std::uint8_t> adj(60, 0);
  for (int y = 1; y < 4; ++y) {
    for (int x = 0; x < 10; ++x) adj[y * 10 + x] = x < 5 ? 1 : 2;
  }
  const io::Image a = overlay_label_contours(g, adj);
  EXPECT_FLOAT_EQ(a.at(2, 2, 4), 0.1f);  // (4, 2): class 1 edge, red
  EXPECT_FLOAT_EQ(a.at(2, 2, 5), 1.0f);  // (5, 2): class 2 edge, magenta
  EXPECT_THROW(overlay_label_contours(g, std::vector<std::uint8_t>(59)), std::invalid_argument);
  // The per-class table names each class.
  SegMetrics m1, m2;
  m1.dice = 0.5;
  m2.dice = 0.25;
  const std::string t = format_class_table({"ground-glass opacity", "consolidation"}, {m1, m2});
  EXPECT_NE(t.find("ground-glass opacity    0.5000"), std::string::npos) << t;
  EXPECT_NE(t.find("consolidation           0.2500"), std::string::npos) << t;
}

TEST(SegOverlay, TilesKeepAspectInAGrid) {
  io::Image a;
  a.width = a.original_width = 20;
  a.height = a.original_height = 10;
  a.channels = 3;
  a.pixels.assign(600, 1.0f);
  const io::Image t = tile_images({a, a, a}, 2, 16);
  EXPECT_EQ(t.width, 2 * 16 + 3 * 4);
  EXPECT_EQ(t.height, 2 * 16 + 3 * 4);
  // Letterbox: the 20x10 tile becomes 16x8 centred, black above it.
  EXPECT_FLOAT_EQ(t.at(0, 4 + 1, 4 + 8), 0.0f);
  EXPECT_FLOAT_EQ(t.at(0, 4 + 8, 4 + 8), 1.0f);
  EXPECT_THROW(tile_images({}, 2, 16), std::invalid_argument);
}

}  // namespace
}  // namespace heal::nn
