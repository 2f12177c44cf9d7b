// Trainer: training loop, augmentation, early stopping, weight (de)flattening and ModelIr export.
#include "heal/nn/torch/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <numbers>
#include <tuple>

#include "heal/core/check.h"
#include "heal/core/rng.h"
#include "heal/io/partition.h"
#include "heal/nn/forward.h"
#include "heal/nn/passes.h"
#include "flat_state.h"
#include "models.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace heal::nn::torch_backend {

using ::torch::Tensor;

namespace {

// Fixed input normalisation (x - 0.5) / 0.25 for every channel: the same on every FL client, and
// stored in the exported ModelIr so the reference forward pass and the HE client apply it.
constexpr float kNormMean = 0.5f, kNormStd = 0.25f;
std::once_flag g_threads_once;
bool g_threads_set = false;

void default_threads() {
  std::call_once(g_threads_once, [] {
    if (!g_threads_set) at::set_num_threads(2);
    tune_cpu_allocator();
  });
}

Tensor images_tensor(const io::SplitData& d) {
  return ::torch::from_blob(const_cast<float*>(d.images.data()),
                            {static_cast<long>(d.size()), d.channels, d.height, d.width}, ::torch::kFloat);
}

// Unlabelled images and their soft targets (images.size() x num_classes, row-major, in [0, 1]) as
// tensors, after the checks that the digest step (distill_epochs) and joint distillation share;
// `what` names the caller in the error.
std::pair<Tensor, Tensor> soft_target_tensors(const ModelSpec& spec, const io::SplitData& images,
                                              std::span<const double> targets, const char* what) {
  const auto C = static_cast<std::size_t>(spec.num_classes);
  HEAL_REQUIRE(images.channels == spec.in_channels && images.height == spec.image_size &&
                   images.width == spec.image_size,
               what << ": reference images do not match the model spec");
  HEAL_REQUIRE(images.images.size() == images.size() * images.image_size(), what << ": reference image buffer size");
  HEAL_REQUIRE(targets.size() == images.size() * C, what << ": targets must be reference.size() x num_classes ("
                                                         << images.size() * C << " values), got " << targets.size());
  for (double q : targets) HEAL_REQUIRE(q >= 0 && q <= 1, what << ": a target is outside [0, 1]");
  std::vector<float> qf(targets.begin(), targets.end());
  return {images_tensor(images),
          ::torch::tensor(qf).reshape({static_cast<long>(images.size()), static_cast<long>(C)})};
}

Tensor labels_tensor(const io::SplitData& d) {
  std::vector<std::int64_t> y(d.labels.begin(), d.labels.end());
  return ::torch::tensor(y, ::torch::kLong);
}

double lr_base(const TrainOptions& o, int epoch, int total);

double lr_at(const TrainOptions& o, int epoch, int total) {
  const double lr = lr_base(o, epoch, total);
  if (o.warmup_epochs > 0 && epoch < o.warmup_epochs) return lr * (epoch + 1) / static_cast<double>(o.warmup_epochs + 1);
  return lr;
}

double lr_base(const TrainOptions& o, int epoch, int total) {
  switch (o.schedule) {
    case Schedule::kConstant: return o.learning_rate;
    case Schedule::kCosine:
      return total <= 1 ? o.learning_rate
                        : o.learning_rate * 0.5 * (1 + std::cos(std::numbers::pi * epoch / static_cast<double>(total)));
    case Schedule::kStep: return o.learning_rate * std::pow(o.step_gamma, epoch / std::max(1, o.step_epochs));
  }
  return o.learning_rate;
}

}  // namespace

const char* architecture_name(Architecture a) {
  switch (a) {
    case Architecture::kHeCnn: return "hecnn";
    case Architecture::kHeCnnWide: return "hecnn-wide";
    case Architecture::kCapsNet: return "capsnet";
    case Architecture::kResNet: return "resnet";
    case Architecture::kDeiT:
      return "deit";
  }
  return "unknown";
}

Result<Architecture> parse_architecture(const std::string& name) {
  for (auto a : {Architecture::kHeCnn, Architecture::kHeCnnWide, Architecture::kCapsNet, Architecture::kResNet,
                 Architecture::kDeiT}) {
    if (name == architecture_name(a)) return a;
  }
  return Status::invalid_argument("unknown model '" + name + "' (expected hecnn, hecnn-wide, capsnet, resnet or deit)");
}

void set_num_threads(int n) {
  HEAL_REQUIRE(n >= 1, "set_num_threads: need n >= 1");
  g_threads_set = true;
  at::set_num_threads(n);
  tune_cpu_allocator();
}

bool tune_cpu_allocator() {
#if defined(__GLIBC__)
  static const bool applied = [] {
    if (std::getenv("MALLOC_MMAP_MAX_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) return false;
    // No trimming: a freed block stays in the heap for the next tensor. No mmap: a large block comes
    // from the heap instead of a fresh mapping that the kernel faults in and zeroes on each use.
    const bool trim = mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max()) == 1;
    const bool mmap_off = mallopt(M_MMAP_MAX, 0) == 1;
    return trim && mmap_off;
  }();
  return applied;
#else
  return false;
#endif
}

struct Trainer::Impl {
  ModelSpec spec;
  std::shared_ptr<HealNet> net;
  Seed seed{};
  std::uint64_t stream = 1;  // next SeededRng stream for shuffling / augmentation

  std::vector<Tensor> params() const { return net->parameters(); }
  std::vector<Tensor> state() const { return module_state(*net); }

  Tensor normalise(const Tensor& x) const { return (x - kNormMean) / kNormStd; }

  // Random flip / rotation / shift of a raw [0, 1] batch (bilinear, zero fill).
  Tensor augment(const Tensor& x, const TrainOptions& o, Rng& rng) const {
    const auto n = x.size(0);
    Tensor theta = ::torch::empty({n, 2, 3});
    auto t = theta.accessor<float, 3>();
    for (long i = 0; i < n; ++i) {
      const double ang = (2 * rng.uniform_double() - 1) * o.max_rotation_deg * std::numbers::pi / 180.0;
      const double sx = (o.hflip && rng.uniform_double() < 0.5) ? -1.0 : 1.0;
      const double tx = (2 * rng.uniform_double() - 1) * o.max_shift_px * 2.0 / static_cast<double>(x.size(3));
      const double ty = (2 * rng.uniform_double() - 1) * o.max_shift_px * 2.0 / static_cast<double>(x.size(2));
      // theta maps output to input coordinates: zooming in by s samples a region 1/s as large.
      const double inv_s = o.max_scale > 0 ? 1.0 / (1.0 + (2 * rng.uniform_double() - 1) * o.max_scale) : 1.0;
      t[i][0][0] = static_cast<float>(inv_s * sx * std::cos(ang));
      t[i][0][1] = static_cast<float>(-inv_s * std::sin(ang));
      t[i][0][2] = static_cast<float>(tx);
      t[i][1][0] = static_cast<float>(inv_s * sx * std::sin(ang));
      t[i][1][1] = static_cast<float>(inv_s * std::cos(ang));
      t[i][1][2] = static_cast<float>(ty);
    }
    namespace F = ::torch::nn::functional;
    Tensor grid = F::affine_grid(theta, x.sizes(), false);
    Tensor y = F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(::torch::kBilinear).padding_mode(::torch::kZeros).align_corners(false));
    if (o.max_brightness > 0 || o.max_contrast > 0) {
      Tensor c = ::torch::ones({n, 1, 1, 1}), b = ::torch::zeros({n, 1, 1, 1});
      auto ca = c.accessor<float, 4>();
      auto ba = b.accessor<float, 4>();
      for (long i = 0; i < n; ++i) {
        if (o.max_contrast > 0) ca[i][0][0][0] = static_cast<float>(1 + (2 * rng.uniform_double() - 1) * o.max_contrast);
        if (o.max_brightness > 0) ba[i][0][0][0] = static_cast<float>((2 * rng.uniform_double() - 1) * o.max_brightness);
      }
      y = ((y - 0.5) * c + 0.5 + b).clamp(0.0, 1.0);
    }
    return y;
  }

  Tensor class_weights(const std::vector<int>& labels, const std::vector<std::size_t>& idx) const {
    std::vector<double> cnt(static_cast<std::size_t>(spec.num_classes), 0.0);
    for (auto i : idx) cnt[static_cast<std::size_t>(labels[i])] += 1;
    std::vector<float> w(cnt.size());
    for (std::size_t k = 0; k < cnt.size(); ++k) {
      w[k] = cnt[k] > 0 ? static_cast<float>(static_cast<double>(idx.size()) / (static_cast<double>(cnt.size()) * cnt[k])) : 0.0f;
    }
    return ::torch::tensor(w);
  }

  struct EpochStats {
    double loss = 0, accuracy = 0;
  };

  EpochStats run_epoch(const io::SplitData& data, const Tensor& X, const Tensor& Y, std::vector<std::size_t>& idx,
                       const TrainOptions& o, ::torch::optim::Optimizer& opt, const Tensor& cw,
                       const std::vector<Tensor>& global, std::vector<Tensor>* ema = nullptr,
                       double ema_decay = 0) {
    (void)data;
    HEAL_REQUIRE(o.distill_teacher == nullptr ||
                     (spec.arch != Architecture::kCapsNet && o.distill_teacher->spec().arch != Architecture::kCapsNet &&
                      o.distill_teacher->spec().num_classes == spec.num_classes),
                 "distillation needs a logit-producing student and teacher (not capsnet) with the same classes");
    const ModelIr* hard = o.hard_teacher;
    HEAL_REQUIRE(hard == nullptr || (spec.arch != Architecture::kCapsNet && hard->num_classes == spec.num_classes &&
                                     hard->input == (Shape{spec.in_channels, spec.image_size, spec.image_size})),
                 "hard-label distillation needs a logit-producing student (not capsnet) and a teacher model with its "
                 "input shape and classes");
    const auto live_state = ema != nullptr ? state() : std::vector<Tensor>();
    SeededRng rng(seed, stream++);
    shuffle(std::span(idx), rng);
    // Joint distillation towards the consortium's consensus on its reference images.
    const bool joint = o.consensus_images != nullptr && o.consensus_weight > 0;
    Tensor XR, QR;
    std::vector<std::size_t> ridx;
    std::size_t rpos = 0;
    if (joint) {
      const io::SplitData& r = *o.consensus_images;
      HEAL_REQUIRE(r.size() >= 2, "joint distillation: fewer than 2 consensus images");
      std::tie(XR, QR) = soft_target_tensors(spec, r, o.consensus_targets, "joint distillation");
      ridx.resize(r.size());
      for (std::size_t i = 0; i < ridx.size(); ++i) ridx[i] = i;
      shuffle(std::span(ridx), rng);
    }
    net->train();
    const auto bs = static_cast<std::size_t>(std::max(2, o.batch_size));
    const std::size_t batches = (idx.size() + bs - 1) / bs;
    double loss_sum = 0;
    std::size_t seen = 0, correct = 0;
    const auto params_list = params();
    for (std::size_t b = 0; b < batches; ++b) {
      const std::size_t lo = b * bs, hi = std::min(idx.size(), lo + bs);
      if (hi - lo < 2) continue;  // batch norm needs two samples
      std::vector<std::int64_t> sel(idx.begin() + static_cast<long>(lo), idx.begin() + static_cast<long>(hi));
      Tensor ti = ::torch::tensor(sel, ::torch::kLong);
      Tensor xb = X.index_select(0, ti), yb = Y.index_select(0, ti);
      if (o.augment) xb = augment(xb, o, rng);
      double lam = 1.0;
      Tensor yb2;
      if (o.mixup_alpha > 0) {
        const double g1 = io::sample_gamma(rng, o.mixup_alpha), g2 = io::sample_gamma(rng, o.mixup_alpha);
        lam = g1 + g2 > 0 ? g1 / (g1 + g2) : 1.0;
        std::vector<std::int64_t> perm(sel.size());
        for (std::size_t k = 0; k < perm.size(); ++k) perm[k] = static_cast<std::int64_t>(k);
        shuffle(std::span(perm), rng);
        Tensor tp = ::torch::tensor(perm, ::torch::kLong);
        xb = lam * xb + (1 - lam) * xb.index_select(0, tp);
        yb2 = yb.index_select(0, tp);
      }
      // DeiT hard-label distillation: the teacher ModelIr (reference forward, its own input
      // normalisation) labels the raw batch the student sees.
      Tensor teacher_labels;
      if (hard != nullptr) {
        Tensor raw = xb.contiguous();
        const auto nb = static_cast<std::size_t>(raw.size(0));
        const auto logits = heal::nn::forward(*hard, std::span<const float>(raw.data_ptr<float>(), raw.numel()), nb);
        std::vector<std::int64_t> lab(nb);
        const auto nc = static_cast<std::size_t>(hard->num_classes);
        for (std::size_t i = 0; i < nb; ++i) {
          const auto row = logits.begin() + static_cast<std::ptrdiff_t>(i * nc);
          lab[i] = std::max_element(row, row + static_cast<std::ptrdiff_t>(nc)) - row;
        }
        teacher_labels = ::torch::tensor(lab, ::torch::kLong);
      }
      opt.zero_grad();
      Tensor scores = net->forward(normalise(xb));
      const Tensor weights = o.class_weighting ? cw : Tensor();
      auto ce = [&](const Tensor& s) {  // cross-entropy against y (mixed with the partner's y under mixup)
        Tensor l = net->loss(s, yb, weights, o.label_smoothing);
        if (yb2.defined()) l = lam * l + (1 - lam) * net->loss(s, yb2, weights, o.label_smoothing);
        return l;
      };
      Tensor loss;
      if (net->last_dist.defined()) {
        // DeiT (arXiv:2012.12877, eq. for hard distillation): 0.5 CE(class head, y) +
        // 0.5 CE(distillation head, argmax teacher); without a teacher both heads learn y.
        Tensor dist =
            teacher_labels.defined() ? net->loss(net->last_dist, teacher_labels, weights, 0.0) : ce(net->last_dist);
        loss = 0.5 * ce(net->last_cls) + 0.5 * dist;
        net->last_cls = net->last_dist = Tensor();
      } else {
        loss = ce(scores);
        if (teacher_labels.defined()) loss = 0.5 * loss + 0.5 * net->loss(scores, teacher_labels, weights, 0.0);
      }
      if (o.distill_teacher != nullptr) {
        // The teacher sees exactly the (augmented, mixed) batch the student sees.
        Tensor t_scores;
        {
          ::torch::NoGradGuard ng;
          o.distill_teacher->impl_->net->eval();
          t_scores = o.distill_teacher->impl_->net->forward(normalise(xb));
        }
        const double T = o.distill_temperature;
        Tensor kd = ::torch::kl_div(::torch::log_softmax(scores / T, 1), ::torch::log_softmax(t_scores / T, 1),
                                    at::Reduction::Mean, /*log_target=*/true) *
                    static_cast<double>(scores.size(1)) * T * T;  // kl_div's mean is over elements: x classes = per sample
        loss = (1 - o.distill_alpha) * loss + o.distill_alpha * kd;
      }
      Tensor total = loss;
      if (o.range_penalty > 0 && !net->polys.empty()) total = total + o.range_penalty * net->range_penalty();
      if (o.fedprox_mu > 0 && !global.empty()) {
        Tensor prox = ::torch::zeros({});
        for (std::size_t k = 0; k < global.size(); ++k) prox = prox + (params_list[k] - global[k]).pow(2).sum();
        total = total + 0.5 * o.fedprox_mu * prox;
      }
      if (joint) {
        // The next reference mini-batch (as many images as this private batch, at least 2).
        const std::size_t nr = std::min(ridx.size(), std::max<std::size_t>(2, hi - lo));
        std::vector<std::int64_t> rsel;
        for (std::size_t k = 0; k < nr; ++k) {
          if (rpos == ridx.size()) {
            shuffle(std::span(ridx), rng);
            rpos = 0;
          }
          rsel.push_back(static_cast<std::int64_t>(ridx[rpos++]));
        }
        Tensor rt = ::torch::tensor(rsel, ::torch::kLong);
        Tensor xr = XR.index_select(0, rt), qr = QR.index_select(0, rt);
        if (o.augment) xr = augment(xr, o, rng);
        Tensor r_scores = net->forward(normalise(xr));
        total = total + o.consensus_weight * net->soft_loss(r_scores, qr);
        if (o.range_penalty > 0 && !net->polys.empty()) total = total + o.range_penalty * net->range_penalty();
        net->last_cls = net->last_dist = Tensor();
      }
      total.backward();
      opt.step();
      if (ema != nullptr) {
        ::torch::NoGradGuard ng;
        for (std::size_t k = 0; k < live_state.size(); ++k) (*ema)[k].mul_(ema_decay).add_(live_state[k].detach(), 1 - ema_decay);
      }
      const auto nb = static_cast<std::size_t>(hi - lo);
      loss_sum += loss.item<double>() * static_cast<double>(nb);
      seen += nb;
      correct += static_cast<std::size_t>(scores.argmax(1).eq(yb).sum().item<std::int64_t>());
      if (o.on_batch) o.on_batch(b + 1, batches, loss_sum / static_cast<double>(seen));
    }
    for (auto& p : net->polys) p->last_input = Tensor();
    net->last_cls = net->last_dist = Tensor();
    EpochStats s;
    if (seen > 0) {
      s.loss = loss_sum / static_cast<double>(seen);
      s.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    }
    return s;
  }

  // The mini-batch loop that distill_epochs and contrastive_epochs share: a fresh optimiser, the
  // learning rate of `opts`' schedule per epoch, a seeded shuffle of the n examples, batches of at
  // least two, and per batch `loss_of(indices, rng)` (the reported loss), plus the range penalty,
  // backward and one step. Returns the mean loss of the last epoch; calls opts.on_epoch.
  template <typename LossOf>
  double minibatch_epochs(std::size_t n, int epochs, const TrainOptions& opts, LossOf&& loss_of) {
    std::vector<std::size_t> idx(n);
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    auto opt = make_optimizer(opts);
    const auto bs = static_cast<std::size_t>(std::max(2, opts.batch_size));
    double last = 0;
    for (int e = 0; e < epochs; ++e) {
      for (auto& g : opt->param_groups()) g.options().set_lr(lr_at(opts, e, epochs));
      SeededRng rng(seed, stream++);
      shuffle(std::span(idx), rng);
      net->train();
      double loss_sum = 0;
      std::size_t seen = 0;
      for (std::size_t lo = 0; lo < idx.size(); lo += bs) {
        const std::size_t hi = std::min(idx.size(), lo + bs);
        if (hi - lo < 2) continue;  // batch norm, and a contrastive view, need a second example
        std::vector<std::int64_t> sel(idx.begin() + static_cast<long>(lo), idx.begin() + static_cast<long>(hi));
        opt->zero_grad();
        const Tensor loss = loss_of(::torch::tensor(sel, ::torch::kLong), rng);
        Tensor total = loss;
        if (opts.range_penalty > 0 && !net->polys.empty()) total = total + opts.range_penalty * net->range_penalty();
        total.backward();
        opt->step();
        net->last_cls = net->last_dist = Tensor();
        loss_sum += loss.item<double>() * static_cast<double>(hi - lo);
        seen += hi - lo;
      }
      for (auto& p : net->polys) p->last_input = Tensor();
      last = seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0;
      if (opts.on_epoch) opts.on_epoch(e, last);
    }
    return last;
  }

  std::unique_ptr<::torch::optim::Optimizer> make_optimizer(const TrainOptions& o) {
    if (o.optimizer == OptimizerKind::kSgd) {
      return std::make_unique<::torch::optim::SGD>(
          params(), ::torch::optim::SGDOptions(o.learning_rate).momentum(o.momentum).weight_decay(o.weight_decay).nesterov(o.momentum > 0));
    }
    if (o.optimizer == OptimizerKind::kAdamW) {
      // Decoupled weight decay on weight matrices / kernels only; biases, norms, polynomial
      // coefficients, tokens and position embeddings are not decayed (DeiT / timm's choice).
      std::vector<Tensor> decay, no_decay;
      for (const auto& kv : net->named_parameters()) {
        const bool skip = kv.value().dim() <= 1 || kv.key().ends_with("_token") || kv.key() == "pos_embed";
        (skip ? no_decay : decay).push_back(kv.value());
      }
      const auto opts = ::torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay);
      std::vector<::torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(decay, std::make_unique<::torch::optim::AdamWOptions>(opts));
      groups.emplace_back(no_decay, std::make_unique<::torch::optim::AdamWOptions>(
                                        ::torch::optim::AdamWOptions(o.learning_rate).weight_decay(0.0)));
      return std::make_unique<::torch::optim::AdamW>(std::move(groups), opts);
    }
    return std::make_unique<::torch::optim::Adam>(params(),
                                                  ::torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));
  }

  std::vector<Tensor> global_tensors(const TrainOptions& o) const {
    std::vector<Tensor> g;
    if (o.fedprox_mu <= 0 || o.global_weights.empty()) return g;
    const auto ps = params();
    std::size_t off = 0;
    for (const auto& p : ps) {
      const auto n = static_cast<std::size_t>(p.numel());
      HEAL_REQUIRE(off + n <= o.global_weights.size(), "fedprox: global_weights shorter than the model");
      g.push_back(::torch::from_blob(const_cast<float*>(o.global_weights.data() + off), p.sizes(), ::torch::kFloat).clone());
      off += n;
    }
    return g;
  }

  Tensor scores(const io::SplitData& d) const {
    HEAL_REQUIRE(d.channels == spec.in_channels && d.height == spec.image_size && d.width == spec.image_size,
                 "model expects " << spec.in_channels << "x" << spec.image_size << "x" << spec.image_size
                                  << " images, data has " << d.channels << "x" << d.height << "x" << d.width);
    ::torch::NoGradGuard ng;
    net->eval();
    Tensor X = images_tensor(d);
    std::vector<Tensor> out;
    const long n = X.size(0);
    for (long lo = 0; lo < n; lo += 256) out.push_back(net->forward(normalise(X.slice(0, lo, std::min(n, lo + 256)))));
    if (out.empty()) return ::torch::zeros({0, spec.num_classes});
    return ::torch::cat(out, 0);
  }
};

Trainer::Trainer(const ModelSpec& spec, std::uint64_t seed) : impl_(std::make_unique<Impl>()) {
  default_threads();
  impl_->spec = spec;
  impl_->seed = seed_from_u64(seed);
  ::torch::manual_seed(seed);
  impl_->net = make_network(impl_->spec);
}

Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;

const ModelSpec& Trainer::spec() const { return impl_->spec; }

std::size_t Trainer::num_parameters() const { return state_size(impl_->state()); }

std::size_t Trainer::num_trainable() const {
  std::size_t n = 0;
  for (const auto& t : impl_->params()) n += static_cast<std::size_t>(t.numel());
  return n;
}

std::vector<float> Trainer::get_weights() const { return flatten_state(impl_->state()); }

void Trainer::set_weights(std::span<const float> weights) { load_state(impl_->state(), weights); }

double Trainer::train_epochs(const io::SplitData& data, std::span<const std::size_t> indices, int epochs,
                             const TrainOptions& opts) {
  HEAL_REQUIRE(epochs >= 1, "train_epochs: epochs must be >= 1");
  HEAL_REQUIRE(data.channels == impl_->spec.in_channels && data.height == impl_->spec.image_size &&
                   data.width == impl_->spec.image_size,
               "train_epochs: data shape does not match the model spec");
  std::vector<std::size_t> idx(indices.begin(), indices.end());
  if (idx.empty()) {
    idx.resize(data.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  }
  for (auto i : idx) HEAL_REQUIRE(i < data.size(), "train_epochs: index " << i << " out of range");
  Tensor X = images_tensor(data), Y = labels_tensor(data);
  Tensor cw = impl_->class_weights(data.labels, idx);
  auto opt = impl_->make_optimizer(opts);
  const auto global = impl_->global_tensors(opts);
  double last = 0;
  for (int e = 0; e < epochs; ++e) {
    for (auto& g : opt->param_groups()) g.options().set_lr(lr_at(opts, e, epochs));
    last = impl_->run_epoch(data, X, Y, idx, opts, *opt, cw, global).loss;
    if (opts.on_epoch) opts.on_epoch(e, last);
  }
  return last;
}

double Trainer::distill_epochs(const io::SplitData& ref, std::span<const double> targets, int epochs,
                               const TrainOptions& opts) {
  auto& im = *impl_;
  HEAL_REQUIRE(epochs >= 1, "distill_epochs: epochs must be >= 1");
  const auto [X, Q] = soft_target_tensors(im.spec, ref, targets, "distill_epochs");
  return im.minibatch_epochs(ref.size(), epochs, opts, [&](const Tensor& ti, Rng& rng) {
    Tensor xb = X.index_select(0, ti);
    if (opts.augment) xb = im.augment(xb, opts, rng);
    return im.net->soft_loss(im.net->forward(im.normalise(xb)), Q.index_select(0, ti));
  });
}

double Trainer::contrastive_epochs(const io::SplitData& data, int epochs, const TrainOptions& opts,
                                   double temperature) {
  auto& im = *impl_;
  HEAL_REQUIRE(epochs >= 1, "contrastive_epochs: epochs must be >= 1");
  HEAL_REQUIRE(temperature > 0, "contrastive_epochs: temperature must be > 0");
  HEAL_REQUIRE(opts.augment, "contrastive_epochs: two views of an image need augmentation");
  HEAL_REQUIRE(im.spec.arch != Architecture::kCapsNet,
               "contrastive_epochs: capsnet outputs capsule lengths, not embeddings");
  HEAL_REQUIRE(
      data.channels == im.spec.in_channels && data.height == im.spec.image_size && data.width == im.spec.image_size,
      "contrastive_epochs: images do not match the model spec");
  HEAL_REQUIRE(data.images.size() == data.size() * data.image_size(), "contrastive_epochs: image buffer size");
  namespace F = ::torch::nn::functional;
  const Tensor X = images_tensor(data);
  return im.minibatch_epochs(data.size(), epochs, opts, [&](const Tensor& ti, Rng& rng) {
    const Tensor xb = X.index_select(0, ti);
    const long n = xb.size(0);
    const Tensor views = ::torch::cat({im.augment(xb, opts, rng), im.augment(xb, opts, rng)}, 0);
    const Tensor z = F::normalize(im.net->forward(im.normalise(views)), F::NormalizeFuncOptions().dim(1));
    // Row i's partner is i + n (first views) or i - n (second views); a view is not its own negative.
    Tensor sim = ::torch::matmul(z, z.t()) / temperature;
    sim = sim.masked_fill(::torch::eye(2 * n, ::torch::kBool), -1e9);
    const Tensor partner = ::torch::cat({::torch::arange(n, 2 * n), ::torch::arange(0, n)}).to(::torch::kLong);
    return F::cross_entropy(sim, partner);
  });
}

FitResult Trainer::fit(const io::Dataset& ds, const FitOptions& o) {
  HEAL_REQUIRE(o.epochs >= 1, "fit: epochs must be >= 1");
  HEAL_REQUIRE(o.monitor == "auc" || o.monitor == "accuracy" || o.monitor == "loss" || o.monitor == "last",
               "fit: monitor must be auc, accuracy, loss or last");
  const auto t0 = std::chrono::steady_clock::now();
  const io::SplitData& tr = ds.train;
  HEAL_REQUIRE(tr.channels == impl_->spec.in_channels && tr.height == impl_->spec.image_size,
               "fit: data shape does not match the model spec");
  std::vector<std::size_t> idx(tr.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  Tensor X = images_tensor(tr), Y = labels_tensor(tr);
  Tensor cw = impl_->class_weights(tr.labels, idx);
  auto opt = impl_->make_optimizer(o.train);
  const auto global = impl_->global_tensors(o.train);
  FitResult res;
  double best = -INFINITY;
  std::vector<float> best_w = get_weights();
  const bool use_ema = o.ema_decay > 0;
  HEAL_REQUIRE(o.ema_decay >= 0 && o.ema_decay < 1, "fit: ema_decay must be in [0, 1)");
  std::vector<Tensor> ema;
  if (use_ema) {
    for (const auto& t : impl_->state()) ema.push_back(t.detach().clone());
  }
  for (int e = 0; e < o.epochs; ++e) {
    const auto te = std::chrono::steady_clock::now();
    EpochRecord rec;
    rec.epoch = e;
    rec.lr = lr_at(o.train, e, o.epochs);
    for (auto& g : opt->param_groups()) g.options().set_lr(rec.lr);
    const auto st = impl_->run_epoch(tr, X, Y, idx, o.train, *opt, cw, global, use_ema ? &ema : nullptr, o.ema_decay);
    std::vector<float> live_w;
    if (use_ema) {  // evaluate (and checkpoint) the averaged weights, then continue from the live ones
      live_w = get_weights();
      ::torch::NoGradGuard ng;
      auto st_t = impl_->state();
      for (std::size_t k = 0; k < st_t.size(); ++k) st_t[k].copy_(ema[k]);
    }
    rec.train_loss = st.loss;
    rec.train_accuracy = st.accuracy;
    if (ds.val.size() > 0) {
      const auto vm = evaluate(ds.val);
      rec.val_loss = vm.loss;
      rec.val_accuracy = vm.accuracy;
      rec.val_auc = vm.auc;
    }
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    res.history.push_back(rec);
    if (o.train.on_epoch) o.train.on_epoch(e, rec.train_loss);
    if (o.on_epoch_end) o.on_epoch_end(rec);
    const double score = o.monitor == "last"    ? static_cast<double>(e)  // no selection: the final weights
                         : ds.val.size() == 0      ? -rec.train_loss
                         : o.monitor == "auc"      ? rec.val_auc + 1e-3 * rec.val_accuracy
                         : o.monitor == "accuracy" ? rec.val_accuracy + 1e-3 * rec.val_auc
                                                   : -rec.val_loss;
    if (score > best) {
      best = score;
      res.best_epoch = e;
      best_w = get_weights();
    }
    if (use_ema) set_weights(live_w);
    if (o.patience > 0 && e - res.best_epoch >= o.patience) break;
  }
  set_weights(best_w);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

std::vector<double> Trainer::predict_logits(const io::SplitData& data) const {
  Tensor s = impl_->scores(data).to(::torch::kDouble).contiguous();
  const double* p = s.data_ptr<double>();
  return {p, p + s.numel()};
}

std::vector<double> Trainer::predict_proba(const io::SplitData& data) const {
  Tensor s = impl_->net->probabilities(impl_->scores(data)).to(::torch::kDouble).contiguous();
  const double* p = s.data_ptr<double>();
  return {p, p + s.numel()};
}

ClassificationMetrics Trainer::evaluate(const io::SplitData& data) const {
  return compute_metrics(predict_proba(data), data.labels, impl_->spec.num_classes);
}

bool Trainer::exportable() const { return impl_->spec.arch != Architecture::kCapsNet; }

Result<ModelSpec> spec_from_ir(const ModelIr& ir, const ModelSpec& target) {
  HEAL_RETURN_IF_ERROR(ir.validate());
  return hecnn_spec_from_ir(ir, target);
}

Result<std::vector<std::string>> Trainer::init_from(const ModelIr& ir) {
  HEAL_RETURN_IF_ERROR(ir.validate());
  if (ir.input.c != impl_->spec.in_channels || ir.input.h != impl_->spec.image_size) {
    return Status::invalid_argument("--init: the model takes " + std::to_string(ir.input.c) + "x" + std::to_string(ir.input.h) +
                                    " images, this training " + std::to_string(impl_->spec.in_channels) + "x" +
                                    std::to_string(impl_->spec.image_size));
  }
  return impl_->net->import_layers(ir);
}

Result<ModelIr> Trainer::export_ir() const {
  ModelIr ir;
  ir.input = {impl_->spec.in_channels, impl_->spec.image_size, impl_->spec.image_size};
  ir.num_classes = impl_->spec.num_classes;
  impl_->net->eval();
  HEAL_RETURN_IF_ERROR(impl_->net->export_layers(ir));
  ir.meta.architecture = architecture_name(impl_->spec.arch);
  ir.meta.norm_mean.assign(static_cast<std::size_t>(ir.input.c), kNormMean);
  ir.meta.norm_std.assign(static_cast<std::size_t>(ir.input.c), kNormStd);
  ir.meta.notes["poly_range"] = std::to_string(impl_->spec.poly_range);
  HEAL_RETURN_IF_ERROR(ir.validate());
  return fold_batch_norm(ir);
}

}  // namespace heal::nn::torch_backend
