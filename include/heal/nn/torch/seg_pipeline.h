// The segmentation pipelines front ends share (issue 20): train-and-report on a segmentation
// dataset, evaluation, and segmenting image files with overlays. The CLI only parses and prints.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/segmentation.h"
#include "heal/nn/seg_metrics.h"
#include "heal/nn/torch/seg_trainer.h"

namespace heal::nn::torch_backend {

/// Self-training on unlabelled images (semi-supervised segmentation). A teacher trained on the
/// labelled images labels the unlabelled ones with hard pseudo-labels (its argmax label map); a
/// student, initialised afresh and trained with the recipe's augmentation as its noise, learns from
/// the labelled and the pseudo-labelled images together, then optionally fine-tunes on the labelled
/// images alone. Pseudo-labels: Lee (ICML Workshop 2013); a fresh, noised student: Xie et al. (arXiv
/// 1911.04252); pseudo-labelled CT slices before the doctors' labels: Semi-Inf-Net (Fan et al., arXiv
/// 2004.14133, which labels its 1,600 slices in rounds of five; here all at once).
struct SegSelfTraining {
  /// Empty: off. Any dataset io::load_dataset reads (e.g. COVID-CT's folder): the images of its train
  /// and val splits, labels unread; its test split is never used.
  std::string unlabeled;
  std::size_t max_images = 0;  ///< > 0: a seeded random subset of this many unlabelled images
  /// Epochs over the labelled + pseudo-labelled images (cosine schedule); 0: as many optimiser steps
  /// as the teacher took (its epochs x labelled / all images, rounded up).
  int student_epochs = 0;
  int finetune_epochs = 0;  ///< then epochs on the labelled images alone (a fresh cosine schedule); 0: none
  /// Keep only the unlabelled images whose pseudo-label marks at least this share of the pixels as
  /// lesion (0: keep all). A label-free filter: slices the teacher sees no lesion on are left out.
  double min_lesion = 0;
  bool from_teacher = false;  ///< the student starts from the teacher's weights instead of afresh
  bool enabled() const { return !unlabeled.empty(); }
};

/// What self-training did (SegRunReport, SegCvReport).
struct SegSelfTrainingReport {
  std::size_t unlabeled = 0;     ///< unlabelled images pseudo-labelled
  std::size_t kept = 0;          ///< of those, the ones the student trains on (SegSelfTraining::min_lesion)
  double pseudo_foreground = 0;  ///< mean share of their pixels the teacher labelled lesion (any class)
  int student_epochs = 0, finetune_epochs = 0;
  double teacher_seconds = 0, student_seconds = 0;  ///< training time (the student's includes the fine-tuning)
};

struct SegRunConfig {
  std::string data;            ///< segmentation dataset folder (io::load_seg_dataset)
  /// load.multiclass: the model segments every class of the dataset (model.classes is taken from
  /// SegDataset::num_classes) and the report adds per-class metrics; otherwise binary (any nonzero
  /// mask value is foreground).
  io::SegLoadOptions load;
  SegModelSpec model;
  SegFitOptions fit;
  std::uint64_t seed = 1;
  /// Training images held out for validation (early stopping / checkpoint) when the dataset has no
  /// val split; 0: train on all, keep the last epoch.
  int holdout = 0;
  std::string out_dir;         ///< report.json, test_overlays.png, overlays/ (created)
  std::string model_path;      ///< default <out_dir>/model.healseg
  int overlays = 12;           ///< test images in the overlay figure (0: none)
  SegSelfTraining self_training;  ///< off unless self_training.unlabeled is set
  /// Called before each training stage ("train"; with self-training "teacher", "student",
  /// "finetune") with its epochs; under cross-validation once per fold and stage.
  std::function<void(const std::string& stage, int epochs)> on_stage;
};

struct SegRunReport {
  std::string dataset;
  std::size_t train_images = 0, val_images = 0, test_images = 0;
  std::size_t parameters = 0;
  int classes = 2;                       ///< the model's (2: binary)
  std::vector<std::string> class_names;  ///< the lesion classes' names (classes > 2), element k - 1 for class k
  SegFitResult fit;
  SegMetrics test;                       ///< foreground: any lesion class against any nonzero mask value
  std::vector<SegMetrics> test_classes;  ///< classes > 2: each lesion class, one-vs-rest (SegTrainer::evaluate_classes)
  /// With self-training: what it did, and the teacher's test metrics (foreground) beside the
  /// student's (`test`, the saved model's).
  std::optional<SegSelfTrainingReport> self_training;
  SegMetrics teacher_test;
  /// With flip test-time augmentation (model.tta_flip): the same model's test metrics (foreground)
  /// predicted once, without the mirror, so the augmentation's effect is paired on one model.
  std::optional<SegMetrics> test_without_tta;
  std::string model_path, report_path, figure_path;
};

/// Loads the data, trains, evaluates on the test split (Inf-Net metrics at native resolution),
/// saves the model, writes report.json and, with overlays > 0, one overlay PNG per test image under
/// overlays/ plus the figure test_overlays.png (the first `overlays` test images).
Result<SegRunReport> run_segmentation_training(const SegRunConfig& cfg);

/// The report as JSON text (config, history, per-image and mean metrics).
std::string seg_report_json(const SegRunConfig& cfg, const SegRunReport& r);

struct SegCvReport {
  int folds = 0;
  std::size_t pool = 0;                               ///< training images (train + val pooled)
  std::vector<int> fold_of;                           ///< each pooled image's fold (from 0)
  std::vector<SegMetrics> fold_metrics;               ///< held-out metrics of each fold's model
  SegMetrics pooled;                                  ///< every held-out image once (foreground)
  std::vector<std::string> class_names;               ///< lesion classes (multi-class only)
  std::vector<SegMetrics> pooled_classes;             ///< each lesion class over every held-out image
  double mean_dice = 0, sd_dice = 0;                  ///< threshold 0.5, mean and sample sd over folds
  double mean_toolbox_dice = 0, sd_toolbox_dice = 0;  ///< Inf-Net toolbox Dice, over folds
  /// With self-training, fold by fold: the teacher's held-out metrics (the student's are
  /// fold_metrics), so the two are compared on the same folds; the fields above are the student's.
  std::vector<SegSelfTrainingReport> self_training;
  std::vector<SegMetrics> teacher_fold_metrics;
  double teacher_mean_dice = 0, teacher_mean_toolbox_dice = 0;
  /// With flip test-time augmentation (model.tta_flip), fold by fold: the same models' held-out
  /// metrics predicted without the mirror (the fields above are with it), and their means.
  std::vector<SegMetrics> no_tta_fold_metrics;
  double no_tta_mean_dice = 0, no_tta_mean_toolbox_dice = 0;
  double seconds = 0;
  std::string report_path;  ///< <cfg.out_dir>/cv.json (seg_cv_json)
};

/// K-fold cross-validation on the training split (train + val pooled; the test split is never
/// used), for choosing a recipe without looking at the test slices. Folds come from a shuffle seeded
/// by cfg.seed; each fold's model is trained from cfg.model and cfg.fit with no validation split
/// (the last epoch is kept, as the recipe does with holdout 0) and scored on its held-out images at
/// native resolution; writes <cfg.out_dir>/cv.json. on_fold (optional) is called after each fold
/// with (fold from 0, its metrics).
Result<SegCvReport> run_segmentation_cv(const SegRunConfig& cfg, int folds,
                                        const std::function<void(int, const SegMetrics&)>& on_fold = {});

/// The cross-validation report as JSON text.
std::string seg_cv_json(const SegRunConfig& cfg, const SegCvReport& r);

/// Writes `<dir>/<id>_overlay.png` for each sample (its probability map, from SegTrainer::predict,
/// thresholded at 0.5, in red; the truth in green) and returns the overlays.
Result<std::vector<io::Image>> write_overlays(const std::vector<io::SegSample>& samples,
                                              const std::vector<std::vector<float>>& probabilities,
                                              const std::string& dir);
/// The same for label maps (argmax_labels of a multi-class model): nn::overlay_label_contours of
/// the prediction and the sample's class mask.
Result<std::vector<io::Image>> write_label_overlays(const std::vector<io::SegSample>& samples,
                                                    const std::vector<std::vector<std::uint8_t>>& labels,
                                                    const std::string& dir);

struct SegEvalReport {
  std::string model_path, dataset, split, arch;
  int image_size = 0;
  bool tta_flip = false;                 ///< the predictions used flip test-time augmentation
  SegMetrics foreground;                 ///< SegTrainer::evaluate
  std::vector<std::string> class_names;  ///< lesion classes (multi-class models)
  std::vector<SegMetrics> classes;       ///< SegTrainer::evaluate_classes (multi-class models)
};

/// Scores a saved model (.healseg) on one split ("train", "val", "test") of a segmentation dataset,
/// as heal eval does: a multi-class model on the dataset's class masks (InvalidArgument when the class
/// counts differ), a binary one on the binary masks. `tta_flip`: predict with flip test-time
/// augmentation even if the model was saved without it.
Result<SegEvalReport> evaluate_segmentation_model(const std::string& model_path, const std::string& data,
                                                  const std::string& split, bool tta_flip = false);
/// The evaluation as JSON text (means, per class, per image; the keys of report.json's "test").
std::string seg_eval_json(const SegEvalReport& r);

struct SegmentFileResult {
  std::string input, mask_path, overlay_path;
  int width = 0, height = 0;
  double foreground_fraction = 0;
  std::vector<double> class_fractions;  ///< multi-class models: each lesion class's share of the image
  bool has_truth = false;
  SegImageMetrics metrics;                     ///< foreground, when has_truth
  std::vector<SegImageMetrics> class_metrics;  ///< each lesion class, when has_truth and multi-class
};

/// Segments one image file (PNG, JPEG, DICOM, NIfTI): writes `<out_dir>/<stem>_mask.png` (binary:
/// 0/255; K classes: class k as the grey level round(255 k / (K - 1))) and `<out_dir>/<stem>_overlay.png`;
/// with a truth mask file (binary, or a palette of class indices for a multi-class model), its
/// contours are drawn too and the metrics are computed.
Result<SegmentFileResult> segment_file(const SegTrainer& model, const std::string& image_path,
                                       const std::string& out_dir, const std::string& truth_path = "");

}  // namespace heal::nn::torch_backend
