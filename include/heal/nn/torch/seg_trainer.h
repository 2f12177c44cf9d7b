// Training and running segmentation networks (issue 20): SegCaps (LaLonde and Bagci,
// arXiv 1804.04241) and the U-Net baseline, on io::SegDataset. Images are normalised
// (io::IntensityNormalizer), resized to image_size x image_size for the network, and the probability
// map is resized back to each image's own size for prediction and metrics (as the Inf-Net
// evaluation does). Augmentation moves the image and its mask together.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/intensity.h"
#include "heal/io/segmentation.h"
#include "heal/nn/seg_metrics.h"

namespace heal::nn::torch_backend {

/// The segmentation architectures, as `heal train --task segment --model` names them.
inline constexpr const char* kSegmentationArchs = "segcaps | ucaps | ucaps-ag | unet | unet-ag";
/// True for "segcaps" (SegCaps), "ucaps" (capsule encoder, CNN decoder), "unet", and "ucaps-ag" /
/// "unet-ag": the same with attention gates on the skip connections (Attention U-Net).
bool is_segmentation_arch(const std::string& arch);

/// Training loss of the segmentation head.
enum class SegLoss {
  kBceDice,    ///< "bce-dice": BCE + soft Dice, both unweighted (the default)
  kStructure,  ///< "structure": F3Net's structure loss as Inf-Net trains with it (Wei, Wang, Huang, arXiv
               ///< 1911.11445): BCE + IoU, each pixel weighted by 1 + 5 |local mean of the mask - mask|
               ///< (box side 31 at 352 x 352, scaled with the input side), so boundaries weigh up to 6x
};
/// "bce-dice" | "structure".
inline constexpr const char* kSegLosses = "bce-dice | structure";
/// The loss named as in kSegLosses; InvalidArgument otherwise.
Result<SegLoss> parse_seg_loss(const std::string& name);
const char* seg_loss_name(SegLoss loss);

struct SegModelSpec {
  std::string arch = "segcaps";  ///< is_segmentation_arch
  int width = 16;                ///< U-Net: channels of the first level; SegCaps, UCaps: stem filters (SegCaps: 16 only)
  int image_size = 128;          ///< network input side (multiple of 8)
  double recon_weight = 0.1;     ///< SegCaps' reconstruction regulariser (0: off)
  /// 2: binary, one foreground output (any nonzero mask class is foreground). K > 2: background and
  /// K - 1 lesion classes (covid_seg's multi-class masks: ground-glass opacity, consolidation), K
  /// softmax outputs trained with cross-entropy + the soft Dice of each lesion class (U-Net and
  /// UCaps, with or without gates; not SegCaps, whose output is one capsule type).
  int classes = 2;
  io::IntensityNormalizer normalizer;  ///< its standard scale is fitted on the training images by fit()
  /// Test-time augmentation: predictions average the probability maps of the image and of its
  /// horizontal mirror (mirrored back), the flip the training augmentation draws. Stored in the model
  /// file; prediction only (training, and the validation Dice that early-stops it, are unchanged).
  bool tta_flip = false;
};

struct SegTrainOptions {
  int epochs = 60;
  int batch_size = 4;
  double learning_rate = 1e-3;  ///< Adam, cosine decay to 0 over the epochs
  double weight_decay = 1e-5;
  SegLoss loss = SegLoss::kBceDice;
  // Augmentation: one random affine map (and flip) applied to the image and its mask together.
  bool augment = true;
  bool hflip = true;
  double max_rotation_deg = 15;
  double max_scale = 0.15;  ///< zoom factor in [1 - s, 1 + s]
  double max_shift = 0.08;  ///< fraction of the side
  double max_brightness = 0.1, max_contrast = 0.1;  ///< on normalised values
  /// Called after each epoch with (epoch from 0, mean training loss).
  std::function<void(int, double)> on_epoch;
  /// Called after each mini-batch with (batches done, batches total, running loss).
  std::function<void(std::size_t, std::size_t, double)> on_batch;
};

struct SegEpochRecord {
  int epoch = 0;
  double lr = 0, train_loss = 0, val_dice = -1, seconds = 0;  ///< val_dice -1: no validation split
};

struct SegFitOptions {
  SegTrainOptions train;
  /// Early stopping on the validation Dice (at the network's resolution) when a validation split is
  /// given; 0: never. Without one, the last epoch's weights are kept.
  int patience = 0;
  std::function<void(const SegEpochRecord&)> on_epoch_end;
};

struct SegFitResult {
  std::vector<SegEpochRecord> history;
  int best_epoch = -1;
  double seconds = 0;
};

/// Foreground and per-class metrics of one pass over samples (SegTrainer::evaluate_all).
struct SegEvaluation {
  SegMetrics foreground;
  std::vector<SegMetrics> classes;  ///< element k - 1 for lesion class k; empty for binary models
};

class SegTrainer {
 public:
  /// @throws std::invalid_argument on a bad spec (unknown architecture, size not a multiple of 8).
  SegTrainer(const SegModelSpec& spec, std::uint64_t seed);
  ~SegTrainer();
  SegTrainer(SegTrainer&&) noexcept;
  SegTrainer& operator=(SegTrainer&&) noexcept;

  const SegModelSpec& spec() const;
  /// Switches the flip test-time augmentation (SegModelSpec::tta_flip) of later predictions.
  void set_tta_flip(bool on);
  /// Sets the normaliser's standard scale (histogram mode) from these images (FL: each hospital's
  /// own; centrally: the training split). fit() calls it on its training split.
  void fit_normalizer(const std::vector<io::SegSample>& samples);

  /// Trainable parameters, then batch-norm running statistics (all averaged by FL).
  std::size_t num_parameters() const;
  std::vector<float> get_weights() const;
  void set_weights(std::span<const float> weights);

  /// `epochs` passes over samples[indices] (all if empty) with a fresh optimiser at
  /// learning_rate (no schedule); returns the last epoch's mean loss. For FL rounds.
  double train_epochs(const std::vector<io::SegSample>& samples, std::span<const std::size_t> indices, int epochs,
                      const SegTrainOptions& opts);

  /// Full training with a cosine schedule; validation on `val` when not empty.
  SegFitResult fit(const std::vector<io::SegSample>& train, const std::vector<io::SegSample>& val,
                   const SegFitOptions& opts);

  /// Foreground probability map at the image's own size (row-major height x width): the one output
  /// of a binary model, 1 - P(background) of a K-class one (any lesion class).
  std::vector<float> predict(const io::Image& image) const;
  /// The probability of every class (background first; K maps, summing to 1 at each pixel; a binary
  /// model gives {1 - p, p}) at the image's own size.
  std::vector<std::vector<float>> predict_classes(const io::Image& image) const;
  /// Foreground metrics (any lesion class against any nonzero mask value) of every sample, at its own
  /// resolution, and their means.
  SegMetrics evaluate(const std::vector<io::SegSample>& samples) const;
  /// K > 2 classes: for each lesion class k = 1 .. K-1, one-vs-rest against the mask's {value == k},
  /// per image and mean (element k - 1), as evaluate_map scores them. Binary models: empty.
  std::vector<SegMetrics> evaluate_classes(const std::vector<io::SegSample>& samples) const;
  /// Both from one prediction per sample: evaluate()'s foreground and evaluate_classes()'s classes.
  SegEvaluation evaluate_all(const std::vector<io::SegSample>& samples) const;

  /// Model file: magic "HEALSEG1", the spec as JSON, the weights (float32). Mode 0644.
  Status save(const std::string& path) const;
  /// Validates everything it reads (Corruption with the reason; never crashes on bad bytes).
  static Result<SegTrainer> load(const std::string& path);
  static Result<SegTrainer> from_bytes(std::span<const std::uint8_t> bytes);
  std::vector<std::uint8_t> to_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// One sample's metrics from its class maps (predict_classes): the foreground's (binary: the
/// foreground map; K classes: 1 - P(background), threshold 0.5) and, for K > 2, each lesion class's
/// one-vs-rest against {mask == k}: Dice, IoU, sensitivity and specificity of the label map's class
/// k (argmax_labels, the map heal segment writes), MAE and the Inf-Net toolbox's values of P(k).
struct SegClassEvaluation {
  SegImageMetrics foreground;
  std::vector<SegImageMetrics> per_class;  ///< element k - 1 for class k; empty when binary
};
SegClassEvaluation evaluate_map(const std::vector<std::vector<float>>& maps, const io::SegSample& sample);

/// The label map of class maps: at each pixel the most probable class (ties: the lower class).
std::vector<std::uint8_t> argmax_labels(const std::vector<std::vector<float>>& maps);

/// True when the file starts with the segmentation model magic.
bool is_seg_model_file(const std::string& path);

}  // namespace heal::nn::torch_backend
