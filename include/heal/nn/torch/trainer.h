// Training with libtorch behind a torch-free interface (pimpl): the CLI and the FL layer use
// this header without seeing any torch type. Implementation: src/nn/torch/.
//
// Architectures (src/nn/torch/README in src/nn/README.md):
//  - kHeCnn:     LoLa/CryptoNets-style HE-friendly CNN: conv(5x5, stride 2) -> BN -> poly2 ->
//                dense -> BN -> poly2 -> dense. Cheap under CKKS (depth <= 6 after BN folding).
//  - kHeCnnWide: two conv blocks and a wider dense layer (more accurate, deeper).
//  - kCapsNet:   capsule network with dynamic routing (Sabour et al., arXiv:1710.09829).
//  - kResNet:    a small ResNet with ReLU (plaintext ceiling).
//  - kDeiT:      a small data-efficient image transformer (Touvron et al., arXiv:2012.12877):
//                patch embedding, class + distillation tokens, pre-norm encoder blocks, two heads
//                whose logits are averaged at inference. Exports to ModelIr format version 2
//                (plaintext reference forward only; not HE-evaluable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/dataset.h"
#include "heal/nn/metrics.h"
#include "heal/nn/model_ir.h"

namespace heal::nn::torch_backend {

enum class Architecture { kHeCnn, kHeCnnWide, kCapsNet, kResNet, kDeiT };

/// "hecnn", "hecnn-wide", "capsnet", "resnet", "deit".
const char* architecture_name(Architecture a);
/// Parses a name accepted by architecture_name(); InvalidArgument otherwise.
Result<Architecture> parse_architecture(const std::string& name);

/// What to build. Zero means "the architecture's default".
struct ModelSpec {
  Architecture arch = Architecture::kHeCnn;
  int in_channels = 1;
  int image_size = 28;   // square input side
  int num_classes = 2;
  int width = 0;   // channels of the first conv (hecnn default 8, wide 16; resnet 16); deit: embed dim 120
  int depth = 0;   // conv blocks (hecnn 1, wide 2; resnet stages 3); deit: encoder blocks 4
  int hidden = 0;  // hidden dense units (hecnn 64, wide 128); deit: MLP hidden units (2 x width)
  /// Degree-2 activation is fitted to ReLU on [-poly_range, poly_range] (HE CNNs only).
  double poly_range = 4.0;
  /// Dropout probability before each dense layer of the HE CNNs (identity at inference, so the
  /// exported IR is unchanged).
  double dropout = 0.0;
  /// deit only: patch side (0: max(1, (image_size + 3) / 7), a 7x7 grid: 4 at 28 px) and attention
  /// heads (0: 4; must divide width).
  int patch = 0;
  int heads = 0;
};

/// The network an exported hecnn `ir` is, to be trained on data shaped like `target` (fine-tuning
/// a backbone trained on another dataset, whose recipe may build another depth or width): arch,
/// width, depth, hidden units and poly_range (when the model records it) come from the IR;
/// in_channels, image_size, num_classes and dropout stay the target's (a class count that differs
/// only leaves the classifier random in Trainer::init_from). InvalidArgument naming the reason
/// when target is not an hecnn, the IR is not an hecnn layer chain (conv/act blocks, flatten, fc1,
/// act_fc, fc2), or its input shape differs from the target's.
Result<ModelSpec> spec_from_ir(const ModelIr& ir, const ModelSpec& target);

class Trainer;

/// kAdamW: Adam with decoupled weight decay (Loshchilov & Hutter, arXiv:1711.05101), as DeiT uses.
enum class OptimizerKind { kAdam, kSgd, kAdamW };
enum class Schedule { kConstant, kCosine, kStep };

/// Per-call training options.
struct TrainOptions {
  OptimizerKind optimizer = OptimizerKind::kAdam;
  double learning_rate = 2e-3;
  double weight_decay = 1e-4;
  double momentum = 0.9;            // SGD only
  Schedule schedule = Schedule::kCosine;
  int step_epochs = 10;             // kStep: multiply lr by step_gamma every step_epochs
  double step_gamma = 0.5;
  int batch_size = 64;
  bool class_weighting = true;      // cross-entropy weights ~ 1 / class frequency
  // Augmentation (training only).
  bool augment = true;
  bool hflip = true;
  double max_shift_px = 2.0;
  double max_rotation_deg = 10.0;
  /// Random zoom by a factor in [1 - max_scale, 1 + max_scale] (0: off).
  double max_scale = 0.0;
  /// Random intensity change per image: x' = clamp(c (x - 0.5) + 0.5 + b, 0, 1) with contrast c in
  /// [1 - max_contrast, 1 + max_contrast] and brightness b in [-max_brightness, max_brightness]
  /// (0: off). Random draws are only made for the augmentations that are on, so turning one on
  /// does not change the others' streams.
  double max_brightness = 0.0;
  double max_contrast = 0.0;
  /// Mixup (Zhang et al., arXiv:1710.09412): each batch is mixed with a shuffled copy of itself
  /// with lambda ~ Beta(alpha, alpha), and the loss is mixed likewise (0: off).
  double mixup_alpha = 0.0;
  /// Weight of the range penalty mean(relu(|x| - poly_range)^2) on pre-activations.
  double range_penalty = 0.1;
  /// Label smoothing of the cross-entropy loss (CNNs only; 0 disables).
  double label_smoothing = 0.0;
  /// Linear learning-rate warmup over the first warmup_epochs epochs (0 disables).
  int warmup_epochs = 0;
  /// Knowledge distillation (Hinton et al., arXiv:1503.02531): a trained teacher (not a capsule
  /// network) scores the same augmented batch in evaluation mode and the loss becomes
  /// (1 - alpha) * CE + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)).
  /// Null: off. The teacher must outlive the training call and is only read.
  const Trainer* distill_teacher = nullptr;
  double distill_alpha = 0.5;
  double distill_temperature = 4.0;
  /// DeiT hard-label distillation (Touvron et al., arXiv:2012.12877, sec. 5.2): a teacher ModelIr
  /// (e.g. an exported hecnn), run with the plaintext reference forward pass (nn::forward) on the
  /// same augmented raw batch; its argmax labels the distillation head:
  /// loss = 0.5 CE(class head, y) + 0.5 CE(distillation head, argmax teacher). A student without a
  /// distillation head (the CNNs) gets both terms on its single output. Without a teacher the
  /// deit distillation head trains on y. Null: off. Must outlive the training call.
  const ModelIr* hard_teacher = nullptr;
  /// FedProx proximal term (mu/2)||w - w_global||^2 over the trainable parameters
  /// (Li et al., arXiv:1812.06127). Disabled when mu == 0 or global_weights is empty.
  double fedprox_mu = 0;
  std::vector<float> global_weights;  // layout of Trainer::get_weights()
  /// Joint federated distillation: each mini-batch of private data is paired with the next
  /// mini-batch of `consensus_images` (cycled, reshuffled per pass, augmented like the private batch)
  /// and the loss gains consensus_weight * soft_loss(model(those images), their rows of
  /// consensus_targets). The consortium's consensus then constrains every private step instead of
  /// one digest step that the next private epochs can undo (online co-distillation, Anil et al.,
  /// arXiv:1804.03235; FedMD's digest and revisit, arXiv:1910.03581, done together). Off when the
  /// images are null or the weight is 0. The images must outlive the training call; targets are
  /// consensus_images->size() x num_classes, row-major, in [0, 1].
  const io::SplitData* consensus_images = nullptr;
  std::vector<double> consensus_targets;
  double consensus_weight = 0;
  /// Called after each epoch with (epoch index from 0, mean training loss).
  std::function<void(int, double)> on_epoch;
  /// Called after each mini-batch with (batches done, batches total, running loss).
  std::function<void(std::size_t, std::size_t, double)> on_batch;
};

/// One epoch of a full fit().
struct EpochRecord {
  int epoch = 0;
  double lr = 0;
  double train_loss = 0;
  double train_accuracy = 0;
  double val_loss = 0;
  double val_accuracy = 0;
  double val_auc = 0;
  double seconds = 0;
};

/// Options of a full training run with early stopping on the validation split.
struct FitOptions {
  TrainOptions train;
  int epochs = 30;
  int patience = 8;               // epochs without val improvement before stopping (0: never)
  /// "auc", "accuracy" or "loss" on the validation split, or "last": no checkpoint selection (the
  /// final weights are kept; validation is still recorded; patience does not apply).
  std::string monitor = "auc";
  /// Exponential moving average of the weights (and BN statistics) after every optimiser step,
  /// decay per step; validation, checkpoint selection and the final weights use the average
  /// (Polyak & Juditsky 1992). 0 disables.
  double ema_decay = 0.0;
  /// Called after each epoch's validation with its record.
  std::function<void(const EpochRecord&)> on_epoch_end;
};

struct FitResult {
  std::vector<EpochRecord> history;
  int best_epoch = -1;            // the restored weights come from this epoch
  double seconds = 0;
};

/// A model plus its optimiser state. Deterministic for a given (spec, seed) with 2 threads.
class Trainer {
 public:
  /// Builds the model with weights initialised from `seed`.
  /// @throws std::invalid_argument on an unsupported spec.
  Trainer(const ModelSpec& spec, std::uint64_t seed);
  ~Trainer();
  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  const ModelSpec& spec() const;

  /// Length of get_weights(): every trainable parameter, then the batch-norm running means and
  /// variances (these are averaged in FL like the weights), in a fixed module order.
  std::size_t num_parameters() const;
  /// Only the trainable parameters (a prefix of get_weights()).
  std::size_t num_trainable() const;
  std::vector<float> get_weights() const;
  /// @throws std::invalid_argument if weights.size() != num_parameters().
  void set_weights(std::span<const float> weights);

  /// Trains `epochs` passes over data[indices] (all of `data` if `indices` is empty); returns the
  /// mean training loss of the last epoch. The optimiser is created per call (fresh state),
  /// as FL clients do each round.
  double train_epochs(const io::SplitData& data, std::span<const std::size_t> indices, int epochs,
                      const TrainOptions& opts);

  /// Federated distillation (FedMD's "digest" step, Li & Wang, arXiv:1910.03581; FedDF, Lin et al.,
  /// arXiv:2006.07242): trains `epochs` passes over the images of `reference` (its labels are not
  /// used) towards the soft targets `targets` (reference.size() x num_classes, row-major, rows summing
  /// to 1), with the loss of HealNet::soft_loss (soft cross-entropy; capsnet: soft margin loss). Uses
  /// opts' optimiser, learning rate and schedule, batch size, augmentation and range penalty (the
  /// same augmented image is scored against its target); the class weighting, mixup, label smoothing,
  /// teachers and FedProx of opts do not apply. Fresh optimiser per call. Returns the mean loss of
  /// the last epoch. @throws std::invalid_argument on a shape mismatch or targets outside [0, 1].
  double distill_epochs(const io::SplitData& reference, std::span<const double> targets, int epochs,
                        const TrainOptions& opts);

  /// Self-supervised contrastive pretraining (SimCLR: Chen et al., arXiv:2002.05709; on COVID-CT
  /// as Self-Trans does, He et al., medRxiv 10.1101/2020.04.13.20063941): every image of a
  /// mini-batch is augmented twice with opts' augmentation (which must be on; independent draws),
  /// the network's outputs (num_classes = the projection dimension) are L2-normalised, and the
  /// NT-Xent loss (cross-entropy of each view against its partner among the other 2B - 1 views,
  /// cosine similarities over `temperature`) pulls the two views of an image together and the
  /// others apart. Labels are not read. Uses opts' optimiser, learning rate and schedule, batch size
  /// and range penalty; fresh optimiser per call. Not for capsnet (its outputs are capsule lengths).
  /// Returns the mean loss of the last epoch (chance: log(2B - 1)).
  /// @throws std::invalid_argument on a shape mismatch, augmentation off, temperature <= 0.
  double contrastive_epochs(const io::SplitData& images, int epochs, const TrainOptions& opts, double temperature);

  /// Full training on dataset.train with validation on dataset.val, early stopping, and the best
  /// validation weights restored at the end.
  FitResult fit(const io::Dataset& dataset, const FitOptions& opts);

  /// Class probabilities (n x num_classes, row-major) in evaluation mode.
  std::vector<double> predict_proba(const io::SplitData& data) const;
  /// Raw logits (n x num_classes) in evaluation mode (capsnet: capsule lengths).
  std::vector<double> predict_logits(const io::SplitData& data) const;
  /// Metrics on a split (evaluation mode).
  ClassificationMetrics evaluate(const io::SplitData& data) const;

  /// True for architectures that export to ModelIr (all but kCapsNet).
  bool exportable() const;
  /// The model as ModelIr with batch norm folded (Unsupported for kCapsNet). Pre-activation
  /// ranges are left empty; fill them with nn::record_ranges on training data.
  Result<ModelIr> export_ir() const;
  /// Initialises from an exported model of the same family (transfer learning, e.g. a
  /// PneumoniaMNIST model as the start for BreastMNIST): layers matched by name, batch norms reset
  /// to the identity, a classifier of another shape left random. Returns the layers taken over.
  /// The network must have the model's layer list: build it from spec_from_ir(ir, ...) when the
  /// model may come from another recipe (InvalidArgument otherwise).
  Result<std::vector<std::string>> init_from(const ModelIr& ir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Sets libtorch's intra-op threads (default 2 in HEAL: the machines are shared). Also applies
/// tune_cpu_allocator() once.
void set_num_threads(int n);

/// Keeps libtorch's large tensors in the process heap instead of fresh anonymous mappings (glibc:
/// mmap off, no trimming), once per process. Without it every activation above glibc's 32 MiB mmap
/// ceiling is mapped, page-faulted and zeroed by the kernel on each use, then unmapped: UCaps at
/// 256 x 256 spent 39 % of its time in the kernel and ran 3.4x slower (docs/segmentation.md).
/// The cost: the heap keeps its peak size until exit (2.1 -> 3.0 GB peak RSS in that run).
/// Returns false, changing nothing, when the C library is not glibc or the user set
/// MALLOC_MMAP_MAX_ or MALLOC_TRIM_THRESHOLD_ (their choice wins). Idempotent.
bool tune_cpu_allocator();

}  // namespace heal::nn::torch_backend
