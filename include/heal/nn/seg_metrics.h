// Segmentation metrics and overlays (libtorch-free; issue 20).
//
// The metrics follow the Inf-Net evaluation (Fan et al., arXiv 2004.14133, sec. IV-B) so that the
// numbers compare with its Table II: every metric is computed per test image at the ground truth's
// own resolution and then averaged over images (not pooled over pixels).
//  - the prediction is the probability map thresholded at 0.5;
//  - Dice = 2 |P n G| / (|P| + |G|), IoU = |P n G| / |P u G|;
//  - sensitivity = TP / (TP + FN), specificity = TN / (TN + FP);
//  - MAE = mean |p - g| of the probability map (not thresholded) against the {0, 1} truth.
// Conventions for empty sets (the 48 covid_seg test images all have infection): Dice and IoU are 1
// when both P and G are empty, sensitivity is 1 when G is empty, specificity 1 when G covers all.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/image.h"

namespace heal::nn {

struct SegImageMetrics {
  std::string id;
  double dice = 0, iou = 0, sensitivity = 0, specificity = 0, mae = 0;
  std::size_t truth_pixels = 0, predicted_pixels = 0, pixels = 0;
};

struct SegMetrics {
  std::vector<SegImageMetrics> images;
  double dice = 0, iou = 0, sensitivity = 0, specificity = 0, mae = 0;  ///< means over images
  double dice_sd = 0;  ///< sample standard deviation of the per-image Dice
};

/// Metrics of one probability map against a {0, 1} (any nonzero = 1) truth of the same size.
/// @throws std::invalid_argument if the sizes differ or are zero.
SegImageMetrics segmentation_metrics(std::span<const float> probability, std::span<const std::uint8_t> truth,
                                     double threshold = 0.5);

/// Means (and the Dice standard deviation) over images.
SegMetrics summarize(std::vector<SegImageMetrics> images);

/// Fixed-width table: the means, and per image when `per_image`.
std::string format_seg_table(const SegMetrics& m, bool per_image = false);

/// An RGB overlay: the greyscale image, the predicted region's contour in red and, if `truth` is
/// not empty, the ground truth's contour in green (pixels where both coincide in yellow). The
/// prediction is also tinted red at 25 % inside. All three have the image's width x height.
io::Image overlay_contours(const io::Image& gray, std::span<const std::uint8_t> predicted,
                           std::span<const std::uint8_t> truth = {});

/// Tiles RGB images of possibly different sizes into a grid of `columns`, each scaled to
/// tile x tile (aspect kept, letterboxed in black), with a 4-pixel white gap.
io::Image tile_images(const std::vector<io::Image>& images, int columns, int tile);

}  // namespace heal::nn
