// SegTrainer: training loop with aligned augmentation, prediction at native resolution, metrics,
// model files (see heal/nn/torch/seg_trainer.h).
#include "heal/nn/torch/seg_trainer.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>

#include "heal/core/bytes.h"
#include "heal/core/check.h"
#include "heal/core/rng.h"
#include "heal/nn/torch/trainer.h"
#include "nn/torch/flat_state.h"
#include "nn/torch/seg_models.h"

namespace heal::nn::torch_backend {

using ::torch::Tensor;

bool is_segmentation_arch(const std::string& arch) {
  return arch == "segcaps" || arch == "ucaps" || arch == "ucaps-ag" || arch == "unet" || arch == "unet-ag";
}

Result<SegLoss> parse_seg_loss(const std::string& name) {
  if (name == "bce-dice") return SegLoss::kBceDice;
  if (name == "structure") return SegLoss::kStructure;
  return Status::invalid_argument("segmentation loss '" + name + "': use " + kSegLosses);
}

const char* seg_loss_name(SegLoss loss) { return loss == SegLoss::kStructure ? "structure" : "bce-dice"; }

namespace {

constexpr char kMagic[8] = {'H', 'E', 'A', 'L', 'S', 'E', 'G', '1'};

SegNetSpec net_spec(const SegModelSpec& s) {
  SegNetSpec n;
  n.arch = s.arch;
  n.width = s.width;
  n.recon_weight = s.recon_weight;
  n.classes = s.classes;
  return n;
}

void check_spec(const SegModelSpec& s) {
  if (!is_segmentation_arch(s.arch)) {
    throw std::invalid_argument(std::string("segmentation model: arch must be ") + kSegmentationArchs);
  }
  if (s.image_size < 8 || s.image_size > 1024 || s.image_size % 8 != 0) {
    throw std::invalid_argument("segmentation model: image size must be a multiple of 8 in [8, 1024]");
  }
  if (s.width < 1 || s.width > 128) throw std::invalid_argument("segmentation model: width must be in [1, 128]");
  if (!(s.recon_weight >= 0 && s.recon_weight <= 100)) throw std::invalid_argument("segmentation model: bad recon weight");
  if (s.classes < 2 || s.classes > 16) throw std::invalid_argument("segmentation model: classes must be in [2, 16]");
  if (s.classes > 2 && s.arch == "segcaps") {
    throw std::invalid_argument(
        "segmentation model: segcaps segments one foreground class; use unet(-ag) or ucaps(-ag) "
        "for several classes");
  }
}

// One image as the network sees it: normalised, resized to side x side, (1, side, side).
Tensor image_input(const io::Image& img, const io::IntensityNormalizer& norm, int side) {
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  io::Image n;  // the first channel only, normalised
  n.width = n.original_width = img.width;
  n.height = n.original_height = img.height;
  n.pixels = norm.apply(std::span<const float>(img.pixels.data(), plane));
  const io::Image r = io::resize(n, side, side);
  return ::torch::from_blob(const_cast<float*>(r.pixels.data()), {1, side, side}, ::torch::kFloat).clone();
}

// The mask as the network's target at side x side. Binary (classes 2): the {0, 1} foreground (any
// nonzero class) resized by area averaging, then thresholded at 0.5, (1, side, side). K > 2 classes:
// each class's indicator resized by area averaging, then one-hot by the argmax, (K, side, side).
Tensor mask_input(const io::SegSample& s, int side, int classes) {
  io::Image m;
  m.width = m.original_width = s.image.width;
  m.height = m.original_height = s.image.height;
  m.pixels.resize(s.mask.size());
  const auto plane = static_cast<long>(side) * side;
  const int channels = classes == 2 ? 1 : classes;
  Tensor t = ::torch::empty({channels, side, side});
  for (int c = 0; c < channels; ++c) {
    for (std::size_t i = 0; i < s.mask.size(); ++i) {
      const bool on = classes == 2 ? s.mask[i] != 0 : s.mask[i] == c;
      m.pixels[i] = on ? 1.0f : 0.0f;
    }
    const io::Image r = io::resize(m, side, side);
    std::copy(r.pixels.begin(), r.pixels.end(), t.data_ptr<float>() + c * plane);
  }
  if (classes == 2) return (t >= 0.5f).to(::torch::kFloat);
  return one_hot_argmax(t.unsqueeze(0)).squeeze(0);
}

// Class probability maps (K, side, side) -> K maps at width x height (bilinear), clamped to [0, 1].
std::vector<std::vector<float>> maps_at(const Tensor& p, int width, int height) {
  const auto k = p.size(0), side = p.size(1);
  std::vector<std::vector<float>> out;
  for (long c = 0; c < k; ++c) {
    io::Image small;
    small.width = small.original_width = static_cast<int>(side);
    small.height = small.original_height = static_cast<int>(side);
    const Tensor pc = p[c].contiguous();
    small.pixels.assign(pc.data_ptr<float>(), pc.data_ptr<float>() + pc.numel());
    io::Image full = io::resize(small, width, height);
    for (float& v : full.pixels) v = std::clamp(v, 0.0f, 1.0f);
    out.push_back(std::move(full.pixels));
  }
  return out;
}

}  // namespace

// One random affine map (rotation, zoom, shift, horizontal flip) per image, applied to the image
// (bilinear, border values) and its mask (bilinear, then >= 0.5) with the same grid; then a random
// contrast and brightness on the image only.
void augment_aligned(Tensor& x, Tensor& m, const SegTrainOptions& o, Rng& rng) {
  const auto n = x.size(0);
  Tensor theta = ::torch::empty({n, 2, 3});
  auto t = theta.accessor<float, 3>();
  const auto sym = [&rng] { return 2 * rng.uniform_double() - 1; };
  for (long i = 0; i < n; ++i) {
    const double ang = sym() * o.max_rotation_deg * std::numbers::pi / 180.0;
    const double fx = (o.hflip && rng.uniform_double() < 0.5) ? -1.0 : 1.0;
    const double inv_s = 1.0 / (1.0 + sym() * o.max_scale);
    const double tx = 2 * sym() * o.max_shift, ty = 2 * sym() * o.max_shift;
    t[i][0][0] = static_cast<float>(inv_s * fx * std::cos(ang));
    t[i][0][1] = static_cast<float>(-inv_s * std::sin(ang));
    t[i][0][2] = static_cast<float>(tx);
    t[i][1][0] = static_cast<float>(inv_s * fx * std::sin(ang));
    t[i][1][1] = static_cast<float>(inv_s * std::cos(ang));
    t[i][1][2] = static_cast<float>(ty);
  }
  namespace F = ::torch::nn::functional;
  const Tensor grid = F::affine_grid(theta, x.sizes(), false);
  const auto opt = F::GridSampleFuncOptions().mode(::torch::kBilinear).align_corners(false);
  x = F::grid_sample(x, grid, F::GridSampleFuncOptions(opt).padding_mode(::torch::kBorder));
  const Tensor ms = F::grid_sample(m, grid, F::GridSampleFuncOptions(opt).padding_mode(::torch::kZeros));
  m = m.size(1) == 1 ? (ms >= 0.5f).to(::torch::kFloat) : one_hot_argmax(ms);
  Tensor c = ::torch::ones({n, 1, 1, 1}), b = ::torch::zeros({n, 1, 1, 1});
  auto ca = c.accessor<float, 4>();
  auto ba = b.accessor<float, 4>();
  for (long i = 0; i < n; ++i) {
    ca[i][0][0][0] = static_cast<float>(1 + sym() * o.max_contrast);
    ba[i][0][0][0] = static_cast<float>(sym() * o.max_brightness);
  }
  x = x * c + b;
}

struct SegTrainer::Impl {
  SegModelSpec spec;
  std::shared_ptr<SegNet> net;
  Seed seed{};
  std::uint64_t stream = 0;

  std::vector<Tensor> state() const { return module_state(*net); }

  void prepare(const std::vector<io::SegSample>& samples, std::span<const std::size_t> idx, Tensor& x, Tensor& m) const {
    std::vector<Tensor> xs, ms;
    for (std::size_t i : idx) {
      HEAL_REQUIRE(i < samples.size(), "segmentation: index out of range");
      xs.push_back(image_input(samples[i].image, spec.normalizer, spec.image_size));
      HEAL_REQUIRE(spec.classes == 2 || samples[i].mask.empty() ||
                       *std::max_element(samples[i].mask.begin(), samples[i].mask.end()) < spec.classes,
                   "segmentation: a mask holds a class beyond the model's");
      ms.push_back(mask_input(samples[i], spec.image_size, spec.classes));
    }
    x = ::torch::stack(xs);
    m = ::torch::stack(ms);
  }

  // One pass over the prepared tensors; returns the mean loss.
  double epoch(const Tensor& X, const Tensor& M, ::torch::optim::Adam& opt, const SegTrainOptions& o) {
    SeededRng rng(seed, stream++);
    std::vector<std::size_t> order(static_cast<std::size_t>(X.size(0)));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    shuffle(std::span(order), rng);
    const auto bs = static_cast<std::size_t>(std::max(1, o.batch_size));
    const std::size_t batches = (order.size() + bs - 1) / bs;
    net->train();
    double loss_sum = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      std::vector<long> ids;
      for (std::size_t k = b * bs; k < std::min(order.size(), (b + 1) * bs); ++k) ids.push_back(static_cast<long>(order[k]));
      const Tensor sel = ::torch::tensor(ids, ::torch::kLong);
      Tensor x = X.index_select(0, sel), m = M.index_select(0, sel);
      if (o.augment) augment_aligned(x, m, o, rng);
      opt.zero_grad();
      const Tensor loss = net->loss(x, net->forward(x), m, o.loss);
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>();
      if (o.on_batch) o.on_batch(b + 1, batches, loss_sum / static_cast<double>(b + 1));
    }
    return loss_sum / static_cast<double>(std::max<std::size_t>(1, batches));
  }

  // Foreground (any lesion class) of probabilities or of a target mask: the one channel when binary,
  // else 1 - background.
  static Tensor foreground(const Tensor& t) { return t.size(1) == 1 ? t : 1 - t.slice(1, 0, 1); }

  // Mean foreground Dice at the network's resolution (validation during training).
  double quick_dice(const Tensor& X, const Tensor& M) const {
    ::torch::NoGradGuard ng;
    net->eval();
    double sum = 0;
    for (long i = 0; i < X.size(0); ++i) {
      const Tensor p = (foreground(net->probabilities(net->forward(X.slice(0, i, i + 1)))) > 0.5f).to(::torch::kFloat);
      const Tensor g = foreground(M.slice(0, i, i + 1));
      const double den = (p.sum() + g.sum()).item<double>();
      sum += den == 0 ? 1.0 : (2 * (p * g).sum()).item<double>() / den;
    }
    return sum / static_cast<double>(std::max<long>(1, X.size(0)));
  }
};

SegTrainer::SegTrainer(const SegModelSpec& spec, std::uint64_t seed) : impl_(std::make_unique<Impl>()) {
  check_spec(spec);
  tune_cpu_allocator();  // segmentation activations are far above glibc's mmap ceiling
  impl_->spec = spec;
  impl_->seed = seed_from_u64(seed);
  ::torch::manual_seed(seed);
  impl_->net = make_seg_network(net_spec(spec));
}
SegTrainer::~SegTrainer() = default;
SegTrainer::SegTrainer(SegTrainer&&) noexcept = default;
SegTrainer& SegTrainer::operator=(SegTrainer&&) noexcept = default;

const SegModelSpec& SegTrainer::spec() const { return impl_->spec; }

void SegTrainer::set_tta_flip(bool on) { impl_->spec.tta_flip = on; }

void SegTrainer::fit_normalizer(const std::vector<io::SegSample>& samples) {
  std::vector<const io::Image*> imgs;
  for (const auto& s : samples) imgs.push_back(&s.image);
  impl_->spec.normalizer.fit(imgs);
}

std::size_t SegTrainer::num_parameters() const { return state_size(impl_->state()); }

std::vector<float> SegTrainer::get_weights() const { return flatten_state(impl_->state()); }

void SegTrainer::set_weights(std::span<const float> weights) { load_state(impl_->state(), weights); }

double SegTrainer::train_epochs(const std::vector<io::SegSample>& samples, std::span<const std::size_t> indices,
                                int epochs, const SegTrainOptions& opts) {
  HEAL_REQUIRE(epochs >= 1, "train_epochs: epochs must be >= 1");
  std::vector<std::size_t> all;
  if (indices.empty()) {
    for (std::size_t i = 0; i < samples.size(); ++i) all.push_back(i);
    indices = all;
  }
  HEAL_REQUIRE(!indices.empty(), "train_epochs: no training sample");
  Tensor X, M;
  impl_->prepare(samples, indices, X, M);
  ::torch::optim::Adam opt(impl_->net->parameters(),
                           ::torch::optim::AdamOptions(opts.learning_rate).weight_decay(opts.weight_decay));
  double loss = 0;
  for (int e = 0; e < epochs; ++e) {
    loss = impl_->epoch(X, M, opt, opts);
    if (opts.on_epoch) opts.on_epoch(e, loss);
  }
  return loss;
}

SegFitResult SegTrainer::fit(const std::vector<io::SegSample>& train, const std::vector<io::SegSample>& val,
                             const SegFitOptions& o) {
  HEAL_REQUIRE(!train.empty(), "fit: no training sample");
  HEAL_REQUIRE(o.train.epochs >= 1, "fit: epochs must be >= 1");
  const auto t0 = std::chrono::steady_clock::now();
  fit_normalizer(train);
  std::vector<std::size_t> ti(train.size()), vi(val.size());
  for (std::size_t i = 0; i < ti.size(); ++i) ti[i] = i;
  for (std::size_t i = 0; i < vi.size(); ++i) vi[i] = i;
  Tensor X, M, VX, VM;
  impl_->prepare(train, ti, X, M);
  if (!val.empty()) impl_->prepare(val, vi, VX, VM);
  ::torch::optim::Adam opt(impl_->net->parameters(),
                           ::torch::optim::AdamOptions(o.train.learning_rate).weight_decay(o.train.weight_decay));
  SegFitResult res;
  std::vector<float> best;
  double best_dice = -1;
  int since_best = 0;
  for (int e = 0; e < o.train.epochs; ++e) {
    const auto te = std::chrono::steady_clock::now();
    SegEpochRecord rec;
    rec.epoch = e;
    rec.lr = o.train.learning_rate * 0.5 * (1 + std::cos(std::numbers::pi * e / o.train.epochs));
    for (auto& g : opt.param_groups()) g.options().set_lr(rec.lr);
    rec.train_loss = impl_->epoch(X, M, opt, o.train);
    if (!val.empty()) {
      rec.val_dice = impl_->quick_dice(VX, VM);
      if (rec.val_dice > best_dice) {
        best_dice = rec.val_dice;
        best = get_weights();
        res.best_epoch = e;
        since_best = 0;
      } else {
        ++since_best;
      }
    } else {
      res.best_epoch = e;
    }
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    res.history.push_back(rec);
    if (o.train.on_epoch) o.train.on_epoch(e, rec.train_loss);
    if (o.on_epoch_end) o.on_epoch_end(rec);
    if (!val.empty() && o.patience > 0 && since_best >= o.patience) break;
  }
  if (!best.empty()) set_weights(best);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

std::vector<std::vector<float>> SegTrainer::predict_classes(const io::Image& image) const {
  HEAL_REQUIRE(image.width > 0 && image.height > 0 && image.channels >= 1, "predict: empty image");
  ::torch::NoGradGuard ng;
  impl_->net->eval();
  const int side = impl_->spec.image_size;
  const Tensor x = image_input(image, impl_->spec.normalizer, side).unsqueeze(0);
  Tensor p = impl_->net->probabilities(impl_->net->forward(x))[0];
  if (impl_->spec.tta_flip) {
    // The mirror's maps, mirrored back (dimension 2 of a C x H x W map is the width).
    const Tensor pm = impl_->net->probabilities(impl_->net->forward(x.flip({3})))[0].flip({2});
    p = (p + pm) * 0.5f;
  }
  if (p.size(0) == 1) p = ::torch::cat({1 - p, p}, 0);
  return maps_at(p, image.width, image.height);
}

std::vector<float> SegTrainer::predict(const io::Image& image) const {
  std::vector<std::vector<float>> maps = predict_classes(image);
  if (maps.size() == 2) return std::move(maps[1]);
  std::vector<float> fg(maps[0].size());
  for (std::size_t i = 0; i < fg.size(); ++i) fg[i] = 1.0f - maps[0][i];
  return fg;
}

std::vector<std::uint8_t> argmax_labels(const std::vector<std::vector<float>>& maps) {
  HEAL_REQUIRE(!maps.empty(), "argmax_labels: no map");
  std::vector<std::uint8_t> labels(maps[0].size(), 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    float best = maps[0][i];
    for (std::size_t c = 1; c < maps.size(); ++c) {
      if (maps[c][i] > best) best = maps[c][i], labels[i] = static_cast<std::uint8_t>(c);
    }
  }
  return labels;
}

SegClassEvaluation evaluate_map(const std::vector<std::vector<float>>& maps, const io::SegSample& s) {
  HEAL_REQUIRE(maps.size() >= 2 && maps[0].size() == s.mask.size(), "evaluate_map: maps and mask differ in size");
  SegClassEvaluation e;
  std::vector<float> fg = maps.size() == 2 ? maps[1] : std::vector<float>(maps[0].size());
  if (maps.size() > 2) {
    for (std::size_t i = 0; i < fg.size(); ++i) fg[i] = 1.0f - maps[0][i];
  }
  e.foreground = segmentation_metrics(fg, s.mask, s.image.width, s.image.height);
  e.foreground.id = s.id;
  if (maps.size() > 2) {
    const std::vector<std::uint8_t> labels = argmax_labels(maps);
    std::vector<std::uint8_t> truth(s.mask.size());
    std::vector<float> decided(s.mask.size());
    for (std::size_t c = 1; c < maps.size(); ++c) {
      for (std::size_t i = 0; i < truth.size(); ++i) {
        truth[i] = s.mask[i] == c ? 1 : 0;
        decided[i] = labels[i] == c ? 1.0f : 0.0f;
      }
      // Counts of the label map's class c; MAE and the toolbox's threshold sweep of P(c).
      SegImageMetrics m = segmentation_metrics(decided, truth);
      const SegImageMetrics soft = segmentation_metrics(maps[c], truth, s.image.width, s.image.height);
      m.mae = soft.mae;
      m.infnet = soft.infnet;
      m.id = s.id;
      e.per_class.push_back(std::move(m));
    }
  }
  return e;
}

SegMetrics SegTrainer::evaluate(const std::vector<io::SegSample>& samples) const {
  std::vector<SegImageMetrics> per;
  for (const auto& s : samples) {
    SegImageMetrics m = segmentation_metrics(predict(s.image), s.mask, s.image.width, s.image.height);
    m.id = s.id;
    per.push_back(std::move(m));
  }
  return summarize(std::move(per));
}

SegEvaluation SegTrainer::evaluate_all(const std::vector<io::SegSample>& samples) const {
  const auto lesions = static_cast<std::size_t>(impl_->spec.classes > 2 ? impl_->spec.classes - 1 : 0);
  std::vector<SegImageMetrics> fg;
  std::vector<std::vector<SegImageMetrics>> per(lesions);
  for (const auto& s : samples) {
    SegClassEvaluation e = evaluate_map(predict_classes(s.image), s);
    fg.push_back(std::move(e.foreground));
    for (std::size_t c = 0; c < lesions; ++c) per[c].push_back(std::move(e.per_class[c]));
  }
  SegEvaluation out;
  out.foreground = summarize(std::move(fg));
  for (auto& v : per) out.classes.push_back(summarize(std::move(v)));
  return out;
}

std::vector<SegMetrics> SegTrainer::evaluate_classes(const std::vector<io::SegSample>& samples) const {
  if (impl_->spec.classes == 2) return {};
  return evaluate_all(samples).classes;
}

std::vector<std::uint8_t> SegTrainer::to_bytes() const {
  const SegModelSpec& s = impl_->spec;
  const nlohmann::json j = {{"arch", s.arch},
                            {"width", s.width},
                            {"image_size", s.image_size},
                            {"recon_weight", s.recon_weight},
                            {"classes", s.classes},
                            {"normalization", io::intensity_mode_name(s.normalizer.mode)},
                            {"standard", s.normalizer.standard},
                            {"tta_flip", s.tta_flip}};
  const std::string js = j.dump();
  const std::vector<float> w = get_weights();
  Bytes bytes(kMagic, kMagic + 8);
  ByteWriter out(&bytes);
  out.put<std::uint64_t>(js.size());
  out.put_bytes(std::span(reinterpret_cast<const std::uint8_t*>(js.data()), js.size()));
  out.put_array<float>(w);  // u64 count + little-endian float32
  return bytes;
}

Result<SegTrainer> SegTrainer::from_bytes(std::span<const std::uint8_t> bytes) {
  ByteReader in(bytes);
  std::span<const std::uint8_t> magic, header;
  if (!in.get_bytes(8, &magic).ok() || std::memcmp(magic.data(), kMagic, 8) != 0) {
    return Status::corruption("not a HEAL segmentation model (bad magic)");
  }
  std::uint64_t jlen = 0;
  if (!in.get(&jlen).ok() || jlen > (1u << 20) || !in.get_bytes(jlen, &header).ok()) {
    return Status::corruption("segmentation model: bad header length");
  }
  SegModelSpec s;
  try {
    const auto j = nlohmann::json::parse(header.begin(), header.end());
    s.arch = j.at("arch").get<std::string>();
    s.width = j.at("width").get<int>();
    s.image_size = j.at("image_size").get<int>();
    s.recon_weight = j.at("recon_weight").get<double>();
    s.classes = j.value("classes", 2);  // files before multi-class models are binary
    auto mode = io::parse_intensity_mode(j.at("normalization").get<std::string>());
    if (!mode.ok()) return Status::corruption("segmentation model: " + mode.status().message());
    s.normalizer.mode = *mode;
    s.normalizer.standard = j.at("standard").get<std::vector<double>>();
    s.tta_flip = j.value("tta_flip", false);  // files before test-time augmentation predict once
    check_spec(s);
  } catch (const std::exception& e) {
    return Status::corruption(std::string("segmentation model: bad header: ") + e.what());
  }
  const std::size_t k = io::histogram_landmark_percentiles().size();
  const auto& st = s.normalizer.standard;
  if (s.normalizer.mode == io::IntensityMode::kHistogram ? st.size() != k : !st.empty()) {
    return Status::corruption("segmentation model: the standard intensity scale has the wrong length");
  }
  for (std::size_t i = 0; i < st.size(); ++i) {
    if (!std::isfinite(st[i]) || (i > 0 && st[i] < st[i - 1])) return Status::corruption("segmentation model: bad intensity scale");
  }
  // The weight count must match the file size before the (possibly large) network is built.
  std::uint64_t n = 0;
  {
    ByteReader peek(bytes.subspan(in.position()));
    if (!peek.get(&n).ok() || n != peek.remaining() / 4 || peek.remaining() % 4 != 0) {
      return Status::corruption("segmentation model: weight count does not match the file size");
    }
  }
  SegTrainer t(s, 1);
  std::vector<float> w;
  if (n != t.num_parameters() || !in.get_array(&w, n).ok() || !in.at_end()) {
    return Status::corruption("segmentation model: weight count does not match the architecture");
  }
  for (float v : w) {
    if (!std::isfinite(v)) return Status::corruption("segmentation model: non-finite weight");
  }
  t.set_weights(w);
  return t;
}

Status SegTrainer::save(const std::string& path) const {
  const auto b = to_bytes();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return Status::io_error("cannot write '" + path + "'");
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) return Status::io_error("cannot write '" + path + "'");
  return {};
}

Result<SegTrainer> SegTrainer::load(const std::string& path) {
  auto b = read_file(path, std::size_t{1} << 31);
  if (!b.ok()) return b.status();
  return from_bytes(*b);
}

bool is_seg_model_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char head[8] = {};
  return f.read(head, 8) && std::memcmp(head, kMagic, 8) == 0;
}

}  // namespace heal::nn::torch_backend
