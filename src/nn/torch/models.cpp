// The model families: HE-friendly CNN (LoLa/CryptoNets style), a small ResNet, a capsule
// network with dynamic routing (Sabour, Frosst, Hinton, arXiv:1710.09829) and a small DeiT
// (Touvron et al., arXiv:2012.12877), plus ModelIr export.
#include "models.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "heal/core/check.h"

namespace heal::nn::torch_backend {

namespace tnn = ::torch::nn;
using ::torch::Tensor;

PolyActImpl::PolyActImpl(double r) : range(r) {
  a = register_parameter("a", ::torch::full({1}, 15.0 / (32.0 * r)));
  b = register_parameter("b", ::torch::full({1}, 0.5));
  c = register_parameter("c", ::torch::full({1}, 3.0 * r / 32.0));
}

Tensor PolyActImpl::forward(const Tensor& x) {
  if (is_training()) last_input = x;
  return (a * x + b) * x + c;
}

Tensor HealNet::loss(const Tensor& scores, const Tensor& labels, const Tensor& class_weights,
                     double label_smoothing) const {
  auto opts = tnn::functional::CrossEntropyFuncOptions();
  if (class_weights.defined()) opts.weight(class_weights);
  if (label_smoothing > 0) opts.label_smoothing(label_smoothing);
  return tnn::functional::cross_entropy(scores, labels, opts);
}

Tensor HealNet::probabilities(const Tensor& scores) const { return ::torch::softmax(scores, 1); }

Tensor HealNet::soft_loss(const Tensor& scores, const Tensor& q) const {
  return -(q * ::torch::log_softmax(scores, 1)).sum(1).mean();
}

Result<std::vector<std::string>> HealNet::import_layers(const ModelIr&) {
  return Status::unsupported("--init is implemented for hecnn models only");
}

Tensor HealNet::range_penalty() const {
  Tensor total = ::torch::zeros({1});
  for (const auto& p : polys) {
    if (!p->last_input.defined()) continue;
    total = total + ::torch::relu(p->last_input.abs() - p->range).pow(2).mean();
  }
  return total.squeeze();
}

namespace {

std::vector<float> to_vec(const Tensor& t) {
  Tensor c = t.detach().to(::torch::kFloat).contiguous().cpu();
  const float* p = c.data_ptr<float>();
  return {p, p + c.numel()};
}

// Appends a layer reading `inputs` (implicit when it is just the previous layer); returns its index.
int emit(ModelIr& ir, Layer l, std::vector<int> inputs) {
  const int self = static_cast<int>(ir.layers.size());
  if (!(inputs.size() == 1 && inputs[0] == self - 1)) l.inputs = std::move(inputs);
  ir.layers.push_back(std::move(l));
  return self;
}

Layer conv_layer(const tnn::Conv2d& m, const std::string& name) {
  Layer l;
  l.kind = OpKind::kConv2d;
  l.name = name;
  const auto& o = m->options;
  l.in_channels = static_cast<int>(o.in_channels());
  l.out_channels = static_cast<int>(o.out_channels());
  l.kernel = static_cast<int>((*o.kernel_size())[0]);
  l.stride = static_cast<int>((*o.stride())[0]);
  l.padding = static_cast<int>((*c10::get<::torch::ExpandingArray<2>>(o.padding()))[0]);
  l.weight = to_vec(m->weight);
  if (m->bias.defined()) l.bias = to_vec(m->bias);
  return l;
}

Layer dense_layer(const tnn::Linear& m, const std::string& name) {
  Layer l;
  l.kind = OpKind::kDense;
  l.name = name;
  l.in_channels = static_cast<int>(m->options.in_features());
  l.out_channels = static_cast<int>(m->options.out_features());
  l.weight = to_vec(m->weight);
  if (m->bias.defined()) l.bias = to_vec(m->bias);
  return l;
}

template <typename Bn>
Layer bn_layer(const Bn& m, const std::string& name) {
  Layer l;
  l.kind = OpKind::kBatchNorm;
  l.name = name;
  l.in_channels = static_cast<int>(m->options.num_features());
  l.gamma = to_vec(m->weight);
  l.beta = to_vec(m->bias);
  l.running_mean = to_vec(m->running_mean);
  l.running_var = to_vec(m->running_var);
  l.eps = static_cast<float>(m->options.eps());
  return l;
}

Layer poly_layer(const PolyAct& p, const std::string& name) {
  Layer l;
  l.kind = OpKind::kPolyAct;
  l.name = name;
  l.a = p->a.item<double>();
  l.b = p->b.item<double>();
  l.c = p->c.item<double>();
  return l;
}

Layer simple_layer(OpKind k, const std::string& name) {
  Layer l;
  l.kind = k;
  l.name = name;
  return l;
}

// Copies IR weights into a conv/linear module when the shapes agree; false otherwise.
bool copy_linear(const Layer& l, Tensor& weight, Tensor& bias) {
  if (static_cast<std::size_t>(weight.numel()) != l.weight.size()) return false;
  // An empty IR bias means zero (model_ir.h).
  if (bias.defined() && !l.bias.empty() && static_cast<std::size_t>(bias.numel()) != l.bias.size()) return false;
  ::torch::NoGradGuard ng;
  weight.copy_(::torch::tensor(l.weight).reshape(weight.sizes()));
  if (bias.defined()) {
    if (l.bias.empty()) {
      bias.zero_();
    } else {
      bias.copy_(::torch::tensor(l.bias));
    }
  }
  return true;
}

template <typename Bn>
void reset_bn(Bn& bn) {
  ::torch::NoGradGuard ng;
  bn->weight.fill_(1.0);
  bn->bias.fill_(0.0);
  bn->running_mean.fill_(0.0);
  bn->running_var.fill_(1.0);
}

const Layer* find_layer(const ModelIr& ir, const std::string& name, OpKind kind) {
  for (const auto& l : ir.layers) {
    if (l.name == name && l.kind == kind) return &l;
  }
  return nullptr;
}

void copy_poly(const Layer& l, PolyAct& p) {
  ::torch::NoGradGuard ng;
  p->a.fill_(l.a);
  p->b.fill_(l.b);
  p->c.fill_(l.c);
}

// conv -> BN -> poly blocks, then dense -> BN1d -> poly -> dense.
struct HeCnn : HealNet {
  explicit HeCnn(const ModelSpec& s) : dropout(s.dropout) {
    int c_in = s.in_channels, side = s.image_size;
    for (int i = 0; i < s.depth; ++i) {
      const int k = i == 0 ? 5 : 3, c_out = s.width << i;
      const std::string n = std::to_string(i);
      convs.push_back(register_module("conv" + n, tnn::Conv2d(tnn::Conv2dOptions(c_in, c_out, k).stride(2).padding(1))));
      bns.push_back(register_module("bn" + n, tnn::BatchNorm2d(c_out)));
      polys.push_back(register_module("act" + n, PolyAct(s.poly_range)));
      side = (side + 2 - k) / 2 + 1;
      c_in = c_out;
    }
    HEAL_REQUIRE(side >= 1, "hecnn: image too small for " << s.depth << " stride-2 convolutions");
    fc1 = register_module("fc1", tnn::Linear(c_in * side * side, s.hidden));
    bn_fc = register_module("bn_fc", tnn::BatchNorm1d(s.hidden));
    polys.push_back(register_module("act_fc", PolyAct(s.poly_range)));
    fc2 = register_module("fc2", tnn::Linear(s.hidden, s.num_classes));
  }
  Tensor forward(const Tensor& input) override {
    Tensor x = input;
    for (std::size_t i = 0; i < convs.size(); ++i) x = polys[i]->forward(bns[i]->forward(convs[i]->forward(x)));
    x = x.flatten(1);
    if (dropout > 0) x = ::torch::dropout(x, dropout, is_training());
    x = polys.back()->forward(bn_fc->forward(fc1->forward(x)));
    if (dropout > 0) x = ::torch::dropout(x, dropout, is_training());
    return fc2->forward(x);
  }
  Status export_layers(ModelIr& ir) const override {
    for (std::size_t i = 0; i < convs.size(); ++i) {
      const std::string n = std::to_string(i);
      emit(ir, conv_layer(convs[i], "conv" + n), {static_cast<int>(ir.layers.size()) - 1});
      emit(ir, bn_layer(bns[i], "bn" + n), {static_cast<int>(ir.layers.size()) - 1});
      emit(ir, poly_layer(polys[i], "act" + n), {static_cast<int>(ir.layers.size()) - 1});
    }
    emit(ir, simple_layer(OpKind::kFlatten, "flatten"), {static_cast<int>(ir.layers.size()) - 1});
    emit(ir, dense_layer(fc1, "fc1"), {static_cast<int>(ir.layers.size()) - 1});
    emit(ir, bn_layer(bn_fc, "bn_fc"), {static_cast<int>(ir.layers.size()) - 1});
    emit(ir, poly_layer(polys.back(), "act_fc"), {static_cast<int>(ir.layers.size()) - 1});
    emit(ir, dense_layer(fc2, "fc2"), {static_cast<int>(ir.layers.size()) - 1});
    return {};
  }
  Result<std::vector<std::string>> import_layers(const ModelIr& ir) override {
    if (ir.meta.architecture != "hecnn" && ir.meta.architecture != "hecnn-wide") {
      return Status::invalid_argument("--init: model is a '" + ir.meta.architecture + "', not an hecnn");
    }
    if (ir.layers.size() != 2 * convs.size() + 4) return Status::invalid_argument("--init: model has another number of layers");
    std::vector<std::string> taken;
    for (std::size_t i = 0; i < convs.size(); ++i) {
      const std::string n = std::to_string(i);
      const Layer* c = find_layer(ir, "conv" + n, OpKind::kConv2d);
      const Layer* p = find_layer(ir, "act" + n, OpKind::kPolyAct);
      if (c == nullptr || p == nullptr) return Status::invalid_argument("--init: no conv" + n + "/act" + n + " in the model");
      if (!copy_linear(*c, convs[i]->weight, convs[i]->bias)) return Status::invalid_argument("--init: conv" + n + " has another shape");
      reset_bn(bns[i]);
      copy_poly(*p, polys[i]);
      taken.insert(taken.end(), {"conv" + n, "act" + n});
    }
    const Layer* f1 = find_layer(ir, "fc1", OpKind::kDense);
    const Layer* pa = find_layer(ir, "act_fc", OpKind::kPolyAct);
    const Layer* f2 = find_layer(ir, "fc2", OpKind::kDense);
    if (f1 == nullptr || pa == nullptr || f2 == nullptr) return Status::invalid_argument("--init: no fc1/act_fc/fc2 in the model");
    if (!copy_linear(*f1, fc1->weight, fc1->bias)) return Status::invalid_argument("--init: fc1 has another shape");
    reset_bn(bn_fc);
    copy_poly(*pa, polys.back());
    taken.insert(taken.end(), {"fc1", "act_fc"});
    if (copy_linear(*f2, fc2->weight, fc2->bias)) taken.push_back("fc2");
    return taken;
  }
  std::vector<tnn::Conv2d> convs;
  std::vector<tnn::BatchNorm2d> bns;
  tnn::Linear fc1{nullptr}, fc2{nullptr};
  tnn::BatchNorm1d bn_fc{nullptr};
  double dropout = 0;
};

// He et al. basic block (arXiv:1512.03385) with an optional 1x1 projection shortcut.
struct Block {
  tnn::Conv2d conv1{nullptr}, conv2{nullptr}, down{nullptr};
  tnn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, down_bn{nullptr};
};

tnn::Conv2d conv3(int in, int out, int stride) {
  return tnn::Conv2d(tnn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

struct ResNet : HealNet {
  explicit ResNet(const ModelSpec& s) {
    stem = register_module("stem", conv3(s.in_channels, s.width, 1));
    stem_bn = register_module("stem_bn", tnn::BatchNorm2d(s.width));
    int c = s.width;
    side = s.image_size;
    for (int i = 0; i < s.depth; ++i) {
      const int out = i == 0 ? c : 2 * c, stride = i == 0 ? 1 : 2;
      std::string n = "b";
      n += std::to_string(i);
      Block b;
      b.conv1 = register_module(n + "_conv1", conv3(c, out, stride));
      b.bn1 = register_module(n + "_bn1", tnn::BatchNorm2d(out));
      b.conv2 = register_module(n + "_conv2", conv3(out, out, 1));
      b.bn2 = register_module(n + "_bn2", tnn::BatchNorm2d(out));
      if (stride != 1 || out != c) {
        b.down = register_module(n + "_down", tnn::Conv2d(tnn::Conv2dOptions(c, out, 1).stride(stride).bias(false)));
        b.down_bn = register_module(n + "_down_bn", tnn::BatchNorm2d(out));
      }
      blocks.push_back(b);
      side = (side - 1) / stride + 1;
      c = out;
    }
    fc = register_module("fc", tnn::Linear(c, s.num_classes));
  }
  Tensor forward(const Tensor& input) override {
    Tensor x = ::torch::relu(stem_bn->forward(stem->forward(input)));
    for (auto& b : blocks) {
      Tensor y = ::torch::relu(b.bn1->forward(b.conv1->forward(x)));
      y = b.bn2->forward(b.conv2->forward(y));
      Tensor sc = b.down ? b.down_bn->forward(b.down->forward(x)) : x;
      x = ::torch::relu(y + sc);
    }
    x = x.mean({2, 3});
    return fc->forward(x);
  }
  Status export_layers(ModelIr& ir) const override {
    int cur = emit(ir, conv_layer(stem, "stem"), {kInputValue});
    cur = emit(ir, bn_layer(stem_bn, "stem_bn"), {cur});
    cur = emit(ir, simple_layer(OpKind::kRelu, "stem_relu"), {cur});
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const auto& b = blocks[i];
      std::string n = "b";
      n += std::to_string(i);
      const int in = cur;
      int y = emit(ir, conv_layer(b.conv1, n + "_conv1"), {in});
      y = emit(ir, bn_layer(b.bn1, n + "_bn1"), {y});
      y = emit(ir, simple_layer(OpKind::kRelu, n + "_relu1"), {y});
      y = emit(ir, conv_layer(b.conv2, n + "_conv2"), {y});
      y = emit(ir, bn_layer(b.bn2, n + "_bn2"), {y});
      int sc = in;
      if (b.down) {
        sc = emit(ir, conv_layer(b.down, n + "_down"), {in});
        sc = emit(ir, bn_layer(b.down_bn, n + "_down_bn"), {sc});
      }
      cur = emit(ir, simple_layer(OpKind::kAdd, n + "_add"), {y, sc});
      cur = emit(ir, simple_layer(OpKind::kRelu, n + "_relu2"), {cur});
    }
    Layer pool = simple_layer(OpKind::kAvgPool, "gap");
    pool.kernel = side;
    pool.stride = 1;
    cur = emit(ir, pool, {cur});
    cur = emit(ir, simple_layer(OpKind::kFlatten, "flatten"), {cur});
    emit(ir, dense_layer(fc, "fc"), {cur});
    return {};
  }
  tnn::Conv2d stem{nullptr};
  tnn::BatchNorm2d stem_bn{nullptr};
  std::vector<Block> blocks;
  tnn::Linear fc{nullptr};
  int side = 0;
};

// v = |s|^2 / (1 + |s|^2) * s / |s| (Sabour et al., eq. 1).
Tensor squash(const Tensor& s) {
  Tensor n2 = s.pow(2).sum(-1, true);
  return s * (n2 / (1 + n2) / ::torch::sqrt(n2 + 1e-9));
}

// Conv stem -> primary capsules (8-D) -> class capsules (16-D) by routing-by-agreement.
// The stem is two 5x5 conv/BN/ReLU layers (stride 2 from 48 px up, then stride 2) instead of
// the paper's single 9x9 conv: on 64x64 CT slices the single 9x9 conv left ~800 primary
// capsules over a 10x10 grid and the network memorised the 425 training images (test AUC 0.46);
// the deeper, strided stem gives 8x8 (or 7x7) capsule grids with larger receptive fields.
struct CapsNet : HealNet {
  explicit CapsNet(const ModelSpec& s) : classes(s.num_classes), types(s.depth) {
    const int stride1 = s.image_size >= 48 ? 2 : 1;
    conv1 = register_module("conv1", tnn::Conv2d(tnn::Conv2dOptions(s.in_channels, s.width, 5).stride(stride1).padding(2)));
    bn1 = register_module("bn1", tnn::BatchNorm2d(s.width));
    conv2 = register_module("conv2", tnn::Conv2d(tnn::Conv2dOptions(s.width, 2 * s.width, 5).stride(2).padding(2)));
    bn2 = register_module("bn2", tnn::BatchNorm2d(2 * s.width));
    primary = register_module("primary", tnn::Conv2d(tnn::Conv2dOptions(2 * s.width, types * kPrimDim, 3).stride(2).padding(1)));
    int side = (s.image_size - 1) / stride1 + 1;
    side = (side - 1) / 2 + 1;
    side = (side - 1) / 2 + 1;
    HEAL_REQUIRE(side >= 1, "capsnet: image too small");
    num_caps = types * side * side;
    W = register_parameter("W", 0.05 * ::torch::randn({1, num_caps, classes, kClassDim, kPrimDim}));
  }
  Tensor forward(const Tensor& input) override {
    Tensor x = ::torch::relu(bn1->forward(conv1->forward(input)));
    x = ::torch::relu(bn2->forward(conv2->forward(x)));
    x = primary->forward(x);  // (N, types*8, h, w)
    const auto n = x.size(0);
    x = x.view({n, types, kPrimDim, x.size(2), x.size(3)}).permute({0, 1, 3, 4, 2}).reshape({n, num_caps, kPrimDim});
    Tensor u = squash(x);
    Tensor u_hat = ::torch::matmul(W, u.view({n, num_caps, 1, kPrimDim, 1})).squeeze(-1);  // (N, caps, C, 16)
    // Routing iterations before the last use a detached copy of u_hat, so gradients flow only
    // through the final weighted sum (as common implementations do; it stabilises training).
    Tensor u_hat_d = u_hat.detach();
    Tensor logits_b = ::torch::zeros({n, num_caps, classes}, u_hat.options());
    Tensor v;
    for (int it = 0; it < kIters; ++it) {
      Tensor c = ::torch::softmax(logits_b, 2);
      const bool last = it + 1 == kIters;
      v = squash((c.unsqueeze(-1) * (last ? u_hat : u_hat_d)).sum(1));  // (N, C, 16)
      if (!last) logits_b = logits_b + (u_hat_d * v.unsqueeze(1)).sum(-1);
    }
    return ::torch::sqrt(v.pow(2).sum(-1) + 1e-9);  // capsule lengths (N, C)
  }
  // Margin loss (Sabour et al., eq. 4) with m+ = 0.9, m- = 0.1, lambda = 0.5.
  Tensor loss(const Tensor& len, const Tensor& labels, const Tensor& class_weights, double) const override {
    Tensor t = ::torch::one_hot(labels, classes).to(len.dtype());
    Tensor l = t * ::torch::relu(0.9 - len).pow(2) + 0.5 * (1 - t) * ::torch::relu(len - 0.1).pow(2);
    Tensor per = l.sum(1);
    if (class_weights.defined()) {
      Tensor w = class_weights.index_select(0, labels);
      return (per * w).sum() / w.sum();
    }
    return per.mean();
  }
  Tensor probabilities(const Tensor& len) const override { return len / len.sum(1, true); }
  // Margin loss (Sabour et al., eq. 4) with the soft target q in place of T_k.
  Tensor soft_loss(const Tensor& len, const Tensor& q) const override {
    Tensor l = q * ::torch::relu(0.9 - len).pow(2) + 0.5 * (1 - q) * ::torch::relu(len - 0.1).pow(2);
    return l.sum(1).mean();
  }
  Status export_layers(ModelIr&) const override {
    return Status::unsupported("capsnet does not export to ModelIr (dynamic routing is not a feed-forward op)");
  }
  static constexpr int kPrimDim = 8, kClassDim = 16, kIters = 3;
  int classes, types, num_caps = 0;
  tnn::Conv2d conv1{nullptr}, conv2{nullptr}, primary{nullptr};
  tnn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  Tensor W;
};

// Data-efficient image transformer (DeiT; Touvron et al., arXiv:2012.12877) on top of ViT
// (Dosovitskiy et al., arXiv:2010.11929): non-overlapping patch embedding (a conv with
// kernel = stride = patch), a class and a distillation token, learned position embeddings,
// pre-norm encoder blocks x + Attn(LN(x)), x + MLP(LN(x)) with GELU, a final layer norm, and two
// linear heads reading the class and the distillation token. forward() returns the mean of the
// two heads' logits (DeiT's inference); in training mode it also keeps each head's logits for the
// hard-label distillation loss (trainer.cpp). No dropout or stochastic depth.
struct DeiTBlock {
  tnn::LayerNorm ln1{nullptr}, ln2{nullptr};
  tnn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
};

tnn::LayerNorm layer_norm_module(int dim) { return tnn::LayerNorm(tnn::LayerNormOptions({dim}).eps(1e-6)); }

Layer layer_norm_layer(const tnn::LayerNorm& m, const std::string& name) {
  Layer l;
  l.kind = OpKind::kLayerNorm;
  l.name = name;
  l.in_channels = static_cast<int>(m->options.normalized_shape()[0]);
  l.gamma = to_vec(m->weight);
  l.beta = to_vec(m->bias);
  l.eps = static_cast<float>(m->options.eps());
  return l;
}

Layer token_dense_layer(const tnn::Linear& m, const std::string& name) {
  Layer l = dense_layer(m, name);
  l.kind = OpKind::kTokenDense;
  return l;
}

struct DeiT : HealNet {
  explicit DeiT(const ModelSpec& s) : dim(s.width), heads(s.heads), classes(s.num_classes) {
    HEAL_REQUIRE(dim >= 1 && heads >= 1 && dim % heads == 0,
                 "deit: heads (" << heads << ") must divide the width (" << dim << ")");
    HEAL_REQUIRE(s.patch >= 1 && s.patch <= s.image_size, "deit: patch size out of range");
    HEAL_REQUIRE(s.depth >= 1 && s.hidden >= 1, "deit: need depth >= 1 and hidden >= 1");
    grid = (s.image_size - s.patch) / s.patch + 1;
    embed =
        register_module("patch_embed", tnn::Conv2d(tnn::Conv2dOptions(s.in_channels, dim, s.patch).stride(s.patch)));
    cls_token = register_parameter("cls_token", ::torch::zeros({1, 1, dim}));
    dist_token = register_parameter("dist_token", ::torch::zeros({1, 1, dim}));
    pos_embed = register_parameter("pos_embed", ::torch::zeros({1, 2 + grid * grid, dim}));
    for (int i = 0; i < s.depth; ++i) {
      const std::string n = "b" + std::to_string(i);
      DeiTBlock b;
      b.ln1 = register_module(n + "_ln1", layer_norm_module(dim));
      b.qkv = register_module(n + "_qkv", tnn::Linear(dim, 3 * dim));
      b.proj = register_module(n + "_proj", tnn::Linear(dim, dim));
      b.ln2 = register_module(n + "_ln2", layer_norm_module(dim));
      b.fc1 = register_module(n + "_fc1", tnn::Linear(dim, s.hidden));
      b.fc2 = register_module(n + "_fc2", tnn::Linear(s.hidden, dim));
      blocks.push_back(b);
    }
    norm = register_module("norm", layer_norm_module(dim));
    head = register_module("head", tnn::Linear(dim, s.num_classes));
    head_dist = register_module("head_dist", tnn::Linear(dim, s.num_classes));
    // DeiT / timm initialisation: truncated normal(0, 0.02) for tokens, position embeddings and
    // linear weights (here: normal clipped at +-2 sigma), zero biases; layer norms start at identity.
    ::torch::NoGradGuard ng;
    auto trunc = [](Tensor& t) { t.normal_(0.0, 0.02).clamp_(-0.04, 0.04); };
    trunc(cls_token);
    trunc(dist_token);
    trunc(pos_embed);
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* lin = m->as<tnn::Linear>()) {
        trunc(lin->weight);
        lin->bias.zero_();
      }
    }
  }
  // Multi-head self-attention: in-projection rows [W_q; W_k; W_v], head h uses features
  // [h*dh, (h+1)*dh) of each (the layout of OpKind::kSelfAttention).
  Tensor attention(DeiTBlock& b, const Tensor& x) {
    const auto n = x.size(0), t = x.size(1);
    const long dh = dim / heads;
    Tensor qkv = b.qkv->forward(x).reshape({n, t, 3, heads, dh}).permute({2, 0, 3, 1, 4});  // (3, N, H, T, dh)
    Tensor q = qkv[0], k = qkv[1], v = qkv[2];
    Tensor att = ::torch::softmax(::torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(dh)), -1);
    return ::torch::matmul(att, v).transpose(1, 2).reshape({n, t, dim});
  }
  Tensor forward(const Tensor& input) override {
    Tensor x = embed->forward(input).flatten(2).transpose(1, 2);  // (N, P, D), position p = y * grid + x
    const auto n = x.size(0);
    x = ::torch::cat({cls_token.expand({n, -1, -1}), dist_token.expand({n, -1, -1}), x}, 1) + pos_embed;
    for (auto& b : blocks) {
      x = x + b.proj->forward(attention(b, b.ln1->forward(x)));
      x = x + b.fc2->forward(::torch::gelu(b.fc1->forward(b.ln2->forward(x))));
    }
    x = norm->forward(x);
    Tensor c = head->forward(x.select(1, 0)), d = head_dist->forward(x.select(1, 1));
    if (is_training()) {
      last_cls = c;
      last_dist = d;
    }
    return (c + d) * 0.5;
  }
  Status export_layers(ModelIr& ir) const override {
    int cur = emit(ir, conv_layer(embed, "patch_embed"), {kInputValue});
    Layer tok;
    tok.kind = OpKind::kTokens;
    tok.name = "tokens";
    tok.in_channels = dim;
    tok.out_channels = 2;
    tok.weight = to_vec(::torch::cat({cls_token, dist_token}, 1));
    tok.bias = to_vec(pos_embed);
    cur = emit(ir, tok, {cur});
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const auto& b = blocks[i];
      const std::string n = "b" + std::to_string(i);
      int h = emit(ir, layer_norm_layer(b.ln1, n + "_ln1"), {cur});
      Layer at = dense_layer(b.qkv, n + "_attn");
      at.kind = OpKind::kSelfAttention;
      at.in_channels = dim;
      at.out_channels = heads;
      h = emit(ir, at, {h});
      h = emit(ir, token_dense_layer(b.proj, n + "_proj"), {h});
      cur = emit(ir, simple_layer(OpKind::kAdd, n + "_add1"), {cur, h});
      h = emit(ir, layer_norm_layer(b.ln2, n + "_ln2"), {cur});
      h = emit(ir, token_dense_layer(b.fc1, n + "_fc1"), {h});
      h = emit(ir, simple_layer(OpKind::kGelu, n + "_gelu"), {h});
      h = emit(ir, token_dense_layer(b.fc2, n + "_fc2"), {h});
      cur = emit(ir, simple_layer(OpKind::kAdd, n + "_add2"), {cur, h});
    }
    cur = emit(ir, layer_norm_layer(norm, "norm"), {cur});
    // Features: the class and distillation tokens concatenated (2 x width). The mean of the two
    // heads is one dense layer on them: 0.5 [W_cls | W_dist], bias 0.5 (b_cls + b_dist).
    Layer sel = simple_layer(OpKind::kSelectTokens, "features");
    sel.out_channels = 2;
    cur = emit(ir, sel, {cur});
    Layer hd;
    hd.kind = OpKind::kDense;
    hd.name = "head";
    hd.in_channels = 2 * dim;
    hd.out_channels = classes;
    hd.weight = to_vec(::torch::cat({head->weight, head_dist->weight}, 1) * 0.5);
    hd.bias = to_vec((head->bias + head_dist->bias) * 0.5);
    emit(ir, hd, {cur});
    return {};
  }
  int dim, heads, classes, grid = 0;
  tnn::Conv2d embed{nullptr};
  Tensor cls_token, dist_token, pos_embed;
  std::vector<DeiTBlock> blocks;
  tnn::LayerNorm norm{nullptr};
  tnn::Linear head{nullptr}, head_dist{nullptr};
};

}  // namespace

Result<ModelSpec> hecnn_spec_from_ir(const ModelIr& ir, const ModelSpec& target) {
  using std::to_string;
  if (target.arch != Architecture::kHeCnn && target.arch != Architecture::kHeCnnWide) {
    return Status::invalid_argument(std::string("--init: takes hecnn models; this training builds a ") +
                                    architecture_name(target.arch));
  }
  if (ir.meta.architecture != "hecnn" && ir.meta.architecture != "hecnn-wide") {
    return Status::invalid_argument("--init: model is a '" + ir.meta.architecture + "', not an hecnn");
  }
  if (ir.input.c != target.in_channels || ir.input.h != target.image_size || ir.input.w != target.image_size) {
    return Status::invalid_argument("--init: the model takes " + to_string(ir.input.c) + "x" + to_string(ir.input.h) +
                                    "x" + to_string(ir.input.w) + " images, this training " +
                                    to_string(target.in_channels) + "x" + to_string(target.image_size) + "x" +
                                    to_string(target.image_size));
  }
  // The layer chain HeCnn::export_layers writes (batch norms folded): conv<i>, act<i> for each
  // block, then flatten, fc1, act_fc, fc2.
  const auto& L = ir.layers;
  auto bad = [&](std::size_t i, const std::string& want) {
    return Status::invalid_argument("--init: layer " + to_string(i) + " ('" + (i < L.size() ? L[i].name : "<none>") +
                                    "') is not the " + want + " of an hecnn layer chain");
  };
  auto is = [&](std::size_t i, OpKind k, const std::string& name) {
    return i < L.size() && L[i].kind == k && L[i].name == name && L[i].inputs.empty();
  };
  int depth = 0;
  while (is(2 * static_cast<std::size_t>(depth), OpKind::kConv2d, "conv" + to_string(depth))) ++depth;
  if (depth == 0) return bad(0, "conv0");
  const int width = L[0].out_channels;
  for (int i = 0; i < depth; ++i) {
    const Layer& c = L[2 * static_cast<std::size_t>(i)];
    const int k = i == 0 ? 5 : 3;
    if (c.kernel != k || c.stride != 2 || c.padding != 1 || c.out_channels != (width << i)) {
      return bad(2 * static_cast<std::size_t>(i), "conv" + to_string(i) + " (kernel " + to_string(k) +
                                                      ", stride 2, padding 1, " + to_string(width << i) + " channels)");
    }
    if (!is(2 * static_cast<std::size_t>(i) + 1, OpKind::kPolyAct, "act" + to_string(i))) {
      return bad(2 * static_cast<std::size_t>(i) + 1, "act" + to_string(i));
    }
  }
  const std::size_t f = 2 * static_cast<std::size_t>(depth);
  if (!is(f, OpKind::kFlatten, "flatten")) return bad(f, "flatten");
  if (!is(f + 1, OpKind::kDense, "fc1")) return bad(f + 1, "fc1");
  if (!is(f + 2, OpKind::kPolyAct, "act_fc")) return bad(f + 2, "act_fc");
  if (!is(f + 3, OpKind::kDense, "fc2") || L[f + 3].in_channels != L[f + 1].out_channels) return bad(f + 3, "fc2");
  if (L.size() != f + 4) return bad(f + 4, "end");
  ModelSpec s = target;
  s.arch = ir.meta.architecture == "hecnn" ? Architecture::kHeCnn : Architecture::kHeCnnWide;
  s.width = width;
  s.depth = depth;
  s.hidden = L[f + 1].out_channels;
  if (const auto it = ir.meta.notes.find("poly_range"); it != ir.meta.notes.end()) {
    char* end = nullptr;
    const double r = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && std::isfinite(r) && r > 0) s.poly_range = r;
  }
  return s;
}

std::shared_ptr<HealNet> make_network(ModelSpec& s) {
  HEAL_REQUIRE(s.in_channels >= 1 && s.image_size >= 8 && s.num_classes >= 2,
               "model spec: need in_channels >= 1, image_size >= 8, num_classes >= 2");
  switch (s.arch) {
    case Architecture::kHeCnn:
    case Architecture::kHeCnnWide: {
      const bool wide = s.arch == Architecture::kHeCnnWide;
      if (s.width == 0) s.width = wide ? 16 : 8;
      if (s.depth == 0) s.depth = wide ? 2 : 1;
      if (s.hidden == 0) s.hidden = wide ? 128 : 64;
      return std::make_shared<HeCnn>(s);
    }
    case Architecture::kResNet:
      if (s.width == 0) s.width = 16;
      if (s.depth == 0) s.depth = 3;
      return std::make_shared<ResNet>(s);
    case Architecture::kCapsNet:
      if (s.width == 0) s.width = 32;  // conv1 channels
      if (s.depth == 0) s.depth = 8;   // primary capsule types
      return std::make_shared<CapsNet>(s);
    case Architecture::kDeiT:
      if (s.width == 0) s.width = 120;            // embedding dimension
      if (s.depth == 0) s.depth = 4;              // encoder blocks
      if (s.hidden == 0) s.hidden = 2 * s.width;  // MLP ratio 2
      if (s.heads == 0) s.heads = 4;
      if (s.patch == 0) s.patch = std::max(1, (s.image_size + 3) / 7);  // a 7x7 grid (4 px at 28)
      return std::make_shared<DeiT>(s);
  }
  HEAL_REQUIRE(false, "model spec: unknown architecture");
  return nullptr;
}

}  // namespace heal::nn::torch_backend
