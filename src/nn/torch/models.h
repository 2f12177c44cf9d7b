// libtorch modules of the HEAL model families (private to nn/torch). Every network maps a
// normalised batch (N, C, H, W) to per-class scores and can list its pre-activations for the
// range penalty; all but the capsule network export to ModelIr.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "heal/nn/model_ir.h"
#include "heal/nn/torch/trainer.h"

namespace heal::nn::torch_backend {

/// a*x^2 + b*x + c with learnable scalars initialised to the least-squares fit of ReLU on
/// [-r, r] (Legendre projection: a = 15/(32r), b = 1/2, c = 3r/32).
struct PolyActImpl : ::torch::nn::Module {
  explicit PolyActImpl(double range);
  ::torch::Tensor forward(const ::torch::Tensor& x);
  ::torch::Tensor a, b, c;
  double range;
  /// Pre-activations of the last training-mode forward (for the range penalty).
  ::torch::Tensor last_input;
};
TORCH_MODULE(PolyAct);

/// Interface of all model families.
struct HealNet : ::torch::nn::Module {
  /// Per-class scores: logits (CNNs) or capsule lengths (capsnet).
  virtual ::torch::Tensor forward(const ::torch::Tensor& x) = 0;
  /// Loss of scores against labels with optional class weights (cross-entropy or margin loss).
  virtual ::torch::Tensor loss(const ::torch::Tensor& scores, const ::torch::Tensor& labels,
                               const ::torch::Tensor& class_weights, double label_smoothing = 0) const;
  /// Scores -> probabilities.
  virtual ::torch::Tensor probabilities(const ::torch::Tensor& scores) const;
  /// Loss of scores against soft targets q (N x classes, rows summing to 1), for federated
  /// distillation: cross-entropy -sum_k q_k log softmax(s)_k (the KL divergence to q up to a constant);
  /// capsnet: the margin loss with q in place of the one-hot target.
  virtual ::torch::Tensor soft_loss(const ::torch::Tensor& scores, const ::torch::Tensor& q) const;
  /// Sum over polynomial activations of mean(relu(|x| - range)^2) for the last forward.
  ::torch::Tensor range_penalty() const;
  /// Appends the layers (batch norm not folded). Unsupported for capsnet.
  virtual Status export_layers(ModelIr& ir) const = 0;
  /// Initialises the parameters from an exported (batch-norm folded) model of the same family:
  /// layers are matched by name; batch norms start as the identity; a layer whose shape differs
  /// (e.g. the classifier of a task with other classes) keeps its random initialisation.
  /// Returns the names of the layers taken over. Unsupported for capsnet and resnet.
  virtual Result<std::vector<std::string>> import_layers(const ModelIr& ir);
  std::vector<PolyAct> polys;
  /// Networks with a DeiT distillation head (forward returns the mean of the two heads): the
  /// class-head and distillation-head logits of the last training-mode forward. Undefined for
  /// the others.
  ::torch::Tensor last_cls, last_dist;
};

/// The hecnn spec of an exported hecnn layer chain (see spec_from_ir in trainer.h); `target`
/// gives the input, the class count and dropout.
Result<ModelSpec> hecnn_spec_from_ir(const ModelIr& ir, const ModelSpec& target);

/// Builds the network of a spec with defaults resolved (spec is updated in place).
std::shared_ptr<HealNet> make_network(ModelSpec& spec);

}  // namespace heal::nn::torch_backend
