// PNG plots with PLplot's pngcairo driver: ROC curves and training curves.
#pragma once

#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/nn/metrics.h"

namespace heal::nn {

/// One labelled series of a line plot.
struct Series {
  std::string label;
  std::vector<double> x, y;
};

/// Writes a line plot (one colour per series, legend) to a PNG file.
/// Unsupported if HEAL was built without PLplot; IoError if the file cannot be written.
Status plot_lines(const std::string& path, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, const std::vector<Series>& series);

/// ROC curve with the diagonal and the AUC in the title.
Status plot_roc(const std::string& path, const std::vector<RocPoint>& curve, double auc,
                const std::string& title);

/// One labelled curve of a multi-curve ROC plot.
struct RocSeries {
  std::string label;
  std::vector<RocPoint> curve;
  double auc = 0;
};

/// Several ROC curves in one plot with the diagonal; legend entries "label (AUC 0.xxxx)".
Status plot_roc_curves(const std::string& path, const std::vector<RocSeries>& curves, const std::string& title);

/// The ROC plot of a classifier from its one-vs-rest curves (roc_curves_one_vs_rest) and metrics:
/// binary tasks plot_roc of m.positive_class; more classes one curve per class (legend: class name
/// and its AUC, classes absent from the split are left out) and the macro AUC in the title.
Status plot_roc_one_vs_rest(const std::string& path, const std::vector<std::vector<RocPoint>>& curves,
                            const ClassificationMetrics& m, const std::vector<std::string>& class_names,
                            const std::string& title);

}  // namespace heal::nn
