#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <sstream>

#include "heal/ckks/params.h"

namespace heal::ckks {

struct Context::Impl {
  std::mutex mu;
  std::map<std::uint64_t, std::vector<std::uint32_t>> perms;
};

Context::Context() : impl_(std::make_unique<Impl>()) {}
Context::~Context() = default;

// Bossuat et al., ePrint 2024/463, Table 5.2: 128-bit classical security, uniform ternary secret.
int max_secure_log_qp(int log_n) {
  switch (log_n) {
    case 12: return 106;
    case 13: return 214;
    case 14: return 430;
    case 15: return 868;
    case 16: return 1747;
    default: return 0;
  }
}

namespace {
// Sparse ternary secrets, 128-bit classical (lattice-estimator runs of the ePrint 2024/463 companion
// scripts, sparse-tables.py: Hamming weight 128 and 256, N = 2^14..2^16). No entry below 2^14.
int sparse_log_qp_bound(int log_n, std::size_t hamming_weight) {
  const bool h256 = hamming_weight >= 256;
  switch (log_n) {
    case 14: return h256 ? 413 : 361;
    case 15: return h256 ? 818 : 718;
    case 16: return h256 ? 1637 : 1450;
    default: return 0;
  }
}
}  // namespace

int max_secure_log_qp(const ParamsSpec& spec) {
  const int uniform = max_secure_log_qp(spec.log_n);
  if (spec.secret != SecretDistribution::kTernaryHamming) return uniform;
  if (spec.hamming_weight < kMinSparseHammingWeight) return 0;
  return std::min(uniform, sparse_log_qp_bound(spec.log_n, spec.hamming_weight));
}

std::string security_violation(const ParamsSpec& spec, double log_qp) {
  std::ostringstream os;
  if (spec.log_n < 12 || spec.log_n > 16) {
    os << "ring degree N = 2^" << spec.log_n << " has no 128-bit bound (secure N are 2^12..2^16)";
    return os.str();
  }
  const bool sparse = spec.secret == SecretDistribution::kTernaryHamming;
  if (sparse && spec.hamming_weight < kMinSparseHammingWeight) {
    os << "sparse secret Hamming weight " << spec.hamming_weight << " is below the minimum of "
       << kMinSparseHammingWeight << " for 128-bit security (hybrid attacks, ePrint 2019/1019, 2019/1114)";
    return os.str();
  }
  const int bound = max_secure_log_qp(spec);
  if (bound == 0) {
    os << "no 128-bit estimate for a sparse secret (Hamming weight " << spec.hamming_weight << ") at N = 2^"
       << spec.log_n << "; sparse secrets need N >= 2^14";
    return os.str();
  }
  if (log_qp > bound) {
    os << "log2(Q*P) = " << log_qp << " bits exceeds the 128-bit security bound of " << bound << " bits for N = 2^"
       << spec.log_n;
    if (sparse) {
      os << " with a sparse secret of Hamming weight " << spec.hamming_weight
         << " (lattice-estimator, ePrint 2024/463 companion tables)";
    } else {
      os << " (ePrint 2024/463 Table 5.2, ternary secret)";
    }
    os << "; use fewer/smaller primes or a larger N";
  }
  return os.str();
}

namespace {
// Assigns primes to the requested bit sizes: for each bit size, distinct primes descending from 2^bits.
std::vector<u64> choose_primes(const std::vector<int>& bits, std::size_t n) {
  std::map<int, std::size_t> need;
  for (int b : bits) need[b]++;
  std::map<int, std::vector<u64>> pool;
  for (auto [b, count] : need) pool[b] = math::generate_ntt_primes(b, count, n);
  std::map<int, std::size_t> used;
  std::vector<u64> out;
  for (int b : bits) out.push_back(pool[b][used[b]++]);
  return out;
}
}  // namespace

std::shared_ptr<const Context> Context::create(const ParamsSpec& spec) {
  HEAL_REQUIRE(spec.log_n >= 2 && spec.log_n <= 16, "ParamsSpec: log_n must be in [2, 16], got " << spec.log_n);
  HEAL_REQUIRE(spec.allow_insecure || spec.log_n >= 12,
               "ParamsSpec: log_n must be in [12, 16] for 128-bit security (smaller only with allow_insecure, "
               "set by the calling code), got "
                   << spec.log_n);
  HEAL_REQUIRE(!spec.q_bits.empty(), "ParamsSpec: need at least one Q prime");
  HEAL_REQUIRE(!spec.p_bits.empty(), "ParamsSpec: need at least one special (P) prime for key switching");
  HEAL_REQUIRE(spec.q_bits.size() + spec.p_bits.size() <= 64, "ParamsSpec: at most 64 primes in total");
  for (int b : spec.q_bits) HEAL_REQUIRE(b >= 20 && b <= 60, "ParamsSpec: Q prime sizes must be in [20, 60] bits, got " << b);
  for (int b : spec.p_bits) HEAL_REQUIRE(b >= 20 && b <= 60, "ParamsSpec: P prime sizes must be in [20, 60] bits, got " << b);
  HEAL_REQUIRE(spec.default_scale >= 1.0 && std::isfinite(spec.default_scale), "ParamsSpec: default_scale must be >= 1");
  const std::size_t n = std::size_t{1} << spec.log_n;
  HEAL_REQUIRE(spec.secret != SecretDistribution::kTernaryHamming ||
                   (spec.hamming_weight > 0 && spec.hamming_weight <= n),
               "ParamsSpec: hamming_weight must be in [1, N]");
  HEAL_REQUIRE(spec.dnum <= spec.q_bits.size(), "ParamsSpec: dnum must be <= number of Q primes (" << spec.q_bits.size() << ")");

  std::vector<int> all_bits = spec.q_bits;
  all_bits.insert(all_bits.end(), spec.p_bits.begin(), spec.p_bits.end());
  const std::vector<u64> primes = choose_primes(all_bits, n);
  // The security check runs on the primes alone, before any table is built (cheap refusal).
  double log_qp = 0;
  for (u64 p : primes) log_qp += std::log2(static_cast<double>(p));
  const std::string violation = security_violation(spec, log_qp);
  HEAL_REQUIRE(spec.allow_insecure || violation.empty(), "ParamsSpec: " << violation);

  std::shared_ptr<Context> ctx(new Context());
  ctx->spec_ = spec;
  ctx->n_ = n;
  ctx->secure_ = violation.empty();
  ctx->q_count_ = spec.q_bits.size();
  ctx->p_count_ = spec.p_bits.size();
  ctx->key_basis_ = math::RnsBasis(spec.log_n, primes);
  ctx->q_basis_ = ctx->key_basis_.slice(0, ctx->q_count_);
  ctx->p_basis_ = ctx->key_basis_.slice(ctx->q_count_, primes.size());

  for (std::size_t l = 0; l < ctx->q_count_; ++l) {
    ctx->qp_bases_.push_back(ctx->q_basis_.slice(0, l + 1).concat(ctx->p_basis_));
  }
  ctx->dnum_ = spec.dnum == 0 ? ctx->q_count_ : spec.dnum;
  ctx->alpha_ = (ctx->q_count_ + ctx->dnum_ - 1) / ctx->dnum_;
  ctx->dnum_ = (ctx->q_count_ + ctx->alpha_ - 1) / ctx->alpha_;  // effective number of digits
  const auto& all = ctx->key_basis_.moduli();
  for (std::size_t j = 0; j < ctx->dnum_; ++j) {
    const std::size_t b = j * ctx->alpha_, e = std::min(b + ctx->alpha_, ctx->q_count_);
    std::vector<math::BaseConverter> convs;
    for (std::size_t m = 1; m <= e - b; ++m) {
      std::vector<math::Modulus> src(all.begin() + static_cast<std::ptrdiff_t>(b),
                                     all.begin() + static_cast<std::ptrdiff_t>(b + m));
      convs.emplace_back(src, all);
    }
    ctx->digit_conv_.push_back(std::move(convs));
  }
  ctx->p_to_q_ = math::BaseConverter(ctx->p_basis_.moduli(), ctx->q_basis_.moduli());
  for (std::size_t i = 0; i < ctx->q_count_; ++i) {
    const math::Modulus& qi = ctx->q_basis_.modulus(i);
    u64 p = 1;
    for (std::size_t k = 0; k < ctx->p_count_; ++k) p = qi.mul(p, qi.reduce(ctx->p_basis_.modulus(k).value()));
    ctx->p_mod_q_.push_back(p);
    ctx->p_inv_mod_q_.emplace_back(qi.inv(p), qi.value());
  }
  // floor(P/2) = (P - 1)/2 (P odd) = (P mod m - 1) * 2^-1 mod m for any odd prime m.
  for (std::size_t i = 0; i < ctx->key_basis_.size(); ++i) {
    const math::Modulus& m = ctx->key_basis_.modulus(i);
    const u64 pm = i < ctx->q_count_ ? ctx->p_mod_q_[i] : 0;
    ctx->half_p_mod_.push_back(m.mul(m.sub(pm, 1), m.inv(2)));
  }
  return ctx;
}

const math::BaseConverter& Context::digit_converter(std::size_t level, std::size_t j) const {
  HEAL_REQUIRE(level < q_count_ && j < digits_at(level), "digit_converter: digit " << j << " inactive at level " << level);
  const std::size_t b = j * alpha_;
  const std::size_t active = std::min(b + alpha_, level + 1) - b;
  return digit_conv_[j][active - 1];
}

std::uint64_t Context::galois_elt_for_step(long step) const {
  const long slots = static_cast<long>(n_ / 2);
  long k = step % slots;
  if (k < 0) k += slots;
  const std::uint64_t m = 2 * n_;
  std::uint64_t g = 1, b = 5;
  for (auto e = static_cast<std::uint64_t>(k); e; e >>= 1) {
    if (e & 1) g = (g * b) % m;
    b = (b * b) % m;
  }
  return g;
}

const std::vector<std::uint32_t>& Context::galois_permutation(std::uint64_t galois_elt) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->perms.find(galois_elt);
  if (it == impl_->perms.end()) {
    it = impl_->perms.emplace(galois_elt, math::ntt_galois_permutation(spec_.log_n, galois_elt)).first;
  }
  return it->second;
}

std::string Context::describe() const {
  std::ostringstream os;
  os << "N=2^" << spec_.log_n << ", Q bits {";
  for (std::size_t i = 0; i < spec_.q_bits.size(); ++i) os << (i ? "," : "") << spec_.q_bits[i];
  os << "}, P bits {";
  for (std::size_t i = 0; i < spec_.p_bits.size(); ++i) os << (i ? "," : "") << spec_.p_bits[i];
  os << "}, dnum=" << dnum_ << ", log2(QP)=" << log_qp() << ", scale=2^" << std::log2(spec_.default_scale);
  return os.str();
}

ParamsSpec anchor_params(int log_n) {
  std::size_t levels = 0;
  switch (log_n) {
    case 13: levels = 2; break;
    case 14: levels = 7; break;
    case 15: levels = 18; break;  // the baseline's 19 (880 bits) exceeds the 2024 bound of 868
    case 16: levels = 40; break;
    default: HEAL_REQUIRE(false, "anchor_params: anchors exist for log_n 13..16, got " << log_n);
  }
  ParamsSpec s;
  s.log_n = log_n;
  s.q_bits.assign(1, 60);
  s.q_bits.insert(s.q_bits.end(), levels, 40);
  s.p_bits = {60};
  s.default_scale = 0x1p40;
  s.dnum = 0;
  return s;
}

ParamsSpec preset_for_depth(std::size_t depth) {
  for (int log_n = 13; log_n <= 16; ++log_n) {
    const std::size_t bits = 60 + 40 * depth + 60;
    if (bits <= static_cast<std::size_t>(max_secure_log_qp(log_n))) {
      ParamsSpec s;
      s.log_n = log_n;
      s.q_bits.assign(1, 60);
      s.q_bits.insert(s.q_bits.end(), depth, 40);
      s.p_bits = {60};
      return s;
    }
  }
  HEAL_REQUIRE(false, "preset_for_depth: depth " << depth << " needs more than 1747 bits (N = 2^16 limit)");
  return {};
}

}  // namespace heal::ckks
