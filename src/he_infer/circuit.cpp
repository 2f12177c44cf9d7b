// ModelIr -> Circuit lowering (see circuit.h).
#include "heal/he_infer/circuit.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <sstream>
#include <variant>

#include "heal/core/check.h"
#include "heal/nn/passes.h"

namespace heal::he_infer {

int SparseLinear::max_row_nnz() const {
  int best = 0;
  for (int r = 0; r < out_dim; ++r) best = std::max(best, row_ptr[r + 1] - row_ptr[r]);
  return best;
}

std::vector<double> SparseLinear::apply(std::span<const double> x) const {
  HEAL_REQUIRE(static_cast<int>(x.size()) == in_dim, "SparseLinear::apply: expected " << in_dim << " inputs, got " << x.size());
  std::vector<double> y(bias);
  for (int r = 0; r < out_dim; ++r) {
    double s = 0;
    for (int e = row_ptr[r]; e < row_ptr[r + 1]; ++e) s += vals[e] * x[cols[e]];
    y[r] += s;
  }
  return y;
}

SparseLinear SparseLinear::identity(int n, std::string name) {
  SparseLinear l;
  l.name = std::move(name);
  l.in_dim = l.out_dim = n;
  l.row_ptr.resize(n + 1);
  for (int i = 0; i <= n; ++i) l.row_ptr[i] = i;
  l.cols.resize(n);
  for (int i = 0; i < n; ++i) l.cols[i] = i;
  l.vals.assign(n, 1.0);
  l.bias.assign(n, 0.0);
  return l;
}

SparseLinear SparseLinear::compose_after(const SparseLinear& inner) const {
  HEAL_REQUIRE(inner.out_dim == in_dim, "compose_after: inner output " << inner.out_dim << " != input " << in_dim);
  SparseLinear c;
  c.name = inner.name + "+" + name;
  c.in_dim = inner.in_dim;
  c.out_dim = out_dim;
  c.row_ptr.push_back(0);
  c.bias.resize(out_dim);
  std::vector<double> acc(inner.in_dim, 0.0);
  std::vector<char> used(inner.in_dim, 0);
  std::vector<std::int32_t> touched;
  for (int r = 0; r < out_dim; ++r) {
    double b = bias[r];
    touched.clear();
    for (int e = row_ptr[r]; e < row_ptr[r + 1]; ++e) {
      const int j = cols[e];
      const double v = vals[e];
      b += v * inner.bias[j];
      for (int f = inner.row_ptr[j]; f < inner.row_ptr[j + 1]; ++f) {
        const int col = inner.cols[f];
        if (!used[col]) {
          used[col] = 1;
          touched.push_back(col);
        }
        acc[col] += v * inner.vals[f];
      }
    }
    std::sort(touched.begin(), touched.end());
    for (int col : touched) {
      c.cols.push_back(col);
      c.vals.push_back(acc[col]);
      acc[col] = 0;
      used[col] = 0;
    }
    c.row_ptr.push_back(static_cast<std::int32_t>(c.cols.size()));
    c.bias[r] = b;
  }
  return c;
}

SparseLinear SparseLinear::select_rows(std::span<const std::int32_t> rows) const {
  SparseLinear out;
  out.name = name;
  out.in_dim = in_dim;
  out.out_dim = static_cast<int>(rows.size());
  out.row_ptr.push_back(0);
  for (const auto r : rows) {
    HEAL_REQUIRE(r >= 0 && r < out_dim, "SparseLinear::select_rows: row " << r << " out of range");
    for (auto e = row_ptr[r]; e < row_ptr[r + 1]; ++e) {
      out.cols.push_back(cols[e]);
      out.vals.push_back(vals[e]);
    }
    out.row_ptr.push_back(static_cast<std::int32_t>(out.cols.size()));
    out.bias.push_back(bias[r]);
  }
  return out;
}

SparseLinear SparseLinear::select_columns(std::span<const std::int32_t> keep) const {
  std::vector<std::int32_t> local(static_cast<std::size_t>(in_dim), -1);
  for (std::size_t k = 0; k < keep.size(); ++k) {
    HEAL_REQUIRE(keep[k] >= 0 && keep[k] < in_dim, "SparseLinear::select_columns: column " << keep[k] << " out of range");
    local[static_cast<std::size_t>(keep[k])] = static_cast<std::int32_t>(k);
  }
  SparseLinear out;
  out.name = name;
  out.in_dim = static_cast<int>(keep.size());
  out.out_dim = out_dim;
  out.bias = bias;
  out.row_ptr.push_back(0);
  for (int r = 0; r < out_dim; ++r) {
    for (auto e = row_ptr[r]; e < row_ptr[r + 1]; ++e) {
      const auto k = local[static_cast<std::size_t>(cols[e])];
      if (k < 0) continue;
      out.cols.push_back(k);
      out.vals.push_back(vals[e]);
    }
    out.row_ptr.push_back(static_cast<std::int32_t>(out.cols.size()));
  }
  return out;
}

namespace {

using nn::Layer;
using nn::OpKind;
using nn::Shape;

struct Poly {
  double a = 0, b = 0, c = 0;
  std::string name;
  double in_min = 0, in_max = 0;
  bool has_range = false;
};
using Item = std::variant<SparseLinear, Poly>;

SparseLinear conv_linear(const Layer& l, const Shape& in, const Shape& out) {
  SparseLinear m;
  m.name = l.name;
  m.in_dim = static_cast<int>(in.size());
  m.out_dim = static_cast<int>(out.size());
  m.row_ptr.push_back(0);
  m.bias.assign(m.out_dim, 0.0);
  const int k = l.kernel;
  for (int oc = 0; oc < out.c; ++oc)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox) {
        for (int ic = 0; ic < in.c; ++ic)
          for (int ky = 0; ky < k; ++ky) {
            const int iy = oy * l.stride - l.padding + ky;
            if (iy < 0 || iy >= in.h) continue;
            for (int kx = 0; kx < k; ++kx) {
              const int ix = ox * l.stride - l.padding + kx;
              if (ix < 0 || ix >= in.w) continue;
              // Exact zeros (e.g. the off-diagonal blocks of a merged ensemble) cost nothing.
              const float w = l.weight[((static_cast<std::size_t>(oc) * in.c + ic) * k + ky) * k + kx];
              if (w == 0.0f) continue;
              m.cols.push_back((ic * in.h + iy) * in.w + ix);
              m.vals.push_back(w);
            }
          }
        m.row_ptr.push_back(static_cast<std::int32_t>(m.cols.size()));
        m.bias[(oc * out.h + oy) * out.w + ox] = l.bias.empty() ? 0.0 : l.bias[oc];
      }
  return m;
}

SparseLinear dense_linear(const Layer& l) {
  SparseLinear m;
  m.name = l.name;
  m.in_dim = l.in_channels;
  m.out_dim = l.out_channels;
  m.row_ptr.push_back(0);
  for (int r = 0; r < m.out_dim; ++r) {
    for (int j = 0; j < m.in_dim; ++j) {
      const float w = l.weight[static_cast<std::size_t>(r) * m.in_dim + j];
      if (w == 0.0f) continue;  // structurally zero (block-diagonal ensembles)
      m.cols.push_back(j);
      m.vals.push_back(w);
    }
    m.row_ptr.push_back(static_cast<std::int32_t>(m.cols.size()));
  }
  m.bias.assign(m.out_dim, 0.0);
  for (int r = 0; r < m.out_dim && !l.bias.empty(); ++r) m.bias[r] = l.bias[r];
  return m;
}

SparseLinear avgpool_linear(const Layer& l, const Shape& in, const Shape& out) {
  SparseLinear m;
  m.name = l.name;
  m.in_dim = static_cast<int>(in.size());
  m.out_dim = static_cast<int>(out.size());
  m.row_ptr.push_back(0);
  m.bias.assign(m.out_dim, 0.0);
  const double v = 1.0 / (static_cast<double>(l.kernel) * l.kernel);
  for (int c = 0; c < out.c; ++c)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox) {
        for (int ky = 0; ky < l.kernel; ++ky)
          for (int kx = 0; kx < l.kernel; ++kx) {
            m.cols.push_back((c * in.h + oy * l.stride + ky) * in.w + ox * l.stride + kx);
            m.vals.push_back(v);
          }
        m.row_ptr.push_back(static_cast<std::int32_t>(m.cols.size()));
      }
  return m;
}

// Per-channel affine map x -> scale[c] * x + shift[c] over a (C, H, W) tensor.
SparseLinear channel_affine(const std::string& name, const Shape& s, const std::vector<double>& scale,
                            const std::vector<double>& shift) {
  SparseLinear m = SparseLinear::identity(static_cast<int>(s.size()), name);
  const int hw = s.h * s.w;
  for (int i = 0; i < m.out_dim; ++i) {
    m.vals[i] = scale[i / hw];
    m.bias[i] = shift[i / hw];
  }
  return m;
}

}  // namespace

void drop_constant_outputs(Circuit& c) {
  for (std::size_t i = 0; i + 1 < c.linears.size(); ++i) {
    SparseLinear& l = c.linears[i];
    SparseLinear& next = c.linears[i + 1];
    std::vector<std::int32_t> keep;
    for (int r = 0; r < l.out_dim; ++r) {
      if (l.row_ptr[r] != l.row_ptr[r + 1]) keep.push_back(r);
    }
    if (static_cast<int>(keep.size()) == l.out_dim || keep.empty()) continue;
    // The constant outputs (their bias) reach the next stage squared: fold them into its bias.
    SparseLinear folded = next.select_columns(keep);
    for (int r = 0; r < next.out_dim; ++r) {
      for (int e = next.row_ptr[r]; e < next.row_ptr[r + 1]; ++e) {
        const auto col = static_cast<std::size_t>(next.cols[e]);
        if (l.row_ptr[col] == l.row_ptr[col + 1]) folded.bias[r] += next.vals[e] * l.bias[col] * l.bias[col];
      }
    }
    l = l.select_rows(keep);
    next = std::move(folded);
  }
}

Circuit compile(const nn::ModelIr& model) {
  // Transformer ops first: a DeiT also has residual adds, and the error should name the real reason.
  for (const Layer& l : model.layers) {
    HEAL_REQUIRE(nn::op_min_version(l.kind) == 1,
                 "he_infer::compile: layer '" << l.name << "' is a " << nn::op_name(l.kind)
                                              << " (ModelIr v2 transformer op): CKKS inference evaluates only conv2d, "
                                                 "batch_norm, dense, avg_pool, flatten and poly_act models; use the "
                                                 "reference forward pass (nn::forward) for this model");
  }
  const nn::ModelIr m = nn::fold_batch_norm(model);
  auto shapes_r = m.infer_shapes();
  HEAL_REQUIRE(shapes_r.ok(), "he_infer::compile: model does not validate: " << shapes_r.status().to_string());
  const auto& shapes = *shapes_r;
  std::vector<Item> items;

  // The client's input normalisation x' = (x - mean) / std becomes the first linear map.
  if (!m.meta.norm_mean.empty()) {
    std::vector<double> sc(m.input.c), sh(m.input.c);
    for (int c = 0; c < m.input.c; ++c) {
      const double mean = m.meta.norm_mean[m.meta.norm_mean.size() == 1 ? 0 : c];
      const double sd = m.meta.norm_std.empty() ? 1.0 : m.meta.norm_std[m.meta.norm_std.size() == 1 ? 0 : c];
      sc[c] = 1.0 / sd;
      sh[c] = -mean / sd;
    }
    items.emplace_back(channel_affine("normalize", m.input, sc, sh));
  }
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const Layer& l = m.layers[i];
    HEAL_REQUIRE(l.inputs.empty() || (l.inputs.size() == 1 && l.inputs[0] == static_cast<int>(i) - 1),
                 "he_infer::compile: layer '" << l.name << "' is not sequential (skip connections are not supported)");
    const Shape in = i == 0 ? m.input : shapes[i - 1];
    const Shape out = shapes[i];
    switch (l.kind) {
      case OpKind::kConv2d: items.emplace_back(conv_linear(l, in, out)); break;
      case OpKind::kDense: items.emplace_back(dense_linear(l)); break;
      case OpKind::kAvgPool: items.emplace_back(avgpool_linear(l, in, out)); break;
      case OpKind::kFlatten: break;
      case OpKind::kBatchNorm: {
        std::vector<double> sc(in.c), sh(in.c);
        for (int c = 0; c < in.c; ++c) {
          sc[c] = l.gamma[c] / std::sqrt(static_cast<double>(l.running_var[c]) + l.eps);
          sh[c] = l.beta[c] - l.running_mean[c] * sc[c];
        }
        items.emplace_back(channel_affine(l.name, in, sc, sh));
        break;
      }
      case OpKind::kPolyAct:
        if (l.a == 0.0) {  // affine: b*x + c
          const int n = static_cast<int>(in.size());
          SparseLinear a = SparseLinear::identity(n, l.name);
          for (int j = 0; j < n; ++j) {
            a.vals[j] = l.b;
            a.bias[j] = l.c;
          }
          items.emplace_back(std::move(a));
        } else {
          items.emplace_back(Poly{l.a, l.b, l.c, l.name, l.input_min, l.input_max, l.has_range()});
        }
        break;
      case OpKind::kRelu:
        HEAL_REQUIRE(false, "he_infer::compile: layer '" << l.name << "' is a ReLU; CKKS needs polynomial activations (train an HE-friendly model)");
        break;
      case OpKind::kAdd:
        HEAL_REQUIRE(false, "he_infer::compile: layer '" << l.name << "' is a residual add (not supported)");
        break;
      case OpKind::kTokens:
      case OpKind::kLayerNorm:
      case OpKind::kTokenDense:
      case OpKind::kSelfAttention:
      case OpKind::kGelu:
      case OpKind::kSelectTokens:
        HEAL_REQUIRE(false, "he_infer::compile: layer '" << l.name << "' is a transformer op (refused above)");
        break;
    }
  }
  // Compose consecutive linear maps; make the sequence L (P L)*.
  std::deque<Item> seq;  // no reallocation: GCC 12 misreports moved variants (-Wmaybe-uninitialized)
  int dim = static_cast<int>(m.input.size());
  for (auto& it : items) {
    if (auto* lin = std::get_if<SparseLinear>(&it)) {
      if (!seq.empty() && std::holds_alternative<SparseLinear>(seq.back())) {
        std::get<SparseLinear>(seq.back()) = lin->compose_after(std::get<SparseLinear>(seq.back()));
      } else {
        seq.push_back(std::move(*lin));
      }
      dim = std::get<SparseLinear>(seq.back()).out_dim;
    } else {
      if (seq.empty() || std::holds_alternative<Poly>(seq.back())) seq.emplace_back(SparseLinear::identity(dim, "identity"));
      seq.push_back(std::move(it));
    }
  }
  if (seq.empty() || std::holds_alternative<Poly>(seq.back())) seq.emplace_back(SparseLinear::identity(dim, "identity"));

  Circuit c;
  c.input = m.input;
  c.num_classes = m.num_classes;
  for (std::size_t i = 0; i < seq.size(); i += 2) c.linears.push_back(std::get<SparseLinear>(seq[i]));
  // Absorb a*(x + s)^2 + k: s into the previous bias, a and k into the next layer.
  for (std::size_t p = 1; p < seq.size(); p += 2) {
    const Poly& poly = std::get<Poly>(seq[p]);
    SparseLinear& prev = c.linears[p / 2];
    SparseLinear& next = c.linears[p / 2 + 1];
    const double s = poly.b / (2 * poly.a), k = poly.c - poly.b * poly.b / (4 * poly.a);
    for (double& b : prev.bias) b += s;
    prev.name += "+" + poly.name + ".shift";
    for (int r = 0; r < next.out_dim; ++r)
      for (int e = next.row_ptr[r]; e < next.row_ptr[r + 1]; ++e) {
        next.bias[r] += next.vals[e] * k;
        next.vals[e] *= poly.a;
      }
    next.name = poly.name + ".scale+" + next.name;
    c.square_input_bound.push_back(poly.has_range ? std::max(std::fabs(poly.in_min + s), std::fabs(poly.in_max + s)) : 0.0);
  }
  drop_constant_outputs(c);
  HEAL_REQUIRE(c.linears.back().out_dim == m.num_classes,
               "he_infer::compile: output dimension " << c.linears.back().out_dim << " != num_classes " << m.num_classes);
  return c;
}

std::vector<double> Circuit::evaluate(std::span<const float> image) const {
  HEAL_REQUIRE(image.size() == input.size(), "Circuit::evaluate: expected " << input.size() << " values, got " << image.size());
  std::vector<double> x(image.begin(), image.end());
  for (std::size_t i = 0; i < linears.size(); ++i) {
    if (i > 0)
      for (double& v : x) v *= v;
    x = linears[i].apply(x);
  }
  return x;
}

std::string Circuit::summary() const {
  std::ostringstream os;
  os << "circuit: input " << input.c << "x" << input.h << "x" << input.w << ", depth " << depth() << "\n";
  for (std::size_t i = 0; i < linears.size(); ++i) {
    if (i > 0) os << "  square" << (square_input_bound[i - 1] > 0 ? " (|x| <= " + std::to_string(square_input_bound[i - 1]) + ")" : std::string()) << "\n";
    const auto& l = linears[i];
    os << "  linear " << l.in_dim << " -> " << l.out_dim << ", nnz " << l.nnz() << ", max/row " << l.max_row_nnz() << "  [" << l.name << "]\n";
  }
  return os.str();
}

}  // namespace heal::he_infer
