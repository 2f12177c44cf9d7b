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
//
// Inf-Net's Table II was not computed at threshold 0.5. Its released evaluation toolbox (Eval/main.m
// of the Inf-Net repository) reads each prediction as an 8-bit map, stretches it to [0, 1] (min-max),
// and averages Dice, sensitivity and specificity over the 256 thresholds 1, 254/255, ..., 0; it also
// reports the structure measure S-alpha (Fan et al., ICCV 2017, arXiv 1708.00786), the mean
// enhanced-alignment measure E-phi (Fan et al., IJCAI 2018, arXiv 1805.10421) and the MAE of the
// stretched map. `infnet_metrics` implements that protocol (InfNetMetrics says how, quirks included),
// so HEAL's numbers can be set beside the paper's; the threshold-0.5 metrics stay the primary ones.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/image.h"

namespace heal::nn {

/// One image under the Inf-Net toolbox's protocol:
///  - the map is stretched to [0, 1] (min-max, + 1e-8 in the denominator, as Inf-Net's test script
///    does before saving), rounded to 8 bits (as the saved PNG), and stretched again from its 8-bit
///    range (as the toolbox does after reading it; a constant map is left as it is);
///  - for each threshold t in 1, 254/255, ..., 1/255, 0 the prediction is {map >= t}; Dice, sensitivity
///    and specificity at t are 0 when no truth pixel is predicted (the toolbox's rule, specificity
///    included), and E-phi at t is the enhanced-alignment score of that binary map; each is averaged
///    over the 256 thresholds (per image; the mean over images of these is the toolbox's "mean" value);
///  - S-alpha (alpha = 0.5: object-aware and region-aware parts, the region split at the truth's
///    centroid) and MAE are computed on the stretched map. A quadrant with no pixel adds nothing
///    (its weight is 0; the toolbox would return NaN there).
struct InfNetMetrics {
  double dice = 0, sensitivity = 0, specificity = 0, e_phi = 0;  ///< means over the 256 thresholds
  double s_alpha = 0, mae = 0;
  bool computed = false;  ///< false: not computed (e.g. a caller without the image's width and height)
};

struct SegImageMetrics {
  std::string id;
  double dice = 0, iou = 0, sensitivity = 0, specificity = 0, mae = 0;
  std::size_t truth_pixels = 0, predicted_pixels = 0, pixels = 0;
  InfNetMetrics infnet;  ///< filled by infnet_metrics (all 0 when the caller did not compute it)
};

struct SegMetrics {
  std::vector<SegImageMetrics> images;
  double dice = 0, iou = 0, sensitivity = 0, specificity = 0, mae = 0;  ///< means over images
  double dice_sd = 0;    ///< sample standard deviation of the per-image Dice
  InfNetMetrics infnet;  ///< means over images of the per-image Inf-Net-protocol values
};

/// Metrics of one probability map against a {0, 1} (any nonzero = 1) truth of the same size.
/// @throws std::invalid_argument if the sizes differ or are zero.
SegImageMetrics segmentation_metrics(std::span<const float> probability, std::span<const std::uint8_t> truth,
                                     double threshold = 0.5);

/// The Inf-Net toolbox's metrics of one probability map (width x height, row-major) against a
/// {0, 1} (any nonzero = 1) truth of the same size.
/// A map holding NaN or infinity gives InfNetMetrics{} (computed == false).
/// @throws std::invalid_argument if the sizes differ from width x height or are zero.
InfNetMetrics infnet_metrics(std::span<const float> probability, std::span<const std::uint8_t> truth, int width,
                             int height);

/// Named values of `m` for reports ("dice", "sensitivity", "specificity", "s_alpha", "e_phi", "mae"),
/// so every JSON writer names them alike; none when `m` was not computed (nothing is claimed).
std::vector<std::pair<std::string, double>> infnet_fields(const InfNetMetrics& m);

/// Both: the threshold-0.5 metrics and, in `infnet`, the Inf-Net toolbox's.
SegImageMetrics segmentation_metrics(std::span<const float> probability, std::span<const std::uint8_t> truth, int width,
                                     int height);

/// Means (and the Dice standard deviation) over images.
SegMetrics summarize(std::vector<SegImageMetrics> images);

/// Fixed-width table: the means, and per image when `per_image`.
std::string format_seg_table(const SegMetrics& m, bool per_image = false);

/// Fixed-width table of per-class means (Dice, IoU, Sen, Spec, MAE at 0.5 and the toolbox Dice),
/// one row per lesion class, named by `names` (element k - 1 for class k).
std::string format_class_table(const std::vector<std::string>& names, const std::vector<SegMetrics>& per_class);

/// An RGB overlay: the greyscale image, the predicted region's contour in red and, if `truth` is
/// not empty, the ground truth's contour in green (pixels where both coincide in yellow). The
/// prediction is also tinted red at 25 % inside. All three have the image's width x height.
io::Image overlay_contours(const io::Image& gray, std::span<const std::uint8_t> predicted,
                           std::span<const std::uint8_t> truth = {});

/// An RGB overlay of label maps (0 = background, k = lesion class k): each predicted class tinted
/// at 25 % and outlined in its colour (class 1 red, 2 magenta, 3 and above orange), each truth class
/// outlined in its own (1 green, 2 cyan, 3 and above yellow-green); where outlines meet, the
/// prediction's is drawn. Both maps have the image's width x height (`truth` may be empty).
io::Image overlay_label_contours(const io::Image& gray, std::span<const std::uint8_t> predicted,
                                 std::span<const std::uint8_t> truth = {});

/// Tiles RGB images of possibly different sizes into a grid of `columns`, each scaled to
/// tile x tile (aspect kept, letterboxed in black), with a 4-pixel white gap.
io::Image tile_images(const std::vector<io::Image>& images, int columns, int tile);

}  // namespace heal::nn
