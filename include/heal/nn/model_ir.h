// ModelIr: a libtorch-free description of a trained network, the contract between training (nn/torch),
// the plaintext reference forward pass (the oracle) and encrypted inference (he_infer).
//
// A model is a list of layers in topological order. Each layer reads one value (two for kAdd):
// by default the output of the previous layer (the model input for layer 0); `inputs` may name
// earlier layers explicitly (kInputValue = the model input) for skip connections.
// Tensors are one image, channel-major: (channels, height, width); dense layers see the
// flattened C*H*W vector. Token sequences (transformer ops, format version 2) are tensors
// (T, 1, D): T tokens of D features, token-major (value t*D + d).
// The format on disk is docs/formats/model_ir.md.
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
  // Format version 2: transformer ops on token sequences (T, 1, D). Plaintext only: he_infer
  // refuses them (softmax attention, layer norm and GELU are not evaluated under CKKS).
  kTokens = 9,          // (D, H, W) -> (k + H*W, 1, D): the H*W positions as tokens (row-major), after
                        // k learned tokens `weight` (k x D, k = out_channels), plus the position
                        // embedding `bias` ((k + H*W) x D, may be empty); in_channels = D
  kLayerNorm = 10,      // per token over D: gamma * (x - mean) / sqrt(var + eps) + beta (biased var)
  kTokenDense = 11,     // per token: weight (out, in) row-major, bias (out); (T, 1, in) -> (T, 1, out)
  kSelfAttention = 12,  // multi-head self-attention without output projection: weight (3D x D) =
                        // [W_q; W_k; W_v], bias (3D) or empty, out_channels = heads (D % heads == 0);
                        // head h uses features [h*D/H, (h+1)*D/H) of q, k, v:
                        // softmax(q k^T / sqrt(D/H)) v, heads concatenated -> (T, 1, D)
  kGelu = 13,           // 0.5 x (1 + erf(x / sqrt(2))), elementwise
  kSelectTokens = 14,   // (T, 1, D) -> (k*D, 1, 1): the first k = out_channels tokens, concatenated
};

/// First format version that may hold op `k` (1 for the CNN ops, 2 for the transformer ops).
std::uint16_t op_min_version(OpKind k);

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

  // kConv2d / kDense / kBatchNorm dimensions (transformer ops: see OpKind).
  int in_channels = 0;    // conv: input channels; dense: input features; bn: channels
  int out_channels = 0;   // conv: output channels; dense: output features
  int kernel = 0;         // conv / avgpool: square kernel side
  int stride = 1;         // conv / avgpool
  int padding = 0;        // conv only, zero padding on every side

  std::vector<float> weight;  // conv (out*in*k*k) or dense (out*in); tokens, token_dense, attention
  std::vector<float> bias;    // conv / dense (out); may be empty = zero bias

  // kBatchNorm (kLayerNorm: gamma, beta and eps only).
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

/// Current (highest) format version of ObjectType::kModelIr. Version 2 adds the transformer ops
/// (OpKind 9-14); the layer record is unchanged.
inline constexpr std::uint16_t kModelIrVersion = 2;

/// The version a model is written with: the lowest that holds all its ops (1 for CNNs, so their
/// files stay byte-identical to those of version-1 writers; 2 with a transformer op).
std::uint16_t model_format_version(const ModelIr& m);

/// Serialises with the core header (ObjectType::kModelIr, version model_format_version(m)).
/// @throws std::invalid_argument if the model does not validate.
Bytes serialize_model(const ModelIr& m);
/// Parses and validates; never crashes on malformed bytes. Refuses a version-1 file with a
/// version-2 op and a version-2 file without one (not what a writer produces).
Result<ModelIr> deserialize_model(std::span<const std::uint8_t> bytes);
/// Writes a `.heal` model file (atomically).
Status save_model(const ModelIr& m, const std::string& path);
/// Reads a `.heal` model file.
Result<ModelIr> load_model(const std::string& path);

}  // namespace heal::nn
