// Multi-round secure aggregation: Bonawitz et al. (ePrint 2017/281) with one setup for R rounds;
// see secagg_multi.h.
#include "heal/smpc/secagg_multi.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "heal/core/check.h"
#include "heal/smpc/additive.h"
#include "secagg_internal.h"

namespace heal::smpc {

namespace {

using namespace detail;  // secagg_internal.h: the primitives shared with the other SecAgg

std::string round_str(std::uint32_t r) { return "round " + std::to_string(r); }

class Hash {
 public:
  explicit Hash(std::string_view label) {
    crypto_generichash_init(&st_, nullptr, 0, 32);
    add(std::span(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()));
  }
  ~Hash() { sodium_memzero(&st_, sizeof st_); }
  Hash& add(std::span<const std::uint8_t> b) {
    crypto_generichash_update(&st_, b.data(), b.size());
    return *this;
  }
  Hash& add_u32(std::uint32_t v) { return add(std::span(reinterpret_cast<const std::uint8_t*>(&v), 4)); }
  Key32 out() {
    Key32 k;
    crypto_generichash_final(&st_, k.data(), k.size());
    return k;
  }

 private:
  crypto_generichash_state st_;
};

// s_{u,r}^SK from the 16-byte masking seed m_{u,r} (X25519 clamps the 32 bytes itself).
Key32 mask_sk(std::span<const std::uint8_t> seed) { return Hash("heal-secagg-v2-msk").add(seed).out(); }
PublicKey mask_pk_of(std::span<const std::uint8_t> seed) {
  Key32 sk = mask_sk(seed);
  PublicKey pk;
  crypto_scalarmult_base(pk.data(), sk.data());
  sodium_memzero(sk.data(), sk.size());
  return pk;
}
// PRG key of the self mask B_{u,r}.
Key32 self_key(const Seed& session, std::uint32_t u, std::uint32_t r, std::span<const std::uint8_t> b) {
  return Hash("heal-secagg-v2-self").add(session).add_u32(u).add_u32(r).add(b).out();
}
MultiCommitment commitment(const Seed& session, std::uint32_t u, std::uint32_t r, std::span<const std::uint8_t> b) {
  const Key32 h = Hash("heal-secagg-v2-commit").add(session).add_u32(u).add_u32(r).add(b).out();
  MultiCommitment c;
  std::copy(h.begin(), h.begin() + c.size(), c.begin());
  return c;
}
// Directed: the key of the one ciphertext `from` sends `to`.
Key32 enc_key(const Seed& session, const Key32& shared, std::uint32_t from, std::uint32_t to) {
  return Hash("heal-secagg-v2-enc").add(session).add(shared).add_u32(from).add_u32(to).out();
}
Key32 pair_mask_key(const Seed& session, const Key32& shared, std::uint32_t a, std::uint32_t b, std::uint32_t r) {
  return Hash("heal-secagg-v2-mask")
      .add(session)
      .add(shared)
      .add_u32(std::min(a, b))
      .add_u32(std::max(a, b))
      .add_u32(r)
      .out();
}
std::array<std::uint8_t, 44> share_ad(const Seed& session, std::uint32_t from, std::uint32_t to, std::uint32_t rounds) {
  std::array<std::uint8_t, 44> ad;
  std::copy(session.begin(), session.end(), ad.begin());
  std::memcpy(ad.data() + 32, &from, 4);
  std::memcpy(ad.data() + 36, &to, 4);
  std::memcpy(ad.data() + 40, &rounds, 4);
  return ad;
}

// What a client's signature covers: session | the message without its signature.
Bytes signed_statement(const Seed& session, std::span<const std::uint8_t> msg_without_sig) {
  Bytes s(session.begin(), session.end());
  s.insert(s.end(), msg_without_sig.begin(), msg_without_sig.end());
  return s;
}

}  // namespace

void validate(const SecAggMultiConfig& cfg) {
  validate(cfg.base);
  HEAL_REQUIRE(cfg.rounds >= 1 && cfg.rounds <= kSecAggMaxRounds,
               "secagg: rounds " << cfg.rounds << " not in [1, " << kSecAggMaxRounds << "]");
}

// ---------------------------------------------------------------------------------------------
// Client

SecAggMultiClient::SecAggMultiClient(SecAggMultiConfig cfg, std::uint32_t id, SecAggIdentity identity,
                                     std::vector<PublicKey> verify_keys, Rng& rng)
    : cfg_(cfg), id_(id), identity_(std::move(identity)), verify_keys_(std::move(verify_keys)), rng_(rng) {
  validate(cfg_);
  const auto& b = cfg_.base;
  HEAL_REQUIRE(id_ >= 1 && id_ <= b.num_clients, "secagg: client id " << id_ << " not in [1, n]");
  HEAL_REQUIRE(verify_keys_.size() == b.num_clients, "secagg: need one verify key per client");
  HEAL_REQUIRE(identity_.sign_key.size() == crypto_sign_SECRETKEYBYTES, "secagg: signing key must be 64 bytes");
  HEAL_REQUIRE(verify_keys_[id_ - 1] == identity_.verify_key, "secagg: own verify key not in the key table");
  ensure_crypto_init();
  rng_.fill(enc_sk_);
  crypto_scalarmult_base(enc_pk_.data(), enc_sk_.data());
  own_.resize(cfg_.rounds);
  for (auto& s : own_) {
    rng_.fill(s.mask_seed);
    rng_.fill(s.self_seed);
    own_mask_pks_.push_back(mask_pk_of(s.mask_seed));
  }
}

SecAggMultiClient::~SecAggMultiClient() {
  secure_wipe(enc_sk_.data(), enc_sk_.size());
  for (auto& s : own_) secure_wipe(&s, sizeof s);
  for (auto& [v, list] : held_) secure_wipe(list.data(), list.size() * sizeof(HeldShare));
}

Bytes SecAggMultiClient::sign_message(Bytes msg) const {
  const Bytes st = signed_statement(cfg_.base.session, signed_prefix(msg));
  crypto_sign_detached(msg.data() + msg.size() - 64, nullptr, st.data(), st.size(), identity_.sign_key.data());
  return msg;
}

Bytes SecAggMultiClient::advertise_keys() {
  HEAL_REQUIRE(setup_ <= 1, "secagg: advertise_keys after the setup's first step");
  setup_ = 1;
  return sign_message(encode(MAdvertiseMsg{id_, enc_pk_, own_mask_pks_, {}}));
}

Result<Bytes> SecAggMultiClient::share_keys(std::span<const std::uint8_t> key_list) {
  if (setup_ != 1) return Status::failed_precondition("secagg: share_keys out of order");
  HEAL_ASSIGN_OR_RETURN(MKeyListMsg list, decode_m_key_list(key_list));
  if (list.rounds != cfg_.rounds) return Status::corruption("secagg: key list for another number of rounds");
  HEAL_RETURN_IF_ERROR(at_least(list.entries.size(), cfg_.base.threshold, "clients advertised keys"));
  std::set<PublicKey> seen;
  bool self_seen = false;
  for (const auto& e : list.entries) {
    if (e.id > cfg_.base.num_clients) return Status::corruption("secagg: key list names an unknown " + id_str(e.id));
    const Bytes st = signed_statement(cfg_.base.session, signed_prefix(encode(e)));
    if (!verify_sig(verify_keys_[e.id - 1], e.sig, st)) {
      return Status::corruption("secagg: bad signature on the keys of " + id_str(e.id));
    }
    if (!seen.insert(e.enc_pk).second) return Status::corruption("secagg: repeated public key in the key list");
    for (const auto& pk : e.mask_pks)
      if (!seen.insert(pk).second) return Status::corruption("secagg: repeated public key in the key list");
    if (e.id == id_) {
      if (e.enc_pk != enc_pk_ || e.mask_pks != own_mask_pks_) return Status::corruption("secagg: own keys altered");
      self_seen = true;
    }
  }
  if (!self_seen) return Status::failed_precondition("secagg: key list without this client");

  std::vector<std::uint64_t> xs;
  for (const auto& e : list.entries) xs.push_back(e.id);
  std::map<std::uint32_t, Key32> keys;  // all first, so a bad key aborts before anything is shared
  for (const auto& e : list.entries) {
    if (e.id == id_) continue;
    Key32 shared;
    HEAL_RETURN_IF_ERROR(x25519(enc_sk_, e.enc_pk, &shared).with_context(id_str(e.id)));
    keys[e.id] = enc_key(cfg_.base.session, shared, id_, e.id);
    sodium_memzero(shared.data(), shared.size());
  }
  for (auto& e : list.entries) u1_[e.id] = std::move(e);

  // plaintext[j]: R x (3 limbs of the share of m_{u,r} | 3 limbs of the share of b_{u,r}) for xs[j].
  const std::size_t pt_len = kMultiRoundShareBytes * cfg_.rounds;
  std::vector<Bytes> pts(xs.size(), Bytes(pt_len));
  MShareKeysMsg out;
  out.sender = id_;
  for (std::uint32_t r = 1; r <= cfg_.rounds; ++r) {
    const RoundSecrets& s = own_[r - 1];
    out.commitments.push_back(commitment(cfg_.base.session, id_, r, s.self_seed));
    auto km = shamir_share_bytes(s.mask_seed, xs, cfg_.base.threshold, rng_);
    auto kb = shamir_share_bytes(s.self_seed, xs, cfg_.base.threshold, rng_);
    for (std::size_t j = 0; j < xs.size(); ++j) {
      HEAL_DCHECK(km[j].limbs.size() == kMultiLimbs && kb[j].limbs.size() == kMultiLimbs);
      std::uint8_t* p = pts[j].data() + kMultiRoundShareBytes * (r - 1);
      std::memcpy(p, km[j].limbs.data(), 8 * kMultiLimbs);
      std::memcpy(p + 8 * kMultiLimbs, kb[j].limbs.data(), 8 * kMultiLimbs);
      secure_wipe(km[j].limbs.data(), km[j].limbs.size() * 8);
      secure_wipe(kb[j].limbs.data(), kb[j].limbs.size() * 8);
    }
  }
  const std::uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const auto v = static_cast<std::uint32_t>(xs[j]);
    if (v == id_) {
      std::vector<HeldShare> own(cfg_.rounds);
      for (std::uint32_t r = 0; r < cfg_.rounds; ++r) {
        std::memcpy(own[r].mask_seed.data(), pts[j].data() + kMultiRoundShareBytes * r, 8 * kMultiLimbs);
        std::memcpy(own[r].self_seed.data(), pts[j].data() + kMultiRoundShareBytes * r + 8 * kMultiLimbs,
                    8 * kMultiLimbs);
      }
      held_[id_] = std::move(own);
    } else {
      MEncryptedShares es;
      es.peer = v;
      es.ct.resize(multi_share_ct_bytes(cfg_.rounds));
      const auto ad = share_ad(cfg_.base.session, id_, v, cfg_.rounds);
      unsigned long long clen = 0;
      crypto_aead_chacha20poly1305_ietf_encrypt(es.ct.data(), &clen, pts[j].data(), pts[j].size(), ad.data(), ad.size(),
                                                nullptr, nonce, keys[v].data());
      HEAL_DCHECK(clen == es.ct.size());
      out.shares.push_back(std::move(es));
    }
    secure_wipe(pts[j]);
  }
  for (auto& [v, k] : keys) sodium_memzero(k.data(), k.size());
  setup_ = 2;
  return sign_message(encode(out));
}

Status SecAggMultiClient::receive_shares(std::span<const std::uint8_t> shares_for_me) {
  if (setup_ != 2) return Status::failed_precondition("secagg: receive_shares out of order");
  HEAL_ASSIGN_OR_RETURN(MSharesForClientMsg m, decode_m_shares_for_client(shares_for_me));
  if (m.recipient != id_) return Status::corruption("secagg: shares addressed to " + id_str(m.recipient));
  if (m.rounds != cfg_.rounds) return Status::corruption("secagg: shares for another number of rounds");
  HEAL_RETURN_IF_ERROR(at_least(m.shares.size() + 1, cfg_.base.threshold, "clients shared keys"));
  std::map<std::uint32_t, std::vector<HeldShare>> received;
  Bytes pt(kMultiRoundShareBytes * cfg_.rounds);
  auto wipe = [&] {
    for (auto& [v, list] : received) secure_wipe(list.data(), list.size() * sizeof(HeldShare));
    secure_wipe(pt);
  };
  const std::uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
  for (const auto& es : m.shares) {
    const auto it = u1_.find(es.peer);
    if (it == u1_.end() || es.peer == id_) {
      wipe();
      return Status::corruption("secagg: shares from " + id_str(es.peer) + ", not another member of U1");
    }
    Key32 shared;
    if (Status s = x25519(enc_sk_, it->second.enc_pk, &shared); !s.ok()) {
      wipe();
      return s;
    }
    Key32 key = enc_key(cfg_.base.session, shared, es.peer, id_);
    sodium_memzero(shared.data(), shared.size());
    const auto ad = share_ad(cfg_.base.session, es.peer, id_, cfg_.rounds);
    unsigned long long plen = 0;
    const int rc = crypto_aead_chacha20poly1305_ietf_decrypt(pt.data(), &plen, nullptr, es.ct.data(), es.ct.size(),
                                                             ad.data(), ad.size(), nonce, key.data());
    sodium_memzero(key.data(), key.size());
    if (rc != 0 || plen != pt.size()) {
      wipe();
      return Status::corruption("secagg: share ciphertext from " + id_str(es.peer) + " does not authenticate");
    }
    std::vector<HeldShare> list(cfg_.rounds);
    for (std::uint32_t r = 0; r < cfg_.rounds; ++r) {
      std::memcpy(list[r].mask_seed.data(), pt.data() + kMultiRoundShareBytes * r, 8 * kMultiLimbs);
      std::memcpy(list[r].self_seed.data(), pt.data() + kMultiRoundShareBytes * r + 8 * kMultiLimbs, 8 * kMultiLimbs);
    }
    received[es.peer] = std::move(list);
  }
  secure_wipe(pt);
  u2_ = {id_};
  for (auto& [v, list] : received) {
    u2_.push_back(v);
    held_[v] = std::move(list);
  }
  std::sort(u2_.begin(), u2_.end());
  setup_ = 3;
  return {};
}

Result<Bytes> SecAggMultiClient::masked_input(std::uint32_t round, std::span<const std::uint64_t> x) {
  const auto& b = cfg_.base;
  HEAL_REQUIRE(x.size() == b.vector_len, "secagg: input has " << x.size() << " words, expected " << b.vector_len);
  if (setup_ != 3) return Status::failed_precondition("secagg: masked_input before the setup is complete");
  if (round < 1 || round > cfg_.rounds) {
    return Status::failed_precondition("secagg: " + round_str(round) + " is outside the " +
                                       std::to_string(cfg_.rounds) + " rounds of this setup (a new setup is needed)");
  }
  if (round <= round_) {
    return Status::failed_precondition("secagg: " + round_str(round) + " is not after the last round taken part in (" +
                                       std::to_string(round_) + ")");
  }
  HEAL_RETURN_IF_ERROR(check_input_words(x, b.word_bytes, ""));
  const RoundSecrets& s = own_[round - 1];
  MMaskedInputMsg out{round, id_, static_cast<std::uint8_t>(b.word_bytes), {x.begin(), x.end()}, {}};
  Key32 k = self_key(b.session, id_, round, s.self_seed);
  add_prg(out.y, k, false);
  sodium_memzero(k.data(), k.size());
  Key32 sk = mask_sk(s.mask_seed);
  const Status masked = add_pair_masks(
      out.y, sk, id_, u2_, [&](std::uint32_t v) -> const PublicKey& { return u1_.at(v).mask_pks[round - 1]; },
      [&](const Key32& shared, std::uint32_t v) { return pair_mask_key(b.session, shared, id_, v, round); });
  sodium_memzero(sk.data(), sk.size());
  HEAL_RETURN_IF_ERROR(masked);
  reduce_words(out.y, b.word_bytes);
  // Entering round `round`: earlier rounds are left for good (never answered again), so their held
  // shares go, and this client's own secrets up to this round are spent (its own shares sit in held_).
  for (std::uint32_t r = 0; r < round; ++r) secure_wipe(&own_[r], sizeof own_[r]);
  for (auto& [v, list] : held_) {
    for (std::uint32_t r = 0; r + 1 < round; ++r) secure_wipe(&list[r], sizeof list[r]);
  }
  round_ = round;
  step_ = 1;
  u3_.clear();
  revealed_.clear();
  return sign_message(encode(out));
}

Result<Bytes> SecAggMultiClient::sign_survivors(std::span<const std::uint8_t> survivors) {
  HEAL_ASSIGN_OR_RETURN(MSurvivorsMsg m, decode_m_survivors(survivors));
  if (round_ == 0 || m.round != round_) {
    return Status::failed_precondition("secagg: survivor set of " + round_str(m.round) + ", this client is in " +
                                       round_str(round_));
  }
  if (step_ != 1) return Status::failed_precondition("secagg: a client signs one survivor set per round");
  HEAL_RETURN_IF_ERROR(at_least_inputs(m.ids.size(), cfg_.base, "survivors"));
  HEAL_RETURN_IF_ERROR(survivors_in_u2(m.ids, u2_));
  if (!contains(m.ids, id_)) return Status::failed_precondition("secagg: survivor set without this client");
  u3_ = m.ids;
  step_ = 2;
  MSurvivorSigMsg out{round_, id_, {}};
  const Bytes st = signed_statement(cfg_.base.session, survivors);
  crypto_sign_detached(out.sig.data(), nullptr, st.data(), st.size(), identity_.sign_key.data());
  return encode(out);
}

Result<Bytes> SecAggMultiClient::unmask(std::span<const std::uint8_t> unmask_request) {
  HEAL_ASSIGN_OR_RETURN(MUnmaskRequestMsg m, decode_m_unmask_request(unmask_request));
  if (round_ == 0 || m.round != round_) {
    return Status::failed_precondition("secagg: unmasking request for " + round_str(m.round) +
                                       ", the survivor set this client signed is of " + round_str(round_));
  }
  if (step_ != 2 && step_ != 3) return Status::failed_precondition("secagg: unmask before signing the survivors");
  HEAL_RETURN_IF_ERROR(survivors_in_u2(m.survivors, u2_));
  // Never reveal both secrets of one client in one round: b_{v,r} (v survived) and m_{v,r} (v dropped).
  HEAL_RETURN_IF_ERROR(check_single_reveal(u2_, m.survivors, revealed_, " in " + round_str(round_)));
  if (m.survivors != u3_) return Status::failed_precondition("secagg: survivor set differs from the one signed");
  HEAL_RETURN_IF_ERROR(at_least(m.sigs.size(), cfg_.base.threshold, "consistency signatures"));
  const Bytes st = signed_statement(cfg_.base.session, encode(MSurvivorsMsg{round_, u3_}));
  for (const auto& [id, sig] : m.sigs) {
    if (!contains(u3_, id)) return Status::corruption("secagg: consistency signature of a non-survivor");
    if (!verify_sig(verify_keys_[id - 1], sig, st)) {
      return Status::corruption("secagg: bad consistency signature of " + id_str(id));
    }
  }
  MUnmaskResponseMsg out{round_, id_, {}, {}};
  for (auto v : u2_) {
    const HeldShare& h = held_.at(v)[round_ - 1];
    const ShareKind kind = contains(u3_, v) ? ShareKind::kSelfMaskSeed : ShareKind::kMaskingKey;
    out.shares.push_back(kind == ShareKind::kSelfMaskSeed ? h.self_seed : h.mask_seed);
    revealed_[v] = kind;
  }
  step_ = 3;
  Bytes bytes = sign_message(encode(out));
  for (auto& r : out.shares) secure_wipe(r.data(), sizeof r);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Server

SecAggMultiServer::SecAggMultiServer(SecAggMultiConfig cfg, std::vector<PublicKey> verify_keys)
    : cfg_(cfg), verify_keys_(std::move(verify_keys)) {
  validate(cfg_);
  HEAL_REQUIRE(verify_keys_.size() == cfg_.base.num_clients, "secagg: need one verify key per client");
  ensure_crypto_init();
}

Status SecAggMultiServer::verify(std::uint32_t id, std::span<const std::uint8_t> msg) const {
  if (id == 0 || id > cfg_.base.num_clients) return Status::corruption("secagg: unknown " + id_str(id));
  if (msg.size() < 64) return Status::corruption("secagg: message too short for a signature");
  Signature sig;
  std::copy(msg.end() - 64, msg.end(), sig.begin());
  if (!verify_sig(verify_keys_[id - 1], sig, signed_statement(cfg_.base.session, signed_prefix(msg)))) {
    return Status::corruption("secagg: bad signature on a message of " + id_str(id));
  }
  return {};
}

Status SecAggMultiServer::receive_advertise(std::span<const std::uint8_t> msg) {
  if (setup_ != 0) return Status::failed_precondition("secagg: key advertisement is closed");
  HEAL_ASSIGN_OR_RETURN(MAdvertiseMsg m, decode_m_advertise(msg));
  if (m.mask_pks.size() != cfg_.rounds) return Status::corruption("secagg: advertisement for another round count");
  HEAL_RETURN_IF_ERROR(verify(m.id, msg));
  if (adverts_.count(m.id)) return Status::failed_precondition("secagg: second advertisement of " + id_str(m.id));
  adverts_[m.id] = std::move(m);
  return {};
}

Result<Bytes> SecAggMultiServer::key_list() {
  if (setup_ != 0) return Status::failed_precondition("secagg: key_list out of order");
  HEAL_RETURN_IF_ERROR(at_least(adverts_.size(), cfg_.base.threshold, "clients advertised keys"));
  MKeyListMsg out{cfg_.rounds, {}};
  for (const auto& [id, a] : adverts_) out.entries.push_back(a);
  setup_ = 1;
  return encode(out);
}

Status SecAggMultiServer::receive_shares(std::span<const std::uint8_t> msg) {
  if (setup_ != 1) return Status::failed_precondition("secagg: share round is not open");
  HEAL_ASSIGN_OR_RETURN(MShareKeysMsg m, decode_m_share_keys(msg));
  HEAL_RETURN_IF_ERROR(verify(m.sender, msg));
  if (!adverts_.count(m.sender)) return Status::failed_precondition("secagg: shares from outside U1");
  if (shares_.count(m.sender))
    return Status::failed_precondition("secagg: second share message of " + id_str(m.sender));
  if (m.commitments.size() != cfg_.rounds) return Status::corruption("secagg: shares for another round count");
  HEAL_RETURN_IF_ERROR(addressed_to_u1(adverts_, m.sender, m.shares));
  shares_[m.sender] = std::move(m);
  return {};
}

Result<std::vector<std::pair<std::uint32_t, Bytes>>> SecAggMultiServer::route_shares() {
  if (setup_ != 1) return Status::failed_precondition("secagg: route_shares out of order");
  HEAL_RETURN_IF_ERROR(at_least(shares_.size(), cfg_.base.threshold, "clients shared keys"));
  std::vector<std::pair<std::uint32_t, Bytes>> out;
  u2_.clear();
  for (const auto& [v, unused] : shares_) {
    u2_.push_back(v);
    MSharesForClientMsg m{v, cfg_.rounds, {}};
    for (const auto& [u, sm] : shares_) {
      if (u == v) continue;
      const auto it =
          std::find_if(sm.shares.begin(), sm.shares.end(), [rcpt = v](const auto& e) { return e.peer == rcpt; });
      m.shares.push_back(MEncryptedShares{u, it->ct});
    }
    out.emplace_back(v, encode(m));
  }
  setup_ = 2;
  return out;
}

Status SecAggMultiServer::begin_round(std::uint32_t round) {
  if (setup_ != 2) return Status::failed_precondition("secagg: begin_round before the setup is complete");
  if (round <= round_ || round > cfg_.rounds) {
    return Status::failed_precondition("secagg: cannot open " + round_str(round) + " (last opened " +
                                       std::to_string(round_) + ", setup serves " + std::to_string(cfg_.rounds) + ")");
  }
  round_ = round;
  step_ = 1;
  masked_.clear();
  u3_.clear();
  u3_sigs_.clear();
  for (auto& [u, list] : unmask_)
    for (auto& r : list) secure_wipe(r.data(), sizeof r);
  unmask_.clear();
  return {};
}

Status SecAggMultiServer::check_round_msg(std::uint32_t round, std::uint32_t id, int step) const {
  if (round_ == 0 || step_ != step) return Status::failed_precondition("secagg: this step of the round is not open");
  if (round != round_) {
    return Status::failed_precondition("secagg: message of " + round_str(round) + " in " + round_str(round_));
  }
  if (id == 0 || id > cfg_.base.num_clients) return Status::corruption("secagg: unknown " + id_str(id));
  return {};
}

Status SecAggMultiServer::receive_masked_input(std::span<const std::uint8_t> msg) {
  HEAL_ASSIGN_OR_RETURN(MMaskedInputMsg m, decode_m_masked_input(msg));
  HEAL_RETURN_IF_ERROR(check_round_msg(m.round, m.id, 1));
  if (!contains(u2_, m.id)) return Status::failed_precondition("secagg: masked input from outside U2");
  if (m.y.size() != cfg_.base.vector_len) return Status::corruption("secagg: masked input of the wrong length");
  if (m.word_bytes != cfg_.base.word_bytes) return Status::corruption("secagg: masked input of the wrong word size");
  HEAL_RETURN_IF_ERROR(verify(m.id, msg));
  if (masked_.count(m.id)) return Status::failed_precondition("secagg: second masked input of " + id_str(m.id));
  masked_[m.id] = std::move(m.y);
  return {};
}

Result<Bytes> SecAggMultiServer::survivors() {
  if (round_ == 0 || step_ != 1) return Status::failed_precondition("secagg: survivors out of order");
  HEAL_RETURN_IF_ERROR(at_least_inputs(masked_.size(), cfg_.base, "masked inputs"));
  u3_.clear();
  for (const auto& [id, y] : masked_) u3_.push_back(id);
  step_ = 2;
  return encode(MSurvivorsMsg{round_, u3_});
}

Status SecAggMultiServer::receive_survivor_signature(std::span<const std::uint8_t> msg) {
  HEAL_ASSIGN_OR_RETURN(MSurvivorSigMsg m, decode_m_survivor_sig(msg));
  HEAL_RETURN_IF_ERROR(check_round_msg(m.round, m.id, 2));
  if (!contains(u3_, m.id)) return Status::failed_precondition("secagg: signature from outside U3");
  if (u3_sigs_.count(m.id)) return Status::failed_precondition("secagg: second signature of " + id_str(m.id));
  if (!verify_sig(verify_keys_[m.id - 1], m.sig,
                  signed_statement(cfg_.base.session, encode(MSurvivorsMsg{round_, u3_})))) {
    return Status::corruption("secagg: bad consistency signature of " + id_str(m.id));
  }
  u3_sigs_[m.id] = m.sig;
  return {};
}

Result<Bytes> SecAggMultiServer::unmask_request() {
  if (round_ == 0 || step_ != 2) return Status::failed_precondition("secagg: unmask_request out of order");
  HEAL_RETURN_IF_ERROR(at_least(u3_sigs_.size(), cfg_.base.threshold, "consistency signatures"));
  MUnmaskRequestMsg m{round_, u3_, {}};
  for (const auto& [id, sig] : u3_sigs_) m.sigs.emplace_back(id, sig);
  step_ = 3;
  return encode(m);
}

Status SecAggMultiServer::receive_unmask(std::span<const std::uint8_t> msg) {
  HEAL_ASSIGN_OR_RETURN(MUnmaskResponseMsg m, decode_m_unmask_response(msg));
  HEAL_RETURN_IF_ERROR(check_round_msg(m.round, m.id, 3));
  if (!u3_sigs_.count(m.id)) return Status::failed_precondition("secagg: unmasking shares from outside U4");
  if (unmask_.count(m.id)) return Status::failed_precondition("secagg: second unmasking message of " + id_str(m.id));
  HEAL_RETURN_IF_ERROR(verify(m.id, msg));
  // One share per member of U2, in id order; which secret each is of follows from U3.
  if (m.shares.size() != u2_.size()) return Status::corruption("secagg: unmasking shares do not cover U2");
  unmask_[m.id] = std::move(m.shares);
  return {};
}

Result<std::vector<std::uint64_t>> SecAggMultiServer::finish() {
  if (round_ == 0 || step_ != 3) return Status::failed_precondition("secagg: finish out of order");
  HEAL_RETURN_IF_ERROR(at_least(unmask_.size(), cfg_.base.threshold, "clients sent unmasking shares"));
  const auto& b = cfg_.base;
  std::vector<std::uint64_t> sum = sum_masked(masked_, b.vector_len);
  for (std::size_t j = 0; j < u2_.size(); ++j) {
    const std::uint32_t v = u2_[j];
    auto secret = reconstruct_secret(
        unmask_, j, [](const auto& limbs) -> const auto& { return limbs; }, b.threshold, kMultiSecretBytes);
    if (!secret.ok()) return secret.status().with_context("secagg: reconstructing the secret of " + id_str(v));
    const auto seed = secret->span();
    if (contains(u3_, v)) {
      if (commitment(b.session, v, round_, seed) != shares_.at(v).commitments[round_ - 1]) {
        return Status::corruption("secagg: reconstructed self-mask seed of " + id_str(v) + " in " + round_str(round_) +
                                  " does not match its commitment (a wrong unmasking share)");
      }
      Key32 k = self_key(b.session, v, round_, seed);
      add_prg(sum, k, true);
      sodium_memzero(k.data(), k.size());
    } else {
      Key32 sk = mask_sk(seed);
      PublicKey pk;
      crypto_scalarmult_base(pk.data(), sk.data());
      if (pk != adverts_.at(v).mask_pks[round_ - 1]) {
        sodium_memzero(sk.data(), sk.size());
        return Status::corruption("secagg: reconstructed masking key of " + id_str(v) + " in " + round_str(round_) +
                                  " does not match its keys");
      }
      const Status removed = add_pair_masks(
          sum, sk, v, u3_, [&](std::uint32_t u) -> const PublicKey& { return adverts_.at(u).mask_pks[round_ - 1]; },
          [&](const Key32& shared, std::uint32_t u) { return pair_mask_key(b.session, shared, u, v, round_); });
      sodium_memzero(sk.data(), sk.size());
      HEAL_RETURN_IF_ERROR(removed);
    }
  }
  sign_extend_words(sum, b.word_bytes);
  step_ = 4;
  return sum;
}

}  // namespace heal::smpc
