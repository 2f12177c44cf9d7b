// Classification metrics (libtorch-free): accuracy, exact tie-aware ROC AUC, sensitivity,
// specificity, confusion matrix, ROC curve. Shared by `heal train`, `heal eval`, FL and he_infer.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace heal::nn {

/// One point of a ROC curve.
struct RocPoint {
  double fpr = 0;
  double tpr = 0;
  double threshold = 0;
};

/// Metrics of a classifier on one labelled split.
struct ClassificationMetrics {
  std::size_t n = 0;
  int num_classes = 0;
  double loss = 0;         // mean cross-entropy of the probabilities (natural log)
  double accuracy = 0;     // argmax accuracy
  double auc = 0;          // binary: AUC of p(positive); multi-class: macro one-vs-rest
  double sensitivity = 0;  // binary: TP / (TP + FN) for the positive class; multi-class: macro recall
  double specificity = 0;  // binary: TN / (TN + FP); multi-class: macro specificity
  /// confusion[true][predicted].
  std::vector<std::vector<std::size_t>> confusion;
};

/// Exact ROC AUC = P(score_pos > score_neg) + 0.5 P(equal) (Mann-Whitney U with mid-ranks).
/// `positive[i]` marks the positives. Returns NaN if one of the two classes is absent.
double roc_auc(std::span<const double> scores, std::span<const int> positive);

/// ROC curve over the distinct thresholds (ties form one step), from (0,0) to (1,1).
std::vector<RocPoint> roc_curve(std::span<const double> scores, std::span<const int> positive);

/// Decision threshold on `scores` (positive when score > threshold) that maximises Youden's
/// J = sensitivity + specificity - 1 (Youden 1950) on a labelled split: the midpoint between two
/// neighbouring distinct scores; among thresholds of equal J, the one closest to `prefer`.
/// @throws std::invalid_argument if the sizes differ or one class is absent.
double youden_threshold(std::span<const double> scores, std::span<const int> positive, double prefer = 0);

/// Logit margins z[1] - z[0] of a binary model's row-major logits (n x 2).
std::vector<double> binary_margins(std::span<const double> logits);

/// Metrics from row-major probabilities (n x num_classes) and labels in [0, num_classes).
/// For binary tasks `positive_class` (default 1) defines sensitivity/specificity/AUC.
/// @throws std::invalid_argument on mismatched sizes or labels out of range.
ClassificationMetrics compute_metrics(std::span<const double> probs, std::span<const int> labels,
                                      int num_classes, int positive_class = 1);

/// Row-wise softmax of logits (n x num_classes), numerically stable.
std::vector<double> softmax_rows(std::span<const double> logits, int num_classes);

/// A fixed-width table of the metrics and the confusion matrix, for terminals.
std::string format_metrics_table(const ClassificationMetrics& m,
                                 const std::vector<std::string>& class_names = {});

}  // namespace heal::nn
