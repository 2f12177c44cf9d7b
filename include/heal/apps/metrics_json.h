// JSON form of nn::ClassificationMetrics, shared by the pipelines and commands that write metrics (train, eval,
// infer, fl simulate).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "heal/nn/metrics.h"

namespace heal::apps {

/// {"n", "accuracy", "auc", "sensitivity", "specificity", "loss", "confusion"} as before, plus
/// "macro_f1", "kappa", "quadratic_kappa", "positive_class" (binary tasks: the class that auc /
/// sensitivity / specificity refer to) and "per_class": one object per class with "class" (index),
/// "name" (if `class_names` has it), "n", "sensitivity", "specificity", "precision", "f1", "auc".
/// Undefined values (NaN: a class absent from the split) stay NaN in the value, as before (callers
/// read e.g. ["auc"] back as a double), and dump() writes them as null.
nlohmann::json classification_metrics_json(const nn::ClassificationMetrics& m,
                                           const std::vector<std::string>& class_names = {});

/// The same for the metrics of a split, or null for a split without images (a validation split
/// under --train-on-val, an inner split under --cv-inner-val 0): absent, not zeros.
nlohmann::json split_metrics_json(const nn::ClassificationMetrics& m, const std::vector<std::string>& class_names = {});

}  // namespace heal::apps
