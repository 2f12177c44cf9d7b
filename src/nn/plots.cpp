// Line plots (ROC, training curves) as PNG through PLplot's pngcairo driver.
#include "heal/nn/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#ifdef HEAL_HAVE_PLPLOT
#include <plstream.h>
#endif

namespace heal::nn {

#ifdef HEAL_HAVE_PLPLOT

Status plot_lines(const std::string& path, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, const std::vector<Series>& series) {
  {
    std::ofstream probe(path, std::ios::binary);  // PLplot reports write failures only on stderr
    if (!probe) return Status::io_error("cannot write " + path);
  }
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : series) {
    for (double v : s.x) {
      if (std::isfinite(v)) xmin = std::min(xmin, v), xmax = std::max(xmax, v);
    }
    for (double v : s.y) {
      if (std::isfinite(v)) ymin = std::min(ymin, v), ymax = std::max(ymax, v);
    }
  }
  if (!(xmin <= xmax) || !(ymin <= ymax)) return Status::invalid_argument("plot '" + title + "': no finite points");
  if (xmax == xmin) xmax = xmin + 1;
  const double pad = ymax > ymin ? 0.05 * (ymax - ymin) : 0.5;
  ymin -= pad;
  ymax += pad;

  plstream pls;
  pls.sdev("pngcairo");
  pls.sfnam(path.c_str());
  pls.spage(0, 0, 800, 600, 0, 0);
  pls.scolbg(255, 255, 255);
  pls.init();
  pls.col0(15);  // black in the default map 0 after a white background? use explicit colours below
  pls.scol0(1, 0, 0, 0);
  pls.col0(1);
  pls.env(xmin, xmax, ymin, ymax, 0, 0);
  pls.lab(xlabel.c_str(), ylabel.c_str(), title.c_str());
  const int palette[][3] = {{31, 119, 180}, {214, 39, 40},   {44, 160, 44},   {255, 127, 14}, {148, 103, 189},
                            {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  const int np = static_cast<int>(std::size(palette));
  std::vector<PLINT> opts, colors, styles;
  std::vector<PLFLT> widths;
  std::vector<const char*> texts;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const int col = 2 + static_cast<int>(k % static_cast<std::size_t>(np));
    const auto& rgb = palette[k % static_cast<std::size_t>(np)];
    pls.scol0(col, rgb[0], rgb[1], rgb[2]);
    pls.col0(col);
    pls.width(2.0);
    std::vector<PLFLT> x(series[k].x.begin(), series[k].x.end()), y(series[k].y.begin(), series[k].y.end());
    const auto n = static_cast<PLINT>(std::min(x.size(), y.size()));
    if (n >= 2) pls.line(n, x.data(), y.data());
    opts.push_back(PL_LEGEND_LINE);
    colors.push_back(col);
    styles.push_back(1);
    widths.push_back(2.0);
    texts.push_back(series[k].label.c_str());
  }
  if (!series.empty()) {
    PLFLT lw = 0, lh = 0;
    std::vector<PLINT> text_colors(series.size(), 1);
    pls.col0(1);
    pls.legend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, PL_POSITION_INSIDE | PL_POSITION_RIGHT | PL_POSITION_BOTTOM,
               0.02, 0.02, 0.08, 0, 1, 1, 0, 0, static_cast<PLINT>(series.size()), opts.data(), 1.0, 0.8, 2.0, 0.0,
               text_colors.data(), texts.data(), nullptr, nullptr, nullptr, nullptr, colors.data(), styles.data(),
               widths.data(), nullptr, nullptr, nullptr, nullptr);
  }
  return {};
}

#else

Status plot_lines(const std::string&, const std::string&, const std::string&, const std::string&,
                  const std::vector<Series>&) {
  return Status::unsupported("HEAL was built without PLplot: no PNG plots");
}

#endif

Status plot_roc(const std::string& path, const std::vector<RocPoint>& curve, double auc, const std::string& title) {
  Series roc{"ROC", {}, {}};
  for (const auto& p : curve) {
    roc.x.push_back(p.fpr);
    roc.y.push_back(p.tpr);
  }
  Series diag{"chance", {0, 1}, {0, 1}};
  char buf[64];
  std::snprintf(buf, sizeof buf, " (AUC %.4f)", auc);
  return plot_lines(path, title + buf, "false positive rate", "true positive rate", {roc, diag});
}

Status plot_roc_curves(const std::string& path, const std::vector<RocSeries>& curves, const std::string& title) {
  std::vector<Series> series;
  for (const auto& c : curves) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " (AUC %.4f)", c.auc);
    Series s{c.label + buf, {}, {}};
    for (const auto& p : c.curve) {
      s.x.push_back(p.fpr);
      s.y.push_back(p.tpr);
    }
    series.push_back(std::move(s));
  }
  series.push_back({"chance", {0, 1}, {0, 1}});
  return plot_lines(path, title, "false positive rate", "true positive rate", series);
}

Status plot_roc_one_vs_rest(const std::string& path, const std::vector<std::vector<RocPoint>>& curves,
                            const ClassificationMetrics& m, const std::vector<std::string>& class_names,
                            const std::string& title) {
  if (curves.size() != static_cast<std::size_t>(m.num_classes) || m.per_class.size() != curves.size()) {
    return Status::invalid_argument("plot '" + title + "': " + std::to_string(curves.size()) + " ROC curves for " +
                                    std::to_string(m.num_classes) + " classes");
  }
  if (m.num_classes == 2) {
    const auto k = static_cast<std::size_t>(m.positive_class);
    return plot_roc(path, curves[k], m.auc, title);
  }
  std::vector<RocSeries> rocs;
  for (std::size_t k = 0; k < curves.size(); ++k) {
    if (m.per_class[k].support == 0) continue;  // no positives: no curve, AUC undefined
    rocs.push_back(
        {k < class_names.size() ? class_names[k] : "class " + std::to_string(k), curves[k], m.per_class[k].auc});
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, " (one-vs-rest, macro AUC %.4f)", m.auc);
  return plot_roc_curves(path, rocs, title + buf);
}

}  // namespace heal::nn
