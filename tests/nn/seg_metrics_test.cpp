// Segmentation metrics (Inf-Net definitions) and overlays (issue 20).
#include <gtest/gtest.h>

#include <cmath>

#include "heal/nn/seg_metrics.h"

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
