// K-fold cross-validation with nested validation and patient-grouped folds (cross_validation.h).
#include "heal/apps/cross_validation.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <utility>

#include "heal/apps/metrics_json.h"
#include "heal/core/rng.h"
#include "heal/io/partition.h"

namespace heal::apps {

using nlohmann::json;

namespace {

// Stream tags of the seeded generators: the fold assignment, and each fold's inner split. They
// are the values `heal train --cv` has always used, so its folds and results reproduce.
constexpr std::uint64_t kFoldStream = 0xC5;
constexpr std::uint64_t kInnerStream = 0xC600;

// Mean and sample sd over the folds of one metric.
std::pair<double, double> mean_sd(const std::vector<CvFoldResult>& folds, double nn::ClassificationMetrics::*metric) {
  const auto n = static_cast<double>(folds.size());
  double m = 0, q = 0;
  for (const auto& f : folds) m += f.metrics.*metric / n;
  for (const auto& f : folds) q += (f.metrics.*metric - m) * (f.metrics.*metric - m);
  return {m, folds.size() > 1 ? std::sqrt(q / (n - 1)) : 0.0};
}

}  // namespace

Result<json> normalize_splits(io::IntensityNormalizer n, const io::SplitData& fit_on,
                              std::initializer_list<io::SplitData*> splits) {
  if (n.mode == io::IntensityMode::kNone) return json{{"mode", "none"}};
  try {
    io::fit_on_split(n, fit_on, 0);
    for (io::SplitData* s : splits) {
      if (s->size() > 0) io::normalize_split(n, *s, 0);
    }
  } catch (const std::exception& e) {
    return Status::invalid_argument(std::string("intensity normalisation: ") + e.what());
  }
  json j = {{"mode", io::intensity_mode_name(n.mode)}, {"fitted_on_images", fit_on.size()}};
  if (!n.standard.empty()) j["standard_scale"] = n.standard;
  return j;
}

Result<CvResult> cross_validate(const io::Dataset& ds, const CvOptions& o, const CvFoldTrainer& train) {
  const std::size_t pool_n = ds.train.size() + ds.val.size();
  if (o.folds < 2) return Status::invalid_argument("cross-validation needs at least 2 folds");
  if (o.folds > pool_n) {
    return Status::invalid_argument("cross-validation: " + std::to_string(o.folds) + " folds but only " +
                                    std::to_string(pool_n) + " train + val images");
  }
  if (!(o.inner_val >= 0.0 && o.inner_val <= 0.5)) {
    return Status::invalid_argument("cross-validation: the inner validation fraction must lie in [0, 0.5]");
  }
  if (ds.num_classes < 2) return Status::invalid_argument("cross-validation needs at least 2 classes");
  if (!ds.val.images.empty() && ds.val.image_size() != ds.train.image_size()) {
    return Status::invalid_argument("cross-validation: train and val images differ in shape");
  }
  if (!train) return Status::invalid_argument("cross-validation: no fold trainer");

  io::SplitData pool = ds.train;
  pool.images.insert(pool.images.end(), ds.val.images.begin(), ds.val.images.end());
  pool.labels.insert(pool.labels.end(), ds.val.labels.begin(), ds.val.labels.end());
  if (o.group && ds.train.groups.size() == ds.train.size() && ds.val.groups.size() == ds.val.size()) {
    pool.groups.insert(pool.groups.end(), ds.val.groups.begin(), ds.val.groups.end());
  } else {
    pool.groups.clear();
  }

  CvResult r;
  r.pool = pool.size();
  r.groups = pool.groups.empty() ? pool.size() : io::count_groups(pool.groups);
  r.grouped = r.groups < pool.size();

  std::vector<std::vector<std::size_t>> folds;
  try {
    SeededRng rng(seed_from_u64(o.seed), kFoldStream);
    folds = io::cv_folds(pool.labels, pool.groups, ds.num_classes, o.folds, rng);
  } catch (const std::exception& e) {
    return Status::invalid_argument(std::string("cross-validation folds: ") + e.what());
  }
  if (o.on_start) o.on_start(r.pool, r.groups, r.grouped);

  for (std::size_t f = 0; f < o.folds; ++f) {
    std::vector<std::size_t> tr;
    for (std::size_t g = 0; g < o.folds; ++g) {
      if (g != f) tr.insert(tr.end(), folds[g].begin(), folds[g].end());
    }
    CvFoldResult fr;
    fr.held_out = folds[f];
    std::sort(fr.held_out.begin(), fr.held_out.end());

    SeededRng irng(seed_from_u64(o.seed), kInnerStream + f);
    const auto [inner_tr, inner_va] = io::holdout_split(pool.labels, pool.groups, tr, ds.num_classes, o.inner_val, irng);
    CvFold fold;
    fold.index = f;
    fold.data.name = ds.name;
    fold.data.source = ds.source;
    fold.data.num_classes = ds.num_classes;
    fold.data.class_names = ds.class_names;
    fold.data.train = io::subset(pool, inner_tr);
    fold.data.val = io::subset(pool, inner_va);
    fold.held_out = io::subset(pool, fr.held_out);
    fr.train = fold.data.train.size();
    fr.inner_val = fold.data.val.size();

    // The histogram scale is learned from the fold's training part only.
    auto norm = normalize_splits(o.normalizer, fold.data.train, {&fold.data.train, &fold.data.val, &fold.held_out});
    if (!norm.ok()) return norm.status();
    fr.normalize = std::move(norm.value());

    fr.record = json::object();
    auto scores = train(fold, fr.record);
    if (!scores.ok()) return scores.status();
    const std::size_t want = fold.held_out.size() * static_cast<std::size_t>(ds.num_classes);
    if (scores.value().size() != want) {
      return Status::invalid_argument("cross-validation: the fold trainer returned " + std::to_string(scores.value().size()) +
                                      " scores for " + std::to_string(want));
    }
    fr.metrics = nn::compute_metrics(nn::softmax_rows(scores.value(), ds.num_classes), fold.held_out.labels, ds.num_classes);
    if (o.on_fold) o.on_fold(f, fr.metrics);
    r.folds.push_back(std::move(fr));
  }
  std::tie(r.mean_accuracy, r.sd_accuracy) = mean_sd(r.folds, &nn::ClassificationMetrics::accuracy);
  std::tie(r.mean_auc, r.sd_auc) = mean_sd(r.folds, &nn::ClassificationMetrics::auc);
  return r;
}

json cv_result_json(const CvResult& r, const CvOptions& o, const std::vector<std::string>& class_names) {
  json folds = json::array();
  for (std::size_t f = 0; f < r.folds.size(); ++f) {
    const CvFoldResult& fr = r.folds[f];
    json j = {{"fold", f},
              {"train", fr.train},
              {"inner_val", fr.inner_val},
              {"held_out", split_metrics_json(fr.metrics, class_names)},
              {"normalize", fr.normalize}};
    for (const auto& [key, value] : fr.record.items()) j[key] = value;
    folds.push_back(std::move(j));
  }
  return {{"cv", o.folds},
          {"seed", o.seed},
          {"pool", r.pool},
          {"inner_val_fraction", o.inner_val},
          {"grouped_by_patient", r.grouped},
          {"groups", r.groups},
          {"normalize", io::intensity_mode_name(o.normalizer.mode)},
          {"folds", std::move(folds)},
          {"mean", {{"accuracy", r.mean_accuracy}, {"auc", r.mean_auc}}},
          {"sd", {{"accuracy", r.sd_accuracy}, {"auc", r.sd_auc}}}};
}

}  // namespace heal::apps
