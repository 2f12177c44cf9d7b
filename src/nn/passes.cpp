// Batch-norm folding and the multiplicative-depth report.
#include "heal/nn/passes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <sstream>

#include "heal/core/check.h"

namespace heal::nn {

namespace {

int source_of(const Layer& l, std::size_t i, std::size_t k = 0) {
  return l.inputs.empty() ? static_cast<int>(i) - 1 : l.inputs[k];
}

// Explicit input list of layer i (resolves the implicit "previous layer").
std::vector<int> explicit_inputs(const Layer& l, std::size_t i) {
  if (!l.inputs.empty()) return l.inputs;
  return {static_cast<int>(i) - 1};
}

void require_valid(const ModelIr& m, const char* what) {
  const Status s = m.validate();
  HEAL_REQUIRE(s.ok(), what << ": model does not validate: " << s.to_string());
}

}  // namespace

ModelIr fold_batch_norm(const ModelIr& m) {
  require_valid(m, "fold_batch_norm");
  const std::size_t n = m.layers.size();
  // How many layers read each value.
  std::vector<int> readers(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (int v : explicit_inputs(m.layers[i], i)) {
      if (v >= 0) ++readers[static_cast<std::size_t>(v)];
    }
  }
  ModelIr out = m;
  std::vector<bool> removed(n, false);
  std::vector<int> redirect(n);  // value id that replaces layer i's output
  for (std::size_t i = 0; i < n; ++i) redirect[i] = static_cast<int>(i);
  for (std::size_t j = 0; j < n; ++j) {
    const Layer& bn = m.layers[j];
    if (bn.kind != OpKind::kBatchNorm) continue;
    const int p = source_of(bn, j);
    if (p < 0) continue;
    const auto pi = static_cast<std::size_t>(p);
    Layer& prod = out.layers[pi];
    if ((prod.kind != OpKind::kConv2d && prod.kind != OpKind::kDense) || readers[pi] != 1 || removed[pi]) continue;
    const auto channels = static_cast<std::size_t>(prod.out_channels);
    const std::size_t per = prod.weight.size() / channels;
    if (prod.bias.empty()) prod.bias.assign(channels, 0.0f);
    for (std::size_t c = 0; c < channels; ++c) {
      const double scale = bn.gamma[c] / std::sqrt(static_cast<double>(bn.running_var[c]) + bn.eps);
      for (std::size_t k = 0; k < per; ++k) {
        prod.weight[c * per + k] = static_cast<float>(prod.weight[c * per + k] * scale);
      }
      prod.bias[c] = static_cast<float>((prod.bias[c] - bn.running_mean[c]) * scale + bn.beta[c]);
    }
    removed[j] = true;
    redirect[j] = p;
  }
  // Rebuild the layer list with explicit inputs remapped to the new indices.
  std::vector<int> new_index(n, -2);
  std::vector<Layer> kept;
  for (std::size_t i = 0; i < n; ++i) {
    if (removed[i]) continue;
    Layer l = out.layers[i];
    std::vector<int> ins = explicit_inputs(m.layers[i], i);
    for (int& v : ins) {
      while (v >= 0 && redirect[static_cast<std::size_t>(v)] != v) v = redirect[static_cast<std::size_t>(v)];
      if (v >= 0) v = new_index[static_cast<std::size_t>(v)];
    }
    new_index[i] = static_cast<int>(kept.size());
    const int self = static_cast<int>(kept.size());
    if (ins.size() == 1 && ins[0] == self - 1) ins.clear();  // back to the implicit form
    l.inputs = ins;
    kept.push_back(std::move(l));
  }
  out.layers = std::move(kept);
  return out;
}

namespace {

bool is_linear(OpKind k) { return k == OpKind::kConv2d || k == OpKind::kDense; }

bool sequential(const ModelIr& m) {
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& ins = m.layers[i].inputs;
    if (ins.empty()) continue;
    if (ins.size() != 1 || ins[0] != static_cast<int>(i) - 1) return false;
  }
  return true;
}

// The first linear layer after layer j (flatten / average pooling in between), or n.
std::size_t consumer_of(const ModelIr& m, std::size_t j) {
  for (std::size_t t = j + 1; t < m.layers.size(); ++t) {
    const OpKind k = m.layers[t].kind;
    if (k == OpKind::kFlatten || k == OpKind::kAvgPool) continue;
    return is_linear(k) ? t : m.layers.size();  // e.g. another poly_act: no place for a constant
  }
  return m.layers.size();
}

// True if the constant after poly_act j cannot become a bias: the next linear layer is a
// zero-padded conv, whose border outputs see fewer copies of it (merge_ensemble then routes it
// through a constant channel).
bool constant_needs_channel(const ModelIr& m, std::size_t j) {
  const std::size_t t = consumer_of(m, j);
  return t < m.layers.size() && m.layers[t].kind == OpKind::kConv2d && m.layers[t].padding != 0;
}

// Adds the constant `delta` (the same value at every position of layer j's input) to the model
// output by moving it into the bias of the first linear layer after j. Flatten and average
// pooling (no padding) map a constant to the same constant.
Status push_constant(ModelIr& m, std::size_t j, double delta) {
  if (delta == 0) return Status();
  const std::size_t t = consumer_of(m, j);
  if (t == m.layers.size()) {
    return Status::unsupported("merge_ensemble: no linear layer after poly_act '" + m.layers[j].name +
                               "' to take its constant");
  }
  Layer& l = m.layers[t];
  if (l.kind == OpKind::kConv2d && l.padding != 0) {  // constant_needs_channel: the caller's case
    return Status::internal("merge_ensemble: a poly_act constant cannot be moved through the zero-padded conv '" +
                            l.name + "'");
  }
  const auto out = static_cast<std::size_t>(l.out_channels);
  const std::size_t per = l.weight.size() / out;
  if (l.bias.empty()) l.bias.assign(out, 0.0f);
  for (std::size_t o = 0; o < out; ++o) {
    double sum = 0;
    for (std::size_t k = 0; k < per; ++k) sum += l.weight[o * per + k];
    l.bias[o] = static_cast<float>(l.bias[o] + delta * sum);
  }
  return Status();
}

// Rewrites member `m` so that every poly_act uses the coefficients of `ref` (see merge_ensemble).
// Constants that cannot become a bias (constant_needs_channel) are returned in `pending` (by
// layer index) instead of being pushed.
Status align_polys(ModelIr& m, const ModelIr& ref, std::map<std::size_t, double>& pending) {
  for (std::size_t j = 0; j < m.layers.size(); ++j) {
    Layer& p = m.layers[j];
    if (p.kind != OpKind::kPolyAct) continue;
    const Layer& q = ref.layers[j];
    if (p.a == q.a && p.b == q.b && p.c == q.c) continue;
    if (j == 0 || !is_linear(m.layers[j - 1].kind)) {
      return Status::unsupported("merge_ensemble: poly_act '" + p.name + "' differs between members and does not follow a conv/dense layer");
    }
    if (p.a == 0 || q.a == 0 || (p.a > 0) != (q.a > 0)) {
      return Status::unsupported("merge_ensemble: poly_act '" + p.name + "' has x^2 coefficients of different sign or zero across members");
    }
    // a_k x^2 + b_k x + c_k = a_0 (beta x + gamma)^2 + b_0 (beta x + gamma) + c_0 + delta.
    const double beta = std::sqrt(p.a / q.a);
    const double gamma = (p.b / beta - q.b) / (2 * q.a);
    const double delta = p.c - (q.a * gamma * gamma + q.b * gamma + q.c);
    Layer& lin = m.layers[j - 1];
    const auto out = static_cast<std::size_t>(lin.out_channels);
    const std::size_t per = lin.weight.size() / out;
    if (lin.bias.empty()) lin.bias.assign(out, 0.0f);
    for (std::size_t o = 0; o < out; ++o) {
      for (std::size_t k = 0; k < per; ++k) lin.weight[o * per + k] = static_cast<float>(lin.weight[o * per + k] * beta);
      lin.bias[o] = static_cast<float>(lin.bias[o] * beta + gamma);
    }
    p.a = q.a, p.b = q.b, p.c = q.c;
    if (constant_needs_channel(m, j)) {
      if (delta != 0) pending[j] = delta;
    } else if (Status s = push_constant(m, j, delta); !s.ok()) {
      return s;
    }
  }
  return Status();
}

}  // namespace

Result<ModelIr> merge_ensemble(std::span<const ModelIr> members) {
  if (members.empty()) return Status::invalid_argument("merge_ensemble: no members");
  std::vector<ModelIr> ms;
  ms.reserve(members.size());
  for (std::size_t k = 0; k < members.size(); ++k) {
    if (Status s = members[k].validate(); !s.ok()) {
      return Status::invalid_argument("merge_ensemble: member " + std::to_string(k) + " does not validate: " + s.to_string());
    }
    ms.push_back(fold_batch_norm(members[k]));
  }
  const ModelIr& m0 = ms[0];
  const std::size_t n = m0.layers.size();
  for (std::size_t k = 0; k < ms.size(); ++k) {
    const ModelIr& m = ms[k];
    const std::string who = "merge_ensemble: member " + std::to_string(k);
    if (!sequential(m)) return Status::unsupported(who + " is not a sequential model");
    if (!(m.input == m0.input) || m.num_classes != m0.num_classes || m.layers.size() != n ||
        m.meta.norm_mean != m0.meta.norm_mean || m.meta.norm_std != m0.meta.norm_std) {
      return Status::invalid_argument(who + " differs from member 0 in input, classes, normalisation or layer count");
    }
    for (std::size_t i = 0; i < n; ++i) {
      const Layer& a = m.layers[i];
      const Layer& b = m0.layers[i];
      if (a.kind != b.kind || a.in_channels != b.in_channels || a.out_channels != b.out_channels ||
          a.kernel != b.kernel || a.stride != b.stride || a.padding != b.padding) {
        return Status::invalid_argument(who + " layer " + std::to_string(i) + " differs from member 0");
      }
      if (a.kind == OpKind::kBatchNorm) return Status::unsupported(who + ": batch norm '" + a.name + "' cannot be folded");
      if (a.kind == OpKind::kAdd) return Status::unsupported(who + ": residual 'add' layers are not supported");
      if (op_min_version(a.kind) > 1)
        return Status::unsupported(who + ": transformer op '" + a.name + "' is not supported");
    }
  }
  if (m0.layers.back().kind != OpKind::kDense) return Status::unsupported("merge_ensemble: the last layer must be dense");
  std::vector<std::map<std::size_t, double>> pending(ms.size());  // member -> poly index -> constant
  for (std::size_t k = 1; k < ms.size(); ++k) {
    if (Status s = align_polys(ms[k], m0, pending[k]); !s.ok()) return s;
  }

  const auto kk = ms.size();
  const int ki = static_cast<int>(kk);
  ModelIr out = m0;
  bool replicated = false;  // the current value holds K member blocks
  for (std::size_t i = 0; i < n; ++i) {
    Layer& l = out.layers[i];
    l.input_min = std::numeric_limits<double>::infinity();
    l.input_max = -std::numeric_limits<double>::infinity();
    if (!is_linear(l.kind)) continue;
    const bool last = i + 1 == n;
    const auto o = static_cast<std::size_t>(l.out_channels);
    const std::size_t per = l.weight.size() / o;  // weights per output (in * k * k, or in)
    const bool has_bias = std::any_of(ms.begin(), ms.end(), [&](const ModelIr& m) { return !m.layers[i].bias.empty(); });
    auto bias_of = [&](std::size_t k, std::size_t c) {
      const auto& b = ms[k].layers[i].bias;
      return b.empty() ? 0.0 : static_cast<double>(b[c]);
    };
    if (last) {
      // logits = (1/K) sum_k W_k x_k + mean_k b_k (x_k = member k's block, or the shared input).
      const std::size_t cols = replicated ? per * kk : per;
      std::vector<float> w(o * cols, 0.0f);
      std::vector<float> b(o, 0.0f);
      for (std::size_t c = 0; c < o; ++c) {
        double bb = 0;
        for (std::size_t k = 0; k < kk; ++k) bb += bias_of(k, c);
        b[c] = static_cast<float>(bb / static_cast<double>(kk));
        for (std::size_t t = 0; t < per; ++t) {
          if (replicated) {
            for (std::size_t k = 0; k < kk; ++k) {
              w[c * cols + k * per + t] = static_cast<float>(ms[k].layers[i].weight[c * per + t] / static_cast<double>(kk));
            }
          } else {
            double sum = 0;
            for (std::size_t k = 0; k < kk; ++k) sum += ms[k].layers[i].weight[c * per + t];
            w[c * cols + t] = static_cast<float>(sum / static_cast<double>(kk));
          }
        }
      }
      if (replicated) l.in_channels *= ki;
      l.weight = std::move(w);
      l.bias = std::move(b);
      continue;
    }
    // Stacked outputs; block-diagonal if the input is already replicated.
    const std::size_t in_n = static_cast<std::size_t>(l.in_channels);
    const std::size_t kernel_area = per / in_n;  // k*k for conv, 1 for dense
    const std::size_t new_per = replicated ? per * kk : per;
    std::vector<float> w(o * kk * new_per, 0.0f);
    std::vector<float> b;
    if (has_bias) b.assign(o * kk, 0.0f);
    for (std::size_t k = 0; k < kk; ++k) {
      const auto& src = ms[k].layers[i].weight;
      for (std::size_t c = 0; c < o; ++c) {
        const std::size_t row = k * o + c;
        for (std::size_t ic = 0; ic < in_n; ++ic) {
          const std::size_t dst_ic = replicated ? k * in_n + ic : ic;
          for (std::size_t t = 0; t < kernel_area; ++t) {
            w[row * new_per + dst_ic * kernel_area + t] = src[c * per + ic * kernel_area + t];
          }
        }
        if (has_bias) b[row] = static_cast<float>(bias_of(k, c));
      }
    }
    if (replicated) l.in_channels *= ki;
    l.out_channels *= ki;
    l.weight = std::move(w);
    l.bias = std::move(b);
    replicated = true;
  }
  // Constants in front of zero-padded convs: member k computes conv(p_0(.) + delta_k) with the
  // padding applied after the constant is added, so delta_k reaches border outputs through fewer
  // taps and no bias can hold it. A constant channel reproduces it exactly: the linear layer before
  // the poly_act gets one more output with zero weights and bias y* (the poly_act maps it to
  // v = p_0(y*) at every position, and the conv pads it with zeros like the others), and the conv
  // reads it with taps delta_k / v * (sum of the row's taps over its input channels).
  std::set<std::size_t> poly_js;
  for (const auto& pk : pending) {
    for (const auto& [j, d] : pk) poly_js.insert(j);
  }
  for (std::size_t j : poly_js) {
    Layer& prod = out.layers[j - 1];
    const Layer& act = out.layers[j];
    const std::size_t t = consumer_of(out, j);
    if (t != j + 1 || prod.kind != OpKind::kConv2d) {
      return Status::unsupported("merge_ensemble: poly_act '" + act.name +
                                 "' needs a constant channel, supported only between two convs");
    }
    Layer& conv = out.layers[t];
    // y* in [-1, 1] with the largest |p_0(y*)| (inside every fitted interval; v far from 0).
    double y_star = 0, v = act.c;
    for (double y : {-1.0, -0.5, 0.5, 1.0}) {
      const double py = act.a * y * y + act.b * y + act.c;
      if (std::abs(py) > std::abs(v)) y_star = y, v = py;
    }
    if (std::abs(v) < 1e-3) return Status::unsupported("merge_ensemble: poly_act '" + act.name + "' is ~0 on [-1, 1]");
    const auto p_out = static_cast<std::size_t>(prod.out_channels);
    const std::size_t p_per = prod.weight.size() / p_out;
    prod.weight.resize(prod.weight.size() + p_per, 0.0f);
    if (prod.bias.empty()) prod.bias.assign(p_out, 0.0f);
    prod.bias.push_back(static_cast<float>(y_star));
    prod.out_channels += 1;
    const auto c_out = static_cast<std::size_t>(conv.out_channels);
    const auto c_in = static_cast<std::size_t>(conv.in_channels);
    const std::size_t area = static_cast<std::size_t>(conv.kernel) * static_cast<std::size_t>(conv.kernel);
    const std::size_t rows_per_member = c_out / kk;
    std::vector<float> w(c_out * (c_in + 1) * area, 0.0f);
    for (std::size_t o = 0; o < c_out; ++o) {
      const std::size_t k = o / rows_per_member;
      auto it = pending[k].find(j);
      const double delta = it == pending[k].end() ? 0.0 : it->second;
      for (std::size_t a = 0; a < area; ++a) {
        double sum = 0;  // tap a of the row over its input channels
        for (std::size_t ic = 0; ic < c_in; ++ic) {
          const float x = conv.weight[(o * c_in + ic) * area + a];
          w[(o * (c_in + 1) + ic) * area + a] = x;
          sum += x;
        }
        w[(o * (c_in + 1) + c_in) * area + a] = static_cast<float>(delta / v * sum);
      }
    }
    conv.weight = std::move(w);
    conv.in_channels += 1;
  }
  out.meta.notes["ensemble_members"] = std::to_string(kk);
  if (Status s = out.validate(); !s.ok()) return Status::internal("merge_ensemble produced an invalid model: " + s.to_string());
  return out;
}

Status shift_binary_decision(ModelIr& m, double margin) {
  if (m.num_classes != 2 || m.layers.empty() || m.layers.back().kind != OpKind::kDense || m.layers.back().out_channels != 2) {
    return Status::unsupported("shift_binary_decision: needs a binary model ending in a dense layer with 2 outputs");
  }
  if (!std::isfinite(margin)) return Status::invalid_argument("shift_binary_decision: margin must be finite");
  Layer& l = m.layers.back();
  if (l.bias.empty()) l.bias.assign(2, 0.0f);
  l.bias[0] = static_cast<float>(l.bias[0] + margin / 2);
  l.bias[1] = static_cast<float>(l.bias[1] - margin / 2);
  double total = margin;  // shifts accumulate
  if (auto it = m.meta.notes.find("decision_margin"); it != m.meta.notes.end()) total += std::strtod(it->second.c_str(), nullptr);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", total);
  m.meta.notes["decision_margin"] = buf;
  return Status();
}

DepthReport depth_report(const ModelIr& m) {
  require_valid(m, "depth_report");
  DepthReport r;
  const std::size_t n = m.layers.size();
  std::vector<int> naive(n, 0), absorbed(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = m.layers[i];
    int dn = 0, da = 0;  // depth of the inputs
    for (int v : explicit_inputs(l, i)) {
      if (v >= 0) {
        dn = std::max(dn, naive[static_cast<std::size_t>(v)]);
        da = std::max(da, absorbed[static_cast<std::size_t>(v)]);
      }
    }
    int cn = 0, ca = 0;  // cost of this layer
    switch (l.kind) {
      case OpKind::kConv2d:
      case OpKind::kDense: cn = ca = 1; break;
      case OpKind::kBatchNorm: {
        cn = 1;
        const int p = source_of(l, i);
        const bool foldable = p >= 0 && (m.layers[static_cast<std::size_t>(p)].kind == OpKind::kConv2d ||
                                         m.layers[static_cast<std::size_t>(p)].kind == OpKind::kDense);
        ca = foldable ? 0 : 1;
        break;
      }
      case OpKind::kAvgPool: {
        cn = 1;
        std::size_t next = i + 1;
        while (next < n && m.layers[next].kind == OpKind::kFlatten) ++next;
        const bool linear_next = next < n && (m.layers[next].kind == OpKind::kConv2d || m.layers[next].kind == OpKind::kDense);
        ca = linear_next ? 0 : 1;
        break;
      }
      case OpKind::kPolyAct:
        if (l.a != 0) {
          cn = 2;
          ca = 1;
        } else {
          cn = (l.b == 1.0) ? 0 : 1;  // affine: at most one constant multiply
          ca = 0;
        }
        break;
      case OpKind::kRelu:
        r.he_compatible = false;
        r.reason = "layer " + std::to_string(i) + " is a ReLU (not evaluable under CKKS without a polynomial)";
        break;
      case OpKind::kFlatten:
      case OpKind::kAdd:
      case OpKind::kSelectTokens:
      case OpKind::kTokens:
        break;  // data movement (+ constants for tokens)
      case OpKind::kTokenDense:
        cn = ca = 1;
        break;
      case OpKind::kLayerNorm:
      case OpKind::kSelfAttention:
      case OpKind::kGelu:
        if (r.he_compatible) {
          r.he_compatible = false;
          r.reason = "layer " + std::to_string(i) + " is a " + op_name(l.kind) +
                     " (transformer op; softmax / normalisation / erf are not evaluated under CKKS)";
        }
        break;
    }
    naive[i] = dn + cn;
    absorbed[i] = da + ca;
    r.layers.push_back({l.name, l.kind, cn, ca});
  }
  r.total_naive = naive.back();
  r.total_absorbed = absorbed.back();
  return r;
}

std::string DepthReport::to_string() const {
  std::ostringstream os;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%-4s %-11s %-16s %6s %9s\n", "#", "op", "name", "naive", "absorbed");
  os << buf;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%-4zu %-11s %-16s %6d %9d\n", i, op_name(layers[i].kind), layers[i].name.c_str(),
                  layers[i].naive, layers[i].absorbed);
    os << buf;
  }
  std::snprintf(buf, sizeof buf, "multiplicative depth (critical path): naive %d, absorbed %d\n", total_naive,
                total_absorbed);
  os << buf;
  if (!he_compatible) os << "not HE-compatible: " << reason << "\n";
  return os.str();
}

}  // namespace heal::nn
