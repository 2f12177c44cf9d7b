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

namespace {

constexpr double kMatlabEps = 2.220446049250313e-16;  // the toolbox's `eps`

// Object similarity of the S-measure: 2 x / (x^2 + 1 + sigma_x + eps) over the selected pixels'
// values (mean x, sample standard deviation sigma_x; 0 for one value); 0 when none is selected.
double object_similarity(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
  return 2.0 * mean / (mean * mean + 1.0 + sd + kMatlabEps);
}

// The S-measure's SSIM-like score of one quadrant (rows [y0, y1), columns [x0, x1)).
double quadrant_similarity(const std::vector<double>& r, std::span<const std::uint8_t> g, int width, int x0, int x1,
                           int y0, int y1) {
  const double n = static_cast<double>(x1 - x0) * static_cast<double>(y1 - y0);
  if (n <= 0) return 0.0;
  double mx = 0, my = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * width + x;
      mx += r[i];
      my += g[i] != 0 ? 1.0 : 0.0;
    }
  }
  mx /= n;
  my /= n;
  double sxx = 0, syy = 0, sxy = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * width + x;
      const double dx = r[i] - mx, dy = (g[i] != 0 ? 1.0 : 0.0) - my;
      sxx += dx * dx;
      syy += dy * dy;
      sxy += dx * dy;
    }
  }
  const double d = n - 1.0 + kMatlabEps;
  sxx /= d;
  syy /= d;
  sxy /= d;
  const double alpha = 4.0 * mx * my * sxy;
  const double beta = (mx * mx + my * my) * (sxx + syy);
  if (alpha != 0.0) return alpha / (beta + kMatlabEps);
  return beta == 0.0 ? 1.0 : 0.0;
}

// S-alpha (Fan et al., ICCV 2017) of a map r in [0, 1] against the truth, alpha = 0.5.
double structure_measure(const std::vector<double>& r, std::span<const std::uint8_t> g, int width, int height) {
  const std::size_t n = r.size();
  std::size_t fg = 0;
  double sum_r = 0, sum_col = 0, sum_row = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sum_r += r[i];
    if (g[i] != 0) {
      ++fg;
      sum_col += static_cast<double>(i % width + 1);  // 1-based, as the toolbox's centroid
      sum_row += static_cast<double>(i / width + 1);
    }
  }
  if (fg == 0) return 1.0 - sum_r / static_cast<double>(n);
  if (fg == n) return sum_r / static_cast<double>(n);
  std::vector<double> in_fg, in_bg;
  in_fg.reserve(fg);
  in_bg.reserve(n - fg);
  for (std::size_t i = 0; i < n; ++i) {
    if (g[i] != 0) {
      in_fg.push_back(r[i]);
    } else {
      in_bg.push_back(1.0 - r[i]);
    }
  }
  const double u = static_cast<double>(fg) / static_cast<double>(n);
  const double s_object = u * object_similarity(in_fg) + (1.0 - u) * object_similarity(in_bg);
  // Region part: four quadrants split at the truth's centroid (X columns and Y rows in the first ones).
  const int cx = static_cast<int>(std::round(sum_col / static_cast<double>(fg)));
  const int cy = static_cast<int>(std::round(sum_row / static_cast<double>(fg)));
  const double area = static_cast<double>(width) * static_cast<double>(height);
  const double w1 = static_cast<double>(cx) * cy / area, w2 = static_cast<double>(width - cx) * cy / area,
               w3 = static_cast<double>(cx) * (height - cy) / area;
  const double w4 = 1.0 - w1 - w2 - w3;
  const double s_region = w1 * quadrant_similarity(r, g, width, 0, cx, 0, cy) +
                          w2 * quadrant_similarity(r, g, width, cx, width, 0, cy) +
                          w3 * quadrant_similarity(r, g, width, 0, cx, cy, height) +
                          w4 * quadrant_similarity(r, g, width, cx, width, cy, height);
  return std::max(0.0, 0.5 * s_object + 0.5 * s_region);
}

// E-phi (Fan et al., IJCAI 2018) of a binary map with `predicted` pixels, `tp` of them on the truth's
// `truth` pixels, out of n: the enhanced alignment takes one value per (prediction, truth) pair.
double enhanced_alignment(double n, double truth, double predicted, double tp) {
  if (truth == 0) return (n - predicted) / (n - 1.0 + kMatlabEps);
  if (truth == n) return predicted / (n - 1.0 + kMatlabEps);
  const double mu_f = predicted / n, mu_g = truth / n;
  const auto enhanced = [&](double f, double gv) {
    const double af = f - mu_f, ag = gv - mu_g;
    const double align = 2.0 * ag * af / (ag * ag + af * af + kMatlabEps);
    return (align + 1.0) * (align + 1.0) / 4.0;
  };
  const double fp = predicted - tp, fn = truth - tp, tn = n - predicted - fn;
  const double sum = tp * enhanced(1, 1) + fp * enhanced(1, 0) + fn * enhanced(0, 1) + tn * enhanced(0, 0);
  return sum / (n - 1.0 + kMatlabEps);
}

}  // namespace

InfNetMetrics infnet_metrics(std::span<const float> probability, std::span<const std::uint8_t> truth, int width,
                             int height) {
  if (width < 1 || height < 1 || probability.size() != truth.size() ||
      truth.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height)) {
    throw std::invalid_argument("infnet_metrics: the probability map and the truth must both be width x height");
  }
  const std::size_t n = truth.size();
  // A map with NaN or infinity (a diverged model) has no ranking to score: nothing is claimed
  // (computed stays false) rather than a number made up from it.
  for (float p : probability) {
    if (!std::isfinite(p)) return {};
  }
  // Inf-Net's test script: stretch to [0, 1] and save as 8 bits.
  double pmin = probability[0], pmax = probability[0];
  for (float p : probability) {
    pmin = std::min(pmin, static_cast<double>(p));
    pmax = std::max(pmax, static_cast<double>(p));
  }
  std::vector<int> q(n);
  int qmin = 255, qmax = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = (static_cast<double>(probability[i]) - pmin) / (pmax - pmin + 1e-8);
    q[i] = static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
    qmin = std::min(qmin, q[i]);
    qmax = std::max(qmax, q[i]);
  }
  // The toolbox: read back as q / 255 and stretched again (mapminmax) when not constant.
  const auto level = [&](int v) {
    return qmax > qmin ? static_cast<double>(v - qmin) / static_cast<double>(qmax - qmin) : v / 255.0;
  };
  std::vector<double> r(n);
  std::vector<double> fg_at(256, 0.0), all_at(256, 0.0);
  double mae = 0, truth_count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    r[i] = level(q[i]);
    const bool g = truth[i] != 0;
    mae += std::fabs(r[i] - (g ? 1.0 : 0.0));
    all_at[static_cast<std::size_t>(q[i])] += 1;
    if (g) {
      fg_at[static_cast<std::size_t>(q[i])] += 1;
      truth_count += 1;
    }
  }
  InfNetMetrics m;
  const double dn = static_cast<double>(n);
  for (int k = 0; k < 256; ++k) {
    const double t = 1.0 - k / 255.0;
    double predicted = 0, tp = 0;
    for (int v = 0; v < 256; ++v) {
      if (all_at[static_cast<std::size_t>(v)] > 0 && level(v) >= t - 1e-12) {
        predicted += all_at[static_cast<std::size_t>(v)];
        tp += fg_at[static_cast<std::size_t>(v)];
      }
    }
    if (tp > 0) {
      const double fp = predicted - tp, tn = dn - predicted - (truth_count - tp);
      m.dice += 2.0 * tp / (truth_count + predicted);
      m.sensitivity += tp / truth_count;
      m.specificity += tn / (tn + fp);
    }
    m.e_phi += enhanced_alignment(dn, truth_count, predicted, tp);
  }
  m.dice /= 256.0;
  m.sensitivity /= 256.0;
  m.specificity /= 256.0;
  m.e_phi /= 256.0;
  m.s_alpha = structure_measure(r, truth, width, height);
  m.mae = mae / dn;
  m.computed = true;
  return m;
}

std::vector<std::pair<std::string, double>> infnet_fields(const InfNetMetrics& m) {
  if (!m.computed) return {};
  return {{"dice", m.dice},
          {"sensitivity", m.sensitivity},
          {"specificity", m.specificity},
          {"s_alpha", m.s_alpha},
          {"e_phi", m.e_phi},
          {"mae", m.mae}};
}

SegImageMetrics segmentation_metrics(std::span<const float> probability, std::span<const std::uint8_t> truth, int width,
                                     int height) {
  SegImageMetrics m = segmentation_metrics(probability, truth);
  m.infnet = infnet_metrics(probability, truth, width, height);
  return m;
}

SegMetrics summarize(std::vector<SegImageMetrics> images) {
  SegMetrics s;
  s.images = std::move(images);
  const double n = static_cast<double>(s.images.size());
  if (s.images.empty()) return s;
  s.infnet.computed = true;
  for (const auto& m : s.images) {
    s.infnet.computed = s.infnet.computed && m.infnet.computed;
    s.dice += m.dice / n;
    s.iou += m.iou / n;
    s.sensitivity += m.sensitivity / n;
    s.specificity += m.specificity / n;
    s.mae += m.mae / n;
    s.infnet.dice += m.infnet.dice / n;
    s.infnet.sensitivity += m.infnet.sensitivity / n;
    s.infnet.specificity += m.infnet.specificity / n;
    s.infnet.e_phi += m.infnet.e_phi / n;
    s.infnet.s_alpha += m.infnet.s_alpha / n;
    s.infnet.mae += m.infnet.mae / n;
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
  if (m.infnet.computed) {
    out += "Inf-Net toolbox protocol (8-bit map stretched to [0, 1], mean over 256 thresholds):\n";
    std::snprintf(line, sizeof line, "  Dice %.4f  Sen %.4f  Spec %.4f  S-alpha %.4f  E-phi %.4f  MAE %.4f\n",
                  m.infnet.dice, m.infnet.sensitivity, m.infnet.specificity, m.infnet.s_alpha, m.infnet.e_phi,
                  m.infnet.mae);
    out += line;
  }
  return out;
}

std::string format_class_table(const std::vector<std::string>& names, const std::vector<SegMetrics>& per_class) {
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "%-22s %7s %7s %7s %7s %7s %12s\n", "class", "Dice", "IoU", "Sen", "Spec", "MAE",
                "toolbox Dice");
  out += line;
  for (std::size_t k = 0; k < per_class.size(); ++k) {
    const SegMetrics& m = per_class[k];
    const std::string name = k < names.size() ? names[k] : "class " + std::to_string(k + 1);
    std::snprintf(line, sizeof line, "%-22.22s %7.4f %7.4f %7.4f %7.4f %7.4f %12.4f\n", name.c_str(), m.dice, m.iou,
                  m.sensitivity, m.specificity, m.mae, m.infnet.dice);
    out += line;
  }
  return out;
}

namespace {

// A pixel of `mask` on the region's border: set, with a 4-neighbour unset or outside the image.
bool on_contour(std::span<const std::uint8_t> mask, int w, int h, int x, int y) {
  const auto at = [&](int xx, int yy) { return mask[static_cast<std::size_t>(yy) * w + xx] != 0; };
  if (!at(x, y)) return false;
  return x == 0 || y == 0 || x == w - 1 || y == h - 1 || !at(x - 1, y) || !at(x + 1, y) || !at(x, y - 1) || !at(x, y + 1);
}

// An RGB image of w x h (pixels to be set).
io::Image rgb_canvas(int w, int h) {
  io::Image out;
  out.width = out.original_width = w;
  out.height = out.original_height = h;
  out.channels = 3;
  out.pixels.resize(3 * static_cast<std::size_t>(w) * h);
  return out;
}

}  // namespace

io::Image overlay_contours(const io::Image& gray, std::span<const std::uint8_t> predicted,
                           std::span<const std::uint8_t> truth) {
  const int w = gray.width, h = gray.height;
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  if (gray.channels < 1 || predicted.size() != plane || (!truth.empty() && truth.size() != plane)) {
    throw std::invalid_argument("overlay_contours: the masks must have the image's size");
  }
  io::Image out = rgb_canvas(w, h);
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

io::Image overlay_label_contours(const io::Image& gray, std::span<const std::uint8_t> predicted,
                                 std::span<const std::uint8_t> truth) {
  const int w = gray.width, h = gray.height;
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  if (gray.channels < 1 || predicted.size() != plane || (!truth.empty() && truth.size() != plane)) {
    throw std::invalid_argument("overlay_label_contours: the label maps must have the image's size");
  }
  // Prediction: class 1 red, 2 magenta, 3+ orange; truth: class 1 green, 2 cyan, 3+ yellow-green.
  static constexpr float kPred[3][3] = {{1, 0.1f, 0.1f}, {1, 0.1f, 1}, {1, 0.55f, 0}};
  static constexpr float kTruth[3][3] = {{0.1f, 1, 0.1f}, {0.1f, 0.9f, 1}, {0.7f, 1, 0.2f}};
  // A pixel of class c (> 0) on its region's border: a 4-neighbour of another class, or the image edge.
  const auto border = [w, h](std::span<const std::uint8_t> m, int x, int y) {
    const auto at = [&](int xx, int yy) { return m[static_cast<std::size_t>(yy) * w + xx]; };
    const std::uint8_t c = at(x, y);
    if (c == 0) return false;
    return x == 0 || y == 0 || x == w - 1 || y == h - 1 || at(x - 1, y) != c || at(x + 1, y) != c ||
           at(x, y - 1) != c || at(x, y + 1) != c;
  };
  io::Image out = rgb_canvas(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * w + x;
      const float v = gray.pixels[i];
      float rgb[3] = {v, v, v};
      if (predicted[i] != 0) {
        const float* col = kPred[std::min(predicted[i], std::uint8_t{3}) - 1];
        for (int c = 0; c < 3; ++c) rgb[c] = 0.75f * rgb[c] + 0.25f * col[c];
      }
      const float* line = nullptr;
      if (!truth.empty() && border(truth, x, y)) line = kTruth[std::min(truth[i], std::uint8_t{3}) - 1];
      if (border(predicted, x, y)) line = kPred[std::min(predicted[i], std::uint8_t{3}) - 1];
      if (line != nullptr) std::copy(line, line + 3, rgb);
      for (int c = 0; c < 3; ++c) out.pixels[static_cast<std::size_t>(c) * plane + i] = rgb[c];
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
