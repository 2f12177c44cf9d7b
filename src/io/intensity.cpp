// Intensity normalisation (see heal/io/intensity.h).
#include "heal/io/intensity.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace heal::io {
namespace {

constexpr float kFixedMean = 0.5f, kFixedStd = 0.25f;

// q-quantile (0..1) of sorted values, linear interpolation.
double quantile(const std::vector<float>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

const char* intensity_mode_name(IntensityMode m) {
  switch (m) {
    case IntensityMode::kNone: return "none";
    case IntensityMode::kZScore: return "zscore";
    case IntensityMode::kHistogram: return "histogram";
  }
  return "?";
}

Result<IntensityMode> parse_intensity_mode(const std::string& s) {
  if (s == "none") return IntensityMode::kNone;
  if (s == "zscore") return IntensityMode::kZScore;
  if (s == "histogram" || s == "nyul") return IntensityMode::kHistogram;
  return Status::invalid_argument("unknown intensity normalisation '" + s + "' (none, zscore, histogram)");
}

std::vector<double> histogram_landmark_percentiles() { return {1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99}; }

std::vector<double> histogram_landmarks(std::span<const float> pixels) {
  if (pixels.empty()) throw std::invalid_argument("histogram_landmarks: empty image");
  std::vector<float> v(pixels.begin(), pixels.end());
  std::sort(v.begin(), v.end());
  const double floor = quantile(v, 0.05);
  std::vector<float> fg;
  fg.reserve(v.size());
  for (float x : v) {
    if (x > floor) fg.push_back(x);
  }
  if (fg.size() < 16) fg = v;  // a (nearly) constant image: use every pixel
  std::vector<double> lm;
  for (double p : histogram_landmark_percentiles()) lm.push_back(quantile(fg, p / 100.0));
  for (std::size_t i = 1; i < lm.size(); ++i) lm[i] = std::max(lm[i], lm[i - 1]);  // monotone despite rounding
  return lm;
}

void IntensityNormalizer::fit(const std::vector<const Image*>& images) {
  std::vector<std::span<const float>> planes;
  planes.reserve(images.size());
  for (const Image* img : images) planes.emplace_back(img->pixels.data(), static_cast<std::size_t>(img->width) * img->height);
  fit_planes(planes);
}

void IntensityNormalizer::fit_planes(std::span<const std::span<const float>> planes) {
  if (mode != IntensityMode::kHistogram) return;
  if (planes.empty()) throw std::invalid_argument("IntensityNormalizer::fit: no training image");
  const std::size_t k = histogram_landmark_percentiles().size();
  standard.assign(k, 0.0);
  for (const auto& px : planes) {
    const auto lm = histogram_landmarks(px);
    const double lo = lm.front(), span = std::max(1e-6, lm.back() - lo);
    for (std::size_t i = 0; i < k; ++i) standard[i] += (lm[i] - lo) / span / static_cast<double>(planes.size());
  }
}

std::vector<float> IntensityNormalizer::apply(std::span<const float> pixels) const {
  std::vector<float> out(pixels.size());
  if (pixels.empty()) return out;
  switch (mode) {
    case IntensityMode::kNone:
      for (std::size_t i = 0; i < pixels.size(); ++i) out[i] = (pixels[i] - kFixedMean) / kFixedStd;
      return out;
    case IntensityMode::kZScore: {
      double s = 0, ss = 0;
      for (float x : pixels) s += x;
      const double mean = s / static_cast<double>(pixels.size());
      for (float x : pixels) ss += (x - mean) * (x - mean);
      const double sd = std::max(1e-6, std::sqrt(ss / static_cast<double>(pixels.size())));
      for (std::size_t i = 0; i < pixels.size(); ++i) out[i] = static_cast<float>((pixels[i] - mean) / sd);
      return out;
    }
    case IntensityMode::kHistogram: {
      if (standard.size() != histogram_landmark_percentiles().size()) {
        throw std::logic_error("IntensityNormalizer: histogram mode needs fit() (or the stored standard scale)");
      }
      const auto lm = histogram_landmarks(pixels);
      for (std::size_t i = 0; i < pixels.size(); ++i) {
        const double x = pixels[i];
        // Segment j: [lm[j], lm[j+1]]; below the first or above the last, the end segments extend.
        std::size_t j = static_cast<std::size_t>(std::upper_bound(lm.begin(), lm.end(), x) - lm.begin());
        j = std::clamp<std::size_t>(j == 0 ? 0 : j - 1, 0, lm.size() - 2);
        // Skip flat segments (repeated landmarks) so the slope stays finite.
        std::size_t a = j, b = j + 1;
        while (b + 1 < lm.size() && lm[b] - lm[a] < 1e-6) ++b;
        while (a > 0 && lm[b] - lm[a] < 1e-6) --a;
        const double den = lm[b] - lm[a];
        const double y = den < 1e-6 ? standard[a] : standard[a] + (x - lm[a]) * (standard[b] - standard[a]) / den;
        out[i] = static_cast<float>((y - kFixedMean) / kFixedStd);
      }
      return out;
    }
  }
  return out;
}

void fit_on_split(IntensityNormalizer& n, const SplitData& split, int channel) {
  if (channel < 0 || channel >= split.channels) throw std::invalid_argument("fit_on_split: no such channel");
  if (n.mode != IntensityMode::kHistogram) return;
  const std::size_t plane = static_cast<std::size_t>(split.height) * split.width;
  std::vector<std::span<const float>> planes;
  planes.reserve(split.size());
  for (std::size_t i = 0; i < split.size(); ++i) planes.emplace_back(split.image(i) + static_cast<std::size_t>(channel) * plane, plane);
  n.fit_planes(planes);
}

void normalize_split(const IntensityNormalizer& n, SplitData& split, int channel) {
  if (channel < 0 || channel >= split.channels) throw std::invalid_argument("normalize_split: no such channel");
  if (n.mode == IntensityMode::kNone) return;  // exactly the identity (no float round trip)
  const std::size_t plane = static_cast<std::size_t>(split.height) * split.width;
  for (std::size_t i = 0; i < split.size(); ++i) {
    float* p = split.images.data() + i * split.image_size() + static_cast<std::size_t>(channel) * plane;
    const auto z = n.apply(std::span<const float>(p, plane));
    for (std::size_t j = 0; j < plane; ++j) p[j] = std::clamp(z[j] * kFixedStd + kFixedMean, 0.0f, 1.0f);
  }
}

}  // namespace heal::io
