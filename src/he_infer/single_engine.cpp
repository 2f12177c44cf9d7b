// Single-image encrypted inference: layouts and planning (see single_engine.h).
#include "heal/he_infer/single_engine.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "heal/core/check.h"

namespace heal::he_infer {

const char* stage_kind_name(StageKind k) {
  switch (k) {
    case StageKind::kGather: return "gather";
    case StageKind::kHybrid: return "hybrid";
    case StageKind::kDiagonal: return "diagonal";
  }
  return "?";
}

std::size_t StagePlan::num_weights() const {
  if (kind == StageKind::kGather) return static_cast<std::size_t>(g) * t_cts;
  std::size_t n = 0;
  for (const auto& b : babies) n += b.size();
  return n;
}

std::size_t WeightSet::bytes() const {
  auto one = [](const Operand& o) -> std::size_t {
    if (o.encrypted) return o.ct.size() * o.ct[0].n() * o.ct[0].num_limbs() * 8;
    return o.pt.poly().n() * o.pt.poly().num_limbs() * 8;
  };
  std::size_t s = 0;
  for (const auto& st : weights)
    for (const auto& o : st) s += one(o);
  for (const auto& o : bias) s += one(o);
  return s;
}

namespace {

long floor_div(long a, long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Chooses the baby-step size minimising (#distinct non-zero babies + #distinct non-zero giants)
// for the diagonal offsets `ds`, and groups them.
void group_bsgs(const std::vector<int>& ds, StagePlan& p) {
  long lo = *std::min_element(ds.begin(), ds.end()), hi = *std::max_element(ds.begin(), ds.end());
  const long range = hi - lo + 1;
  const long max_bs = std::max<long>(1, static_cast<long>(2 * std::sqrt(static_cast<double>(range))) + 2);
  long best_bs = 1, best_cost = -1;
  for (long bs = 1; bs <= max_bs; ++bs) {
    std::set<long> rs, gs;
    for (int d : ds) {
      const long gi = floor_div(d, bs);
      if (d - gi * bs) rs.insert(d - gi * bs);
      if (gi) gs.insert(gi);
    }
    const long cost = static_cast<long>(rs.size() + gs.size());
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best_bs = bs;
    }
  }
  p.bs = static_cast<int>(best_bs);
  std::map<long, std::vector<int>> groups;
  for (int d : ds) {
    const long gi = floor_div(d, best_bs);
    groups[gi].push_back(static_cast<int>(d - gi * best_bs));
  }
  for (auto& [gi, rs] : groups) {
    p.giants.push_back(static_cast<int>(gi));
    std::sort(rs.begin(), rs.end());
    p.babies.push_back(rs);
  }
}

// Dense copy of a sparse linear map with its structural mask.
struct Dense {
  int m = 0, n = 0;
  std::vector<double> v;
  std::vector<char> s;
  double at(int i, int j) const { return v[static_cast<std::size_t>(i) * n + j]; }
  bool structural(int i, int j) const { return s[static_cast<std::size_t>(i) * n + j] != 0; }
};
Dense densify(const SparseLinear& l) {
  Dense d;
  d.m = l.out_dim;
  d.n = l.in_dim;
  d.v.assign(static_cast<std::size_t>(d.m) * d.n, 0.0);
  d.s.assign(d.v.size(), 0);
  for (int r = 0; r < l.out_dim; ++r)
    for (int e = l.row_ptr[r]; e < l.row_ptr[r + 1]; ++e) {
      d.v[static_cast<std::size_t>(r) * d.n + l.cols[e]] = l.vals[e];
      d.s[static_cast<std::size_t>(r) * d.n + l.cols[e]] = 1;
    }
  return d;
}

}  // namespace

SingleEngine::SingleEngine(Circuit circuit, ckks::ContextPtr ctx, int threads)
    : circuit_(std::move(circuit)), ctx_(std::move(ctx)), encoder_(ctx_), threads_(std::max(1, threads)) {
  const int S = static_cast<int>(ctx_->slots());
  const std::size_t top = ctx_->max_level();
  HEAL_REQUIRE(static_cast<std::size_t>(circuit_.depth()) + 1 <= top,
               "SingleEngine: circuit depth " << circuit_.depth() << " needs " << circuit_.depth() + 2 << " Q primes, context has " << top + 1);
  std::size_t level = top;
  double scale = ctx_->default_scale();
  bool clean = true;
  for (std::size_t i = 0; i < circuit_.linears.size(); ++i) {
    const SparseLinear& l = circuit_.linears[i];
    HEAL_REQUIRE(l.out_dim <= S, "SingleEngine: stage " << i << " has " << l.out_dim << " outputs, more than " << S << " slots (use a larger N or batch mode)");
    if (i > 0) {  // square + rescale
      scale = scale * scale / static_cast<double>(ctx_->q(level).value());
      --level;
    }
    StagePlan p;
    p.in_dim = l.in_dim;
    p.out_dim = l.out_dim;
    p.level = level;
    p.scale_in = scale;
    const int K = l.max_row_nnz();
    const int g = std::max(1, std::min(K, S / l.out_dim));
    const int T = (K + g - 1) / g;
    if (i == 0 && T <= kMaxGatherCiphertexts) {
      p.kind = StageKind::kGather;
      p.g = g;
      p.t_cts = T;
      p.k_terms = K;
      clean = true;
    } else {
      HEAL_REQUIRE(l.in_dim <= S, "SingleEngine: stage " << i << " has " << l.in_dim << " inputs, more than " << S << " slots");
      const Dense d = densify(l);
      int n_pad = 0;
      // Not for the last stage: hybrid leaves partial sums of W x after the logits (privacy.h).
      if (clean && l.out_dim <= l.in_dim && i + 1 < circuit_.linears.size()) {
        int np = l.out_dim;
        while (np < l.in_dim) np *= 2;
        if (2 * np <= S) n_pad = np;
      }
      std::vector<int> ds;
      if (n_pad) {
        p.kind = StageKind::kHybrid;
        p.n_pad = n_pad;
        for (int dd = 0; dd < l.out_dim; ++dd) {
          bool any = false;
          for (int j = 0; j < n_pad && !any; ++j) {
            const int col = (j + dd) % n_pad;
            any = col < l.in_dim && d.structural(j % l.out_dim, col);
          }
          if (any) ds.push_back(dd);
        }
        clean = false;
      } else {
        p.kind = StageKind::kDiagonal;
        std::vector<char> has(static_cast<std::size_t>(l.in_dim + l.out_dim), 0);
        for (int r = 0; r < l.out_dim; ++r)
          for (int e = l.row_ptr[r]; e < l.row_ptr[r + 1]; ++e) has[l.cols[e] - r + l.out_dim] = 1;
        for (int k = 0; k < static_cast<int>(has.size()); ++k)
          if (has[k]) ds.push_back(k - l.out_dim);
        clean = true;
      }
      HEAL_REQUIRE(!ds.empty(), "SingleEngine: stage " << i << " has no non-zero diagonal");
      group_bsgs(ds, p);
    }
    plan_.push_back(std::move(p));
    --level;  // the stage's rescale (scale unchanged: weights are encoded at q_level)
  }
  // Output flood (privacy.h), added before the last rescale. B: the key switches after the last
  // products (giant or block rotations, and with encrypted weights one relinearization per group)
  // plus the encrypted bias. The weights of the last stage are encoded 2^boost larger so that the
  // flood costs at most 2^-kFloodPrecisionBits per slot; the levels must hold the larger logits.
  const StagePlan& last = plan_.back();
  const std::size_t groups = last.kind == StageKind::kGather ? static_cast<std::size_t>(last.g) : last.giants.size();
  flood_.noise_bound = key_switch_noise_bound(*ctx_, 2 * groups + 1);
  flood_.sigma = flood_sigma(*ctx_, flood_.noise_bound);
  flood_.level = last.level;
  const double q_last = static_cast<double>(ctx_->q(last.level).value());
  const double s0 = last.scale_in * q_last;
  const double need = std::log2(flood_.sigma * std::sqrt(static_cast<double>(ctx_->n()) / 2)) + kFloodPrecisionBits - std::log2(s0);
  double log_q = 0;  // log2 Q_(level - 1)
  for (std::size_t j = 0; j < last.level; ++j) log_q += std::log2(static_cast<double>(ctx_->q(j).value()));
  // Room: Q_level > 2^headroom * s0 * 2^boost and Q_(level-1) > 2^headroom * scale_in * 2^boost.
  const double room = std::min(log_q + std::log2(q_last) - std::log2(s0), log_q - std::log2(last.scale_in)) - 1 - kLogitHeadroomBits;
  boost_bits_ = std::max(0, static_cast<int>(std::ceil(need)));
  HEAL_REQUIRE(boost_bits_ <= room, "SingleEngine: no room for the circuit-privacy flood at N = " << ctx_->n() << ": the last stage needs "
                                        << boost_bits_ << " more bits of scale, the modulus leaves " << std::floor(room)
                                        << " (use a larger N)");
  flood_.scale = s0 * std::ldexp(1.0, boost_bits_);
}

double SingleEngine::weight_scale(std::size_t stage) const {
  const double q = static_cast<double>(ctx_->q(plan_[stage].level).value());
  return stage + 1 == plan_.size() ? q * std::ldexp(1.0, boost_bits_) : q;
}
double SingleEngine::bias_scale(std::size_t stage) const {
  const StagePlan& p = plan_[stage];
  const double q = static_cast<double>(ctx_->q(p.level).value());
  if (stage + 1 == plan_.size()) return p.scale_in * q * std::ldexp(1.0, boost_bits_);  // before the rescale
  return p.scale_in * q / q;  // after the stage's rescale, computed as the evaluator does
}
std::size_t SingleEngine::bias_level(std::size_t stage) const {
  return stage + 1 == plan_.size() ? plan_[stage].level : plan_[stage].level - 1;
}

std::size_t SingleEngine::input_ciphertexts() const {
  return plan_[0].kind == StageKind::kGather ? static_cast<std::size_t>(plan_[0].t_cts) : 1;
}

std::vector<long> SingleEngine::rotation_steps() const {
  std::set<long> steps;
  for (const auto& p : plan_) {
    if (p.kind == StageKind::kGather) {
      for (int b = 1; b < p.g; ++b) steps.insert(static_cast<long>(b) * p.out_dim);
      continue;
    }
    if (p.kind == StageKind::kHybrid) {
      steps.insert(-static_cast<long>(p.n_pad));
      for (long s = p.out_dim; s < p.n_pad; s *= 2) steps.insert(s);
    }
    for (std::size_t k = 0; k < p.giants.size(); ++k) {
      if (p.giants[k]) steps.insert(static_cast<long>(p.giants[k]) * p.bs);
      for (int r : p.babies[k])
        if (r) steps.insert(r);
    }
  }
  return {steps.begin(), steps.end()};
}

OpCounts SingleEngine::op_counts(bool enc) const {
  OpCounts c;
  for (std::size_t i = 0; i < plan_.size(); ++i) {
    const auto& p = plan_[i];
    if (i > 0) {
      ++c.ct_ct_mul;
      ++c.relin;
      ++c.rescale;
    }
    const std::size_t w = p.num_weights();
    (enc ? c.ct_ct_mul : c.ct_pt_mul) += w;
    c.add += w + 1;
    const bool last = i + 1 == plan_.size();  // one rescale after the flood instead of one per group
    if (last) ++c.add;                         // the flood
    if (p.kind == StageKind::kGather) {
      c.rotations += static_cast<std::size_t>(p.g - 1);
      c.rescale += last ? 1 : static_cast<std::size_t>(p.g);
      if (enc) c.relin += static_cast<std::size_t>(p.g);
      continue;
    }
    std::set<int> rs;
    for (const auto& b : p.babies)
      for (int r : b)
        if (r) rs.insert(r);
    c.hoisted_rotations += rs.size();
    for (int gi : p.giants)
      if (gi) ++c.rotations;
    c.rescale += last ? 1 : p.giants.size();
    if (enc) c.relin += p.giants.size();
    if (p.kind == StageKind::kHybrid) {
      ++c.rotations;
      for (long s = p.out_dim; s < p.n_pad; s *= 2) ++c.rotations;
    }
  }
  return c;
}

std::vector<std::vector<double>> SingleEngine::weight_vectors(std::size_t stage) const {
  const StagePlan& p = plan_[stage];
  const SparseLinear& l = circuit_.linears[stage];
  const int S = static_cast<int>(ctx_->slots());
  std::vector<std::vector<double>> out;
  if (p.kind == StageKind::kGather) {
    for (int t = 0; t < p.t_cts; ++t)
      for (int b = 0; b < p.g; ++b) {
        std::vector<double> v(S, 0.0);
        const int k = t * p.g + b;
        for (int r = 0; r < l.out_dim; ++r)
          if (k < l.row_ptr[r + 1] - l.row_ptr[r]) v[b * l.out_dim + r] = l.vals[l.row_ptr[r] + k];
        out.push_back(std::move(v));
      }
    return out;
  }
  const Dense d = densify(l);
  for (std::size_t k = 0; k < p.giants.size(); ++k) {
    const long shift = static_cast<long>(p.giants[k]) * p.bs;
    for (int r : p.babies[k]) {
      const long dd = shift + r;
      std::vector<double> diag(S, 0.0);
      if (p.kind == StageKind::kHybrid) {
        for (int j = 0; j < p.n_pad; ++j) {
          const int col = static_cast<int>((j + dd) % p.n_pad);
          if (col < l.in_dim) diag[j] = d.at(j % l.out_dim, col);
        }
      } else {
        for (int i = 0; i < l.out_dim; ++i) {
          const long j = i + dd;
          if (j >= 0 && j < l.in_dim) diag[i] = d.at(i, static_cast<int>(j));
        }
      }
      // Pre-rotate right by shift so that the giant rotation left by shift restores it.
      std::vector<double> v(S);
      for (int j = 0; j < S; ++j) v[j] = diag[static_cast<std::size_t>(((j - shift) % S + S) % S)];
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::vector<double> SingleEngine::bias_vector(std::size_t stage) const {
  std::vector<double> v(ctx_->slots(), 0.0);
  const auto& b = circuit_.linears[stage].bias;
  std::copy(b.begin(), b.end(), v.begin());
  return v;
}

}  // namespace heal::he_infer
