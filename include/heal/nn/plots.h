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

}  // namespace heal::nn
