// Passes over a ModelIr: batch-norm folding and the multiplicative-depth report used for
// CKKS parameter planning.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/nn/model_ir.h"

namespace heal::nn {

/// Folds every kBatchNorm whose input is a kConv2d or kDense output read by nobody else into
/// that layer's weights and bias (w' = w * g / sqrt(v + eps), b' = (b - mean) * g / sqrt(v + eps)
/// + beta). The folded model computes the same function (up to float rounding); batch norms
/// that cannot be folded are kept. Ranges recorded on later layers stay valid.
/// @throws std::invalid_argument if `m` does not validate.
ModelIr fold_batch_norm(const ModelIr& m);

/// Merges K models of the same sequential architecture into ONE model whose logits are the mean
/// of the members' logits (a deep ensemble, Lakshminarayanan et al., arXiv:1612.01474, written as
/// a single grouped network):
///  - the first linear layer stacks the members' output channels / features;
///  - later conv / dense layers are block-diagonal (member k reads and writes block k);
///  - the last dense layer concatenates its inputs with weights / K and the mean bias;
///  - poly_act layers are shared: member k's a_k*x^2 + b_k*x + c_k is rewritten exactly as
///    p_0(beta*x + gamma) + delta with member 0's polynomial p_0, beta = sqrt(a_k / a_0) and
///    gamma folded into the preceding linear layer, delta into the next linear layer's bias.
/// The merged model has the same layers, depth and op kinds as one member (K times the channels),
/// so it runs unchanged under encryption. Batch norms are folded first. Recorded ranges are
/// cleared (record them again on training data). Supported: sequential conv2d / dense / poly_act /
/// avg_pool / flatten / relu models ending in a dense layer, every member's poly of the same
/// sign of `a`, each poly_act directly after a conv or dense layer; otherwise Unsupported.
/// Metadata (normalisation, class names) is member 0's; they must agree on shapes and input.
Result<ModelIr> merge_ensemble(std::span<const ModelIr> members);

/// Moves the decision boundary of a binary model (last layer dense, 2 outputs): afterwards class
/// 1 wins exactly when the original margin z[1] - z[0] exceeds `margin` (the bias of output 1
/// drops by margin/2, that of output 0 rises by margin/2). The ranking of the images, hence the
/// ROC AUC, is unchanged; no cost under encryption. The margin is recorded in meta.notes.
Status shift_binary_decision(ModelIr& m, double margin);

/// Multiplicative depth of one layer.
struct DepthEntry {
  std::string name;
  OpKind kind{};
  int naive = 0;     // levels when evaluated as written
  int absorbed = 0;  // levels when scalar factors are absorbed into neighbouring linear layers
};

/// Depth along the critical path of the model under CKKS (one level per rescale).
///  naive:    conv / dense / batch norm / avg pool 1 level (plaintext multiply + rescale),
///            a*x^2+b*x+c 2 levels (x*x, then the constant a), flatten and add 0.
///  absorbed: a*x^2+b*x+c = a*(x + b/2a)^2 + (c - b^2/4a); the shift goes into the previous
///            layer's bias and a, the constant into the next linear layer, so it costs 1 level;
///            a batch norm directly after conv/dense and an avg pool directly before a linear
///            layer cost 0.
/// Transformer ops (format version 2): token_dense 1 level, tokens / select_tokens 0; layer_norm,
/// self_attention and gelu make the model not HE-compatible (cost 0 in the report).
struct DepthReport {
  std::vector<DepthEntry> layers;
  int total_naive = 0;
  int total_absorbed = 0;
  bool he_compatible = true;  // false if the model contains kRelu, layer_norm, self_attention or gelu
  std::string reason;         // why not HE-compatible
  /// A table, one row per layer.
  std::string to_string() const;
};

/// @throws std::invalid_argument if `m` does not validate.
DepthReport depth_report(const ModelIr& m);

}  // namespace heal::nn
