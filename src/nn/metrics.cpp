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

ClassificationMetrics compute_metrics(std::span<const double> probs, std::span<const int> labels, int num_classes,
                                      int positive_class) {
  HEAL_REQUIRE(num_classes >= 2, "compute_metrics: need at least 2 classes");
  const auto c = static_cast<std::size_t>(num_classes);
  HEAL_REQUIRE(probs.size() == labels.size() * c, "compute_metrics: expected " << labels.size() << " x "
                                                                               << num_classes << " probabilities");
  HEAL_REQUIRE(positive_class >= 0 && positive_class < num_classes, "compute_metrics: positive_class out of range");
  ClassificationMetrics m;
  m.n = labels.size();
  m.num_classes = num_classes;
  m.confusion.assign(c, std::vector<std::size_t>(c, 0));
  double loss = 0;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < m.n; ++i) {
    const int y = labels[i];
    HEAL_REQUIRE(y >= 0 && y < num_classes, "compute_metrics: label " << y << " out of range");
    const double* p = probs.data() + i * c;
    const auto pred = static_cast<std::size_t>(std::max_element(p, p + c) - p);
    ++m.confusion[static_cast<std::size_t>(y)][pred];
    correct += pred == static_cast<std::size_t>(y);
    loss -= std::log(std::max(p[y], 1e-12));
  }
  if (m.n == 0) return m;
  m.loss = loss / static_cast<double>(m.n);
  m.accuracy = static_cast<double>(correct) / static_cast<double>(m.n);
  // Per-class one-vs-rest recall, specificity, AUC.
  auto class_stats = [&](std::size_t k, double* sens, double* spec, double* auc) {
    double tp = 0, fn = 0, fp = 0, tn = 0;
    for (std::size_t t = 0; t < c; ++t) {
      for (std::size_t q = 0; q < c; ++q) {
        const auto cnt = static_cast<double>(m.confusion[t][q]);
        if (t == k) (q == k ? tp : fn) += cnt;
        else (q == k ? fp : tn) += cnt;
      }
    }
    *sens = tp + fn > 0 ? tp / (tp + fn) : std::numeric_limits<double>::quiet_NaN();
    *spec = tn + fp > 0 ? tn / (tn + fp) : std::numeric_limits<double>::quiet_NaN();
    std::vector<double> s(m.n);
    std::vector<int> pos(m.n);
    for (std::size_t i = 0; i < m.n; ++i) {
      s[i] = probs[i * c + k];
      pos[i] = labels[i] == static_cast<int>(k);
    }
    *auc = roc_auc(s, pos);
  };
  if (num_classes == 2) {
    class_stats(static_cast<std::size_t>(positive_class), &m.sensitivity, &m.specificity, &m.auc);
  } else {
    double ss = 0, sp = 0, au = 0;
    for (std::size_t k = 0; k < c; ++k) {
      double a = 0, b = 0, d = 0;
      class_stats(k, &a, &b, &d);
      ss += a;
      sp += b;
      au += d;
    }
    m.sensitivity = ss / static_cast<double>(c);
    m.specificity = sp / static_cast<double>(c);
    m.auc = au / static_cast<double>(c);
  }
  return m;
}

std::string format_metrics_table(const ClassificationMetrics& m, const std::vector<std::string>& class_names) {
  std::ostringstream os;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "  n            %zu\n  accuracy     %.4f\n  ROC AUC      %.4f\n  sensitivity  %.4f\n"
                "  specificity  %.4f\n  loss         %.4f\n",
                m.n, m.accuracy, m.auc, m.sensitivity, m.specificity, m.loss);
  os << buf << "  confusion (rows: true, columns: predicted)\n";
  auto name = [&](std::size_t k) {
    return k < class_names.size() ? class_names[k].substr(0, 12) : "class " + std::to_string(k);
  };
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
