// Threshold decryption with noise flooding (ePrint 2020/304 protocol CKS with s' = 0) and
// t-of-n key setup by Shamir re-sharing of additive secrets (ePrint 2022/780).
#include "heal/ckks/multiparty/threshold.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "heal/core/check.h"
#include "heal/math/shamir.h"
#include "multiparty_internal.h"

namespace heal::ckks::multiparty {

using math::RnsPoly;

// ---------------------------------------------------------------- t-of-n setup

ThresholdKeyGen::ThresholdKeyGen(ContextPtr ctx, std::size_t threshold, std::vector<PartyId> parties)
    : ctx_(std::move(ctx)), t_(threshold), parties_(std::move(parties)) {
  HEAL_REQUIRE(ctx_ != nullptr, "ThresholdKeyGen: null context");
  HEAL_REQUIRE(t_ >= 1 && t_ <= parties_.size(), "ThresholdKeyGen: threshold " << t_ << " must be in [1, " << parties_.size() << "]");
  std::vector<PartyId> sorted = parties_;
  std::sort(sorted.begin(), sorted.end());
  HEAL_REQUIRE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end() && sorted.front() >= 1,
               "ThresholdKeyGen: party ids must be distinct and >= 1");
}

std::vector<KeyShare> ThresholdKeyGen::gen_share(PartyId sender, const SecretKey& s_i, Rng& rng) const {
  detail::check_secret(*ctx_, s_i.poly(), "ThresholdKeyGen::gen_share");
  HEAL_REQUIRE(std::find(parties_.begin(), parties_.end(), sender) != parties_.end(),
               "ThresholdKeyGen::gen_share: unknown party " << sender);
  std::vector<u64> xs(parties_.begin(), parties_.end());
  std::vector<RnsPoly> polys = math::shamir_share_poly(s_i.poly(), ctx_->key_basis(), xs, t_, rng);
  std::vector<KeyShare> out(parties_.size());
  for (std::size_t j = 0; j < parties_.size(); ++j) {
    out[j].kind = ShareKind::kShamirSecret;
    out[j].party = sender;
    out[j].recipient = parties_[j];
    out[j].polys.push_back(std::move(polys[j]));
  }
  return out;
}

KeyShare ThresholdKeyGen::aggregate_shares(PartyId recipient, std::span<const KeyShare> received) const {
  HEAL_REQUIRE(received.size() == parties_.size(),
               "ThresholdKeyGen::aggregate_shares: need one share from each of the " << parties_.size() << " parties, got "
                                                                                    << received.size());
  std::vector<PartyId> senders;
  for (const auto& s : received) {
    detail::check_key_share(*ctx_, s, ShareKind::kShamirSecret, 1, "ThresholdKeyGen::aggregate_shares");
    HEAL_REQUIRE(s.recipient == recipient, "ThresholdKeyGen::aggregate_shares: share addressed to party " << s.recipient
                                                                                                        << ", not " << recipient);
    senders.push_back(s.party);
  }
  std::sort(senders.begin(), senders.end());
  std::vector<PartyId> expect = parties_;
  std::sort(expect.begin(), expect.end());
  HEAL_REQUIRE(senders == expect, "ThresholdKeyGen::aggregate_shares: shares must come from every party exactly once");
  KeyShare out;
  out.kind = ShareKind::kShamirSecret;
  out.recipient = recipient;
  out.polys.push_back(received[0].polys[0]);
  for (std::size_t k = 1; k < received.size(); ++k) out.polys[0].add_inplace(received[k].polys[0], ctx_->key_basis());
  return out;
}

ThresholdSecret ThresholdKeyGen::finalize(const KeyShare& aggregate) const {
  detail::check_key_share(*ctx_, aggregate, ShareKind::kShamirSecret, 1, "ThresholdKeyGen::finalize");
  HEAL_REQUIRE(std::find(parties_.begin(), parties_.end(), aggregate.recipient) != parties_.end(),
               "ThresholdKeyGen::finalize: unknown recipient " << aggregate.recipient);
  ThresholdSecret ts;
  ts.party = aggregate.recipient;
  ts.threshold = t_;
  ts.share = SecretKey(aggregate.polys[0]);
  return ts;
}

// ---------------------------------------------------------------- decryption

ThresholdDecryptor::ThresholdDecryptor(ContextPtr ctx, FloodingParams flooding)
    : ctx_(std::move(ctx)), flood_(flooding), sigma_(0) {
  HEAL_REQUIRE(ctx_ != nullptr, "ThresholdDecryptor: null context");
  sigma_ = flooding_sigma(*ctx_, flood_);
  HEAL_REQUIRE(sigma_ <= 0x1p55, "ThresholdDecryptor: flooding sigma 2^" << std::log2(sigma_)
                                                                       << " is too large (B_ct or max_decryptions too big)");
}

Status ThresholdDecryptor::check_share(const Ciphertext& ct, std::size_t shares) const {
  if (!(ct.scale() > 0) || !std::isfinite(ct.scale())) {
    return Status::invalid_argument("ThresholdDecryptor: ciphertext scale must be positive");
  }
  const Status st = check_flooding_precision(*ctx_, flood_, std::max(shares, flood_.parties), ct.scale(),
                                             flood_.required_bits, ct.slots());
  if (!st.ok()) return st.with_context("ThresholdDecryptor: refusing to produce a share");
  return {};
}

DecryptionShare ThresholdDecryptor::share_with(PartyId party, const Ciphertext& ct, std::size_t shares,
                                               const RnsPoly& s, Rng& noise_rng) {
  HEAL_REQUIRE(ct.size() == 2, "ThresholdDecryptor::gen_share: relinearize first (ciphertext has " << ct.size() << " polynomials)");
  HEAL_REQUIRE(ct[0].n() == ctx_->n() && ct[1].n() == ctx_->n() && ct[0].num_limbs() == ct[1].num_limbs() &&
                   ct[1].num_limbs() >= 1 && ct[1].num_limbs() <= ctx_->q_count() && ct[1].is_ntt(),
               "ThresholdDecryptor::gen_share: ciphertext does not match the context");
  const Status ok = check_share(ct, shares);
  HEAL_REQUIRE(ok.ok(), ok.message());
  HEAL_REQUIRE(generated_ < flood_.max_decryptions,
               "ThresholdDecryptor: " << flood_.max_decryptions
                                      << " decryptions already shared under this flooding bound; rotate keys (new epoch)");
  ++generated_;
  const auto& qb = ctx_->q_basis();
  const std::size_t limbs = ct[1].num_limbs();
  DecryptionShare sh;
  sh.party = party;
  sh.parties = {party};
  sh.h = detail::gaussian_ntt(noise_rng, qb, limbs, sigma_);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = qb.modulus(i);
    const u64 *c1 = ct[1].limb(i), *si = s.limb(i);
    u64* o = sh.h.limb(i);
    for (std::size_t t = 0; t < ctx_->n(); ++t) o[t] = q.add(o[t], q.mul(c1[t], si[t]));
  }
  return sh;
}

DecryptionShare ThresholdDecryptor::gen_share(PartyId party, const Ciphertext& ct, const SecretKey& s_i, Rng& noise_rng) {
  detail::check_secret(*ctx_, s_i.poly(), "ThresholdDecryptor::gen_share");
  return share_with(party, ct, flood_.parties, s_i.poly(), noise_rng);
}

DecryptionShare ThresholdDecryptor::gen_share(const ThresholdSecret& secret, std::span<const PartyId> quorum,
                                              const Ciphertext& ct, Rng& noise_rng) {
  detail::check_secret(*ctx_, secret.share.poly(), "ThresholdDecryptor::gen_share");
  HEAL_REQUIRE(quorum.size() >= secret.threshold,
               "ThresholdDecryptor::gen_share: quorum of " << quorum.size() << " is below the threshold " << secret.threshold);
  const auto it = std::find(quorum.begin(), quorum.end(), secret.party);
  HEAL_REQUIRE(it != quorum.end(), "ThresholdDecryptor::gen_share: party " << secret.party << " is not in the quorum");
  std::vector<u64> xs(quorum.begin(), quorum.end());
  const std::size_t index = static_cast<std::size_t>(it - quorum.begin());
  // Only the Q limbs are needed for decryption.
  const std::size_t qc = ctx_->q_count();
  RnsPoly sq(ctx_->n(), qc, true);
  std::memcpy(sq.data(), secret.share.poly().data(), qc * ctx_->n() * sizeof(u64));
  RnsPoly additive = math::lagrange_scale_poly(sq, xs, index, ctx_->q_basis());
  sq.wipe();
  DecryptionShare sh = share_with(secret.party, ct, quorum.size(), additive, noise_rng);
  additive.wipe();
  return sh;
}

DecryptionShare ThresholdDecryptor::aggregate_shares(std::span<const DecryptionShare> shares) const {
  HEAL_REQUIRE(!shares.empty(), "ThresholdDecryptor::aggregate_shares: no shares");
  DecryptionShare out;
  out.h = shares[0].h;
  for (std::size_t k = 0; k < shares.size(); ++k) {
    const auto& s = shares[k];
    HEAL_REQUIRE(s.h.n() == ctx_->n() && s.h.num_limbs() == out.h.num_limbs() && s.h.is_ntt(),
                 "ThresholdDecryptor::aggregate_shares: shares at different levels or not matching the context");
    if (k > 0) out.h.add_inplace(s.h, ctx_->q_basis());
    out.parties.insert(out.parties.end(), s.parties.begin(), s.parties.end());
  }
  detail::sort_unique_parties(out.parties, "ThresholdDecryptor::aggregate_shares");
  out.party = out.parties.size() == 1 ? out.parties[0] : 0;
  return out;
}

Plaintext ThresholdDecryptor::finalize(const Ciphertext& ct, const DecryptionShare& aggregate) const {
  HEAL_REQUIRE(ct.size() == 2 && ct[0].n() == ctx_->n() && ct[0].num_limbs() <= ctx_->q_count() &&
                   aggregate.h.num_limbs() == ct[0].num_limbs() && aggregate.h.n() == ctx_->n() && aggregate.h.is_ntt(),
               "ThresholdDecryptor::finalize: share level does not match the ciphertext");
  RnsPoly m = ct[0];
  m.add_inplace(aggregate.h, ctx_->q_basis());
  return Plaintext(std::move(m), ct.scale(), ct.slots());
}

namespace {

Result<Plaintext> combine_c0(const Context& ctx, const RnsPoly& c0, double scale, std::size_t slots,
                             std::span<const DecryptionShare> shares) {
  if (shares.empty()) return Status::invalid_argument("combine_decryption_shares: no shares");
  HEAL_REQUIRE(c0.n() == ctx.n() && c0.is_ntt() && c0.num_limbs() >= 1 && c0.num_limbs() <= ctx.q_count(),
               "combine_decryption_shares: ciphertext does not match the context");
  std::vector<PartyId> seen;
  RnsPoly m = c0;
  for (const auto& s : shares) {
    if (s.h.n() != ctx.n() || s.h.num_limbs() != c0.num_limbs() || !s.h.is_ntt()) {
      return Status::corruption("combine_decryption_shares: share of party " + std::to_string(s.party) +
                                " is not at the ciphertext's level (NTT form)");
    }
    if (s.parties.empty()) {
      seen.push_back(s.party);
    } else {
      seen.insert(seen.end(), s.parties.begin(), s.parties.end());
    }
    m.add_inplace(s.h, ctx.q_basis());
  }
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) {
    m.wipe();
    return Status::invalid_argument("combine_decryption_shares: two shares from the same party");
  }
  return Plaintext(std::move(m), scale, slots);
}

}  // namespace

Result<SeededCiphertext> sum_seeded_ciphertexts(const Context& ctx, std::span<const SeededCiphertext> cts) {
  if (cts.empty()) return Status::invalid_argument("sum_seeded_ciphertexts: no ciphertexts");
  const SeededCiphertext& first = cts[0];
  RnsPoly sum;
  for (std::size_t k = 0; k < cts.size(); ++k) {
    const SeededCiphertext& ct = cts[k];
    const RnsPoly& c0 = ct.c0();
    if (c0.n() != ctx.n() || !c0.is_ntt() || c0.num_limbs() < 1 || c0.num_limbs() > ctx.q_count()) {
      return Status::corruption("sum_seeded_ciphertexts: ciphertext " + std::to_string(k) + " does not match the context");
    }
    if (ct.seed() != first.seed() || c0.num_limbs() != first.c0().num_limbs() || ct.scale() != first.scale() ||
        ct.slots() != first.slots()) {
      return Status::corruption("sum_seeded_ciphertexts: ciphertext " + std::to_string(k) +
                                " has another seed, level, scale or slot count than the first");
    }
    if (k == 0) {
      sum = c0;
    } else {
      sum.add_inplace(c0, ctx.q_basis());
    }
  }
  return SeededCiphertext(first.seed(), std::move(sum), first.scale(), first.slots());
}

Result<Plaintext> combine_decryption_shares(const Context& ctx, const Ciphertext& ct,
                                            std::span<const DecryptionShare> shares) {
  HEAL_REQUIRE(ct.size() == 2, "combine_decryption_shares: expects a 2-polynomial ciphertext");
  return combine_c0(ctx, ct[0], ct.scale(), ct.slots(), shares);
}

Result<Plaintext> combine_decryption_shares(const Context& ctx, const SeededCiphertext& ct,
                                            std::span<const DecryptionShare> shares) {
  return combine_c0(ctx, ct.c0(), ct.scale(), ct.slots(), shares);
}

}  // namespace heal::ckks::multiparty
