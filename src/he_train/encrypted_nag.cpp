// Encrypted NAG training of logistic regression (Kim, Song, Kim, Lee, Cheon, BMC Med Genomics 2018,
// IACR ePrint 2018/254; row reductions after HETAL's DiagABT, Lee et al., ICML 2023, arXiv
// 2403.14111). Level and key-switch accounting: src/he_train/README.md.
#include "heal/he_train/encrypted_nag.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include "heal/ckks/encoder.h"
#include "heal/ckks/polynomial_evaluator.h"
#include "heal/core/check.h"

namespace heal::he_train {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

EncryptedNag::EncryptedNag(ckks::ContextPtr ctx, const ckks::Evaluator& ev, const ckks::RelinKey& rk,
                           const ckks::GaloisKeys& gk, const Refresher& refresher, Packing packing, SigmoidPoly poly,
                           Schedule schedule, std::size_t n, std::size_t batch_rows)
    : ctx_(std::move(ctx)),
      ev_(ev),
      rk_(rk),
      gk_(gk),
      refresher_(refresher),
      packing_(packing),
      poly_(std::move(poly)),
      schedule_(schedule),
      plan_(n, batch_rows) {
  HEAL_REQUIRE(ctx_ != nullptr && ctx_.get() == &ev_.context(), "EncryptedNag: the evaluator must work on ctx");
  encoder_ = std::make_shared<const ckks::Encoder>(ctx_);
  HEAL_REQUIRE(refresher_.slots() == packing_.weight_slots(), "EncryptedNag: the refresher works on "
                                                                  << refresher_.slots() << " slots, the weights on "
                                                                  << packing_.weight_slots());
  HEAL_REQUIRE(packing_.data_slots() <= ev_.context().slots(),
               "EncryptedNag: packing has more data slots than the context");
  ckks::ChebyshevPoly probe =
      ckks::ChebyshevPoly::interpolate([&](double u) { return poly_.eval_u(-u); }, -1, 1, poly_.degree());
  poly_depth_ = ckks::PolynomialEvaluator::depth(probe);
  levels_ = 3 + poly_depth_;
  HEAL_REQUIRE(refresher_.output_level() >= levels_, "EncryptedNag: the refresher leaves "
                                                         << refresher_.output_level() << " levels, one iteration needs "
                                                         << levels_);
  mask_ = packing_.row_start_mask();
}

std::vector<long> EncryptedNag::rotation_steps(const Packing& packing) {
  std::vector<long> steps;
  for (std::size_t s = 1; s < packing.row_width(); s <<= 1) {
    steps.push_back(static_cast<long>(s));   // rotate-and-sum within a row
    steps.push_back(-static_cast<long>(s));  // replicate the row's first slot
  }
  // Sum over the rows of a data ciphertext (full ring when data_slots = N/2).
  for (std::size_t s = packing.row_width(); s < packing.data_slots(); s <<= 1) steps.push_back(static_cast<long>(s));
  return steps;
}

void EncryptedNag::set_threads(int threads) {
  HEAL_REQUIRE(threads >= 1, "EncryptedNag::set_threads: threads must be >= 1, got " << threads);
  threads_ = threads;
}

ckks::Ciphertext EncryptedNag::times_kappa(const ckks::Ciphertext& zk, std::size_t k, std::size_t level,
                                           std::complex<double> kappa, std::size_t row_begin,
                                           std::size_t row_end) const {
  // kappa Z_k at `level` - 1 and the default scale. Rows of Z_k outside the batch [row_begin,
  // row_end) (a batch smaller than, or not aligned to, a ciphertext) are zeroed by a plaintext mask
  // instead of the constant: same level, so they add nothing to the gradient.
  const std::size_t r = packing_.rows_per_ct(), w = packing_.row_width();
  const std::size_t lo = k * r, hi = std::min((k + 1) * r, plan_.n);  // rows of Z_k that hold data
  const ckks::Ciphertext zl = ev_.mod_switch_to(zk, level);
  const double target = ev_.context().default_scale();
  if (lo >= row_begin && hi <= row_end) return mul_const_to(zl, kappa, target);
  std::vector<std::complex<double>> m(packing_.data_slots(), 0.0);
  for (std::size_t i = std::max(lo, row_begin); i < std::min(hi, row_end); ++i)
    std::fill_n(m.begin() + static_cast<std::ptrdiff_t>((i - lo) * w), w, kappa);
  const double q = static_cast<double>(ev_.context().q(level).value());
  ckks::Ciphertext out = ev_.mul_plain(zl, encoder_->encode(m, target * q / zl.scale(), level));
  ev_.rescale_inplace(out);
  out.set_scale(target);
  return out;
}

ckks::Ciphertext EncryptedNag::mul_const_to(const ckks::Ciphertext& ct, std::complex<double> c,
                                            double target_scale) const {
  // c rounded at q_l * target / scale: after the rescale by q_l the scale is exactly target.
  const double q = static_cast<double>(ev_.context().q(ct.level()).value());
  ckks::Ciphertext r = ev_.mul_const(ct, c, target_scale * q / ct.scale());
  ev_.rescale_inplace(r);
  r.set_scale(target_scale);
  return r;
}

ckks::Ciphertext EncryptedNag::inner_products(const ckks::Ciphertext& zk, const ckks::Ciphertext& a,
                                              std::complex<double> factor) const {
  // Z_k * a slot-wise, summed over each row's d' slots (the row's first slot gets z_i . a), then
  // masked to the first slots, times `factor`, at the default scale: 2 levels, 1 + log2 d' key switches.
  const auto& ctx = ev_.context();
  ckks::Ciphertext p = ev_.relinearize(ev_.mul(ev_.mod_switch_to(zk, a.level()), a), rk_);
  ev_.rescale_inplace(p);
  ev_.rotate_and_sum_inplace(p, packing_.row_width(), gk_);
  std::vector<std::complex<double>> mask(mask_.size());
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = mask_[i] * factor;
  const double q = static_cast<double>(ctx.q(p.level()).value());
  const ckks::Plaintext pt = encoder_->encode(mask, ctx.default_scale() * q / p.scale(), p.level());
  ev_.mul_plain_inplace(p, pt);
  ev_.rescale_inplace(p);
  p.set_scale(ctx.default_scale());
  return p;
}

ckks::Ciphertext EncryptedNag::iterate(const std::vector<ckks::Ciphertext>& z, const ckks::Ciphertext& state,
                                       std::size_t t) const {
  HEAL_REQUIRE(z.size() == packing_.ciphertexts(plan_.n), "EncryptedNag::iterate: " << z.size()
                                                                                    << " data ciphertexts, expected "
                                                                                    << packing_.ciphertexts(plan_.n));
  HEAL_REQUIRE(
      state.size() == 2 && state.slots() == packing_.weight_slots(),
      "EncryptedNag::iterate: the state must be a relinearized ciphertext of " << packing_.weight_slots() << " slots");
  HEAL_REQUIRE(state.level() >= levels_, "EncryptedNag::iterate: state at level " << state.level()
                                                                                  << ", an iteration needs " << levels_
                                                                                  << " (refresh first)");
  const std::size_t b = plan_.batch_of(t), r = packing_.rows_per_ct();
  const std::size_t row_begin = plan_.first_row(b), row_end = row_begin + plan_.rows_in(b);
  const std::size_t first = row_begin / r, last = (row_end + r - 1) / r;
  for (std::size_t k = first; k < last; ++k)
    HEAL_REQUIRE(z[k].level() >= state.level() && z[k].slots() == packing_.data_slots(),
                 "EncryptedNag::iterate: data ciphertext " << k << " at level " << z[k].level() << " with "
                                                           << z[k].slots() << " slots (state at level " << state.level()
                                                           << ", data slots " << packing_.data_slots() << ")");
  const double alpha = schedule_.alpha(t), gamma = schedule_.gamma(t);
  const double scale_g = alpha / static_cast<double>(plan_.rows_in(b));
  const double bound = poly_.bound();
  const std::complex<double> kappa(1 - gamma, 1);

  // v = (C + conj C) / 2: the 1/2 and 1/B go into the mask, so t = z.v / B. C is sparse (weight
  // slots); widened, its rows repeat over all data slots.
  const ckks::Ciphertext conj = ev_.conjugate(state, gk_);
  const ckks::Ciphertext a2v = widen_slots(ev_.add(state, conj), packing_.data_slots());
  // f(t) = alpha / |I| * p(-B t) = alpha / |I| * sigma_p(-z.v), as a Chebyshev series on [-1, 1].
  const ckks::ChebyshevPoly f =
      ckks::ChebyshevPoly::interpolate([&](double u) { return scale_g * poly_.eval_u(-u); }, -1, 1, poly_.degree());
  const std::size_t level_a = state.level() - 2 - poly_depth_;
  const double scale_a = static_cast<double>(ev_.context().q(level_a).value());  // a * Z rescales to the default scale
  // Sum over data ciphertexts [k0, k1) of a_k * (kappa Z_k), unrelinearized (3 polynomials).
  auto partial = [&](std::size_t k0, std::size_t k1) {
    const ckks::PolynomialEvaluator pe(ev_, rk_);
    ckks::Ciphertext acc;
    for (std::size_t k = k0; k < k1; ++k) {
      ckks::Ciphertext x = inner_products(z[k], a2v, 1.0 / (2 * bound));
      for (std::size_t s = 1; s < packing_.row_width(); s <<= 1)
        ev_.add_inplace(x, ev_.rotate(x, -static_cast<long>(s), gk_));
      const ckks::Ciphertext a = pe.evaluate(x, f, scale_a);
      HEAL_DCHECK(a.level() == level_a);
      ckks::Ciphertext prod = ev_.mul(a, times_kappa(z[k], k, level_a + 1, kappa, row_begin, row_end));
      if (k == k0) {
        acc = std::move(prod);
      } else {
        ev_.add_inplace(acc, prod);
      }
    }
    return acc;
  };
  ckks::Ciphertext acc;
  if (threads_ >= 2 && last - first >= 2) {
    // Two halves of the batch on two threads (Evaluator's const methods share no mutable state;
    // the RnsPoly buffer pool and the Galois permutation cache are mutex-protected).
    const std::size_t mid = first + (last - first) / 2;
    ckks::Ciphertext other;
    std::exception_ptr err;
    std::thread worker([&] {
      try {
        other = partial(mid, last);
      } catch (...) {
        err = std::current_exception();
      }
    });
    try {
      acc = partial(first, mid);
    } catch (...) {
      worker.join();
      throw;
    }
    worker.join();
    if (err) std::rethrow_exception(err);
    ev_.add_inplace(acc, other);
  } else {
    acc = partial(first, last);
  }
  ev_.relinearize_inplace(acc, rk_);
  ev_.rescale_inplace(acc);
  acc.set_scale(ev_.context().default_scale());
  // Sum over all rows of the data ciphertext (full ring): every row then holds kappa g, so the slot
  // vector is periodic with period d' (hence S) and reads as the S-slot weights layout.
  for (std::size_t s = packing_.row_width(); s < packing_.data_slots(); s <<= 1)
    ev_.add_inplace(acc, ev_.rotate(acc, static_cast<long>(s), gk_));
  acc = narrow_slots(std::move(acc), packing_.weight_slots());

  // C' = c1 C + c2 conj C + kappa g: Re = (1 - gamma) w_{t+1} + gamma w_t, Im = v_t + g = w_{t+1}.
  const std::complex<double> c1 = (1 - gamma) * std::complex<double>(1, 1) / 2.0;
  const std::complex<double> c2 = std::complex<double>(1 - gamma, 1 + gamma) / 2.0;
  const double ds = acc.scale();
  ckks::Ciphertext out = ev_.mod_switch_to(mul_const_to(state, c1, ds), acc.level());
  ev_.add_inplace(out, ev_.mod_switch_to(mul_const_to(conj, c2, ds), acc.level()));
  ev_.add_inplace(out, acc);
  return out;
}

std::vector<ckks::Ciphertext> EncryptedNag::validation_margins(const std::vector<ckks::Ciphertext>& val,
                                                               const ckks::Ciphertext& state) const {
  HEAL_REQUIRE(state.size() == 2 && state.slots() == packing_.weight_slots() && state.level() >= 2,
               "EncryptedNag::validation_margins: the state needs 2 levels (at "
                   << state.level() << ") and " << packing_.weight_slots() << " slots");
  // w = (C - conj C) / (2i): the factor -i/2 goes into the mask; widened to the data slots.
  const ckks::Ciphertext b2iw = widen_slots(ev_.sub(state, ev_.conjugate(state, gk_)), packing_.data_slots());
  std::vector<ckks::Ciphertext> out;
  out.reserve(val.size());
  for (const auto& zk : val) {
    HEAL_REQUIRE(zk.level() >= state.level() && zk.slots() == packing_.data_slots(),
                 "EncryptedNag::validation_margins: validation ciphertext below the state's level or of other slots");
    out.push_back(inner_products(zk, b2iw, std::complex<double>(0, -0.5)));
  }
  return out;
}

TrainResult EncryptedNag::train(const std::vector<ckks::Ciphertext>& z, ckks::Ciphertext state,
                                const TrainOptions& opt) const {
  TrainResult res;
  const auto t_start = std::chrono::steady_clock::now();
  auto refresh = [&](IterationInfo* info) {
    const auto t0 = std::chrono::steady_clock::now();
    state = refresher_.refresh(state);
    const double s = seconds_since(t0);
    res.refresh_seconds += s;
    ++res.refreshes;
    if (info) {
      info->refreshed = true;
      info->refresh_seconds += s;
    }
  };
  for (std::size_t t = 0; t < opt.iterations; ++t) {
    IterationInfo info;
    info.iteration = t;
    info.iterations = opt.iterations;
    info.batch = plan_.batch_of(t);
    info.epoch = t / plan_.batches();
    if (state.level() < levels_) refresh(&info);
    const auto t0 = std::chrono::steady_clock::now();
    state = iterate(z, state, t);
    info.seconds = seconds_since(t0);
    info.level = state.level();
    res.iterations = t + 1;
    if (opt.on_iteration) opt.on_iteration(info);
    const bool epoch_end = (t + 1) % plan_.batches() == 0;
    if (epoch_end && opt.on_checkpoint && opt.on_checkpoint(info.epoch, state)) {
      res.stopped_early = true;
      break;
    }
    if (epoch_end && opt.validation != nullptr && !opt.validation->empty() && opt.on_epoch) {
      if (state.level() < 2) refresh(nullptr);
      const auto margins = validation_margins(*opt.validation, state);
      ++res.epochs_checked;
      if (opt.on_epoch(info.epoch, margins)) {
        res.stopped_early = true;
        break;
      }
    }
  }
  res.weights = std::move(state);
  res.seconds = seconds_since(t_start);
  return res;
}

}  // namespace heal::he_train
