// Intensity normalisation for images from different scanners (issue 20: "normalises data from
// hospitals' different CT scanners"). Three switchable modes:
//  - kNone: the decoded [0, 1] pixels, shifted and scaled by the fixed (x - 0.5) / 0.25;
//  - kZScore: per-image standardisation (x - mean) / sd over the image's pixels;
//  - kHistogram: piecewise-linear histogram standardisation (Nyul and Udupa, "On standardizing the
//    MR image intensity scale", MRM 42(6), 1999; Nyul, Udupa, Zhang, IEEE TMI 19(2), 2000): the
//    landmarks (percentiles 1, 10, 20, ..., 90, 99 of an image's pixels) are mapped piecewise
//    linearly onto a standard scale learned as the mean landmarks of the training images (each first
//    mapped linearly from [p1, p99] onto [0, 1]); outside [p1, p99] the end segments extend. Then the
//    fixed (x - 0.5) / 0.25.
// The percentiles are taken over the pixels above the image's 5th percentile, so the black field
// outside the body (which differs between scanners and crops) does not set the landmarks.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/dataset.h"
#include "heal/io/image.h"

namespace heal::io {

enum class IntensityMode { kNone, kZScore, kHistogram };
const char* intensity_mode_name(IntensityMode m);  ///< "none", "zscore", "histogram"
Result<IntensityMode> parse_intensity_mode(const std::string& s);

/// The landmark percentiles of the histogram mode.
std::vector<double> histogram_landmark_percentiles();

/// Landmarks of one image's pixels (see above), increasing.
std::vector<double> histogram_landmarks(std::span<const float> pixels);

struct IntensityNormalizer {
  IntensityMode mode = IntensityMode::kZScore;
  /// kHistogram: the standard scale (one value per landmark percentile), from fit().
  std::vector<double> standard;

  /// Learns the standard scale from training images (kHistogram; a no-op for the other modes).
  /// @throws std::invalid_argument when kHistogram gets no image.
  void fit(const std::vector<const Image*>& images);
  /// The same on bare pixel planes (one image's channel each), without copying them.
  void fit_planes(std::span<const std::span<const float>> planes);
  /// Normalised copy of one channel's pixels. @throws std::logic_error for kHistogram before fit().
  std::vector<float> apply(std::span<const float> pixels) const;
};

/// Classification data (issue 20's scanner-normalisation ablation on COVID-CT): learns the
/// standard scale (kHistogram) from channel `channel` of the images of `split`; no-op for the
/// other modes. Labels are not read. @throws std::invalid_argument when kHistogram gets no image.
void fit_on_split(IntensityNormalizer& n, const SplitData& split, int channel = 0);

/// Normalises channel `channel` of every image of `split` in place with `n`, then maps the result
/// back into [0, 1] by the inverse of the fixed (x - 0.5) / 0.25, clamped, so that a classifier's
/// own input scaling and its intensity augmentation see the range they expect (kNone is then the
/// identity; kZScore keeps mean +- 2 sd). Other channels (e.g. a segmentation prior) are untouched.
/// @throws std::invalid_argument for a channel outside the images; std::logic_error for kHistogram
/// before fitting.
void normalize_split(const IntensityNormalizer& n, SplitData& split, int channel = 0);

}  // namespace heal::io
