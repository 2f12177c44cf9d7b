// Reference forward pass (double precision throughout): the oracle for encrypted inference.
#include "heal/nn/forward.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "heal/core/check.h"

namespace heal::nn {

namespace {

using Tensor = std::vector<double>;

void conv2d(const Layer& l, const Shape& s, const Shape& o, const Tensor& x, Tensor& y) {
  const int k = l.kernel;
  y.assign(o.size(), 0.0);
  for (int oc = 0; oc < o.c; ++oc) {
    const double b = l.bias.empty() ? 0.0 : l.bias[static_cast<std::size_t>(oc)];
    for (int oy = 0; oy < o.h; ++oy) {
      for (int ox = 0; ox < o.w; ++ox) {
        double acc = b;
        for (int ic = 0; ic < s.c; ++ic) {
          const float* w = l.weight.data() + (static_cast<std::size_t>(oc) * s.c + ic) * k * k;
          const double* xc = x.data() + static_cast<std::size_t>(ic) * s.h * s.w;
          for (int ky = 0; ky < k; ++ky) {
            const int iy = oy * l.stride - l.padding + ky;
            if (iy < 0 || iy >= s.h) continue;
            for (int kx = 0; kx < k; ++kx) {
              const int ix = ox * l.stride - l.padding + kx;
              if (ix < 0 || ix >= s.w) continue;
              acc += static_cast<double>(w[ky * k + kx]) * xc[static_cast<std::size_t>(iy) * s.w + ix];
            }
          }
        }
        y[(static_cast<std::size_t>(oc) * o.h + oy) * o.w + ox] = acc;
      }
    }
  }
}

void dense(const Layer& l, const Tensor& x, Tensor& y) {
  const auto in = static_cast<std::size_t>(l.in_channels);
  y.assign(static_cast<std::size_t>(l.out_channels), 0.0);
  for (std::size_t o = 0; o < y.size(); ++o) {
    double acc = l.bias.empty() ? 0.0 : l.bias[o];
    const float* w = l.weight.data() + o * in;
    for (std::size_t i = 0; i < in; ++i) acc += static_cast<double>(w[i]) * x[i];
    y[o] = acc;
  }
}

void batch_norm(const Layer& l, const Shape& s, const Tensor& x, Tensor& y) {
  y.resize(x.size());
  const std::size_t plane = static_cast<std::size_t>(s.h) * s.w;
  for (int ch = 0; ch < s.c; ++ch) {
    const auto c = static_cast<std::size_t>(ch);
    const double scale = l.gamma[c] / std::sqrt(static_cast<double>(l.running_var[c]) + l.eps);
    const double shift = l.beta[c] - l.running_mean[c] * scale;
    for (std::size_t p = 0; p < plane; ++p) y[c * plane + p] = x[c * plane + p] * scale + shift;
  }
}

void avg_pool(const Layer& l, const Shape& s, const Shape& o, const Tensor& x, Tensor& y) {
  y.assign(o.size(), 0.0);
  const double inv = 1.0 / (static_cast<double>(l.kernel) * l.kernel);
  for (int ch = 0; ch < o.c; ++ch) {
    for (int oy = 0; oy < o.h; ++oy) {
      for (int ox = 0; ox < o.w; ++ox) {
        double acc = 0;
        for (int ky = 0; ky < l.kernel; ++ky) {
          for (int kx = 0; kx < l.kernel; ++kx) {
            acc += x[(static_cast<std::size_t>(ch) * s.h + oy * l.stride + ky) * s.w + ox * l.stride + kx];
          }
        }
        y[(static_cast<std::size_t>(ch) * o.h + oy) * o.w + ox] = acc * inv;
      }
    }
  }
}

// Token ops (format version 2). A token sequence (T, 1, D) is stored token-major: x[t * D + d].

// (D, H, W) -> (k + H*W) tokens: k learned tokens, then position p = y*W + x with feature d at
// x[d * H*W + p]; plus the position embedding.
void tokens(const Layer& l, const Shape& s, const Shape& o, const Tensor& x, Tensor& y) {
  const auto d = static_cast<std::size_t>(s.c), plane = static_cast<std::size_t>(s.h) * s.w;
  const auto k = static_cast<std::size_t>(l.out_channels), t_all = static_cast<std::size_t>(o.c);
  y.assign(t_all * d, 0.0);
  for (std::size_t t = 0; t < t_all; ++t) {
    for (std::size_t f = 0; f < d; ++f) {
      double v = t < k ? static_cast<double>(l.weight[t * d + f]) : x[f * plane + (t - k)];
      if (!l.bias.empty()) v += l.bias[t * d + f];
      y[t * d + f] = v;
    }
  }
}

void layer_norm(const Layer& l, const Shape& s, const Tensor& x, Tensor& y) {
  const auto d = static_cast<std::size_t>(s.w);
  y.resize(x.size());
  for (std::size_t t = 0; t < static_cast<std::size_t>(s.c); ++t) {
    const double* xt = x.data() + t * d;
    double mean = 0, var = 0;
    for (std::size_t f = 0; f < d; ++f) mean += xt[f];
    mean /= static_cast<double>(d);
    for (std::size_t f = 0; f < d; ++f) var += (xt[f] - mean) * (xt[f] - mean);
    var /= static_cast<double>(d);
    const double inv = 1.0 / std::sqrt(var + static_cast<double>(l.eps));
    for (std::size_t f = 0; f < d; ++f) y[t * d + f] = (xt[f] - mean) * inv * l.gamma[f] + l.beta[f];
  }
}

// y_t = W x_t + b for each of n tokens (W: out x in, row-major; b may be null).
void token_linear(const float* w, const float* b, std::size_t in, std::size_t out, std::size_t n, const Tensor& x,
                  Tensor& y) {
  y.assign(n * out, 0.0);
  for (std::size_t t = 0; t < n; ++t) {
    const double* xt = x.data() + t * in;
    for (std::size_t o = 0; o < out; ++o) {
      double acc = b == nullptr ? 0.0 : b[o];
      const float* wo = w + o * in;
      for (std::size_t i = 0; i < in; ++i) acc += static_cast<double>(wo[i]) * xt[i];
      y[t * out + o] = acc;
    }
  }
}

// Multi-head scaled dot-product self-attention (Vaswani et al., arXiv:1706.03762) without the
// output projection: q, k, v = x W_{q,k,v}^T + b; per head softmax(q k^T / sqrt(dh)) v.
void self_attention(const Layer& l, const Shape& s, const Tensor& x, Tensor& y) {
  const auto d = static_cast<std::size_t>(s.w), n = static_cast<std::size_t>(s.c);
  const auto heads = static_cast<std::size_t>(l.out_channels), dh = d / heads;
  Tensor qkv;  // (T, 3D): [q | k | v] per token
  token_linear(l.weight.data(), l.bias.empty() ? nullptr : l.bias.data(), d, 3 * d, n, x, qkv);
  y.assign(n * d, 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  std::vector<double> score(n);
  for (std::size_t h = 0; h < heads; ++h) {
    for (std::size_t i = 0; i < n; ++i) {
      const double* q = qkv.data() + i * 3 * d + h * dh;
      double mx = -INFINITY;
      for (std::size_t j = 0; j < n; ++j) {
        const double* kj = qkv.data() + j * 3 * d + d + h * dh;
        double dot = 0;
        for (std::size_t f = 0; f < dh; ++f) dot += q[f] * kj[f];
        score[j] = dot * scale;
        mx = std::max(mx, score[j]);
      }
      double sum = 0;
      for (std::size_t j = 0; j < n; ++j) sum += (score[j] = std::exp(score[j] - mx));
      double* yi = y.data() + i * d + h * dh;
      for (std::size_t j = 0; j < n; ++j) {
        const double a = score[j] / sum;
        const double* vj = qkv.data() + j * 3 * d + 2 * d + h * dh;
        for (std::size_t f = 0; f < dh; ++f) yi[f] += a * vj[f];
      }
    }
  }
}

// Runs one image through layers 0..last; `values[i]` receives layer i's output. Optionally widens
// per-layer input ranges.
void run_one(const ModelIr& m, const std::vector<Shape>& shapes, const float* image, std::vector<Tensor>& values,
             std::vector<double>* mins, std::vector<double>* maxs, std::size_t last) {
  Tensor in(m.input.size());
  const std::size_t plane = static_cast<std::size_t>(m.input.h) * m.input.w;
  for (std::size_t i = 0; i < in.size(); ++i) {
    double v = image[i];
    if (!m.meta.norm_mean.empty()) {
      const std::size_t c = i / plane;
      v = (v - m.meta.norm_mean[c]) / m.meta.norm_std[c];
    }
    in[i] = v;
  }
  values.resize(m.layers.size());
  for (std::size_t i = 0; i <= last; ++i) {
    const Layer& l = m.layers[i];
    auto value_of = [&](int v) -> const Tensor& { return v == kInputValue ? in : values[static_cast<std::size_t>(v)]; };
    auto shape_of = [&](int v) -> const Shape& { return v == kInputValue ? m.input : shapes[static_cast<std::size_t>(v)]; };
    const int src = l.inputs.empty() ? static_cast<int>(i) - 1 : l.inputs[0];
    const Tensor& x = value_of(src);
    const Shape& s = shape_of(src);
    if (mins) {
      for (double v : x) {
        (*mins)[i] = std::min((*mins)[i], v);
        (*maxs)[i] = std::max((*maxs)[i], v);
      }
    }
    Tensor& y = values[i];
    switch (l.kind) {
      case OpKind::kConv2d: conv2d(l, s, shapes[i], x, y); break;
      case OpKind::kDense: dense(l, x, y); break;
      case OpKind::kBatchNorm: batch_norm(l, s, x, y); break;
      case OpKind::kAvgPool: avg_pool(l, s, shapes[i], x, y); break;
      case OpKind::kFlatten: y = x; break;
      case OpKind::kPolyAct:
        y.resize(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) y[k] = (l.a * x[k] + l.b) * x[k] + l.c;
        break;
      case OpKind::kRelu:
        y.resize(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) y[k] = x[k] > 0 ? x[k] : 0.0;
        break;
      case OpKind::kAdd: {
        const Tensor& x2 = value_of(l.inputs[1]);
        y.resize(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) y[k] = x[k] + x2[k];
        break;
      }
      case OpKind::kTokens:
        tokens(l, s, shapes[i], x, y);
        break;
      case OpKind::kLayerNorm:
        layer_norm(l, s, x, y);
        break;
      case OpKind::kTokenDense:
        token_linear(l.weight.data(), l.bias.empty() ? nullptr : l.bias.data(), static_cast<std::size_t>(l.in_channels),
                     static_cast<std::size_t>(l.out_channels), static_cast<std::size_t>(s.c), x, y);
        break;
      case OpKind::kSelfAttention:
        self_attention(l, s, x, y);
        break;
      case OpKind::kGelu:
        y.resize(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) y[k] = 0.5 * x[k] * (1.0 + std::erf(x[k] / std::numbers::sqrt2));
        break;
      case OpKind::kSelectTokens:
        y.assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(shapes[i].size()));
        break;
    }
  }
}

std::vector<Shape> checked_shapes(const ModelIr& m) {
  auto shapes = m.infer_shapes();
  HEAL_REQUIRE(shapes.ok(), "forward: model does not validate: " << shapes.status().to_string());
  return std::move(shapes).value();
}

}  // namespace

std::vector<double> forward(const ModelIr& m, std::span<const float> images, std::size_t n) {
  const auto shapes = checked_shapes(m);
  HEAL_REQUIRE(images.size() == n * m.input.size(),
               "forward: expected " << n << " images of " << m.input.size() << " values, got " << images.size());
  const auto nc = static_cast<std::size_t>(m.num_classes);
  std::vector<double> logits(n * nc);
  std::vector<Tensor> values;
  for (std::size_t i = 0; i < n; ++i) {
    run_one(m, shapes, images.data() + i * m.input.size(), values, nullptr, nullptr, m.layers.size() - 1);
    std::copy(values.back().begin(), values.back().end(), logits.begin() + static_cast<std::ptrdiff_t>(i * nc));
  }
  return logits;
}

std::vector<double> forward_to(const ModelIr& m, std::size_t layer, std::span<const float> images, std::size_t n) {
  const auto shapes = checked_shapes(m);
  HEAL_REQUIRE(layer < m.layers.size(),
               "forward_to: layer " << layer << " of a model with " << m.layers.size() << " layers");
  HEAL_REQUIRE(images.size() == n * m.input.size(),
               "forward_to: expected " << n << " images of " << m.input.size() << " values, got " << images.size());
  const std::size_t dim = shapes[layer].size();
  std::vector<double> out(n * dim);
  std::vector<Tensor> values;
  for (std::size_t i = 0; i < n; ++i) {
    run_one(m, shapes, images.data() + i * m.input.size(), values, nullptr, nullptr, layer);
    std::copy(values[layer].begin(), values[layer].end(), out.begin() + static_cast<std::ptrdiff_t>(i * dim));
  }
  return out;
}

std::vector<std::vector<double>> forward_trace(const ModelIr& m, std::span<const float> image) {
  const auto shapes = checked_shapes(m);
  HEAL_REQUIRE(image.size() == m.input.size(), "forward_trace: expected " << m.input.size() << " values");
  std::vector<Tensor> values;
  run_one(m, shapes, image.data(), values, nullptr, nullptr, m.layers.size() - 1);
  return values;
}

void record_ranges(ModelIr& m, std::span<const float> images, std::size_t n) {
  const auto shapes = checked_shapes(m);
  HEAL_REQUIRE(images.size() == n * m.input.size(), "record_ranges: image buffer size mismatch");
  std::vector<double> mins(m.layers.size(), INFINITY), maxs(m.layers.size(), -INFINITY);
  std::vector<Tensor> values;
  for (std::size_t i = 0; i < n; ++i) {
    run_one(m, shapes, images.data() + i * m.input.size(), values, &mins, &maxs, m.layers.size() - 1);
  }
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    m.layers[i].input_min = mins[i];
    m.layers[i].input_max = maxs[i];
  }
}

}  // namespace heal::nn
