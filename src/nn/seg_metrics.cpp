// Segmentation metrics and overlays (see heal/nn/seg_metrics.h).
#include "heal/nn/seg_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace heal::nn {

SegImageMetrics segmentation_metrics(std::span<const float> probability, std::span<const std::uint8_t> truth,
                                     double threshold) {
  if (probability.size() != truth.size() || truth.empty()) {
    throw std::invalid_argument("segmentation_metrics: the probability map and the truth differ in size or are empty");
  }
  std::size_t tp = 0, fp = 0, fn = 0, tn = 0;
  double abs_err = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const bool g = truth[i] != 0;
    const bool p = probability[i] > threshold;
    tp += p && g;
    fp += p && !g;
    fn += !p && g;
    tn += !p && !g;
    abs_err += std::fabs(static_cast<double>(probability[i]) - (g ? 1.0 : 0.0));
  }
  SegImageMetrics m;
  m.pixels = truth.size();
  m.truth_pixels = tp + fn;
  m.predicted_pixels = tp + fp;
  const auto ratio = [](std::size_t a, std::size_t b, double empty) { return b == 0 ? empty : static_cast<double>(a) / static_cast<double>(b); };
  m.dice = ratio(2 * tp, 2 * tp + fp + fn, 1.0);
  m.iou = ratio(tp, tp + fp + fn, 1.0);
  m.sensitivity = ratio(tp, tp + fn, 1.0);
  m.specificity = ratio(tn, tn + fp, 1.0);
  m.mae = abs_err / static_cast<double>(truth.size());
  return m;
}

SegMetrics summarize(std::vector<SegImageMetrics> images) {
  SegMetrics s;
  s.images = std::move(images);
  const double n = static_cast<double>(s.images.size());
  if (s.images.empty()) return s;
  for (const auto& m : s.images) {
    s.dice += m.dice / n;
    s.iou += m.iou / n;
    s.sensitivity += m.sensitivity / n;
    s.specificity += m.specificity / n;
    s.mae += m.mae / n;
  }
  if (s.images.size() > 1) {
    double ss = 0;
    for (const auto& m : s.images) ss += (m.dice - s.dice) * (m.dice - s.dice);
    s.dice_sd = std::sqrt(ss / (n - 1));
  }
  return s;
}

std::string format_seg_table(const SegMetrics& m, bool per_image) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-10s %7s %7s %7s %7s %7s\n", "image", "Dice", "IoU", "Sen", "Spec", "MAE");
  out += line;
  if (per_image) {
    for (const auto& r : m.images) {
      std::snprintf(line, sizeof line, "%-10.10s %7.4f %7.4f %7.4f %7.4f %7.4f\n", r.id.c_str(), r.dice, r.iou,
                    r.sensitivity, r.specificity, r.mae);
      out += line;
    }
  }
  std::snprintf(line, sizeof line, "%-10s %7.4f %7.4f %7.4f %7.4f %7.4f   (%zu images; Dice sd %.4f)\n", "mean", m.dice,
                m.iou, m.sensitivity, m.specificity, m.mae, m.images.size(), m.dice_sd);
  out += line;
  return out;
}

namespace {

// A pixel of `mask` on the region's border: set, with a 4-neighbour unset or outside the image.
bool on_contour(std::span<const std::uint8_t> mask, int w, int h, int x, int y) {
  const auto at = [&](int xx, int yy) { return mask[static_cast<std::size_t>(yy) * w + xx] != 0; };
  if (!at(x, y)) return false;
  return x == 0 || y == 0 || x == w - 1 || y == h - 1 || !at(x - 1, y) || !at(x + 1, y) || !at(x, y - 1) || !at(x, y + 1);
}

}  // namespace

io::Image overlay_contours(const io::Image& gray, std::span<const std::uint8_t> predicted,
                           std::span<const std::uint8_t> truth) {
  const int w = gray.width, h = gray.height;
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  if (gray.channels < 1 || predicted.size() != plane || (!truth.empty() && truth.size() != plane)) {
    throw std::invalid_argument("overlay_contours: the masks must have the image's size");
  }
  io::Image out;
  out.width = out.original_width = w;
  out.height = out.original_height = h;
  out.channels = 3;
  out.pixels.resize(3 * plane);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * w + x;
      const float v = gray.pixels[i];
      float r = v, g = v, b = v;
      if (predicted[i]) r = 0.75f * r + 0.25f;
      const bool pc = on_contour(predicted, w, h, x, y);
      const bool tc = !truth.empty() && on_contour(truth, w, h, x, y);
      if (pc && tc) r = 1, g = 1, b = 0;
      else if (pc) r = 1, g = 0.1f, b = 0.1f;
      else if (tc) r = 0.1f, g = 1, b = 0.1f;
      out.pixels[i] = r;
      out.pixels[plane + i] = g;
      out.pixels[2 * plane + i] = b;
    }
  }
  return out;
}

io::Image tile_images(const std::vector<io::Image>& images, int columns, int tile) {
  if (images.empty() || columns < 1 || tile < 1) throw std::invalid_argument("tile_images: nothing to tile");
  const int gap = 4;
  const int n = static_cast<int>(images.size());
  const int cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  io::Image out;
  out.width = out.original_width = cols * tile + (cols + 1) * gap;
  out.height = out.original_height = rows * tile + (rows + 1) * gap;
  out.channels = 3;
  const std::size_t plane = static_cast<std::size_t>(out.width) * out.height;
  out.pixels.assign(3 * plane, 1.0f);
  for (int k = 0; k < n; ++k) {
    const io::Image& im = images[static_cast<std::size_t>(k)];
    const double s = std::min(static_cast<double>(tile) / im.width, static_cast<double>(tile) / im.height);
    const int tw = std::max(1, static_cast<int>(im.width * s)), th = std::max(1, static_cast<int>(im.height * s));
    const io::Image r = io::resize(im, tw, th);
    const int x0 = gap + (k % cols) * (tile + gap), y0 = gap + (k / cols) * (tile + gap);
    for (int c = 0; c < 3; ++c) {
      const int src_c = std::min(c, r.channels - 1);
      for (int y = 0; y < tile; ++y) {
        for (int x = 0; x < tile; ++x) {
          const int ox = (tile - tw) / 2, oy = (tile - th) / 2;
          const bool inside = x >= ox && x < ox + tw && y >= oy && y < oy + th;
          out.pixels[c * plane + static_cast<std::size_t>(y0 + y) * out.width + x0 + x] =
              inside ? r.at(src_c, y - oy, x - ox) : 0.0f;
        }
      }
    }
  }
  return out;
}

}  // namespace heal::nn
