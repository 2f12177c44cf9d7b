// Passes over a ModelIr: batch-norm folding and the multiplicative-depth report used for
// CKKS parameter planning.
#pragma once

#include <string>
#include <vector>

#include "heal/nn/model_ir.h"

namespace heal::nn {

/// Folds every kBatchNorm whose input is a kConv2d or kDense output read by nobody else into
/// that layer's weights and bias (w' = w * g / sqrt(v + eps), b' = (b - mean) * g / sqrt(v + eps)
/// + beta). The folded model computes the same function (up to float rounding); batch norms
/// that cannot be folded are kept. Ranges recorded on later layers stay valid.
/// @throws std::invalid_argument if `m` does not validate.
ModelIr fold_batch_norm(const ModelIr& m);

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
struct DepthReport {
  std::vector<DepthEntry> layers;
  int total_naive = 0;
  int total_absorbed = 0;
  bool he_compatible = true;  // false if the model contains kRelu
  std::string reason;         // why not HE-compatible
  /// A table, one row per layer.
  std::string to_string() const;
};

/// @throws std::invalid_argument if `m` does not validate.
DepthReport depth_report(const ModelIr& m);

}  // namespace heal::nn
