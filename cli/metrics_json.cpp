#include "metrics_json.h"

#include <cmath>

namespace heal::cli {
namespace {

// NaN as null in the json value itself (dump() writes non-finite numbers as null anyway; this makes
// the in-memory value, which callers may inspect or compare, say the same).
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

nlohmann::json classification_metrics_json(const nn::ClassificationMetrics& m,
                                           const std::vector<std::string>& class_names) {
  nlohmann::json per_class = nlohmann::json::array();
  for (std::size_t k = 0; k < m.per_class.size(); ++k) {
    const auto& c = m.per_class[k];
    nlohmann::json e = {{"class", k}};
    if (k < class_names.size()) e["name"] = class_names[k];
    e["n"] = c.support;
    e["sensitivity"] = number(c.sensitivity);
    e["specificity"] = number(c.specificity);
    e["precision"] = number(c.precision);
    e["f1"] = number(c.f1);
    e["auc"] = number(c.auc);
    per_class.push_back(std::move(e));
  }
  nlohmann::json j = {{"n", m.n},
                      {"accuracy", m.accuracy},
                      {"auc", number(m.auc)},
                      {"sensitivity", number(m.sensitivity)},
                      {"specificity", number(m.specificity)},
                      {"loss", m.loss},
                      {"confusion", m.confusion},
                      {"macro_f1", number(m.macro_f1)},
                      {"kappa", number(m.kappa)},
                      {"quadratic_kappa", number(m.quadratic_kappa)},
                      {"per_class", per_class}};
  if (m.num_classes == 2) j["positive_class"] = m.positive_class;
  return j;
}

}  // namespace heal::cli
