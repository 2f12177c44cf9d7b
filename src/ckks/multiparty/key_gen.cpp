// Collective public, relinearization and Galois keys (Mouchet et al., ePrint 2020/304, §4).
#include "heal/ckks/multiparty/key_gen.h"

#include <cstring>

#include "heal/core/check.h"
#include "heal/core/hash.h"
#include "heal/math/sampler.h"
#include "multiparty_internal.h"

namespace heal::ckks::multiparty {

using math::RnsPoly;

namespace {
std::size_t share_count(const Context& ctx, ShareKind kind) {
  switch (kind) {
    case ShareKind::kPublicKey: return 1;
    case ShareKind::kRelinRound1:
    case ShareKind::kRelinRound2: return 2 * ctx.dnum();
    case ShareKind::kGaloisKey: return ctx.dnum();
    case ShareKind::kShamirSecret: return 1;
  }
  return 0;
}

RnsPoly crs_poly(const Context& ctx, const Seed& seed, std::uint64_t stream) {
  const auto& kb = ctx.key_basis();
  return math::expand_uniform_poly(seed, stream, kb, kb.size(), true);
}

// -a s + e (+ gadget term added by callers), over the key basis.
RnsPoly rlwe_sample(const Context& ctx, const RnsPoly& a, const RnsPoly& s, Rng& rng) {
  const auto& kb = ctx.key_basis();
  RnsPoly b = detail::gaussian_ntt(rng, kb, kb.size(), math::kDefaultSigma);
  RnsPoly as = a;
  as.mul_inplace(s, kb);
  b.sub_inplace(as, kb);
  as.wipe();
  return b;
}
}  // namespace

KeyShare sum_key_shares(const Context& ctx, std::span<const KeyShare> shares) {
  HEAL_REQUIRE(!shares.empty(), "aggregate_shares: no shares");
  const KeyShare& first = shares[0];
  const std::size_t count = share_count(ctx, first.kind);
  KeyShare out;
  out.kind = first.kind;
  out.galois_elt = first.galois_elt;
  out.recipient = first.recipient;
  out.party = shares.size() == 1 ? first.party : 0;
  for (const auto& s : shares) {
    detail::check_key_share(ctx, s, first.kind, count, "aggregate_shares");
    HEAL_REQUIRE(s.galois_elt == first.galois_elt, "aggregate_shares: shares for different Galois elements");
    HEAL_REQUIRE(s.recipient == first.recipient, "aggregate_shares: shares for different recipients");
  }
  out.polys = first.polys;
  for (std::size_t k = 1; k < shares.size(); ++k) {
    for (std::size_t j = 0; j < count; ++j) out.polys[j].add_inplace(shares[k].polys[j], ctx.key_basis());
  }
  return out;
}

// ---------------------------------------------------------------- public key

CollectivePublicKeyGen::CollectivePublicKeyGen(ContextPtr ctx, const Seed& crs) : ctx_(std::move(ctx)), crs_(crs) {
  HEAL_REQUIRE(ctx_ != nullptr, "CollectivePublicKeyGen: null context");
}

KeyShare CollectivePublicKeyGen::gen_share(PartyId party, const SecretKey& s_i, Rng& noise_rng) const {
  detail::check_secret(*ctx_, s_i.poly(), "CollectivePublicKeyGen::gen_share");
  KeyShare sh;
  sh.kind = ShareKind::kPublicKey;
  sh.party = party;
  sh.polys.push_back(rlwe_sample(*ctx_, crs_poly(*ctx_, crs_, PublicKey::kStream), s_i.poly(), noise_rng));
  return sh;
}

KeyShare CollectivePublicKeyGen::aggregate_shares(std::span<const KeyShare> shares) const {
  return sum_key_shares(*ctx_, shares);
}

PublicKey CollectivePublicKeyGen::finalize(const KeyShare& aggregate) const {
  detail::check_key_share(*ctx_, aggregate, ShareKind::kPublicKey, 1, "CollectivePublicKeyGen::finalize");
  return PublicKey(crs_, aggregate.polys[0], crs_poly(*ctx_, crs_, PublicKey::kStream));
}

// ---------------------------------------------------------------- relinearization key

CollectiveRelinKeyGen::CollectiveRelinKeyGen(ContextPtr ctx, const Seed& crs) : ctx_(std::move(ctx)), crs_(crs) {
  HEAL_REQUIRE(ctx_ != nullptr, "CollectiveRelinKeyGen: null context");
}

KeyShare CollectiveRelinKeyGen::gen_share(PartyId party, const SecretKey& s_i, RelinKeyGenState& state, Rng& rng) const {
  detail::check_secret(*ctx_, s_i.poly(), "CollectiveRelinKeyGen::gen_share");
  const auto& kb = ctx_->key_basis();
  const std::size_t d = ctx_->dnum();
  state.u_ = detail::ternary_ntt(rng, *ctx_);
  KeyShare sh;
  sh.kind = ShareKind::kRelinRound1;
  sh.party = party;
  sh.polys.resize(2 * d);
  for (std::size_t j = 0; j < d; ++j) {
    const RnsPoly a = crs_poly(*ctx_, crs_, KswKey::kStreamBase + j);
    RnsPoly h0 = rlwe_sample(*ctx_, a, state.u_, rng);  // -u a + e0
    detail::add_gadget(*ctx_, h0, j, s_i.poly());        // + s_i w_j
    RnsPoly h1 = detail::gaussian_ntt(rng, kb, kb.size(), math::kDefaultSigma);
    h1.fma_inplace(a, s_i.poly(), kb);  // s_i a + e1
    sh.polys[j] = std::move(h0);
    sh.polys[d + j] = std::move(h1);
  }
  return sh;
}

KeyShare CollectiveRelinKeyGen::gen_share_round2(PartyId party, const SecretKey& s_i, RelinKeyGenState& state,
                                                 const KeyShare& round1_aggregate, Rng& noise_rng) const {
  detail::check_secret(*ctx_, s_i.poly(), "CollectiveRelinKeyGen::gen_share_round2");
  HEAL_REQUIRE(state.ready(), "CollectiveRelinKeyGen::gen_share_round2: run round 1 (gen_share) with this state first");
  const std::size_t d = ctx_->dnum();
  detail::check_key_share(*ctx_, round1_aggregate, ShareKind::kRelinRound1, 2 * d, "CollectiveRelinKeyGen::gen_share_round2");
  const auto& kb = ctx_->key_basis();
  RnsPoly u_minus_s = state.u_;
  u_minus_s.sub_inplace(s_i.poly(), kb);
  KeyShare sh;
  sh.kind = ShareKind::kRelinRound2;
  sh.party = party;
  sh.polys.resize(2 * d);
  for (std::size_t j = 0; j < d; ++j) {
    RnsPoly h0 = detail::gaussian_ntt(noise_rng, kb, kb.size(), math::kDefaultSigma);
    h0.fma_inplace(s_i.poly(), round1_aggregate.polys[j], kb);  // s_i h0 + e2
    RnsPoly h1 = detail::gaussian_ntt(noise_rng, kb, kb.size(), math::kDefaultSigma);
    h1.fma_inplace(u_minus_s, round1_aggregate.polys[d + j], kb);  // (u_i - s_i) h1 + e3
    sh.polys[j] = std::move(h0);
    sh.polys[d + j] = std::move(h1);
  }
  u_minus_s.wipe();
  state.u_.wipe();
  return sh;
}

KeyShare CollectiveRelinKeyGen::aggregate_shares(std::span<const KeyShare> shares) const {
  return sum_key_shares(*ctx_, shares);
}

RelinKey CollectiveRelinKeyGen::finalize(const KeyShare& round1_aggregate, const KeyShare& round2_aggregate) const {
  const std::size_t d = ctx_->dnum();
  detail::check_key_share(*ctx_, round1_aggregate, ShareKind::kRelinRound1, 2 * d, "CollectiveRelinKeyGen::finalize");
  detail::check_key_share(*ctx_, round2_aggregate, ShareKind::kRelinRound2, 2 * d, "CollectiveRelinKeyGen::finalize");
  std::vector<RnsPoly> bs, as;
  for (std::size_t j = 0; j < d; ++j) {
    RnsPoly b = round2_aggregate.polys[j];
    b.add_inplace(round2_aggregate.polys[d + j], ctx_->key_basis());
    bs.push_back(std::move(b));
    as.push_back(round1_aggregate.polys[d + j]);
  }
  // `a` = h1 is not seed-derived: the key is stored in expanded form (zero seed).
  return RelinKey(KswKey(Seed{}, std::move(bs), std::move(as)));
}

// ---------------------------------------------------------------- Galois keys

CollectiveGaloisKeyGen::CollectiveGaloisKeyGen(ContextPtr ctx, const Seed& crs) : ctx_(std::move(ctx)), crs_(crs) {
  HEAL_REQUIRE(ctx_ != nullptr, "CollectiveGaloisKeyGen: null context");
}

Seed CollectiveGaloisKeyGen::element_seed(std::uint64_t galois_elt) const {
  Blake2b h;
  h.update(std::string_view("heal.ckks.galois-crs"));
  h.update(crs_);
  std::uint8_t g[8];
  std::memcpy(g, &galois_elt, 8);
  h.update(g);
  return h.finish();
}

KeyShare CollectiveGaloisKeyGen::gen_share(PartyId party, const SecretKey& s_i, std::uint64_t galois_elt,
                                           Rng& noise_rng) const {
  detail::check_secret(*ctx_, s_i.poly(), "CollectiveGaloisKeyGen::gen_share");
  HEAL_REQUIRE(galois_elt % 2 == 1 && galois_elt < 2 * ctx_->n() && galois_elt != 1,
               "CollectiveGaloisKeyGen::gen_share: bad Galois element " << galois_elt);
  const auto& kb = ctx_->key_basis();
  const auto& perm = ctx_->galois_permutation(galois_elt);
  RnsPoly sg = s_i.poly().automorphism(galois_elt, kb, &perm);
  const Seed seed = element_seed(galois_elt);
  KeyShare sh;
  sh.kind = ShareKind::kGaloisKey;
  sh.party = party;
  sh.galois_elt = galois_elt;
  for (std::size_t j = 0; j < ctx_->dnum(); ++j) {
    RnsPoly h = rlwe_sample(*ctx_, crs_poly(*ctx_, seed, KswKey::kStreamBase + j), s_i.poly(), noise_rng);
    detail::add_gadget(*ctx_, h, j, sg);
    sh.polys.push_back(std::move(h));
  }
  sg.wipe();
  return sh;
}

KeyShare CollectiveGaloisKeyGen::aggregate_shares(std::span<const KeyShare> shares) const {
  return sum_key_shares(*ctx_, shares);
}

void CollectiveGaloisKeyGen::finalize(const KeyShare& aggregate, GaloisKeys& keys) const {
  detail::check_key_share(*ctx_, aggregate, ShareKind::kGaloisKey, ctx_->dnum(), "CollectiveGaloisKeyGen::finalize");
  const Seed seed = element_seed(aggregate.galois_elt);
  std::vector<RnsPoly> as;
  for (std::size_t j = 0; j < ctx_->dnum(); ++j) as.push_back(crs_poly(*ctx_, seed, KswKey::kStreamBase + j));
  keys.set(aggregate.galois_elt, KswKey(seed, aggregate.polys, std::move(as)));
}

}  // namespace heal::ckks::multiparty
