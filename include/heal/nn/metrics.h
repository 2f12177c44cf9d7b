// Classification metrics (libtorch-free): accuracy, exact tie-aware ROC AUC, sensitivity,
// specificity, precision, F1 (per class, one-vs-rest, and macro), Cohen's kappa (unweighted and
// quadratic-weighted), confusion matrix, ROC curves. Shared by `heal train`, `heal eval`, FL and he_infer.
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

/// One-vs-rest metrics of one class k (positives: true label k; predicted positive: argmax k).
/// A quantity whose denominator is zero is NaN (e.g. sensitivity and AUC of a class absent from
/// the split, precision of a class never predicted).
struct ClassMetrics {
  std::size_t support = 0;  // images whose true label is k
  double sensitivity = 0;   // recall: TP / (TP + FN)
  double specificity = 0;   // TN / (TN + FP)
  double precision = 0;     // TP / (TP + FP)
  double f1 = 0;            // 2 TP / (2 TP + FP + FN)
  double auc = 0;           // one-vs-rest ROC AUC of p(class k)
};

/// Metrics of a classifier on one labelled split.
/// Multi-class macro averages are the plain means over the classes where the per-class value is
/// defined (not NaN), so one class absent from a split does not make the macro value NaN; they are
/// NaN only if no class has a defined value.
struct ClassificationMetrics {
  std::size_t n = 0;
  int num_classes = 0;
  int positive_class = 1;  // binary tasks: the class that sensitivity / specificity / auc refer to
  double loss = 0;         // mean cross-entropy of the probabilities (natural log)
  double accuracy = 0;     // argmax accuracy
  double auc = 0;          // binary: AUC of p(positive); multi-class: macro one-vs-rest
  double sensitivity = 0;  // binary: TP / (TP + FN) for the positive class; multi-class: macro recall
  double specificity = 0;  // binary: TN / (TN + FP); multi-class: macro specificity
  double macro_f1 = 0;     // mean of per_class[k].f1 (binary too)
  double kappa = 0;        // Cohen's kappa of the confusion matrix (cohen_kappa)
  double quadratic_kappa = 0;  // quadratic-weighted kappa (quadratic_kappa); meaningful for ordinal labels
  /// per_class[k]: one-vs-rest metrics of class k, for every task (binary too).
  std::vector<ClassMetrics> per_class;
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

/// One-vs-rest ROC curves of row-major probabilities (n x num_classes): element k is the
/// roc_curve of p(class k) with positives = label k (a curve of a class absent from `labels` has
/// tpr 0 throughout). @throws std::invalid_argument on mismatched sizes or labels out of range.
std::vector<std::vector<RocPoint>> roc_curves_one_vs_rest(std::span<const double> probs, std::span<const int> labels,
                                                          int num_classes);

/// Cohen's kappa (Cohen 1960, Educ. Psychol. Meas. 20(1)) of a square confusion matrix
/// (rows: true, columns: predicted): (p_o - p_e) / (1 - p_e) with p_o the observed agreement and
/// p_e the agreement expected from the marginals. 1 for perfect agreement, ~0 at chance level.
/// NaN if the matrix is empty or p_e = 1 (both raters use one single class).
/// @throws std::invalid_argument if the matrix is not square.
double cohen_kappa(const std::vector<std::vector<std::size_t>>& confusion);

/// Quadratic-weighted kappa (Cohen 1968, Psychol. Bull. 70(4)) for ordinal labels 0 < 1 < ... :
/// 1 - sum w_ij O_ij / sum w_ij E_ij with disagreement weights w_ij = (i - j)^2 / (C - 1)^2,
/// observed counts O and chance-expected counts E_ij = row_i col_j / n. Equals cohen_kappa for
/// two classes. NaN if the matrix is empty or sum w_ij E_ij = 0.
/// @throws std::invalid_argument if the matrix is not square.
double quadratic_kappa(const std::vector<std::vector<std::size_t>>& confusion);

/// Logit margins z[1] - z[0] of a binary model's row-major logits (n x 2).
std::vector<double> binary_margins(std::span<const double> logits);

/// Metrics from row-major probabilities (n x num_classes) and labels in [0, num_classes).
/// For binary tasks `positive_class` (default 1) defines sensitivity/specificity/AUC.
/// @throws std::invalid_argument on mismatched sizes or labels out of range.
ClassificationMetrics compute_metrics(std::span<const double> probs, std::span<const int> labels,
                                      int num_classes, int positive_class = 1);

/// Row-wise softmax of logits (n x num_classes), numerically stable.
std::vector<double> softmax_rows(std::span<const double> logits, int num_classes);

/// A fixed-width table of the metrics and the confusion matrix, for terminals. Binary tasks name
/// the positive class; multi-class tasks add a per-class one-vs-rest table (n, sensitivity,
/// specificity, precision, F1, AUC) with a macro row, and Cohen's and quadratic-weighted kappa.
std::string format_metrics_table(const ClassificationMetrics& m,
                                 const std::vector<std::string>& class_names = {});

}  // namespace heal::nn
