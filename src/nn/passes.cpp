// Batch-norm folding and the multiplicative-depth report.
#include "heal/nn/passes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
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
      case OpKind::kAdd: break;
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
