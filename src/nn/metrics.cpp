// Classification metrics. AUC: Mann-Whitney U with mid-ranks (exact, tie-aware), as in
// Hanley & McNeil, Radiology 143(1), 1982.
#include "heal/nn/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>

#include "heal/core/check.h"

namespace heal::nn {

double roc_auc(std::span<const double> scores, std::span<const int> positive) {
  HEAL_REQUIRE(scores.size() == positive.size(), "roc_auc: scores and labels differ in length");
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0;
  std::size_t n_pos = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mid = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;  // 1-based mid-rank
    for (std::size_t k = i; k < j; ++k) {
      if (positive[order[k]]) {
        rank_sum += mid;
        ++n_pos;
      }
    }
    i = j;
  }
  const std::size_t n_neg = n - n_pos;
  if (n_pos == 0 || n_neg == 0) return std::numeric_limits<double>::quiet_NaN();
  const double np = static_cast<double>(n_pos);
  return (rank_sum - np * (np + 1) / 2.0) / (np * static_cast<double>(n_neg));
}

std::vector<RocPoint> roc_curve(std::span<const double> scores, std::span<const int> positive) {
  HEAL_REQUIRE(scores.size() == positive.size(), "roc_curve: scores and labels differ in length");
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  const auto n_pos = static_cast<double>(std::count_if(positive.begin(), positive.end(), [](int p) { return p != 0; }));
  const double n_neg = static_cast<double>(n) - n_pos;
  std::vector<RocPoint> curve{{0, 0, std::numeric_limits<double>::infinity()}};
  double tp = 0, fp = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) {
      (positive[order[j]] ? tp : fp) += 1;
      ++j;
    }
    curve.push_back({n_neg > 0 ? fp / n_neg : 0, n_pos > 0 ? tp / n_pos : 0, scores[order[i]]});
    i = j;
  }
  return curve;
}

double youden_threshold(std::span<const double> scores, std::span<const int> positive, double prefer) {
  HEAL_REQUIRE(scores.size() == positive.size(), "youden_threshold: scores and labels differ in length");
  HEAL_REQUIRE(std::any_of(positive.begin(), positive.end(), [](int p) { return p != 0; }) &&
                   std::any_of(positive.begin(), positive.end(), [](int p) { return p == 0; }),
               "youden_threshold: both classes must be present");
  // Point i of the ROC curve classifies as positive every score >= curve[i].threshold; the
  // boundary lies halfway to the next lower distinct score (or 1 below the lowest).
  const auto curve = roc_curve(scores, positive);
  double best_j = 0, best_t = curve[1].threshold + 1.0;  // above every score: J = 0
  for (std::size_t i = 1; i < curve.size(); ++i) {
    const double t = i + 1 < curve.size() ? 0.5 * (curve[i].threshold + curve[i + 1].threshold) : curve[i].threshold - 1.0;
    const double j = curve[i].tpr - curve[i].fpr;
    if (j > best_j + 1e-12 || (std::abs(j - best_j) <= 1e-12 && std::abs(t - prefer) < std::abs(best_t - prefer))) {
      best_j = j;
      best_t = t;
    }
  }
  return best_t;
}

std::vector<double> binary_margins(std::span<const double> logits) {
  HEAL_REQUIRE(logits.size() % 2 == 0, "binary_margins: logits are not n x 2");
  std::vector<double> m(logits.size() / 2);
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = logits[2 * i + 1] - logits[2 * i];
  return m;
}

std::vector<double> softmax_rows(std::span<const double> logits, int num_classes) {
  HEAL_REQUIRE(num_classes > 0 && logits.size() % static_cast<std::size_t>(num_classes) == 0,
               "softmax_rows: logits size is not a multiple of num_classes");
  const auto c = static_cast<std::size_t>(num_classes);
  std::vector<double> p(logits.size());
  for (std::size_t r = 0; r < logits.size() / c; ++r) {
    const double mx = *std::max_element(logits.begin() + static_cast<std::ptrdiff_t>(r * c),
                                        logits.begin() + static_cast<std::ptrdiff_t>((r + 1) * c));
    double sum = 0;
    for (std::size_t k = 0; k < c; ++k) sum += p[r * c + k] = std::exp(logits[r * c + k] - mx);
    for (std::size_t k = 0; k < c; ++k) p[r * c + k] /= sum;
  }
  return p;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(double num, double den) { return den > 0 ? num / den : kNaN; }

// Mean over the values that are not NaN; NaN if there are none.
double nan_mean(const std::vector<double>& v) {
  double sum = 0;
  std::size_t k = 0;
  for (double x : v) {
    if (!std::isnan(x)) sum += x, ++k;
  }
  return k > 0 ? sum / static_cast<double>(k) : kNaN;
}

void check_probs(std::span<const double> probs, std::span<const int> labels, int num_classes, const char* fn) {
  HEAL_REQUIRE(num_classes >= 2, fn << ": need at least 2 classes");
  HEAL_REQUIRE(probs.size() == labels.size() * static_cast<std::size_t>(num_classes),
               fn << ": expected " << labels.size() << " x " << num_classes << " probabilities");
  for (int y : labels) HEAL_REQUIRE(y >= 0 && y < num_classes, fn << ": label " << y << " out of range");
}

// p(class k) of every row and the one-vs-rest positives (label == k).
void one_vs_rest(std::span<const double> probs, std::span<const int> labels, std::size_t c, std::size_t k,
                 std::vector<double>& scores, std::vector<int>& positive) {
  scores.resize(labels.size());
  positive.resize(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    scores[i] = probs[i * c + k];
    positive[i] = labels[i] == static_cast<int>(k);
  }
}

// Row sums, column sums and total of a square matrix.
void marginals(const std::vector<std::vector<std::size_t>>& o, std::vector<double>& rows, std::vector<double>& cols,
               double& n, const char* fn) {
  const std::size_t c = o.size();
  rows.assign(c, 0);
  cols.assign(c, 0);
  n = 0;
  for (std::size_t i = 0; i < c; ++i) {
    HEAL_REQUIRE(o[i].size() == c, fn << ": the confusion matrix is not square");
    for (std::size_t j = 0; j < c; ++j) {
      const auto v = static_cast<double>(o[i][j]);
      rows[i] += v;
      cols[j] += v;
      n += v;
    }
  }
}

}  // namespace

std::vector<std::vector<RocPoint>> roc_curves_one_vs_rest(std::span<const double> probs, std::span<const int> labels,
                                                          int num_classes) {
  check_probs(probs, labels, num_classes, "roc_curves_one_vs_rest");
  const auto c = static_cast<std::size_t>(num_classes);
  std::vector<std::vector<RocPoint>> curves;
  std::vector<double> s;
  std::vector<int> pos;
  for (std::size_t k = 0; k < c; ++k) {
    one_vs_rest(probs, labels, c, k, s, pos);
    curves.push_back(roc_curve(s, pos));
  }
  return curves;
}

double cohen_kappa(const std::vector<std::vector<std::size_t>>& confusion) {
  std::vector<double> rows, cols;
  double n = 0;
  marginals(confusion, rows, cols, n, "cohen_kappa");
  if (n == 0) return kNaN;
  double po = 0, pe = 0;
  for (std::size_t k = 0; k < confusion.size(); ++k) {
    po += static_cast<double>(confusion[k][k]) / n;
    pe += (rows[k] / n) * (cols[k] / n);
  }
  return 1 - pe > 0 ? (po - pe) / (1 - pe) : kNaN;
}

double quadratic_kappa(const std::vector<std::vector<std::size_t>>& confusion) {
  std::vector<double> rows, cols;
  double n = 0;
  marginals(confusion, rows, cols, n, "quadratic_kappa");
  const std::size_t c = confusion.size();
  if (n == 0 || c < 2) return kNaN;
  const double scale = static_cast<double>((c - 1) * (c - 1));
  double observed = 0, expected = 0;
  for (std::size_t i = 0; i < c; ++i) {
    for (std::size_t j = 0; j < c; ++j) {
      const double d = static_cast<double>(i) - static_cast<double>(j);
      const double w = d * d / scale;
      observed += w * static_cast<double>(confusion[i][j]);
      expected += w * rows[i] * cols[j] / n;
    }
  }
  return expected > 0 ? 1 - observed / expected : kNaN;
}

ClassificationMetrics compute_metrics(std::span<const double> probs, std::span<const int> labels, int num_classes,
                                      int positive_class) {
  check_probs(probs, labels, num_classes, "compute_metrics");
  HEAL_REQUIRE(positive_class >= 0 && positive_class < num_classes, "compute_metrics: positive_class out of range");
  const auto c = static_cast<std::size_t>(num_classes);
  ClassificationMetrics m;
  m.n = labels.size();
  m.num_classes = num_classes;
  m.positive_class = positive_class;
  m.confusion.assign(c, std::vector<std::size_t>(c, 0));
  double loss = 0;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < m.n; ++i) {
    const int y = labels[i];
    const double* p = probs.data() + i * c;
    const auto pred = static_cast<std::size_t>(std::max_element(p, p + c) - p);
    ++m.confusion[static_cast<std::size_t>(y)][pred];
    correct += pred == static_cast<std::size_t>(y);
    loss -= std::log(std::max(p[y], 1e-12));
  }
  if (m.n == 0) return m;
  m.loss = loss / static_cast<double>(m.n);
  m.accuracy = static_cast<double>(correct) / static_cast<double>(m.n);
  // Per-class one-vs-rest counts from the confusion matrix; AUC from p(class k).
  std::vector<double> s;
  std::vector<int> pos;
  for (std::size_t k = 0; k < c; ++k) {
    double tp = 0, fn = 0, fp = 0, tn = 0;
    for (std::size_t t = 0; t < c; ++t) {
      for (std::size_t q = 0; q < c; ++q) {
        const auto cnt = static_cast<double>(m.confusion[t][q]);
        if (t == k) (q == k ? tp : fn) += cnt;
        else (q == k ? fp : tn) += cnt;
      }
    }
    ClassMetrics cm;
    cm.support = static_cast<std::size_t>(tp + fn);
    cm.sensitivity = ratio(tp, tp + fn);
    cm.specificity = ratio(tn, tn + fp);
    cm.precision = ratio(tp, tp + fp);
    cm.f1 = ratio(2 * tp, 2 * tp + fp + fn);
    one_vs_rest(probs, labels, c, k, s, pos);
    cm.auc = roc_auc(s, pos);
    m.per_class.push_back(cm);
  }
  std::vector<double> sens, spec, f1, auc;
  for (const auto& cm : m.per_class) {
    sens.push_back(cm.sensitivity);
    spec.push_back(cm.specificity);
    f1.push_back(cm.f1);
    auc.push_back(cm.auc);
  }
  m.macro_f1 = nan_mean(f1);
  if (num_classes == 2) {
    const auto& pc = m.per_class[static_cast<std::size_t>(positive_class)];
    m.sensitivity = pc.sensitivity;
    m.specificity = pc.specificity;
    m.auc = pc.auc;
  } else {
    m.sensitivity = nan_mean(sens);
    m.specificity = nan_mean(spec);
    m.auc = nan_mean(auc);
  }
  m.kappa = cohen_kappa(m.confusion);
  m.quadratic_kappa = quadratic_kappa(m.confusion);
  return m;
}

std::string format_metrics_table(const ClassificationMetrics& m, const std::vector<std::string>& class_names) {
  std::ostringstream os;
  char buf[200];
  auto name = [&](std::size_t k) {
    return k < class_names.size() ? class_names[k].substr(0, 12) : "class " + std::to_string(k);
  };
  // Every "  <metric>  <value>" line ends with its value (scripts/train_benchmarks.sh reads the last field).
  std::snprintf(buf, sizeof buf,
                "  n            %zu\n  accuracy     %.4f\n  ROC AUC      %.4f\n  sensitivity  %.4f\n"
                "  specificity  %.4f\n  loss         %.4f\n",
                m.n, m.accuracy, m.auc, m.sensitivity, m.specificity, m.loss);
  os << buf;
  const bool per_class = m.num_classes > 2 && m.per_class.size() == static_cast<std::size_t>(m.num_classes);
  if (m.num_classes == 2) {
    os << "  (ROC AUC, sensitivity and specificity of the positive class "
       << name(static_cast<std::size_t>(m.positive_class)) << ")\n";
  } else if (per_class) {
    std::snprintf(buf, sizeof buf,
                  "  macro F1     %.4f\n  kappa        %.4f\n  quadratic-weighted kappa (ordinal labels)  %.4f\n"
                  "  (ROC AUC, sensitivity, specificity: macro means of the one-vs-rest values below)\n",
                  m.macro_f1, m.kappa, m.quadratic_kappa);
    os << buf << "  per class (one-vs-rest)\n";
    std::snprintf(buf, sizeof buf, "    %-12s %8s %12s %12s %10s %8s %8s\n", "class", "n", "sensitivity", "specificity",
                  "precision", "F1", "AUC");
    os << buf;
    for (std::size_t k = 0; k < m.per_class.size(); ++k) {
      const auto& c = m.per_class[k];
      std::snprintf(buf, sizeof buf, "    %-12s %8zu %12.4f %12.4f %10.4f %8.4f %8.4f\n", name(k).c_str(), c.support,
                    c.sensitivity, c.specificity, c.precision, c.f1, c.auc);
      os << buf;
    }
    std::vector<double> precision;
    for (const auto& c : m.per_class) precision.push_back(c.precision);
    std::snprintf(buf, sizeof buf, "    %-12s %8zu %12.4f %12.4f %10.4f %8.4f %8.4f\n", "macro", m.n, m.sensitivity,
                  m.specificity, nan_mean(precision), m.macro_f1, m.auc);
    os << buf;
  }
  os << "  confusion (rows: true, columns: predicted)\n";
  std::snprintf(buf, sizeof buf, "    %-12s", "");
  os << buf;
  for (std::size_t q = 0; q < m.confusion.size(); ++q) {
    std::snprintf(buf, sizeof buf, " %12s", name(q).c_str());
    os << buf;
  }
  os << "\n";
  for (std::size_t t = 0; t < m.confusion.size(); ++t) {
    std::snprintf(buf, sizeof buf, "    %-12s", name(t).c_str());
    os << buf;
    for (std::size_t q = 0; q < m.confusion.size(); ++q) {
      std::snprintf(buf, sizeof buf, " %12zu", m.confusion[t][q]);
      os << buf;
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace heal::nn
