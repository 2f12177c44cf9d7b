// Collective bootstrapping (interactive refresh), ePrint 2020/304 Sec. IV-D; see refresh.h.
#include "heal/ckks/multiparty/refresh.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "heal/ckks/params.h"
#include "heal/core/bytes.h"
#include "heal/core/check.h"
#include "heal/core/hash.h"
#include "heal/math/base_converter.h"
#include "heal/math/sampler.h"
#include "heal/math/shamir.h"
#include "multiparty_internal.h"

namespace heal::ckks::multiparty {

using math::RnsPoly;
using math::u128;

namespace {

constexpr std::uint64_t kRefreshStream = 0x52465348;  // "RFSH": stream of a' under the refresh seed
constexpr int kMaxMaskBits = 125;                     // masks are drawn as 128-bit words

// Mask uniform in [-2^bits, 2^bits) over the first `limbs` primes of `basis`, NTT form.
RnsPoly sample_mask(Rng& rng, const math::RnsBasis& basis, std::size_t limbs, int bits) {
  const std::size_t n = basis.n();
  const u128 offset = u128{1} << bits;
  const u128 keep = (offset << 1) - 1;
  std::vector<u128> u(n);
  for (auto& x : u) {
    const u128 lo = rng.next_u64(), hi = rng.next_u64();
    x = ((hi << 64) | lo) & keep;
  }
  RnsPoly m = RnsPoly::uninitialized(n, limbs, false);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = basis.modulus(i);
    const u64 off = q.reduce128(offset);
    u64* o = m.limb(i);
    for (std::size_t t = 0; t < n; ++t) o[t] = q.sub(q.reduce128(u[t]), off);
  }
  secure_wipe(u.data(), u.size() * sizeof(u128));
  m.ntt_inplace(basis);
  return m;
}

// The exact lift of x (coefficient form over q_0..q_l, centered value |x| < Q_l / 4) to
// q_0..q_L: residues of the centered representative. HPS-style exact conversion (ePrint 2018/117)
// of x + H, H = (Q_l - 1) / 2, whose value lies in [Q_l / 4, 3 Q_l / 4], far from the multiples
// of Q_l where the floating-point overflow estimate could be off; H is subtracted afterwards.
RnsPoly lift_centered(const Context& ctx, const RnsPoly& x) {
  const std::size_t n = ctx.n(), src = x.num_limbs(), all = ctx.q_count();
  RnsPoly out = RnsPoly::uninitialized(n, all, false);
  std::memcpy(out.data(), x.data(), src * n * sizeof(u64));
  if (src == all) return out;
  const auto& qb = ctx.q_basis();
  std::vector<math::Modulus> from(qb.moduli().begin(), qb.moduli().begin() + static_cast<std::ptrdiff_t>(src));
  std::vector<math::Modulus> to(qb.moduli().begin() + static_cast<std::ptrdiff_t>(src), qb.moduli().end());
  const math::BaseConverter conv(from, to);
  std::vector<u64> y(src * n), v(n);
  for (std::size_t i = 0; i < src; ++i) {
    const math::Modulus& q = from[i];
    const u64 h = (q.value() - 1) / 2;  // H mod q_i = -2^-1 mod q_i
    const u64* xi = x.limb(i);
    for (std::size_t t = 0; t < n; ++t) y[i * n + t] = q.add(xi[t], h);
  }
  conv.scale_inputs(y.data(), y.data(), n);
  conv.overflow_counts(y.data(), v.data(), n);
  for (std::size_t j = 0; j < to.size(); ++j) {
    const math::Modulus& p = to[j];
    u64 ql = 1;
    for (const auto& q : from) ql = p.mul(ql, p.reduce(q.value()));
    const u64 h = p.mul(p.sub(ql, 1), p.inv(2));  // H mod p_j
    u64* o = out.limb(src + j);
    conv.convert_limb_exact(y.data(), v.data(), j, o, n);
    for (std::size_t t = 0; t < n; ++t) o[t] = p.sub(o[t], h);
  }
  return out;
}

std::vector<PartyId> sorted_unique(std::span<const PartyId> ids, const char* op) {
  std::vector<PartyId> s(ids.begin(), ids.end());
  std::sort(s.begin(), s.end());
  HEAL_REQUIRE(std::adjacent_find(s.begin(), s.end()) == s.end(), op << ": a party is listed twice");
  return s;
}

}  // namespace

CollectiveBootstrapper::CollectiveBootstrapper(ContextPtr ctx, const Seed& crs, RefreshParams params)
    : ctx_(std::move(ctx)), crs_(crs), params_(params), sigma_(0) {
  HEAL_REQUIRE(ctx_ != nullptr, "CollectiveBootstrapper: null context");
  HEAL_REQUIRE(std::isfinite(params_.message_bound) && params_.message_bound > 0,
               "CollectiveBootstrapper: message_bound (bound on |slot value| of the refreshed messages) must be "
               "stated (> 0, finite)");
  sigma_ = flooding_sigma(*ctx_, params_.flooding);
  HEAL_REQUIRE(sigma_ <= 0x1p55, "CollectiveBootstrapper: flooding sigma 2^"
                                     << std::log2(sigma_) << " is too large (B_ct or max_decryptions too big)");
}

Seed CollectiveBootstrapper::refresh_seed(const Ciphertext& ct, std::uint64_t session) const {
  Blake2b h;
  h.update("heal.ckks.multiparty.refresh.v1");
  h.update(std::span<const std::uint8_t>(crs_.data(), crs_.size()));
  const std::uint64_t meta[4] = {session, ct.level(), ct.slots(), std::bit_cast<std::uint64_t>(ct.scale())};
  h.update(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(meta), sizeof(meta)));
  for (const auto& p : ct.polys()) {
    h.update(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(p.data()),
                                           p.num_limbs() * p.n() * sizeof(u64)));
  }
  const Digest d = h.finish();
  Seed s;
  std::memcpy(s.data(), d.data(), s.size());
  return s;
}

int CollectiveBootstrapper::mask_bits(const Ciphertext& ct) const {
  const double bm = ct.scale() * params_.message_bound + effective_noise_bound(*ctx_, params_.flooding);
  return static_cast<int>(
      std::ceil(params_.flooding.security_bits + std::log2(static_cast<double>(ctx_->n())) + std::log2(bm)));
}

double CollectiveBootstrapper::combined_bound_bits(const Ciphertext& ct, std::size_t shares) const {
  // |m + e_ct| <= scale * message_bound + B_ct; each share adds |M_i| <= 2^b and |e0_i| <= 6 sigma
  // (sample_gaussian truncates at 6 sigma).
  const double bm = ct.scale() * params_.message_bound + effective_noise_bound(*ctx_, params_.flooding);
  const double per = std::exp2(mask_bits(ct)) + 6 * sigma_;
  return std::log2(bm + static_cast<double>(shares) * per);
}

void CollectiveBootstrapper::check_ciphertext(const Ciphertext& ct, const char* op) const {
  HEAL_REQUIRE(ct.size() == 2, op << ": relinearize first (ciphertext has " << ct.size() << " polynomials)");
  HEAL_REQUIRE(ct[0].n() == ctx_->n() && ct[1].n() == ctx_->n() && ct[0].num_limbs() == ct[1].num_limbs() &&
                   ct[1].num_limbs() >= 1 && ct[1].num_limbs() <= ctx_->q_count() && ct[0].is_ntt() && ct[1].is_ntt(),
               op << ": ciphertext does not match the context");
  HEAL_REQUIRE(ct.scale() > 0 && std::isfinite(ct.scale()), op << ": ciphertext scale must be positive");
}

Status CollectiveBootstrapper::check_share(const Ciphertext& ct, std::size_t shares) const {
  if (!(ct.scale() > 0) || !std::isfinite(ct.scale())) {
    return Status::invalid_argument("CollectiveBootstrapper: ciphertext scale must be positive");
  }
  const std::size_t k = std::max(shares, params_.flooding.parties);
  const int mb = mask_bits(ct);
  if (mb > kMaxMaskBits) {
    return Status::failed_precondition("CollectiveBootstrapper: masks of 2^" + std::to_string(mb) +
                                       " exceed the supported 2^" + std::to_string(kMaxMaskBits) +
                                       " (scale * message_bound too large)");
  }
  const double need = combined_bound_bits(ct, k);
  const double have = ctx_->q_basis().slice(0, ct.level() + 1).log2_product();
  if (need > have - 2) {
    std::size_t level = ct.level();
    while (level < ctx_->max_level() && need > ctx_->q_basis().slice(0, level + 1).log2_product() - 2) ++level;
    const bool any = need <= ctx_->q_basis().log2_product() - 2;
    return Status::failed_precondition(
        "CollectiveBootstrapper: refusing to produce a share: the masks would wrap: Q_l = 2^" + std::to_string(have) +
        " at level " + std::to_string(ct.level()) + " is too small for " + std::to_string(k) + " masks of 2^" +
        std::to_string(mb) + " plus the message (sum 2^" + std::to_string(need) + ", must stay below Q_l / 4); " +
        (any ? "refresh at level >= " + std::to_string(level)
             : std::string("no level of this context is large enough")));
  }
  const Status st =
      check_flooding_precision(*ctx_, params_.flooding, k, ct.scale(), params_.flooding.required_bits, ct.slots());
  if (!st.ok()) return st.with_context("CollectiveBootstrapper: refusing to produce a share");
  return {};
}

RefreshShare CollectiveBootstrapper::share_with(PartyId party, const Ciphertext& ct, std::uint64_t session,
                                                std::size_t shares, const RnsPoly& s, Rng& rng) {
  const Status ok = check_share(ct, shares);
  HEAL_REQUIRE(ok.ok(), ok.message());
  HEAL_REQUIRE(
      generated_ < params_.flooding.max_decryptions,
      "CollectiveBootstrapper: " << params_.flooding.max_decryptions
                                 << " refreshes already shared under this flooding bound; rotate keys (new epoch)");
  const Seed seed = refresh_seed(ct, session);
  HEAL_REQUIRE(used_seeds_.count(seed) == 0,
               "CollectiveBootstrapper: this ciphertext was already refreshed in session "
                   << session << " (a second share for one a' would leak the difference of the messages)");
  used_seeds_.insert(seed);
  ++generated_;

  const auto& qb = ctx_->q_basis();
  const std::size_t n = ctx_->n(), limbs = ct.level() + 1, all = ctx_->q_count();
  RnsPoly mask = sample_mask(rng, qb, all, mask_bits(ct));
  RefreshShare sh;
  sh.party = party;
  sh.parties = {party};
  sh.session = session;
  sh.seed = seed;
  // h0 = s c1 + M + e0 over Q_l.
  sh.h0 = detail::gaussian_ntt(rng, qb, limbs, sigma_);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = qb.modulus(i);
    const u64 *c1 = ct[1].limb(i), *si = s.limb(i), *mi = mask.limb(i);
    u64* o = sh.h0.limb(i);
    for (std::size_t t = 0; t < n; ++t) o[t] = q.add(q.add(o[t], mi[t]), q.mul(c1[t], si[t]));
  }
  // h1 = -s a' - M + e1 over Q_L.
  const RnsPoly a = math::expand_uniform_poly(seed, kRefreshStream, qb, all, true);
  sh.h1 = detail::gaussian_ntt(rng, qb, all, math::kDefaultSigma);
  for (std::size_t i = 0; i < all; ++i) {
    const math::Modulus& q = qb.modulus(i);
    const u64 *ai = a.limb(i), *si = s.limb(i), *mi = mask.limb(i);
    u64* o = sh.h1.limb(i);
    for (std::size_t t = 0; t < n; ++t) o[t] = q.sub(q.sub(o[t], mi[t]), q.mul(ai[t], si[t]));
  }
  mask.wipe();
  return sh;
}

RefreshShare CollectiveBootstrapper::gen_share(PartyId party, const Ciphertext& ct, std::uint64_t session,
                                               const SecretKey& s_i, Rng& rng) {
  detail::check_secret(*ctx_, s_i.poly(), "CollectiveBootstrapper::gen_share");
  check_ciphertext(ct, "CollectiveBootstrapper::gen_share");
  return share_with(party, ct, session, params_.flooding.parties, s_i.poly(), rng);
}

RefreshShare CollectiveBootstrapper::gen_share(const ThresholdSecret& secret, std::span<const PartyId> quorum,
                                               const Ciphertext& ct, std::uint64_t session, Rng& rng) {
  detail::check_secret(*ctx_, secret.share.poly(), "CollectiveBootstrapper::gen_share");
  check_ciphertext(ct, "CollectiveBootstrapper::gen_share");
  HEAL_REQUIRE(secret.threshold >= 1 && quorum.size() >= secret.threshold,
               "CollectiveBootstrapper::gen_share: quorum of " << quorum.size() << " is below the threshold "
                                                               << secret.threshold);
  const std::vector<PartyId> sorted = sorted_unique(quorum, "CollectiveBootstrapper::gen_share");
  const auto it = std::find(quorum.begin(), quorum.end(), secret.party);
  HEAL_REQUIRE(it != quorum.end(),
               "CollectiveBootstrapper::gen_share: party " << secret.party << " is not in the quorum");
  std::vector<u64> xs(quorum.begin(), quorum.end());
  const std::size_t index = static_cast<std::size_t>(it - quorum.begin());
  // Only the Q limbs of the key-basis share are needed.
  const std::size_t qc = ctx_->q_count();
  RnsPoly sq(ctx_->n(), qc, true);
  std::memcpy(sq.data(), secret.share.poly().data(), qc * ctx_->n() * sizeof(u64));
  RnsPoly additive = math::lagrange_scale_poly(sq, xs, index, ctx_->q_basis());
  sq.wipe();
  RefreshShare sh = share_with(secret.party, ct, session, quorum.size(), additive, rng);
  additive.wipe();
  sh.quorum = sorted;
  return sh;
}

RefreshShare CollectiveBootstrapper::aggregate_shares(std::span<const RefreshShare> shares) const {
  HEAL_REQUIRE(!shares.empty(), "CollectiveBootstrapper::aggregate_shares: no shares");
  const RefreshShare& first = shares[0];
  RefreshShare out;
  out.session = first.session;
  out.seed = first.seed;
  out.quorum = first.quorum;
  out.h0 = first.h0;
  out.h1 = first.h1;
  for (std::size_t k = 0; k < shares.size(); ++k) {
    const auto& s = shares[k];
    HEAL_REQUIRE(
        s.seed == first.seed && s.session == first.session,
        "CollectiveBootstrapper::aggregate_shares: shares for different ciphertexts or sessions (a' seeds differ)");
    HEAL_REQUIRE(s.quorum == first.quorum,
                 "CollectiveBootstrapper::aggregate_shares: shares made for different quorums");
    HEAL_REQUIRE(s.h0.n() == ctx_->n() && s.h0.num_limbs() == first.h0.num_limbs() && s.h0.num_limbs() >= 1 &&
                     s.h0.num_limbs() <= ctx_->q_count() && s.h0.is_ntt() && s.h1.n() == ctx_->n() &&
                     s.h1.num_limbs() == ctx_->q_count() && s.h1.is_ntt(),
                 "CollectiveBootstrapper::aggregate_shares: shares at different levels or not matching the context");
    if (k > 0) {
      out.h0.add_inplace(s.h0, ctx_->q_basis());
      out.h1.add_inplace(s.h1, ctx_->q_basis());
    }
    out.parties.insert(out.parties.end(), s.parties.begin(), s.parties.end());
  }
  detail::sort_unique_parties(out.parties, "CollectiveBootstrapper::aggregate_shares");
  out.party = out.parties.size() == 1 ? out.parties[0] : 0;
  return out;
}

Ciphertext CollectiveBootstrapper::finalize(const Ciphertext& ct, const RefreshShare& aggregate) const {
  check_ciphertext(ct, "CollectiveBootstrapper::finalize");
  const auto& qb = ctx_->q_basis();
  const std::size_t all = ctx_->q_count();
  HEAL_REQUIRE(aggregate.h0.num_limbs() == ct[0].num_limbs() && aggregate.h0.n() == ctx_->n() &&
                   aggregate.h0.is_ntt() && aggregate.h1.num_limbs() == all && aggregate.h1.n() == ctx_->n() &&
                   aggregate.h1.is_ntt(),
               "CollectiveBootstrapper::finalize: share level does not match the ciphertext");
  HEAL_REQUIRE(aggregate.seed == refresh_seed(ct, aggregate.session),
               "CollectiveBootstrapper::finalize: the shares were made for another ciphertext or session");
  if (!aggregate.quorum.empty()) {
    HEAL_REQUIRE(aggregate.parties == aggregate.quorum,
                 "CollectiveBootstrapper::finalize: " << aggregate.parties.size() << " of the "
                                                      << aggregate.quorum.size() << " quorum members' shares");
  } else {
    HEAL_REQUIRE(aggregate.parties.size() >= params_.flooding.parties,
                 "CollectiveBootstrapper::finalize: " << aggregate.parties.size() << " shares, "
                                                      << params_.flooding.parties << " parties expected");
  }
  HEAL_REQUIRE(
      combined_bound_bits(ct, aggregate.parties.size()) <= qb.slice(0, ct.level() + 1).log2_product() - 2,
      "CollectiveBootstrapper::finalize: the masks of " << aggregate.parties.size() << " shares could wrap mod Q_l");
  // c0' = c0 + sum h0 = m + e_ct + sum M + sum e0 (no wrap), lifted exactly to Q_L.
  RnsPoly c0 = ct[0];
  c0.add_inplace(aggregate.h0, qb);
  c0.intt_inplace(qb);
  RnsPoly lifted = lift_centered(*ctx_, c0);
  lifted.ntt_inplace(qb);
  lifted.add_inplace(aggregate.h1, qb);
  RnsPoly a = math::expand_uniform_poly(aggregate.seed, kRefreshStream, qb, all, true);
  std::vector<RnsPoly> polys;
  polys.push_back(std::move(lifted));
  polys.push_back(std::move(a));
  return Ciphertext(std::move(polys), ct.scale(), ct.slots());
}

}  // namespace heal::ckks::multiparty
