// Segmentation networks in libtorch (private to nn/torch; issue 20): a capsule network that
// segments (SegCaps, LaLonde and Bagci, arXiv 1804.04241) and the U-Net baseline (Ronneberger,
// Fischer, Brox, arXiv 1505.04597), with the losses used to train them. Both map a normalised
// batch (N, C, H, W), H and W multiples of 8, to a foreground probability map (N, 1, H, W); the
// U-Net and UCaps also segment K > 2 classes (background and K - 1 lesion classes, e.g. ground-glass
// opacity and consolidation) with K softmax outputs (N, K, H, W).
//
// SegCaps' "convolutional capsules with locally-constrained dynamic routing": a layer's input is a
// grid of child capsules (N, T_in, A_in, H, W): T_in capsule types of A_in atoms at every pixel.
// One transformation, a k x k convolution shared over the grid and, as in the authors'
// implementation (which folds the child types into the batch), over the child types, turns every
// child capsule into votes u_{i->j} for every parent type j (T_out types of A_out atoms) at the
// parent positions inside the kernel window; this keeps SegCaps R3 at the paper's 1.4 M parameters. Routing by
// agreement (Sabour, Frosst, Hinton, arXiv 1710.09829) runs per parent position over the child
// types only: c_ij = softmax_j(b_ij), s_j = sum_i c_ij u_{i->j} + bias_j, v_j = squash(s_j),
// b_ij += u_{i->j} . v_j. Deconvolutional capsules use a transposed convolution for the votes.
// The segmentation output is the length of the single final capsule type at each pixel; a
// reconstruction head (three 1x1 convolutions) rebuilds the input inside the lesion from the
// final capsules, masked by the ground truth in training, as the paper's regulariser.
#pragma once

#include <torch/torch.h>

#include "heal/core/rng.h"
#include "heal/nn/torch/seg_trainer.h"

#include <cstdint>
#include <memory>
#include <string>

namespace heal::nn::torch_backend {

/// v = |s|^2 / (1 + |s|^2) * s / |s| along `dim` (Sabour et al., eq. 1).
::torch::Tensor squash(const ::torch::Tensor& s, std::int64_t dim);

/// A layer of convolutional (or, with `transposed`, deconvolutional x2) capsules.
struct ConvCapsulesImpl : ::torch::nn::Module {
  /// kernel: odd for convolutional capsules (padding k/2, stride 1 or 2); transposed capsules use
  /// a 4x4 kernel with stride 2 (output twice the input size). routings >= 1 (1: no agreement
  /// step, the plain average of the votes, as the paper's primary capsules).
  ConvCapsulesImpl(int in_types, int in_atoms, int out_types, int out_atoms, int kernel, int stride, int routings,
                   bool transposed = false);
  /// (N, T_in, A_in, H, W) -> (N, T_out, A_out, H', W').
  ::torch::Tensor forward(const ::torch::Tensor& x);
  /// Routing coefficients c of the last forward, (N, T_in, T_out, H', W') (tests: sum to 1 over T_out).
  ::torch::Tensor last_coupling;
  int in_types, in_atoms, out_types, out_atoms, routings;
  bool transposed;
  ::torch::nn::Conv2d conv{nullptr};
  ::torch::nn::ConvTranspose2d deconv{nullptr};
  ::torch::Tensor bias;
};
TORCH_MODULE(ConvCapsules);

/// Additive attention gate on a skip connection (Oktay et al., "Attention U-Net", arXiv 1804.03999;
/// Schlemper et al., arXiv 1808.08114, the Gated-UNet of Inf-Net's table). The gating signal g is the
/// decoder's up-sampled feature at the skip's resolution: alpha = sigmoid(psi(relu(W_x x + W_g g))),
/// one coefficient in [0, 1] per pixel (1x1 convolutions with batch norm, x_ch / 2 channels inside),
/// and the skip becomes alpha * x, so the decoder can suppress encoder responses outside the lesion.
struct AttentionGateImpl : ::torch::nn::Module {
  AttentionGateImpl(int x_ch, int g_ch);
  ::torch::Tensor forward(const ::torch::Tensor& x, const ::torch::Tensor& g);
  ::torch::nn::Sequential wx{nullptr}, wg{nullptr}, psi{nullptr};
  ::torch::Tensor last_alpha;  ///< (N, 1, H, W) of the last forward (tests)
};
TORCH_MODULE(AttentionGate);

/// Common interface of the segmentation networks.
struct SegNet : ::torch::nn::Module {
  /// Binary: foreground scores (N, 1, H, W), probabilities for SegCaps (capsule lengths), logits for
  /// U-Net and UCaps. K > 2 classes: logits (N, K, H, W).
  virtual ::torch::Tensor forward(const ::torch::Tensor& x) = 0;
  /// Scores -> probabilities in [0, 1] (K > 2: softmax over the classes).
  virtual ::torch::Tensor probabilities(const ::torch::Tensor& scores) const = 0;
  /// Training loss of scores against a {0, 1} mask (N, 1, H, W) for input x: the head loss `kind`
  /// (seg_head_loss), plus the reconstruction regulariser for SegCaps. K > 2 classes: the mask is
  /// one-hot (N, K, H, W) and the loss multiclass_seg_loss (kBceDice only).
  virtual ::torch::Tensor loss(const ::torch::Tensor& x, const ::torch::Tensor& scores, const ::torch::Tensor& mask,
                               SegLoss kind) = 0;
};

struct SegNetSpec {
  std::string arch = "segcaps";  ///< "segcaps", "ucaps", "ucaps-ag", "unet" or "unet-ag" (-ag: attention-gated skips)
  int in_channels = 1;
  int width = 16;                ///< U-Net: channels of the first level (doubling per level); SegCaps: stem filters
  double recon_weight = 0.1;     ///< SegCaps: weight of the reconstruction MSE
  int classes = 2;               ///< 2: binary (one foreground output); K > 2: softmax over K (not SegCaps)
};

/// Builds the network; throws std::invalid_argument on an unknown architecture.
std::shared_ptr<SegNet> make_seg_network(const SegNetSpec& spec);

/// One random affine map (rotation, zoom, shift, horizontal flip; SegTrainOptions' ranges) per
/// image of the batch x (N, 1, H, W), applied with the same sampling grid to the image (bilinear,
/// border values) and its {0, 1} mask m (bilinear, then >= 0.5), so the two stay aligned; a one-hot
/// mask (N, K, H, W), K > 1, is sampled channel by channel and made one-hot again by the argmax
/// (outside the image: background). Then a random contrast and brightness on the image only.
/// Defined in seg_trainer.cpp.
void augment_aligned(::torch::Tensor& x, ::torch::Tensor& m, const SegTrainOptions& o, Rng& rng);

/// Soft Dice loss 1 - (2 sum p m + 1) / (sum p + sum m + 1), per image, then the mean.
::torch::Tensor soft_dice_loss(const ::torch::Tensor& probs, const ::torch::Tensor& mask);

/// F3Net's pixel weights for a {0, 1} mask (N, 1, H, W): 1 + 5 |avg_pool(mask) - mask| with a box of
/// side 2 round(15 W / 352) + 1 (31 at 352, F3Net's size), stride 1, zero padding counted.
::torch::Tensor structure_weights(const ::torch::Tensor& mask);

/// The segmentation head's loss of scores (logits when `logits`, else probabilities in [0, 1])
/// against a {0, 1} mask (N, 1, H, W):
/// - kBceDice: mean BCE + soft_dice_loss;
/// - kStructure: per image, sum(w BCE) / sum(w) + 1 - (sum(w p m) + 1) / (sum(w (p + m)) - sum(w p m) + 1)
///   with w = structure_weights(mask), then the mean over images.
::torch::Tensor seg_head_loss(const ::torch::Tensor& scores, const ::torch::Tensor& mask, SegLoss kind, bool logits);

/// The K-class loss (K > 2) of logits (N, K, H, W) against a one-hot mask (N, K, H, W): the pixel
/// mean of the cross-entropy -sum_k m_k log softmax_k, plus the soft Dice loss of every lesion class
/// (k >= 1; soft_dice_loss per image, then the mean over images and classes), the multi-class form
/// of kBceDice. Background is left out of the Dice term, where it would dominate.
::torch::Tensor multiclass_seg_loss(const ::torch::Tensor& logits, const ::torch::Tensor& onehot);

/// The one-hot (N, K, H, W) float mask of the argmax over the channels of m (N, K, H, W); a pixel
/// whose channels are all 0 becomes background (class 0).
::torch::Tensor one_hot_argmax(const ::torch::Tensor& m);

}  // namespace heal::nn::torch_backend
