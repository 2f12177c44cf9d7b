// ModelIr validation (shape inference) and summaries.
#include "heal/nn/model_ir.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace heal::nn {

const char* op_name(OpKind k) {
  switch (k) {
    case OpKind::kConv2d: return "conv2d";
    case OpKind::kBatchNorm: return "batch_norm";
    case OpKind::kDense: return "dense";
    case OpKind::kAvgPool: return "avg_pool";
    case OpKind::kFlatten: return "flatten";
    case OpKind::kPolyAct: return "poly_act";
    case OpKind::kRelu: return "relu";
    case OpKind::kAdd: return "add";
    case OpKind::kTokens: return "tokens";
    case OpKind::kLayerNorm: return "layer_norm";
    case OpKind::kTokenDense: return "token_dense";
    case OpKind::kSelfAttention: return "self_attention";
    case OpKind::kGelu: return "gelu";
    case OpKind::kSelectTokens: return "select_tokens";
  }
  return "unknown";
}

std::uint16_t op_min_version(OpKind k) { return static_cast<unsigned>(k) >= 9 ? 2 : 1; }

std::uint16_t model_format_version(const ModelIr& m) {
  std::uint16_t v = 1;
  for (const auto& l : m.layers) v = std::max(v, op_min_version(l.kind));
  return v;
}

namespace {

// a * b, saturating at SIZE_MAX (so products of untrusted dimensions cannot wrap).
std::size_t mul_sat(std::size_t a, std::size_t b) {
  if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
  return a * b;
}

bool all_finite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

Status layer_error(std::size_t i, const Layer& l, const std::string& what) {
  return Status::corruption("layer " + std::to_string(i) + " (" + op_name(l.kind) +
                            (l.name.empty() ? "" : " '" + l.name + "'") + "): " + what);
}

bool valid_kind(OpKind k) {
  const auto v = static_cast<unsigned>(k);
  return v >= 1 && v <= 14;
}

}  // namespace

Result<std::vector<Shape>> ModelIr::infer_shapes() const {
  auto dim_ok = [](int d) { return d >= 1 && d <= kMaxDim; };
  if (!dim_ok(input.c) || !dim_ok(input.h) || !dim_ok(input.w) || input.size() > kMaxTensor) {
    return Status::corruption("input shape out of range");
  }
  if (num_classes < 1 || num_classes > kMaxDim) return Status::corruption("num_classes out of range");
  if (layers.empty()) return Status::corruption("model has no layers");
  if (layers.size() > static_cast<std::size_t>(kMaxLayers)) return Status::corruption("too many layers");
  if (!meta.norm_mean.empty() || !meta.norm_std.empty()) {
    if (meta.norm_mean.size() != static_cast<std::size_t>(input.c) || meta.norm_std.size() != meta.norm_mean.size()) {
      return Status::corruption("normalisation must have one mean and one std per input channel");
    }
    for (std::size_t k = 0; k < meta.norm_std.size(); ++k) {
      if (!std::isfinite(meta.norm_mean[k]) || !std::isfinite(meta.norm_std[k]) || !(meta.norm_std[k] > 0)) {
        return Status::corruption("normalisation values must be finite with std > 0");
      }
    }
  }
  for (const auto& [k, v] : meta.metrics) {
    if (std::isnan(v)) return Status::corruption("metric '" + k + "' is NaN");
  }

  std::vector<Shape> out(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    if (!valid_kind(l.kind)) return Status::corruption("layer " + std::to_string(i) + ": unknown op kind");
    // Resolve inputs.
    std::vector<int> ins = l.inputs;
    if (ins.empty()) ins.push_back(static_cast<int>(i) - 1);
    const std::size_t want = l.kind == OpKind::kAdd ? 2 : 1;
    if (ins.size() != want) return layer_error(i, l, "expects " + std::to_string(want) + " input(s)");
    std::vector<Shape> in_shapes;
    for (int v : ins) {
      if (v < kInputValue || v >= static_cast<int>(i)) return layer_error(i, l, "input refers to a later layer");
      in_shapes.push_back(v == kInputValue ? input : out[static_cast<std::size_t>(v)]);
    }
    const Shape s = in_shapes[0];
    if (std::isnan(l.input_min) || std::isnan(l.input_max)) return layer_error(i, l, "NaN range");
    if (!std::isfinite(l.a) || !std::isfinite(l.b) || !std::isfinite(l.c)) {
      return layer_error(i, l, "non-finite polynomial coefficient");
    }
    for (const auto* v : {&l.weight, &l.bias, &l.gamma, &l.beta, &l.running_mean, &l.running_var}) {
      if (v->size() > kMaxParams) return layer_error(i, l, "parameter array too large");
      if (!all_finite(*v)) return layer_error(i, l, "non-finite parameter (NaN or Inf)");
    }
    const bool uses_wb = l.kind == OpKind::kConv2d || l.kind == OpKind::kDense || l.kind == OpKind::kTokens ||
                         l.kind == OpKind::kTokenDense || l.kind == OpKind::kSelfAttention;
    const bool uses_bn = l.kind == OpKind::kBatchNorm;
    const bool uses_ln = l.kind == OpKind::kLayerNorm;
    if (!uses_wb && (!l.weight.empty() || !l.bias.empty())) return layer_error(i, l, "unexpected weights");
    if ((!uses_bn && !uses_ln && (!l.gamma.empty() || !l.beta.empty())) ||
        (!uses_bn && (!l.running_mean.empty() || !l.running_var.empty()))) {
      return layer_error(i, l, "unexpected batch-norm parameters");
    }
    // Token ops read a token sequence (T, 1, D).
    const bool token_input = l.kind == OpKind::kLayerNorm || l.kind == OpKind::kTokenDense ||
                             l.kind == OpKind::kSelfAttention || l.kind == OpKind::kSelectTokens;
    if (token_input && s.h != 1) return layer_error(i, l, "input is not a token sequence (T, 1, D)");
    const auto feat = static_cast<std::size_t>(s.w);
    Shape o = s;
    switch (l.kind) {
      case OpKind::kConv2d: {
        if (l.in_channels != s.c) return layer_error(i, l, "in_channels does not match the input");
        if (!dim_ok(l.out_channels) || !dim_ok(l.kernel) || !dim_ok(l.stride)) {
          return layer_error(i, l, "dimension out of range");
        }
        if (l.padding < 0 || l.padding >= l.kernel) return layer_error(i, l, "padding out of range");
        const long hp = static_cast<long>(s.h) + 2L * l.padding, wp = static_cast<long>(s.w) + 2L * l.padding;
        if (hp < l.kernel || wp < l.kernel) return layer_error(i, l, "kernel larger than the padded input");
        o = {l.out_channels, static_cast<int>((hp - l.kernel) / l.stride + 1),
             static_cast<int>((wp - l.kernel) / l.stride + 1)};
        const std::size_t nw = mul_sat(mul_sat(mul_sat(static_cast<std::size_t>(l.out_channels),
                                                       static_cast<std::size_t>(l.in_channels)),
                                               static_cast<std::size_t>(l.kernel)),
                                       static_cast<std::size_t>(l.kernel));
        if (l.weight.size() != nw) return layer_error(i, l, "weight size does not match out*in*k*k");
        if (!l.bias.empty() && l.bias.size() != static_cast<std::size_t>(l.out_channels)) {
          return layer_error(i, l, "bias size does not match out_channels");
        }
        break;
      }
      case OpKind::kDense: {
        if (static_cast<std::size_t>(l.in_channels) != s.size()) {
          return layer_error(i, l, "in_features " + std::to_string(l.in_channels) + " != input size " +
                                       std::to_string(s.size()));
        }
        if (!dim_ok(l.out_channels)) return layer_error(i, l, "out_features out of range");
        const std::size_t nw = mul_sat(static_cast<std::size_t>(l.out_channels), static_cast<std::size_t>(l.in_channels));
        if (l.weight.size() != nw) return layer_error(i, l, "weight size does not match out*in");
        if (!l.bias.empty() && l.bias.size() != static_cast<std::size_t>(l.out_channels)) {
          return layer_error(i, l, "bias size does not match out_features");
        }
        o = {l.out_channels, 1, 1};
        break;
      }
      case OpKind::kBatchNorm: {
        if (l.in_channels != s.c) return layer_error(i, l, "channels do not match the input");
        const auto c = static_cast<std::size_t>(s.c);
        if (l.gamma.size() != c || l.beta.size() != c || l.running_mean.size() != c || l.running_var.size() != c) {
          return layer_error(i, l, "parameter sizes do not match channels");
        }
        for (float v : l.running_var) {
          if (v < 0) return layer_error(i, l, "negative running variance");
        }
        if (!(l.eps > 0) || !std::isfinite(l.eps)) return layer_error(i, l, "eps must be positive");
        break;
      }
      case OpKind::kAvgPool: {
        if (!dim_ok(l.kernel) || !dim_ok(l.stride)) return layer_error(i, l, "dimension out of range");
        if (l.kernel > s.h || l.kernel > s.w) return layer_error(i, l, "kernel larger than the input");
        o = {s.c, (s.h - l.kernel) / l.stride + 1, (s.w - l.kernel) / l.stride + 1};
        break;
      }
      case OpKind::kFlatten: o = {static_cast<int>(s.size()), 1, 1}; break;
      case OpKind::kPolyAct:
      case OpKind::kRelu: break;
      case OpKind::kAdd:
        if (!(in_shapes[0] == in_shapes[1])) return layer_error(i, l, "operand shapes differ");
        break;
      case OpKind::kGelu: break;
      case OpKind::kTokens: {
        if (l.in_channels != s.c) return layer_error(i, l, "in_channels does not match the input channels");
        if (l.out_channels < 0 || l.out_channels > kMaxDim)
          return layer_error(i, l, "learned token count out of range");
        const std::size_t tokens = static_cast<std::size_t>(l.out_channels) + static_cast<std::size_t>(s.h) * s.w;
        if (tokens > static_cast<std::size_t>(kMaxDim)) return layer_error(i, l, "too many tokens");
        const auto d = static_cast<std::size_t>(s.c);
        if (l.weight.size() != mul_sat(static_cast<std::size_t>(l.out_channels), d)) {
          return layer_error(i, l, "weight size does not match tokens*features");
        }
        if (!l.bias.empty() && l.bias.size() != mul_sat(tokens, d)) {
          return layer_error(i, l, "position embedding size does not match (tokens + positions)*features");
        }
        o = {static_cast<int>(tokens), 1, s.c};
        break;
      }
      case OpKind::kLayerNorm:
        if (static_cast<std::size_t>(l.in_channels) != feat)
          return layer_error(i, l, "features do not match the input");
        if (l.gamma.size() != feat || l.beta.size() != feat) return layer_error(i, l, "gamma/beta sizes do not match");
        if (!(l.eps > 0) || !std::isfinite(l.eps)) return layer_error(i, l, "eps must be positive");
        break;
      case OpKind::kTokenDense: {
        if (static_cast<std::size_t>(l.in_channels) != feat) {
          return layer_error(
              i, l, "in_features " + std::to_string(l.in_channels) + " != token features " + std::to_string(feat));
        }
        if (!dim_ok(l.out_channels)) return layer_error(i, l, "out_features out of range");
        if (l.weight.size() != mul_sat(static_cast<std::size_t>(l.out_channels), feat)) {
          return layer_error(i, l, "weight size does not match out*in");
        }
        if (!l.bias.empty() && l.bias.size() != static_cast<std::size_t>(l.out_channels)) {
          return layer_error(i, l, "bias size does not match out_features");
        }
        o = {s.c, 1, l.out_channels};
        break;
      }
      case OpKind::kSelfAttention:
        if (static_cast<std::size_t>(l.in_channels) != feat)
          return layer_error(i, l, "features do not match the input");
        if (!dim_ok(l.out_channels) || s.w % l.out_channels != 0) {
          return layer_error(i, l, "heads must divide the features");
        }
        if (l.weight.size() != mul_sat(3 * feat, feat)) return layer_error(i, l, "weight size does not match 3D*D");
        if (!l.bias.empty() && l.bias.size() != 3 * feat) return layer_error(i, l, "bias size does not match 3D");
        break;
      case OpKind::kSelectTokens:
        if (l.out_channels < 1 || l.out_channels > s.c) return layer_error(i, l, "token count out of range");
        o = {static_cast<int>(mul_sat(static_cast<std::size_t>(l.out_channels), feat)), 1, 1};
        if (static_cast<std::size_t>(o.c) > kMaxTensor) return layer_error(i, l, "output tensor too large");
        break;
    }
    if (o.size() > kMaxTensor || o.c > kMaxDim) return layer_error(i, l, "output tensor too large");
    out[i] = o;
  }
  if (out.back().size() != static_cast<std::size_t>(num_classes)) {
    return Status::corruption("last layer outputs " + std::to_string(out.back().size()) + " values, expected " +
                              std::to_string(num_classes) + " classes");
  }
  return out;
}

std::size_t ModelIr::num_parameters() const {
  std::size_t n = 0;
  for (const auto& l : layers) {
    n += l.weight.size() + l.bias.size() + l.gamma.size() + l.beta.size() + l.running_mean.size() +
         l.running_var.size();
    if (l.kind == OpKind::kPolyAct) n += 3;
  }
  return n;
}

std::string ModelIr::summary() const {
  std::ostringstream os;
  auto shapes = infer_shapes();
  os << "input " << input.c << "x" << input.h << "x" << input.w << ", " << num_classes << " classes, "
     << num_parameters() << " parameters";
  if (!meta.architecture.empty()) os << ", architecture " << meta.architecture;
  os << "\n";
  if (!shapes.ok()) {
    os << "invalid: " << shapes.status().to_string() << "\n";
    return os.str();
  }
  char buf[256];
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const Shape& s = (*shapes)[i];
    std::snprintf(buf, sizeof buf, "  %3zu %-10s %-14s -> %4dx%3dx%3d", i, op_name(l.kind), l.name.c_str(), s.c,
                  s.h, s.w);
    os << buf;
    if (l.kind == OpKind::kConv2d) os << "  k" << l.kernel << " s" << l.stride << " p" << l.padding;
    if (l.kind == OpKind::kSelfAttention) os << "  heads " << l.out_channels;
    if (l.kind == OpKind::kTokens) os << "  learned " << l.out_channels;
    if (l.kind == OpKind::kPolyAct) {
      std::snprintf(buf, sizeof buf, "  %.4g*x^2%+.4g*x%+.4g", l.a, l.b, l.c);
      os << buf;
    }
    if (l.has_range()) {
      std::snprintf(buf, sizeof buf, "  in-range [%.3g, %.3g]", l.input_min, l.input_max);
      os << buf;
    }
    if (!l.inputs.empty()) {
      os << "  inputs";
      for (int v : l.inputs) os << " " << v;
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace heal::nn
