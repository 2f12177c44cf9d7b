// CKKS bootstrapping (see heal/ckks/bootstrap.h for the algorithm and its sources).
#include "heal/ckks/bootstrap.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <complex>
#include <exception>
#include <limits>
#include <map>
#include <numbers>
#include <numeric>
#include <sstream>
#include <thread>

#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/linear_transform.h"
#include "heal/ckks/polynomial_evaluator.h"
#include "heal/core/check.h"

namespace heal::ckks {

namespace {

using cd = std::complex<double>;
using Diagonals = std::map<std::size_t, std::vector<cd>>;

void add_diagonal(Diagonals& m, std::size_t offset, const std::vector<cd>& d) {
  auto& o = m[offset];
  if (o.empty()) o.assign(d.size(), 0);
  for (std::size_t k = 0; k < d.size(); ++k) o[k] += d[k];
}

// One butterfly stage of length len on blocks of n slots, replicated over dim = n or 2n slots
// (the stages never cross a block of n, so the replicated halves evolve independently).
// Inverse (encode direction): v[k] + v[k+h] | (v[k-h] - v[k]) conj(w); forward (decode):
// v[k] + w v[k+h] | v[k-h] - w v[k], for k in the first | second half of its block of len.
Diagonals fft_stage(std::size_t len, std::size_t n, std::size_t dim, bool inverse) {
  const std::size_t h = len / 2;
  // Twiddle j = exp(2 pi i (5^j mod 4 len) / (4 len)): the encoder's roots (slot j is evaluated
  // at zeta^(5^j)).
  std::vector<cd> tw(h);
  const std::uint64_t m = 4 * len;
  for (std::uint64_t j = 0, g = 1; j < h; ++j, g = (g * 5) % m) {
    const double ang = 2.0 * std::numbers::pi * static_cast<double>(g) / static_cast<double>(m);
    tw[j] = {std::cos(ang), std::sin(ang)};
  }
  std::vector<cd> d0(dim), dp(dim, 0), dm(dim, 0);
  for (std::size_t k = 0; k < dim; ++k) {
    const std::size_t pos = (k % n) % len;
    if (pos < h) {
      d0[k] = 1;
      dp[k] = inverse ? cd(1) : tw[pos];
    } else {
      const cd w = tw[pos - h];
      d0[k] = inverse ? -std::conj(w) : -w;
      dm[k] = inverse ? std::conj(w) : cd(1);
    }
  }
  Diagonals out;
  add_diagonal(out, 0, d0);
  add_diagonal(out, h % dim, dp);
  add_diagonal(out, (dim - h) % dim, dm);  // the same offset as +h when h = dim / 2
  return out;
}

// a * b (b applied first): (a b)[k][(k + d + e)] += a_d[k] b_e[k + d].
Diagonals compose(const Diagonals& a, const Diagonals& b, std::size_t dim) {
  Diagonals out;
  for (const auto& [d, ad] : a) {
    for (const auto& [e, be] : b) {
      auto& o = out[(d + e) % dim];
      if (o.empty()) o.assign(dim, 0);
      for (std::size_t k = 0; k < dim; ++k) o[k] += ad[k] * be[(k + d) % dim];
    }
  }
  return out;
}

void scale_diagonals(Diagonals& a, cd s) {
  for (auto& [d, v] : a) {
    for (auto& x : v) x *= s;
  }
}

void scale_rows(Diagonals& a, const std::vector<cd>& rows) {
  for (auto& [d, v] : a) {
    for (std::size_t k = 0; k < v.size(); ++k) v[k] *= rows[k];
  }
}

// Splits `stages` consecutive stages into `groups` runs, larger runs first.
std::vector<std::size_t> split(std::size_t stages, std::size_t groups) {
  std::vector<std::size_t> out(groups, stages / groups);
  for (std::size_t i = 0; i < stages % groups; ++i) ++out[i];
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Presets.

std::vector<std::string> bootstrap_preset_names() {
  return {"full", "sparse", "train", "test", "test-sparse", "test-train"};
}

BootstrapPreset bootstrap_preset(const std::string& name) {
  BootstrapPreset p;
  p.name = name;
  ParamsSpec& s = p.params;
  BootstrapConfig& c = p.config;
  s.secret = SecretDistribution::kTernaryHamming;
  s.hamming_weight = 256;
  s.default_scale = 0x1p40;
  // q_bits from the bottom: q_0, the levels left to the user, SlotsToCoeffs, EvalMod,
  // CoeffsToSlots (consumed first, from the top).
  auto layout = [&](std::size_t user_levels, std::size_t stc, std::size_t cts) {
    s.q_bits.assign(1, 60);
    s.q_bits.insert(s.q_bits.end(), user_levels, 40);
    s.q_bits.insert(s.q_bits.end(), stc, 42);
    s.q_bits.insert(s.q_bits.end(), 6 + c.double_angle, 60);  // Chebyshev depth 6 (degree 63) + r
    s.q_bits.insert(s.q_bits.end(), cts, 60);
    c.cts_levels = cts;
    c.stc_levels = stc;
  };
  if (name == "full") {
    s.log_n = 16;
    c.slots = std::size_t{1} << 15;
    layout(9, 3, 3);
    s.p_bits.assign(6, 60);
    p.description = "N=2^16, 2^15 complex slots, Hamming weight 256, 9 levels of 40 bits after bootstrapping";
  } else if (name == "sparse" || name == "train") {
    // "train" is "sparse" with one more user level (10): two iterations of he_train's encrypted NAG
    // (5 levels each) fit between sparse bootstraps. log QP = 1584 + 40 = 1624 <= 1637 (weight-256 bound).
    const bool train = name == "train";
    const std::size_t user_levels = train ? 10 : 9;
    s.log_n = 16;
    c.slots = std::size_t{1} << 10;
    layout(user_levels, 2, 2);
    s.p_bits.assign(7, 60);  // 4 key-switching digits of 6 primes (full has no room for a 7th P prime)
    p.description = "N=2^16, 2^10 slots (sparse packing), Hamming weight 256, " + std::to_string(user_levels) +
                    " levels of 40 bits after bootstrapping" + (train ? " (encrypted training)" : "");
  } else if (name == "test" || name == "test-sparse" || name == "test-train") {
    s.log_n = 12;
    const bool sparse = name != "test";
    const std::size_t user_levels = name == "test-train" ? 10 : 3;
    c.slots = sparse ? 32 : 2048;
    layout(user_levels, sparse ? 2 : 3, sparse ? 2 : 3);
    s.p_bits.assign(3, 60);
    s.allow_insecure = true;
    p.description = std::string("INSECURE (unit tests): N=2^12, ") + (sparse ? "32" : "2048") +
                    " slots, Hamming weight 256, " + std::to_string(user_levels) + " levels after bootstrapping";
  } else {
    HEAL_REQUIRE(false, "bootstrap_preset: unknown preset '"
                            << name << "' (full, sparse, train, test, test-sparse, test-train)");
  }
  // Fewest key-switching digits with every digit's product 2^20 below P (key-switching noise about
  // N sigma digit / P, Han-Ki ePrint 2019/688): "full" 5 digits of 5 primes, "sparse" 4 of 6.
  const int p_total = std::accumulate(s.p_bits.begin(), s.p_bits.end(), 0);
  const int q_max = *std::max_element(s.q_bits.begin(), s.q_bits.end());
  const std::size_t alpha = static_cast<std::size_t>((p_total - 20) / q_max);
  s.dnum = (s.q_bits.size() + alpha - 1) / alpha;
  return p;
}

double mod_bound_failure_log2(const Context& ctx, double k_bound) {
  // t / q_0 = [c0]/q_0 + sum_{j in supp s} +-[c1]_j / q_0 with [c]/q_0 uniform in [-1/2, 1/2):
  // variance (h + 1) / 12 for a secret of weight h (N * 2/3 expected for uniform ternary).
  const auto& spec = ctx.spec();
  const double h = spec.secret == SecretDistribution::kTernaryHamming ? static_cast<double>(spec.hamming_weight)
                                                                      : static_cast<double>(ctx.n()) * 2.0 / 3.0;
  const double sigma = std::sqrt((h + 1) / 12.0);
  const double z = (k_bound - 0.25) / sigma;
  // Two-sided Gaussian tail erfc(z / sqrt 2), union bound over N coefficients.
  const double tail = std::erfc(z / std::numbers::sqrt2);
  if (tail <= 0) return -std::numeric_limits<double>::infinity();
  return std::log2(tail) + std::log2(static_cast<double>(ctx.n()));
}

// ---------------------------------------------------------------------------------------------
// ModRaise.

Ciphertext mod_raise(const Context& ctx, const Ciphertext& ct) {
  HEAL_REQUIRE(ct.size() == 2, "mod_raise: relinearize first");
  HEAL_REQUIRE(ct.level() == 0, "mod_raise: the ciphertext must be at level 0 (mod_switch_to(ct, 0) first)");
  const auto& qb = ctx.q_basis();
  const std::size_t n = ctx.n(), top = ctx.max_level();
  const u64 q0 = ctx.q(0).value(), half = q0 / 2;
  std::vector<math::RnsPoly> polys;
  std::vector<std::int64_t> centred(n);
  for (std::size_t i = 0; i < 2; ++i) {
    math::RnsPoly low = ct[i];
    low.intt_inplace(qb);
    const u64* src = low.limb(0);
    for (std::size_t k = 0; k < n; ++k) {
      centred[k] = src[k] >= half ? static_cast<std::int64_t>(src[k]) - static_cast<std::int64_t>(q0)
                                  : static_cast<std::int64_t>(src[k]);
    }
    low.mark_public();
    math::RnsPoly up = math::RnsPoly::from_signed(centred, qb, top + 1);
    up.ntt_inplace(qb);
    polys.push_back(std::move(up));
  }
  return Ciphertext(std::move(polys), ct.scale(), ct.slots());
}

// ---------------------------------------------------------------------------------------------
// Bootstrapper.

struct Bootstrapper::Impl {
  std::size_t n = 0, dim = 0, gap = 1;
  bool full = false;
  std::size_t em_level = 0;    // level where EvalMod starts (= CoeffsToSlots output)
  std::size_t stc_level = 0;   // level where SlotsToCoeffs starts
  double em_scale = 0;         // scale of the CoeffsToSlots output
  double stc_factor = 1;       // SlotsToCoeffs output scale / input scale
  std::vector<std::uint64_t> trace_elts;
  std::vector<LinearTransform> cts, stc;
  ChebyshevPoly cosine;
  std::size_t cheb_depth = 0;
};

Bootstrapper::~Bootstrapper() = default;

Bootstrapper::Bootstrapper(ContextPtr ctx, BootstrapConfig cfg) : ctx_(std::move(ctx)), cfg_(cfg), impl_(new Impl) {
  HEAL_REQUIRE(ctx_ != nullptr, "Bootstrapper: null context");
  const std::size_t slots = ctx_->slots();
  HEAL_REQUIRE(cfg_.slots >= 2 && std::has_single_bit(cfg_.slots) && cfg_.slots <= slots,
               "Bootstrapper: slots must be a power of two in [2, N/2 = " << slots << "], got " << cfg_.slots);
  const auto log_n = static_cast<std::size_t>(std::countr_zero(cfg_.slots));
  HEAL_REQUIRE(cfg_.cts_levels >= 1 && cfg_.cts_levels <= log_n && cfg_.stc_levels >= 1 && cfg_.stc_levels <= log_n,
               "Bootstrapper: CoeffsToSlots and SlotsToCoeffs need 1.." << log_n << " levels each");
  HEAL_REQUIRE(cfg_.k_bound >= 1 && std::isfinite(cfg_.k_bound), "Bootstrapper: k_bound must be >= 1");
  HEAL_REQUIRE(cfg_.cheb_degree >= 3 && cfg_.cheb_degree <= 1023, "Bootstrapper: Chebyshev degree must be in [3, 1023]");
  HEAL_REQUIRE(cfg_.double_angle <= 8, "Bootstrapper: at most 8 double-angle steps");
  Impl& m = *impl_;
  m.n = cfg_.slots;
  m.full = m.n == slots;
  m.dim = m.full ? m.n : 2 * m.n;
  m.gap = slots / m.n;
  const double two_pi = 2 * std::numbers::pi;
  const double k = cfg_.k_bound, r_scale = std::ldexp(1.0, -static_cast<int>(cfg_.double_angle));
  m.cosine = ChebyshevPoly::interpolate([&](double x) { return std::cos(two_pi * k * x * r_scale); }, -1, 1, cfg_.cheb_degree);
  m.cheb_depth = PolynomialEvaluator::depth(m.cosine);
  depth_ = cfg_.cts_levels + m.cheb_depth + cfg_.double_angle + cfg_.stc_levels;
  HEAL_REQUIRE(depth_ <= ctx_->max_level(), "Bootstrapper: the circuit needs " << depth_ << " levels, the context has "
                                                                               << ctx_->max_level());
  const std::size_t top = ctx_->max_level();
  m.em_level = top - cfg_.cts_levels;
  m.stc_level = m.em_level - m.cheb_depth - cfg_.double_angle;
  m.em_scale = static_cast<double>(ctx_->q(m.em_level).value());
  const double q0 = static_cast<double>(ctx_->q(0).value());
  HEAL_REQUIRE(cfg_.message_ratio_log2 >= 6 && cfg_.message_ratio_log2 <= 30,
               "Bootstrapper: message_ratio_log2 must be in [6, 30]");
  HEAL_REQUIRE(std::log2(q0 / ctx_->default_scale()) >= cfg_.message_ratio_log2,
               "Bootstrapper: q_0 / default scale must be at least 2^message_ratio_log2");

  // Subring trace for sparse packing: rotations by n, 2n, ..., N/4 (Galois elements 5^(n 2^i)).
  for (std::size_t s = m.n; s < slots; s <<= 1) m.trace_elts.push_back(ctx_->galois_elt_for_step(static_cast<long>(s)));

  // CoeffsToSlots: stages len = n, n/2, .., 2 (first applied: len = n), times
  // em_scale / (2 n gap q_0 K) spread evenly over the levels; the sparse form scales rows n..2n-1
  // by -i, so y + conj(y) puts the real coefficient half in slots [0, n) and the imaginary one in [n, 2n).
  {
    const double total = m.em_scale / (2.0 * static_cast<double>(m.n) * static_cast<double>(m.gap) * q0 * k);
    const cd per_level = std::pow(total, 1.0 / static_cast<double>(cfg_.cts_levels));
    std::size_t len = m.n, level = top;
    const auto counts = split(log_n, cfg_.cts_levels);
    for (std::size_t g = 0; g < counts.size(); ++g) {
      Diagonals acc;
      for (std::size_t s = 0; s < counts[g]; ++s, len >>= 1) {
        Diagonals st = fft_stage(len, m.n, m.dim, true);
        acc = acc.empty() ? std::move(st) : compose(st, acc, m.dim);
      }
      scale_diagonals(acc, per_level);
      if (g == 0 && !m.full) {
        std::vector<cd> rows(m.dim, 1);
        for (std::size_t i = m.n; i < m.dim; ++i) rows[i] = cd(0, -1);
        scale_rows(acc, rows);
      }
      m.cts.emplace_back(ctx_, acc, m.dim, level--);
    }
  }
  // SlotsToCoeffs: stages len = 2, 4, .., n; the sparse form first folds [lo | hi] into
  // lo + i hi on both halves (this commutes with the replicated stages, so it is merged into the
  // last level, whose diagonals already wrap around the 2n slots). Its plaintexts are encoded below
  // q_l so that the scale falls by stc_factor in all from EvalMod's (about q_l) to the default
  // scale; EvalMod then runs at a scale near its primes whatever the message ratio.
  {
    const double want = ctx_->default_scale() * std::ldexp(1.0, cfg_.message_ratio_log2) / (2 * std::numbers::pi * m.em_scale);
    const double per_level = std::pow(want, 1.0 / static_cast<double>(cfg_.stc_levels));
    m.stc_factor = 1;
    std::size_t len = 2, level = m.stc_level;
    const auto counts = split(log_n, cfg_.stc_levels);
    for (std::size_t g = 0; g < counts.size(); ++g) {
      Diagonals acc;
      for (std::size_t s = 0; s < counts[g]; ++s, len <<= 1) {
        Diagonals st = fft_stage(len, m.n, m.dim, false);
        acc = acc.empty() ? std::move(st) : compose(st, acc, m.dim);
      }
      if (g + 1 == counts.size() && !m.full) {
        Diagonals fold;
        std::vector<cd> d0(m.dim), dn(m.dim);
        for (std::size_t i = 0; i < m.dim; ++i) {
          d0[i] = i < m.n ? cd(1) : cd(0, 1);
          dn[i] = i < m.n ? cd(0, 1) : cd(1);
        }
        add_diagonal(fold, 0, d0);
        add_diagonal(fold, m.n, dn);
        acc = compose(acc, fold, m.dim);
      }
      const double q = static_cast<double>(ctx_->q(level).value());
      const double pt_scale = std::min(q, std::nearbyint(q * per_level));
      m.stc_factor *= pt_scale / q;
      m.stc.emplace_back(ctx_, acc, m.dim, level--, pt_scale);
    }
  }

  // Keys.
  std::vector<std::uint64_t> elts = m.trace_elts;
  for (const auto* set : {&m.cts, &m.stc}) {
    for (const auto& lt : *set) {
      for (long s : lt.rotation_steps()) elts.push_back(ctx_->galois_elt_for_step(s));
    }
  }
  elts.push_back(ctx_->galois_elt_conjugate());
  std::sort(elts.begin(), elts.end());
  elts.erase(std::unique(elts.begin(), elts.end()), elts.end());
  elts.erase(std::remove(elts.begin(), elts.end(), std::uint64_t{1}), elts.end());
  galois_ = std::move(elts);
}

void Bootstrapper::set_threads(int threads) {
  HEAL_REQUIRE(threads >= 1, "Bootstrapper::set_threads: threads must be >= 1");
  threads_ = threads;
}

GaloisKeys Bootstrapper::create_galois_keys(KeyGenerator& keygen) const {
  GaloisKeys gk;
  for (std::uint64_t g : galois_) keygen.add_galois_key(gk, g);
  return gk;
}

std::vector<Ciphertext> Bootstrapper::coeffs_to_slots(const Evaluator& ev, const Ciphertext& raised,
                                                      const GaloisKeys& gk) const {
  const Impl& m = *impl_;
  HEAL_REQUIRE(raised.level() == ctx_->max_level(), "Bootstrapper::coeffs_to_slots: expects a ModRaised ciphertext");
  Ciphertext ct = raised;
  ct.set_scale(m.em_scale);
  for (std::uint64_t g : m.trace_elts) ev.add_inplace(ct, ev.apply_galois(ct, g, gk));
  ct.set_slots(m.dim);
  for (const auto& lt : m.cts) ct = lt.apply(ev, ct, gk, threads_);
  const Ciphertext conj = ev.conjugate(ct, gk);
  const double shift = -0.25 / cfg_.k_bound;
  std::vector<Ciphertext> out;
  if (m.full) {
    Ciphertext im = ev.sub(ct, conj);
    ev.mul_const_inplace(im, cd(0, -1), 1.0);  // times -i: exact (X^(N/2) with a sign)
    ev.add_inplace(ct, conj);
    ev.add_const_inplace(ct, shift);
    ev.add_const_inplace(im, shift);
    out.push_back(std::move(ct));
    out.push_back(std::move(im));
  } else {
    ev.add_inplace(ct, conj);
    ev.add_const_inplace(ct, shift);
    out.push_back(std::move(ct));
  }
  return out;
}

Ciphertext Bootstrapper::eval_mod(const Evaluator& ev, const Ciphertext& x, const RelinKey& rk, double scale) const {
  const Impl& m = *impl_;
  HEAL_REQUIRE(x.level() == m.em_level, "Bootstrapper::eval_mod: input at level " << x.level() << ", expected " << m.em_level);
  // Target scales backwards through the double-angle squarings: s_i = sqrt(s_{i+1} q_l).
  const std::size_t r = cfg_.double_angle, after_cheb = m.em_level - m.cheb_depth;
  std::vector<double> s(r + 1);
  s[r] = scale;
  for (std::size_t i = r; i-- > 0;) s[i] = std::sqrt(s[i + 1] * static_cast<double>(ctx_->q(after_cheb - i).value()));
  PolynomialEvaluator pe(ev, rk);
  Ciphertext c = pe.evaluate(x, m.cosine, s[0]);
  for (std::size_t i = 0; i < r; ++i) {
    c = ev.relinearize(ev.square(c), rk);
    ev.rescale_inplace(c);
    ev.mul_integer_inplace(c, 2);
    ev.add_const_inplace(c, -1.0);
    c.set_scale(s[i + 1]);  // equal up to floating-point rounding of the square roots
  }
  return c;
}

Ciphertext Bootstrapper::slots_to_coeffs(const Evaluator& ev, const std::vector<Ciphertext>& parts,
                                         const GaloisKeys& gk) const {
  const Impl& m = *impl_;
  HEAL_REQUIRE(parts.size() == (m.full ? 2u : 1u), "Bootstrapper::slots_to_coeffs: expects " << (m.full ? 2 : 1)
                                                                                              << " ciphertext(s)");
  Ciphertext ct = parts[0];
  if (m.full) {
    Ciphertext hi = ev.mul_const(parts[1], cd(0, 1), 1.0);
    ev.add_inplace(ct, hi);
  }
  for (const auto& lt : m.stc) ct = lt.apply(ev, ct, gk, threads_);
  ct.set_slots(m.n);
  return ct;
}

Ciphertext Bootstrapper::bootstrap(const Evaluator& ev, const Ciphertext& ct, const RelinKey& rk, const GaloisKeys& gk,
                                   double out_scale, BootstrapTimings* timings) const {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto lap = [&](double* into) {
    const auto t1 = clock::now();
    if (timings) *into += std::chrono::duration<double>(t1 - t0).count();
    t0 = t1;
  };
  HEAL_REQUIRE(ct.size() == 2, "Bootstrapper::bootstrap: relinearize first");
  HEAL_REQUIRE(ct.slots() == cfg_.slots, "Bootstrapper::bootstrap: the ciphertext has " << ct.slots()
                                                                                         << " slots, this bootstrapper "
                                                                                         << cfg_.slots);
  const double q0 = static_cast<double>(ctx_->q(0).value());
  const double delta = ct.scale();
  const int ratio = cfg_.message_ratio_log2;
  HEAL_REQUIRE(delta >= 1 && std::log2(q0 / delta) >= ratio,
               "Bootstrapper::bootstrap: scale 2^" << std::log2(delta) << " must be at most q_0 / 2^" << ratio << " = 2^"
                                                   << std::log2(q0) - ratio);
  if (out_scale == 0) out_scale = delta;
  HEAL_REQUIRE(out_scale >= 1 && std::isfinite(out_scale), "Bootstrapper::bootstrap: output scale must be >= 1");
  Ciphertext low = ct.level() == 0 ? ct : ev.mod_switch_to(ct, 0);
  // Raise the message to q_0 / 2^ratio (an exact integer product at level 0): the errors of
  // CoeffsToSlots and EvalMod do not grow with it, the sine's nonlinearity stays below
  // (2 pi 2^-ratio)^2 / 6 relative.
  const int shift = static_cast<int>(std::floor(std::log2(q0 / delta))) - ratio;
  double delta_in = delta;
  if (shift > 0) {
    ev.mul_integer_inplace(low, std::int64_t{1} << shift);
    delta_in = std::ldexp(delta, shift);
    low.set_scale(delta_in);
  }
  const Ciphertext raised = mod_raise(*ctx_, low);
  std::vector<Ciphertext> parts = coeffs_to_slots(ev, raised, gk);
  lap(timings ? &timings->coeffs_to_slots : nullptr);
  // EvalMod returns sin(2 pi t / q_0) ~ 2 pi m / q_0 at scale S: read at scale S', the slots are
  // m / delta_in when S = S' q_0 / (2 pi delta_in); SlotsToCoeffs then takes S' to out_scale.
  const double s_in = out_scale / impl_->stc_factor;
  const double s_mod = s_in * q0 / (2 * std::numbers::pi * delta_in);
  auto refresh = [&](Ciphertext& p) {
    p = eval_mod(ev, p, rk, s_mod);
    p.set_scale(s_in);
  };
  if (parts.size() == 2 && threads_ >= 2) {
    std::exception_ptr error;
    std::thread other([&] {
      try {
        refresh(parts[1]);
      } catch (...) {
        error = std::current_exception();
      }
    });
    try {
      refresh(parts[0]);
    } catch (...) {
      other.join();
      throw;
    }
    other.join();
    if (error) std::rethrow_exception(error);
  } else {
    for (auto& p : parts) refresh(p);
  }
  lap(timings ? &timings->eval_mod : nullptr);
  Ciphertext out = slots_to_coeffs(ev, parts, gk);
  lap(timings ? &timings->slots_to_coeffs : nullptr);
  out.set_scale(out_scale);  // equal up to floating-point rounding of the plaintext scales
  return out;
}

Ciphertext Evaluator::bootstrap(const Ciphertext& a, const Bootstrapper& bs, const RelinKey& rk,
                                const GaloisKeys& gk) const {
  HEAL_REQUIRE(&bs.context() == ctx_.get(), "Evaluator::bootstrap: the bootstrapper belongs to another context");
  return bs.bootstrap(*this, a, rk, gk);
}

std::size_t Bootstrapper::plaintext_bytes() const {
  std::size_t bytes = 0;
  for (const auto* set : {&impl_->cts, &impl_->stc}) {
    for (const auto& lt : *set) bytes += lt.diagonals() * (lt.level() + 1) * ctx_->n() * sizeof(u64);
  }
  return bytes;
}

std::string Bootstrapper::describe() const {
  std::ostringstream os;
  os << cfg_.slots << " slots" << (impl_->full ? "" : " (sparse)") << ": CoeffsToSlots " << cfg_.cts_levels
     << " levels, EvalMod " << impl_->cheb_depth + cfg_.double_angle << " (Chebyshev degree " << cfg_.cheb_degree
     << ", K=" << cfg_.k_bound << ", " << cfg_.double_angle << " double-angle), SlotsToCoeffs " << cfg_.stc_levels
     << " levels; depth " << depth_ << ", output level " << output_level() << ", " << galois_.size()
     << " Galois keys";
  return os.str();
}

}  // namespace heal::ckks
