// Segmentation networks (seg_models.h): SegCaps (arXiv 1804.04241), UCaps (capsule encoder, CNN decoder;
// arXiv 2203.08965) and U-Net (arXiv 1505.04597).
#include "seg_models.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace heal::nn::torch_backend {

namespace tnn = ::torch::nn;
using ::torch::Tensor;

Tensor squash(const Tensor& s, std::int64_t dim) {
  const Tensor sq = s.pow(2).sum(dim, true);
  return s * (sq / (1 + sq)) / ::torch::sqrt(sq + 1e-9);
}

// ---------------------------------------------------------------------------------------------
// Convolutional capsules.

ConvCapsulesImpl::ConvCapsulesImpl(int in_t, int in_a, int out_t, int out_a, int kernel, int stride, int r,
                                   bool transp)
    : in_types(in_t), in_atoms(in_a), out_types(out_t), out_atoms(out_a), routings(r), transposed(transp) {
  if (in_t < 1 || in_a < 1 || out_t < 1 || out_a < 1 || r < 1) throw std::invalid_argument("ConvCapsules: bad sizes");
  // One transformation shared by every child type, as in the authors' implementation (the child
  // types are folded into the batch): A_in -> T_out * A_out vote channels over a k x k window.
  if (transposed) {
    deconv = register_module(
        "deconv", tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(in_a, out_t * out_a, 4).stride(2).padding(1).bias(false)));
  } else {
    if (kernel % 2 != 1 || (stride != 1 && stride != 2)) throw std::invalid_argument("ConvCapsules: odd kernel, stride 1 or 2");
    conv = register_module(
        "conv", tnn::Conv2d(tnn::Conv2dOptions(in_a, out_t * out_a, kernel).stride(stride).padding(kernel / 2).bias(false)));
  }
  bias = register_parameter("bias", ::torch::full({1, out_t, out_a, 1, 1}, 0.1));
}

Tensor ConvCapsulesImpl::forward(const Tensor& x) {
  TORCH_CHECK(x.dim() == 5 && x.size(1) == in_types && x.size(2) == in_atoms, "ConvCapsules: expected (N, ", in_types,
              ", ", in_atoms, ", H, W)");
  const auto n = x.size(0);
  const Tensor flat = x.reshape({n * in_types, in_atoms, x.size(3), x.size(4)});
  const Tensor v = transposed ? deconv->forward(flat) : conv->forward(flat);
  const Tensor votes = v.view({n, in_types, out_types, out_atoms, v.size(2), v.size(3)});  // u_{i->j}
  Tensor b = ::torch::zeros({n, in_types, out_types, v.size(2), v.size(3)}, votes.options());
  Tensor out;
  for (int it = 0; it < routings; ++it) {
    const Tensor c = ::torch::softmax(b, 2);  // over parent types, per child type and position
    out = squash((c.unsqueeze(3) * votes).sum(1) + bias, 2);
    if (it + 1 < routings) b = b + (votes * out.unsqueeze(1)).sum(3);
    if (it + 1 == routings) last_coupling = c.detach();
  }
  return out;
}

namespace {

// ---------------------------------------------------------------------------------------------
// SegCaps R3 (arXiv 1804.04241, Fig. 2): capsule types x atoms per layer as in the paper.
struct SegCaps : SegNet {
  explicit SegCaps(const SegNetSpec& s) : recon_weight(s.recon_weight), in_channels(s.in_channels) {
    const int w = s.width;
    conv1 = register_module("conv1", tnn::Conv2d(tnn::Conv2dOptions(s.in_channels, w, 5).padding(2)));
    primary = register_module("primary", ConvCapsules(1, w, 2, 16, 5, 2, 1));
    c21 = register_module("c21", ConvCapsules(2, 16, 4, 16, 5, 1, 3));
    c22 = register_module("c22", ConvCapsules(4, 16, 4, 32, 5, 2, 3));
    c31 = register_module("c31", ConvCapsules(4, 32, 8, 32, 5, 1, 3));
    c32 = register_module("c32", ConvCapsules(8, 32, 8, 64, 5, 2, 3));
    c41 = register_module("c41", ConvCapsules(8, 64, 8, 32, 5, 1, 3));
    d11 = register_module("d11", ConvCapsules(8, 32, 8, 32, 4, 2, 3, true));
    d12 = register_module("d12", ConvCapsules(16, 32, 4, 32, 5, 1, 3));
    d21 = register_module("d21", ConvCapsules(4, 32, 4, 16, 4, 2, 3, true));
    d22 = register_module("d22", ConvCapsules(8, 16, 4, 16, 5, 1, 3));
    d31 = register_module("d31", ConvCapsules(4, 16, 2, 16, 4, 2, 3, true));
    seg = register_module("seg", ConvCapsules(2 + 1, 16, 1, 16, 1, 1, 3));
    // The stem's w atoms join d31's 16 only when w == 16 (the paper's value).
    if (w != 16) throw std::invalid_argument("segcaps: the stem width must be 16 (its capsules join the last layer)");
    r1 = register_module("r1", tnn::Conv2d(tnn::Conv2dOptions(16, 64, 1)));
    r2 = register_module("r2", tnn::Conv2d(tnn::Conv2dOptions(64, 128, 1)));
    r3 = register_module("r3", tnn::Conv2d(tnn::Conv2dOptions(128, s.in_channels, 1)));
  }
  Tensor forward(const Tensor& x) override {
    TORCH_CHECK(x.size(2) % 8 == 0 && x.size(3) % 8 == 0, "segcaps: height and width must be multiples of 8");
    const Tensor stem = ::torch::relu(conv1->forward(x));
    const Tensor caps0 = stem.unsqueeze(1);  // (N, 1, 16, H, W)
    const Tensor p = primary->forward(caps0);
    const Tensor a21 = c21->forward(p), a22 = c22->forward(a21);
    const Tensor a31 = c31->forward(a22), a32 = c32->forward(a31);
    const Tensor a41 = c41->forward(a32);
    const Tensor u1 = d12->forward(::torch::cat({d11->forward(a41), a31}, 1));
    const Tensor u2 = d22->forward(::torch::cat({d21->forward(u1), a21}, 1));
    last_caps = seg->forward(::torch::cat({d31->forward(u2), caps0}, 1)).squeeze(1);  // (N, 16, H, W)
    return ::torch::sqrt(last_caps.pow(2).sum(1, true) + 1e-9);  // capsule length (N, 1, H, W)
  }
  Tensor probabilities(const Tensor& scores) const override { return scores.clamp(0, 1); }
  // Segmentation loss + recon_weight * MSE of the reconstruction of the input inside the mask
  // (the final capsules masked by the ground truth, as in the paper).
  Tensor loss(const Tensor& x, const Tensor& scores, const Tensor& mask, SegLoss kind) override {
    Tensor l = seg_head_loss(scores, mask, kind, false);
    if (recon_weight > 0 && last_caps.defined()) {
      const Tensor masked = last_caps * mask;
      const Tensor rec = r3->forward(::torch::relu(r2->forward(::torch::relu(r1->forward(masked)))));
      l = l + recon_weight * ::torch::mse_loss(rec, x * mask);
    }
    return l;
  }
  double recon_weight;
  int in_channels;
  tnn::Conv2d conv1{nullptr}, r1{nullptr}, r2{nullptr}, r3{nullptr};
  ConvCapsules primary{nullptr}, c21{nullptr}, c22{nullptr}, c31{nullptr}, c32{nullptr}, c41{nullptr}, d11{nullptr},
      d12{nullptr}, d21{nullptr}, d22{nullptr}, d31{nullptr}, seg{nullptr};
  Tensor last_caps;
};

// ---------------------------------------------------------------------------------------------
// U-Net (arXiv 1505.04597) with 3 down-sampling steps, padded 3x3 convolutions, batch norm.
struct DoubleConvImpl : tnn::Module {
  DoubleConvImpl(int in, int out) {
    seq = register_module("seq", tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(in, out, 3).padding(1).bias(false)),
                                                 tnn::BatchNorm2d(out), tnn::ReLU(),
                                                 tnn::Conv2d(tnn::Conv2dOptions(out, out, 3).padding(1).bias(false)),
                                                 tnn::BatchNorm2d(out), tnn::ReLU()));
  }
  Tensor forward(const Tensor& x) { return seq->forward(x); }
  tnn::Sequential seq{nullptr};
};
TORCH_MODULE(DoubleConv);

// Output channels of a logit head: 1 for binary segmentation, K for K > 2 classes.
int head_channels(const SegNetSpec& s) { return s.classes == 2 ? 1 : s.classes; }

// Logits -> probabilities: sigmoid of the one foreground channel, or softmax over K classes.
Tensor logit_probabilities(const Tensor& logits) {
  return logits.size(1) == 1 ? ::torch::sigmoid(logits) : ::torch::softmax(logits, 1);
}

Tensor logit_loss(const Tensor& logits, const Tensor& mask, SegLoss kind) {
  if (logits.size(1) == 1) return seg_head_loss(logits, mask, kind, true);
  if (kind != SegLoss::kBceDice)
    throw std::invalid_argument("the structure loss is binary: use bce-dice with K > 2 classes");
  return multiclass_seg_loss(logits, mask);
}

// A skip connection, through its attention gate when the network has one (unet-ag, ucaps-ag).
Tensor gate(AttentionGate& g, const Tensor& skip, const Tensor& up) { return g ? g->forward(skip, up) : skip; }

struct UNet : SegNet {
  explicit UNet(const SegNetSpec& s) {
    const int c = s.width;
    e1 = register_module("e1", DoubleConv(s.in_channels, c));
    e2 = register_module("e2", DoubleConv(c, 2 * c));
    e3 = register_module("e3", DoubleConv(2 * c, 4 * c));
    mid = register_module("mid", DoubleConv(4 * c, 8 * c));
    u3 = register_module("u3", tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(8 * c, 4 * c, 2).stride(2)));
    d3 = register_module("d3", DoubleConv(8 * c, 4 * c));
    u2 = register_module("u2", tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(4 * c, 2 * c, 2).stride(2)));
    d2 = register_module("d2", DoubleConv(4 * c, 2 * c));
    u1 = register_module("u1", tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(2 * c, c, 2).stride(2)));
    d1 = register_module("d1", DoubleConv(2 * c, c));
    out = register_module("out", tnn::Conv2d(tnn::Conv2dOptions(c, head_channels(s), 1)));
    if (s.arch == "unet-ag") {
      g3 = register_module("g3", AttentionGate(4 * c, 4 * c));
      g2 = register_module("g2", AttentionGate(2 * c, 2 * c));
      g1 = register_module("g1", AttentionGate(c, c));
    }
  }
  Tensor forward(const Tensor& x) override {
    TORCH_CHECK(x.size(2) % 8 == 0 && x.size(3) % 8 == 0, "unet: height and width must be multiples of 8");
    const Tensor a1 = e1->forward(x);
    const Tensor a2 = e2->forward(::torch::max_pool2d(a1, 2));
    const Tensor a3 = e3->forward(::torch::max_pool2d(a2, 2));
    const Tensor m = mid->forward(::torch::max_pool2d(a3, 2));
    const Tensor v3 = u3->forward(m);
    const Tensor b3 = d3->forward(::torch::cat({v3, gate(g3, a3, v3)}, 1));
    const Tensor v2 = u2->forward(b3);
    const Tensor b2 = d2->forward(::torch::cat({v2, gate(g2, a2, v2)}, 1));
    const Tensor v1 = u1->forward(b2);
    const Tensor b1 = d1->forward(::torch::cat({v1, gate(g1, a1, v1)}, 1));
    return out->forward(b1);  // logits
  }
  Tensor probabilities(const Tensor& scores) const override { return logit_probabilities(scores); }
  Tensor loss(const Tensor&, const Tensor& scores, const Tensor& mask, SegLoss kind) override {
    return logit_loss(scores, mask, kind);
  }
  DoubleConv e1{nullptr}, e2{nullptr}, e3{nullptr}, mid{nullptr}, d3{nullptr}, d2{nullptr}, d1{nullptr};
  tnn::ConvTranspose2d u3{nullptr}, u2{nullptr}, u1{nullptr};
  tnn::Conv2d out{nullptr};
  AttentionGate g3{nullptr}, g2{nullptr}, g1{nullptr};  ///< "unet-ag" only
};

// ---------------------------------------------------------------------------------------------
// Capsule encoder, CNN decoder: the 2D form of 3D-UCaps (Nguyen, Hua, Le, arXiv 2203.08965) and
// 3DConvCaps (Tran, Vo-Ho, Le, arXiv 2205.09299). A convolutional feature extractor at full
// resolution, then SegCaps' capsule encoder (primary capsules and convolutional capsules with
// locally-constrained routing, strided instead of pooled), then a U-Net decoder of transposed and
// plain convolutions whose skips are the capsule layers (types x atoms as channels) and the
// extractor. The capsules keep the part-whole routing; the CNN decoder is what those papers found
// trains reliably where SegCaps' capsule decoder does not. Output: logits, BCE + soft Dice (no
// reconstruction regulariser: the decoder's features are not capsules).
struct UCaps : SegNet {
  explicit UCaps(const SegNetSpec& s) {
    const int w = s.width;
    stem = register_module("stem", DoubleConv(s.in_channels, w));
    primary = register_module("primary", ConvCapsules(1, w, 2, 16, 5, 2, 1));  // H/2
    c21 = register_module("c21", ConvCapsules(2, 16, 4, 16, 5, 1, 3));
    c22 = register_module("c22", ConvCapsules(4, 16, 4, 32, 5, 2, 3));  // H/4
    c31 = register_module("c31", ConvCapsules(4, 32, 8, 32, 5, 1, 3));
    c32 = register_module("c32", ConvCapsules(8, 32, 8, 32, 5, 2, 3));  // H/8
    c41 = register_module("c41", ConvCapsules(8, 32, 8, 32, 5, 1, 3));
    u3 = register_module("u3", tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(channels_of(c41), 128, 2).stride(2)));
    d3 = register_module("d3", DoubleConv(128 + channels_of(c31), 128));
    u2 = register_module("u2", tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(128, 64, 2).stride(2)));
    d2 = register_module("d2", DoubleConv(64 + channels_of(c21), 64));
    u1 = register_module("u1", tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(64, 32, 2).stride(2)));
    d1 = register_module("d1", DoubleConv(32 + w, 32));
    out = register_module("out", tnn::Conv2d(tnn::Conv2dOptions(32, head_channels(s), 1)));
    if (s.arch == "ucaps-ag") {
      g3 = register_module("g3", AttentionGate(channels_of(c31), 128));
      g2 = register_module("g2", AttentionGate(channels_of(c21), 64));
      g1 = register_module("g1", AttentionGate(w, 32));
    }
  }
  // A capsule layer's output as decoder channels: (N, T, A, H, W) -> (N, T * A, H, W).
  static int channels_of(const ConvCapsules& l) { return l->out_types * l->out_atoms; }
  static Tensor channels(const Tensor& caps) { return caps.flatten(1, 2); }
  Tensor forward(const Tensor& x) override {
    TORCH_CHECK(x.size(2) % 8 == 0 && x.size(3) % 8 == 0, "ucaps: height and width must be multiples of 8");
    const Tensor f = stem->forward(x);                                   // (N, w, H, W)
    const Tensor a21 = c21->forward(primary->forward(f.unsqueeze(1)));  // (N, 4, 16, H/2, W/2)
    const Tensor a31 = c31->forward(c22->forward(a21));                 // (N, 8, 32, H/4, W/4)
    const Tensor a41 = c41->forward(c32->forward(a31));                 // (N, 8, 32, H/8, W/8)
    const Tensor v3 = u3->forward(channels(a41));
    const Tensor b3 = d3->forward(::torch::cat({v3, gate(g3, channels(a31), v3)}, 1));
    const Tensor v2 = u2->forward(b3);
    const Tensor b2 = d2->forward(::torch::cat({v2, gate(g2, channels(a21), v2)}, 1));
    const Tensor v1 = u1->forward(b2);
    const Tensor b1 = d1->forward(::torch::cat({v1, gate(g1, f, v1)}, 1));
    return out->forward(b1);  // logits
  }
  Tensor probabilities(const Tensor& scores) const override { return logit_probabilities(scores); }
  Tensor loss(const Tensor&, const Tensor& scores, const Tensor& mask, SegLoss kind) override {
    return logit_loss(scores, mask, kind);
  }
  DoubleConv stem{nullptr}, d3{nullptr}, d2{nullptr}, d1{nullptr};
  ConvCapsules primary{nullptr}, c21{nullptr}, c22{nullptr}, c31{nullptr}, c32{nullptr}, c41{nullptr};
  tnn::ConvTranspose2d u3{nullptr}, u2{nullptr}, u1{nullptr};
  tnn::Conv2d out{nullptr};
  AttentionGate g3{nullptr}, g2{nullptr}, g1{nullptr};  ///< "ucaps-ag" only
};

}  // namespace

AttentionGateImpl::AttentionGateImpl(int x_ch, int g_ch) {
  const int mid = std::max(1, x_ch / 2);
  wx = register_module(
      "wx", tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(x_ch, mid, 1).bias(false)), tnn::BatchNorm2d(mid)));
  wg = register_module(
      "wg", tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(g_ch, mid, 1).bias(false)), tnn::BatchNorm2d(mid)));
  psi = register_module(
      "psi", tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(mid, 1, 1).bias(false)), tnn::BatchNorm2d(1)));
}

Tensor AttentionGateImpl::forward(const Tensor& x, const Tensor& g) {
  last_alpha = ::torch::sigmoid(psi->forward(::torch::relu(wx->forward(x) + wg->forward(g))));
  return x * last_alpha;
}

Tensor soft_dice_loss(const Tensor& probs, const Tensor& mask) {
  const Tensor p = probs.flatten(1), m = mask.flatten(1);
  const Tensor dice = (2 * (p * m).sum(1) + 1) / (p.sum(1) + m.sum(1) + 1);
  return 1 - dice.mean();
}

Tensor structure_weights(const Tensor& mask) {
  const auto side = mask.size(-1);
  const long half = std::lround(15.0 * static_cast<double>(side) / 352.0);
  const long k = 2 * half + 1;
  const Tensor local = ::torch::avg_pool2d(mask, {k, k}, {1, 1}, {half, half}, false, true);
  return 1 + 5 * (local - mask).abs();
}

Tensor seg_head_loss(const Tensor& scores, const Tensor& mask, SegLoss kind, bool logits) {
  const Tensor p = logits ? ::torch::sigmoid(scores) : scores.clamp(1e-6, 1 - 1e-6);
  if (kind == SegLoss::kBceDice) {
    const Tensor bce =
        logits ? ::torch::binary_cross_entropy_with_logits(scores, mask) : ::torch::binary_cross_entropy(p, mask);
    return bce + soft_dice_loss(p, mask);
  }
  const Tensor w = structure_weights(mask);
  const Tensor bce = logits ? ::torch::binary_cross_entropy_with_logits(scores, mask, {}, {}, at::Reduction::None)
                            : ::torch::binary_cross_entropy(p, mask, {}, at::Reduction::None);
  const std::vector<long> hw{2, 3};
  const Tensor wbce = (w * bce).sum(hw) / w.sum(hw);
  const Tensor inter = (w * p * mask).sum(hw);
  const Tensor uni = (w * (p + mask)).sum(hw);
  const Tensor wiou = 1 - (inter + 1) / (uni - inter + 1);
  return (wbce + wiou).mean();
}

Tensor multiclass_seg_loss(const Tensor& logits, const Tensor& onehot) {
  TORCH_CHECK(logits.dim() == 4 && logits.sizes() == onehot.sizes() && logits.size(1) > 2,
              "multiclass_seg_loss: logits and one-hot mask of the same shape (N, K > 2, H, W)");
  const Tensor ce = -(onehot * ::torch::log_softmax(logits, 1)).sum(1).mean();
  const Tensor p = ::torch::softmax(logits, 1);
  const auto k = logits.size(1);
  // (N * (K - 1), H, W): every image's lesion classes, each its own soft Dice term.
  const Tensor pl = p.slice(1, 1, k).flatten(0, 1), ml = onehot.slice(1, 1, k).flatten(0, 1);
  return ce + soft_dice_loss(pl, ml);
}

Tensor one_hot_argmax(const Tensor& m) {
  return ::torch::one_hot(m.argmax(1), m.size(1)).permute({0, 3, 1, 2}).to(::torch::kFloat).contiguous();
}

std::shared_ptr<SegNet> make_seg_network(const SegNetSpec& spec) {
  if (spec.in_channels < 1 || spec.width < 1) throw std::invalid_argument("segmentation network: bad channels or width");
  if (spec.classes < 2 || spec.classes > 16)
    throw std::invalid_argument("segmentation network: classes must be in [2, 16]");
  if (spec.arch == "segcaps" && spec.classes != 2) {
    throw std::invalid_argument(
        "segcaps segments one foreground class: use unet, unet-ag, ucaps or ucaps-ag for K > 2 classes");
  }
  if (spec.arch == "segcaps") return std::make_shared<SegCaps>(spec);
  if (spec.arch == "unet" || spec.arch == "unet-ag") return std::make_shared<UNet>(spec);
  if (spec.arch == "ucaps" || spec.arch == "ucaps-ag") return std::make_shared<UCaps>(spec);
  throw std::invalid_argument("unknown segmentation network '" + spec.arch +
                              "' (segcaps, ucaps, ucaps-ag, unet, unet-ag)");
}

}  // namespace heal::nn::torch_backend
