#include "heal/apps/metrics_json.h"

namespace heal::apps {

nlohmann::json classification_metrics_json(const nn::ClassificationMetrics& m,
                                           const std::vector<std::string>& class_names) {
  nlohmann::json per_class = nlohmann::json::array();
  for (std::size_t k = 0; k < m.per_class.size(); ++k) {
    const auto& c = m.per_class[k];
    nlohmann::json e = {{"class", k}};
    if (k < class_names.size()) e["name"] = class_names[k];
    e["n"] = c.support;
    e["sensitivity"] = c.sensitivity;
    e["specificity"] = c.specificity;
    e["precision"] = c.precision;
    e["f1"] = c.f1;
    e["auc"] = c.auc;
    per_class.push_back(std::move(e));
  }
  nlohmann::json j = {{"n", m.n},
                      {"accuracy", m.accuracy},
                      {"auc", m.auc},
                      {"sensitivity", m.sensitivity},
                      {"specificity", m.specificity},
                      {"loss", m.loss},
                      {"confusion", m.confusion},
                      {"macro_f1", m.macro_f1},
                      {"kappa", m.kappa},
                      {"quadratic_kappa", m.quadratic_kappa},
                      {"per_class", per_class}};
  if (m.num_classes == 2) j["positive_class"] = m.positive_class;
  return j;
}

nlohmann::json split_metrics_json(const nn::ClassificationMetrics& m, const std::vector<std::string>& class_names) {
  if (m.n == 0) return nullptr;
  return classification_metrics_json(m, class_names);
}

}  // namespace heal::apps
