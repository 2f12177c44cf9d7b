// ModelIr: a libtorch-free description of a trained CNN, the contract between training (nn/torch),
// the plaintext reference forward pass (the oracle) and encrypted inference (he_infer).
//
// A model is a list of layers in topological order. Each layer reads one value (two for kAdd):
// by default the output of the previous layer (the model input for layer 0); `inputs` may name
// earlier layers explicitly (kInputValue = the model input) for skip connections.
// Tensors are one image, channel-major: (channels, height, width); dense layers see the
// flattened C*H*W vector. The format on disk is docs/formats/model_ir.md.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"

namespace heal::nn {

/// Operation of a layer. Values are part of the on-disk format: never renumber.
enum class OpKind : std::uint8_t {
  kConv2d = 1,     // weight (out, in, kh, kw), bias (out); stride, padding (zero), groups = 1
  kBatchNorm = 2,  // per channel: gamma * (x - mean) / sqrt(var + eps) + beta
  kDense = 3,      // weight (out, in) row-major, bias (out); input is flattened
  kAvgPool = 4,    // kernel x kernel window, stride, no padding
  kFlatten = 5,    // (C, H, W) -> (C*H*W, 1, 1); no arithmetic
  kPolyAct = 6,    // a*x^2 + b*x + c, elementwise
  kRelu = 7,       // max(x, 0); plaintext only (not evaluable under CKKS)
  kAdd = 8,        // elementwise sum of two values of equal shape (residual connections)
};

/// "conv2d", "batch_norm", ...
const char* op_name(OpKind k);

/// Shape of one image-sized tensor.
struct Shape {
  int c = 0, h = 0, w = 0;
  std::size_t size() const { return static_cast<std::size_t>(c) * h * w; }
  bool operator==(const Shape&) const = default;
};

/// Refers to the model input in Layer::inputs.
inline constexpr int kInputValue = -1;

/// One operation and its parameters (fields unused by an op stay empty / zero).
struct Layer {
  OpKind kind = OpKind::kFlatten;
  std::string name;
  /// Values read: empty = the previous layer's output; else layer indices or kInputValue.
  std::vector<int> inputs;

  // kConv2d / kDense / kBatchNorm dimensions.
  int in_channels = 0;    // conv: input channels; dense: input features; bn: channels
  int out_channels = 0;   // conv: output channels; dense: output features
  int kernel = 0;         // conv / avgpool: square kernel side
  int stride = 1;         // conv / avgpool
  int padding = 0;        // conv only, zero padding on every side

  std::vector<float> weight;  // conv (out*in*k*k) or dense (out*in)
  std::vector<float> bias;    // conv / dense (out); may be empty = zero bias

  // kBatchNorm.
  std::vector<float> gamma, beta, running_mean, running_var;
  float eps = 1e-5f;

  // kPolyAct coefficients: a*x^2 + b*x + c.
  double a = 0, b = 0, c = 0;

  /// Observed range of this layer's input on training data (for kPolyAct: the pre-activation
  /// range that the HE planner needs). Empty (min > max) if not recorded.
  double input_min = std::numeric_limits<double>::infinity();
  double input_max = -std::numeric_limits<double>::infinity();
  bool has_range() const { return input_min <= input_max; }
};

/// Where the model came from and how well it did.
struct ModelMetadata {
  std::string architecture;               // e.g. "hecnn"
  std::string dataset;                    // e.g. "pneumoniamnist"
  std::vector<std::string> class_names;
  /// Input normalisation applied by forward() before layer 0: x' = (x - mean[c]) / std[c].
  /// Empty = identity. Under encryption the client applies it before encrypting.
  std::vector<float> norm_mean, norm_std;
  std::map<std::string, double> metrics;     // e.g. "test.auc"
  std::map<std::string, std::string> notes;  // free-form key/values (seed, command, ...)
};

/// The model.
struct ModelIr {
  Shape input;
  int num_classes = 0;
  std::vector<Layer> layers;
  ModelMetadata meta;

  /// Checks every invariant (shapes chain, parameter sizes, finite values, bounds) and returns
  /// the output shape of each layer. Corruption / InvalidArgument with the layer named.
  Result<std::vector<Shape>> infer_shapes() const;
  Status validate() const { return infer_shapes().status(); }
  /// Number of weights, biases and batch-norm parameters.
  std::size_t num_parameters() const;
  /// Human-readable one-line-per-layer summary with shapes and ranges.
  std::string summary() const;
};

/// Limits enforced by the loader (and validate()).
inline constexpr int kMaxLayers = 4096;
inline constexpr int kMaxDim = 1 << 16;                        // any channel / feature / side
inline constexpr std::size_t kMaxTensor = std::size_t{1} << 26;  // elements of one tensor
inline constexpr std::size_t kMaxParams = std::size_t{1} << 28;  // parameters per layer

/// Current format version of ObjectType::kModelIr.
inline constexpr std::uint16_t kModelIrVersion = 1;

/// Serialises with the core header (ObjectType::kModelIr, version 1).
/// @throws std::invalid_argument if the model does not validate.
Bytes serialize_model(const ModelIr& m);
/// Parses and validates; never crashes on malformed bytes.
Result<ModelIr> deserialize_model(std::span<const std::uint8_t> bytes);
/// Writes a `.heal` model file (atomically).
Status save_model(const ModelIr& m, const std::string& path);
/// Reads a `.heal` model file.
Result<ModelIr> load_model(const std::string& path);

}  // namespace heal::nn
