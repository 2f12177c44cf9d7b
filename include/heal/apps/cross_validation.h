// K-fold cross-validation of a classification recipe on train + val (`heal train --cv K`), with
// nested validation and patient-grouped folds. Torch-free: the front end supplies the training of
// one fold as a callback, so the protocol (who sees which image) is tested here on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/dataset.h"
#include "heal/io/intensity.h"
#include "heal/nn/metrics.h"

namespace heal::apps {

/// What one fold's training sees. `data.train` is the fold's training part less the inner
/// validation split, `data.val` that inner split (early stopping and checkpoint choice only),
/// `data.test` is empty. `held_out` is the scored fold: the trainer predicts it and must not
/// learn from it. All three are already normalised with the scale fitted on `data.train`.
struct CvFold {
  std::size_t index = 0;
  io::Dataset data;
  io::SplitData held_out;
};

/// Trains on `fold.data` and returns the logits (or any scores whose row-wise softmax is the
/// predicted distribution) of `fold.held_out`, `held_out.size() x num_classes` row-major. It may
/// add what it wants recorded about the fold to `record` (members, teacher, epochs).
using CvFoldTrainer = std::function<Result<std::vector<double>>(const CvFold& fold, nlohmann::json& record)>;

struct CvOptions {
  std::size_t folds = 5;
  /// Fraction of each fold's training part held out (stratified, grouped) for early stopping;
  /// 0 <= inner_val <= 0.5; 0: no inner split.
  double inner_val = 0.125;
  /// Keep each group's (patient's) images in one fold and one side of the inner split when the
  /// dataset names groups for every train and val image. false: folds over images.
  bool group = true;
  /// Seeds the fold assignment (and each fold's inner split).
  std::uint64_t seed = 1;
  /// Scanner normalisation of channel 0, fitted on each fold's training part only (default: none,
  /// the classification default; io::IntensityNormalizer alone defaults to z-score).
  io::IntensityNormalizer normalizer = [] {
    io::IntensityNormalizer n;
    n.mode = io::IntensityMode::kNone;
    return n;
  }();
  /// Called once the folds are dealt, before any trains (pool size, distinct groups, whether the folds
  /// are grouped by patient), so that a front end can say so up front; may be empty.
  std::function<void(std::size_t pool, std::size_t groups, bool grouped)> on_start;
  /// Called after each fold (progress); may be empty.
  std::function<void(std::size_t fold, const nn::ClassificationMetrics& held_out)> on_fold;
};

struct CvFoldResult {
  std::size_t train = 0, inner_val = 0;
  /// Indices into the pool (train images first, then val images) of the scored fold, ascending.
  std::vector<std::size_t> held_out;
  nn::ClassificationMetrics metrics;
  nlohmann::json normalize;  // the fitted normaliser ({"mode": ...}, histogram scale)
  nlohmann::json record;     // what the trainer recorded
};

struct CvResult {
  std::size_t pool = 0;    // train + val images
  std::size_t groups = 0;  // distinct groups in the pool (= pool when not grouped)
  bool grouped = false;
  std::vector<CvFoldResult> folds;
  double mean_accuracy = 0, sd_accuracy = 0, mean_auc = 0, sd_auc = 0;  // over folds (sample sd)
};

/// Fits `n` on channel 0 of `fit_on` (the histogram scale; nothing for the other modes) and
/// normalises channel 0 of every non-empty split in `splits` in place (`io::normalize_split`: back
/// into [0, 1]; other channels, e.g. a segmentation prior, untouched). Returns {"mode"} for kNone
/// (nothing touched), else {"mode", "fitted_on_images", "standard_scale" (histogram)};
/// InvalidArgument when the scale cannot be fitted (no image) or a split lacks channel 0.
Result<nlohmann::json> normalize_splits(io::IntensityNormalizer n, const io::SplitData& fit_on,
                                        std::initializer_list<io::SplitData*> splits);

/// Stratified K-fold cross-validation of `train` on the pool of `ds.train` and `ds.val` (the test
/// split is not read). Folds come from a seeded shuffle per class (`io::cv_folds`), grouped by
/// patient when `options.group` and the dataset names them, so no patient is both trained on and
/// scored. Inside each fold, early stopping uses an inner stratified split of the training part,
/// never the scored fold (nested validation; Varma & Simon 2006, doi:10.1186/1471-2105-7-91).
/// InvalidArgument for fewer than 2 folds, more folds than pool images, an inner fraction outside
/// [0, 0.5], or a trainer that returns the wrong number of scores; a trainer's error Status is
/// returned, its exceptions propagate.
Result<CvResult> cross_validate(const io::Dataset& ds, const CvOptions& options, const CvFoldTrainer& train);

/// {"pool", "groups", "grouped_by_patient", "inner_val_fraction", "folds": [{"fold", "train",
/// "inner_val", "held_out": metrics, "normalize", ...record}], "mean": {"accuracy", "auc"},
/// "sd": {...}}; `class_names` name the per-class metrics.
nlohmann::json cv_result_json(const CvResult& r, const CvOptions& options,
                              const std::vector<std::string>& class_names = {});

}  // namespace heal::apps
