// The segmentation pipelines front ends share (issue 20): train-and-report on a segmentation
// dataset, evaluation, and segmenting image files with overlays. The CLI only parses and prints.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/segmentation.h"
#include "heal/nn/seg_metrics.h"
#include "heal/nn/torch/seg_trainer.h"

namespace heal::nn::torch_backend {

struct SegRunConfig {
  std::string data;            ///< segmentation dataset folder (io::load_seg_dataset)
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
};

struct SegRunReport {
  std::string dataset;
  std::size_t train_images = 0, val_images = 0, test_images = 0;
  std::size_t parameters = 0;
  SegFitResult fit;
  SegMetrics test;
  std::string model_path, report_path, figure_path;
};

/// Loads the data, trains, evaluates on the test split (Inf-Net metrics at native resolution),
/// saves the model, writes report.json and, with overlays > 0, one overlay PNG per test image under
/// overlays/ plus the figure test_overlays.png (the first `overlays` test images).
Result<SegRunReport> run_segmentation_training(const SegRunConfig& cfg);

/// The report as JSON text (config, history, per-image and mean metrics).
std::string seg_report_json(const SegRunConfig& cfg, const SegRunReport& r);

/// Writes `<dir>/<id>_overlay.png` for each sample (its probability map, from SegTrainer::predict,
/// thresholded at 0.5, in red; the truth in green) and returns the overlays.
Result<std::vector<io::Image>> write_overlays(const std::vector<io::SegSample>& samples,
                                              const std::vector<std::vector<float>>& probabilities,
                                              const std::string& dir);

struct SegmentFileResult {
  std::string input, mask_path, overlay_path;
  int width = 0, height = 0;
  double foreground_fraction = 0;
  bool has_truth = false;
  SegImageMetrics metrics;  ///< when has_truth
};

/// Segments one image file (PNG, JPEG, DICOM, NIfTI): writes `<out_dir>/<stem>_mask.png` (0/255) and
/// `<out_dir>/<stem>_overlay.png`; with a truth mask file, its contour is drawn too and the metrics
/// are computed.
Result<SegmentFileResult> segment_file(const SegTrainer& model, const std::string& image_path,
                                       const std::string& out_dir, const std::string& truth_path = "");

}  // namespace heal::nn::torch_backend
