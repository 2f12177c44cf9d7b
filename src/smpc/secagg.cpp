// Secure aggregation after Bonawitz et al., CCS 2017 (ePrint 2017/281), Fig. 4; see secagg.h.
#include "heal/smpc/secagg.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "heal/core/check.h"
#include "heal/smpc/additive.h"
#include "secagg_internal.h"

namespace heal::smpc {

namespace {

using namespace detail;  // secagg_internal.h: the primitives shared with the other SecAgg

// BLAKE2b-256(label | session | shared | min(a, b) | max(a, b)): the key of a pair (a, b), the same
// on both sides.
Key32 derive(std::string_view label, const Seed& session, const Key32& shared, std::uint32_t a, std::uint32_t b) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(label.data()), label.size());
  crypto_generichash_update(&st, session.data(), session.size());
  crypto_generichash_update(&st, shared.data(), shared.size());
  const std::uint32_t lo = std::min(a, b), hi = std::max(a, b);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&lo), 4);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&hi), 4);
  Key32 out;
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

// The commitment to a self-mask seed, sent in round 1 and checked by the server after reconstruction:
// a wrong unmasking share then gives an error instead of a wrong sum, even with exactly t shares.
// (b is 256 uniform bits: its hash reveals nothing the server can use; BLAKE2b as a random oracle.)
Key32 seed_commitment(const Seed& session, std::uint32_t id, std::span<const std::uint8_t> seed) {
  constexpr std::string_view kLabel = "heal-secagg-v1-commit";
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size());
  crypto_generichash_update(&st, session.data(), session.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&id), 4);
  crypto_generichash_update(&st, seed.data(), seed.size());
  Key32 out;
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

void put_u32(std::uint8_t* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::array<std::uint8_t, 40> share_ad(const Seed& session, std::uint32_t from, std::uint32_t to) {
  std::array<std::uint8_t, 40> ad;
  std::copy(session.begin(), session.end(), ad.begin());
  put_u32(ad.data() + 32, from);
  put_u32(ad.data() + 36, to);
  return ad;
}

}  // namespace

void validate(const SecAggConfig& cfg) {
  HEAL_REQUIRE(cfg.num_clients >= 2 && cfg.num_clients <= kSecAggMaxClients,
               "secagg: num_clients " << cfg.num_clients << " not in [2, " << kSecAggMaxClients << "]");
  HEAL_REQUIRE(2 * cfg.threshold > cfg.num_clients && cfg.threshold <= cfg.num_clients,
               "secagg: threshold " << cfg.threshold << " must satisfy n/2 < t <= n (n = " << cfg.num_clients << ")");
  HEAL_REQUIRE(cfg.vector_len >= 1 && cfg.vector_len <= kSecAggMaxVectorLen,
               "secagg: vector_len " << cfg.vector_len << " not in [1, 2^28]");
  HEAL_REQUIRE(cfg.word_bytes >= 2 && cfg.word_bytes <= 8, "secagg: word_bytes " << cfg.word_bytes << " not in [2, 8]");
  HEAL_REQUIRE(cfg.min_inputs <= cfg.num_clients,
               "secagg: sums of at least " << cfg.min_inputs
                                           << " inputs need that many clients (n = " << cfg.num_clients << ")");
}

std::uint32_t required_inputs(const SecAggConfig& cfg) { return std::max(cfg.threshold, cfg.min_inputs); }

SecAggIdentity make_secagg_identity(Rng& rng) {
  ensure_crypto_init();
  Seed seed;
  rng.fill(seed);
  SecAggIdentity id;
  Bytes sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(id.verify_key.data(), sk.data(), seed.data());
  secure_wipe(seed.data(), seed.size());
  id.sign_key = SecretBytes(std::move(sk));
  return id;
}

// ---------------------------------------------------------------------------------------------
// Client

SecAggClient::SecAggClient(SecAggConfig cfg, std::uint32_t id, SecAggIdentity identity,
                           std::vector<PublicKey> verify_keys, Rng& rng)
    : cfg_(cfg), id_(id), identity_(std::move(identity)), verify_keys_(std::move(verify_keys)), rng_(rng) {
  validate(cfg_);
  HEAL_REQUIRE(id_ >= 1 && id_ <= cfg_.num_clients, "secagg: client id " << id_ << " not in [1, n]");
  HEAL_REQUIRE(verify_keys_.size() == cfg_.num_clients, "secagg: need one verify key per client");
  HEAL_REQUIRE(identity_.sign_key.size() == crypto_sign_SECRETKEYBYTES, "secagg: signing key must be 64 bytes");
  HEAL_REQUIRE(verify_keys_[id_ - 1] == identity_.verify_key, "secagg: own verify key not in the key table");
  ensure_crypto_init();
  rng_.fill(enc_sk_);
  rng_.fill(mask_sk_);
  crypto_scalarmult_base(enc_pk_.data(), enc_sk_.data());
  crypto_scalarmult_base(mask_pk_.data(), mask_sk_.data());
}

SecAggClient::~SecAggClient() {
  secure_wipe(enc_sk_.data(), enc_sk_.size());
  secure_wipe(mask_sk_.data(), mask_sk_.size());
  secure_wipe(self_seed_.data(), self_seed_.size());
  for (auto& [v, h] : held_) secure_wipe(&h, sizeof h);
}

Status SecAggClient::check_session(const Seed& s) const {
  if (s != cfg_.session) return Status::failed_precondition("secagg: message of another session");
  return {};
}

Signature SecAggClient::sign(std::span<const std::uint8_t> prefix) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, prefix.data(), prefix.size(), identity_.sign_key.data());
  return sig;
}

Bytes SecAggClient::advertise_keys() {
  HEAL_REQUIRE(round_ <= 1, "secagg: advertise_keys after round 0");
  AdvertiseMsg m{cfg_.session, id_, enc_pk_, mask_pk_, {}};
  Bytes out = encode(m);
  const Signature sig = sign(signed_prefix(out));
  std::copy(sig.begin(), sig.end(), out.end() - 64);
  round_ = 1;
  return out;
}

Result<Bytes> SecAggClient::share_keys(std::span<const std::uint8_t> key_list) {
  if (round_ != 1) return Status::failed_precondition("secagg: share_keys out of order");
  HEAL_ASSIGN_OR_RETURN(KeyListMsg list, decode_key_list(key_list));
  HEAL_RETURN_IF_ERROR(check_session(list.session));
  if (list.entries.size() < cfg_.threshold) {
    return Status::failed_precondition("secagg: " + std::to_string(list.entries.size()) +
                                       " clients advertised keys, threshold is " + std::to_string(cfg_.threshold));
  }
  std::set<PublicKey> seen_keys;
  bool self_seen = false;
  for (const auto& e : list.entries) {
    if (e.id > cfg_.num_clients) return Status::corruption("secagg: key list names an unknown " + id_str(e.id));
    if (!verify_sig(verify_keys_[e.id - 1], e.sig, signed_prefix(encode(e)))) {
      return Status::corruption("secagg: bad signature on the keys of " + id_str(e.id));
    }
    if (!seen_keys.insert(e.enc_pk).second || !seen_keys.insert(e.mask_pk).second) {
      return Status::corruption("secagg: repeated public key in the key list");
    }
    if (e.id == id_) {
      if (e.enc_pk != enc_pk_ || e.mask_pk != mask_pk_) return Status::corruption("secagg: own keys altered");
      self_seen = true;
    }
  }
  if (!self_seen) return Status::failed_precondition("secagg: key list without this client");

  std::map<std::uint32_t, Peer> u1;
  std::vector<std::uint64_t> xs;
  for (const auto& e : list.entries) {
    u1[e.id] = Peer{e.enc_pk, e.mask_pk};
    xs.push_back(e.id);
  }
  // Compute all the pairwise encryption keys first so a bad key aborts before anything is shared.
  std::map<std::uint32_t, Key32> enc_keys;
  for (const auto& [v, peer] : u1) {
    if (v == id_) continue;
    Key32 shared;
    HEAL_RETURN_IF_ERROR(x25519(enc_sk_, peer.enc_pk, &shared).with_context(id_str(v)));
    enc_keys[v] = derive("heal-secagg-v1-enc", cfg_.session, shared, id_, v);
    sodium_memzero(shared.data(), shared.size());
  }
  u1_ = std::move(u1);

  rng_.fill(self_seed_);
  auto key_shares = shamir_share_bytes(mask_sk_, xs, cfg_.threshold, rng_);
  auto seed_shares = shamir_share_bytes(self_seed_, xs, cfg_.threshold, rng_);
  ShareKeysMsg out{cfg_.session, id_, seed_commitment(cfg_.session, id_, self_seed_), {}, {}};
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const auto v = static_cast<std::uint32_t>(xs[j]);
    HeldShare h;
    std::copy(key_shares[j].limbs.begin(), key_shares[j].limbs.end(), h.mask_key.begin());
    std::copy(seed_shares[j].limbs.begin(), seed_shares[j].limbs.end(), h.seed.begin());
    secure_wipe(key_shares[j].limbs.data(), key_shares[j].limbs.size() * 8);
    secure_wipe(seed_shares[j].limbs.data(), seed_shares[j].limbs.size() * 8);
    if (v == id_) {
      held_[id_] = h;
      secure_wipe(&h, sizeof h);
      continue;
    }
    std::array<std::uint8_t, kSharePlaintextBytes> pt;
    put_u32(pt.data(), id_);
    put_u32(pt.data() + 4, v);
    std::memcpy(pt.data() + 8, h.mask_key.data(), 8 * kSeedLimbs);
    std::memcpy(pt.data() + 8 + 8 * kSeedLimbs, h.seed.data(), 8 * kSeedLimbs);
    EncryptedShare es;
    es.peer = v;
    rng_.fill(std::span<std::uint8_t>(es.ct.data(), 24));
    const auto ad = share_ad(cfg_.session, id_, v);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(es.ct.data() + 24, &clen, pt.data(), pt.size(), ad.data(), ad.size(),
                                               nullptr, es.ct.data(), enc_keys[v].data());
    HEAL_DCHECK(clen + 24 == kShareCiphertextBytes);
    out.shares.push_back(es);
    secure_wipe(pt.data(), pt.size());
    secure_wipe(&h, sizeof h);
  }
  for (auto& [v, k] : enc_keys) sodium_memzero(k.data(), k.size());
  Bytes bytes = encode(out);
  const Signature sig = sign(signed_prefix(bytes));
  std::copy(sig.begin(), sig.end(), bytes.end() - 64);
  round_ = 2;
  return bytes;
}

Result<Bytes> SecAggClient::masked_input(std::span<const std::uint8_t> shares_for_me,
                                         std::span<const std::uint64_t> x) {
  HEAL_REQUIRE(x.size() == cfg_.vector_len, "secagg: input has " << x.size() << " words, expected " << cfg_.vector_len);
  if (round_ != 2) return Status::failed_precondition("secagg: masked_input out of order");
  HEAL_RETURN_IF_ERROR(check_input_words(x, cfg_.word_bytes, " (word_bytes " + std::to_string(cfg_.word_bytes) + ")"));
  HEAL_ASSIGN_OR_RETURN(SharesForClientMsg m, decode_shares_for_client(shares_for_me));
  HEAL_RETURN_IF_ERROR(check_session(m.session));
  if (m.recipient != id_) return Status::corruption("secagg: shares addressed to " + id_str(m.recipient));
  if (m.shares.size() + 1 < cfg_.threshold) {
    return Status::failed_precondition("secagg: only " + std::to_string(m.shares.size() + 1) +
                                       " clients shared keys, threshold is " + std::to_string(cfg_.threshold));
  }
  std::map<std::uint32_t, HeldShare> received;
  std::vector<std::uint32_t> u2{id_};
  Status bad;
  for (const auto& es : m.shares) {
    const auto it = u1_.find(es.peer);
    if (it == u1_.end() || es.peer == id_) {
      bad = Status::corruption("secagg: shares from " + id_str(es.peer) + ", not another member of U1");
      break;
    }
    Key32 shared;
    if (Status s = x25519(enc_sk_, it->second.enc_pk, &shared); !s.ok()) {
      bad = s;
      break;
    }
    Key32 key = derive("heal-secagg-v1-enc", cfg_.session, shared, es.peer, id_);
    sodium_memzero(shared.data(), shared.size());
    std::array<std::uint8_t, kSharePlaintextBytes> pt;
    unsigned long long plen = 0;
    const auto ad = share_ad(cfg_.session, es.peer, id_);
    const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(pt.data(), &plen, nullptr, es.ct.data() + 24,
                                                              kShareCiphertextBytes - 24, ad.data(), ad.size(),
                                                              es.ct.data(), key.data());
    sodium_memzero(key.data(), key.size());
    if (rc != 0 || plen != pt.size() || get_u32(pt.data()) != es.peer || get_u32(pt.data() + 4) != id_) {
      bad = Status::corruption("secagg: share ciphertext from " + id_str(es.peer) + " does not authenticate");
      break;
    }
    HeldShare h;
    std::memcpy(h.mask_key.data(), pt.data() + 8, 8 * kSeedLimbs);
    std::memcpy(h.seed.data(), pt.data() + 8 + 8 * kSeedLimbs, 8 * kSeedLimbs);
    secure_wipe(pt.data(), pt.size());
    received[es.peer] = h;
    secure_wipe(&h, sizeof h);
    u2.push_back(es.peer);
  }
  if (!bad.ok()) {
    for (auto& [v, h] : received) secure_wipe(&h, sizeof h);
    return bad;
  }
  std::sort(u2.begin(), u2.end());

  // y = x + PRG(b_u) + sum_{v > u} PRG(s_uv) - sum_{v < u} PRG(s_uv)   (mod 2^64)
  MaskedInputMsg out{cfg_.session, id_, std::vector<std::uint64_t>(x.begin(), x.end()), {}};
  add_prg(out.y, self_seed_, false);
  HEAL_RETURN_IF_ERROR(add_pair_masks(
      out.y, mask_sk_, id_, u2, [&](std::uint32_t v) -> const PublicKey& { return u1_.at(v).mask_pk; },
      [&](const Key32& shared, std::uint32_t v) {
        return derive("heal-secagg-v1-mask", cfg_.session, shared, id_, v);
      }));
  for (auto& [v, h] : received) held_[v] = h;
  u2_ = std::move(u2);
  out.word_bytes = static_cast<std::uint8_t>(cfg_.word_bytes);
  reduce_words(out.y, cfg_.word_bytes);
  Bytes bytes = encode(out);
  const Signature sig = sign(signed_prefix(bytes));
  std::copy(sig.begin(), sig.end(), bytes.end() - 64);
  round_ = 3;
  return bytes;
}

Result<Bytes> SecAggClient::sign_survivors(std::span<const std::uint8_t> survivors) {
  if (round_ != 3) {
    return Status::failed_precondition("secagg: sign_survivors out of order (a client signs one survivor set)");
  }
  HEAL_ASSIGN_OR_RETURN(SurvivorsMsg m, decode_survivors(survivors));
  HEAL_RETURN_IF_ERROR(check_session(m.session));
  HEAL_RETURN_IF_ERROR(at_least_inputs(m.ids.size(), cfg_, "survivors"));
  HEAL_RETURN_IF_ERROR(survivors_in_u2(m.ids, u2_));
  if (!contains(m.ids, id_)) return Status::failed_precondition("secagg: survivor set without this client");
  u3_ = m.ids;
  SurvivorSigMsg out{cfg_.session, id_, sign(encode(m))};
  round_ = 4;
  return encode(out);
}

Result<Bytes> SecAggClient::unmask(std::span<const std::uint8_t> unmask_request) {
  if (round_ != 4 && round_ != 5) return Status::failed_precondition("secagg: unmask out of order");
  HEAL_ASSIGN_OR_RETURN(UnmaskRequestMsg m, decode_unmask_request(unmask_request));
  HEAL_RETURN_IF_ERROR(check_session(m.session));
  HEAL_RETURN_IF_ERROR(survivors_in_u2(m.survivors, u2_));
  // Never reveal both secrets of one client: b_v (v survived) and s_v^SK (v dropped).
  HEAL_RETURN_IF_ERROR(check_single_reveal(u2_, m.survivors, revealed_, ""));
  if (m.survivors != u3_) return Status::failed_precondition("secagg: survivor set differs from the one signed");
  HEAL_RETURN_IF_ERROR(at_least(m.sigs.size(), cfg_.threshold, "consistency signatures"));
  const Bytes statement = encode(SurvivorsMsg{cfg_.session, u3_});
  for (const auto& s : m.sigs) {
    if (!contains(u3_, s.id)) return Status::corruption("secagg: consistency signature of a non-survivor");
    if (!verify_sig(verify_keys_[s.id - 1], s.sig, statement)) {
      return Status::corruption("secagg: bad consistency signature of " + id_str(s.id));
    }
  }
  UnmaskResponseMsg out{cfg_.session, id_, {}, {}};
  for (auto v : u2_) {
    const HeldShare& h = held_.at(v);
    RevealedShare r;
    r.owner = v;
    r.kind = contains(u3_, v) ? ShareKind::kSelfMaskSeed : ShareKind::kMaskingKey;
    r.limbs = r.kind == ShareKind::kSelfMaskSeed ? h.seed : h.mask_key;
    revealed_[v] = r.kind;
    out.shares.push_back(r);
  }
  Bytes bytes = encode(out);
  const Signature sig = sign(signed_prefix(bytes));
  std::copy(sig.begin(), sig.end(), bytes.end() - 64);
  round_ = 5;
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Server

SecAggServer::SecAggServer(SecAggConfig cfg, std::vector<PublicKey> verify_keys)
    : cfg_(cfg), verify_keys_(std::move(verify_keys)) {
  validate(cfg_);
  HEAL_REQUIRE(verify_keys_.size() == cfg_.num_clients, "secagg: need one verify key per client");
  ensure_crypto_init();
}

Status SecAggServer::check_client(const Seed& session, std::uint32_t id) const {
  if (session != cfg_.session) return Status::failed_precondition("secagg: message of another session");
  if (id > cfg_.num_clients) return Status::corruption("secagg: unknown " + id_str(id));
  return {};
}

Status SecAggServer::verify(std::uint32_t id, std::span<const std::uint8_t> msg) const {
  if (msg.size() < 64) return Status::corruption("secagg: message too short for a signature");
  Signature sig;
  std::copy(msg.end() - 64, msg.end(), sig.begin());
  if (!verify_sig(verify_keys_[id - 1], sig, signed_prefix(msg))) {
    return Status::corruption("secagg: bad signature on a message of " + id_str(id));
  }
  return {};
}

Status SecAggServer::receive_advertise(std::span<const std::uint8_t> msg) {
  if (round_ != 0) return Status::failed_precondition("secagg: round 0 is closed");
  HEAL_ASSIGN_OR_RETURN(AdvertiseMsg m, decode_advertise(msg));
  HEAL_RETURN_IF_ERROR(check_client(m.session, m.id));
  if (adverts_.count(m.id)) return Status::failed_precondition("secagg: second advertisement of " + id_str(m.id));
  HEAL_RETURN_IF_ERROR(verify(m.id, msg));
  adverts_[m.id] = m;
  return {};
}

Result<Bytes> SecAggServer::key_list() {
  if (round_ != 0) return Status::failed_precondition("secagg: key_list out of order");
  HEAL_RETURN_IF_ERROR(at_least(adverts_.size(), cfg_.threshold, "clients advertised keys"));
  KeyListMsg out{cfg_.session, {}};
  for (const auto& [id, a] : adverts_) out.entries.push_back(a);
  round_ = 1;
  return encode(out);
}

Status SecAggServer::receive_shares(std::span<const std::uint8_t> msg) {
  if (round_ != 1) return Status::failed_precondition("secagg: round 1 is not open");
  HEAL_ASSIGN_OR_RETURN(ShareKeysMsg m, decode_share_keys(msg));
  HEAL_RETURN_IF_ERROR(check_client(m.session, m.sender));
  if (!adverts_.count(m.sender)) return Status::failed_precondition("secagg: shares from outside U1");
  if (shares_.count(m.sender))
    return Status::failed_precondition("secagg: second share message of " + id_str(m.sender));
  HEAL_RETURN_IF_ERROR(verify(m.sender, msg));
  // Exactly one ciphertext for every other member of U1.
  HEAL_RETURN_IF_ERROR(addressed_to_u1(adverts_, m.sender, m.shares));
  shares_[m.sender] = std::move(m);
  return {};
}

Result<std::vector<std::pair<std::uint32_t, Bytes>>> SecAggServer::route_shares() {
  if (round_ != 1) return Status::failed_precondition("secagg: route_shares out of order");
  HEAL_RETURN_IF_ERROR(at_least(shares_.size(), cfg_.threshold, "clients shared keys"));
  std::vector<std::pair<std::uint32_t, Bytes>> out;
  for (const auto& [v, unused] : shares_) {
    SharesForClientMsg m{cfg_.session, v, {}};
    for (const auto& [u, sm] : shares_) {
      if (u == v) continue;
      const auto it =
          std::find_if(sm.shares.begin(), sm.shares.end(), [rcpt = v](const auto& e) { return e.peer == rcpt; });
      EncryptedShare routed = *it;  // present: receive_shares checked all of U1 is addressed
      routed.peer = u;
      m.shares.push_back(routed);
    }
    out.emplace_back(v, encode(m));
  }
  round_ = 2;
  return out;
}

Status SecAggServer::receive_masked_input(std::span<const std::uint8_t> msg) {
  if (round_ != 2) return Status::failed_precondition("secagg: round 2 is not open");
  HEAL_ASSIGN_OR_RETURN(MaskedInputMsg m, decode_masked_input(msg));
  HEAL_RETURN_IF_ERROR(check_client(m.session, m.id));
  if (!shares_.count(m.id)) return Status::failed_precondition("secagg: masked input from outside U2");
  if (masked_.count(m.id)) return Status::failed_precondition("secagg: second masked input of " + id_str(m.id));
  if (m.y.size() != cfg_.vector_len) return Status::corruption("secagg: masked input of the wrong length");
  if (m.word_bytes != cfg_.word_bytes) {
    return Status::corruption("secagg: masked input of " + std::to_string(m.word_bytes) +
                              "-byte words, the session uses " + std::to_string(cfg_.word_bytes));
  }
  HEAL_RETURN_IF_ERROR(verify(m.id, msg));
  masked_[m.id] = std::move(m.y);
  return {};
}

Result<Bytes> SecAggServer::survivors() {
  if (round_ != 2) return Status::failed_precondition("secagg: survivors out of order");
  HEAL_RETURN_IF_ERROR(at_least_inputs(masked_.size(), cfg_, "masked inputs"));
  u3_.clear();
  for (const auto& [id, y] : masked_) u3_.push_back(id);
  round_ = 3;
  return encode(SurvivorsMsg{cfg_.session, u3_});
}

Status SecAggServer::receive_survivor_signature(std::span<const std::uint8_t> msg) {
  if (round_ != 3) return Status::failed_precondition("secagg: round 3 is not open");
  HEAL_ASSIGN_OR_RETURN(SurvivorSigMsg m, decode_survivor_sig(msg));
  HEAL_RETURN_IF_ERROR(check_client(m.session, m.id));
  if (!contains(u3_, m.id)) return Status::failed_precondition("secagg: signature from outside U3");
  if (u3_sigs_.count(m.id)) return Status::failed_precondition("secagg: second signature of " + id_str(m.id));
  if (!verify_sig(verify_keys_[m.id - 1], m.sig, encode(SurvivorsMsg{cfg_.session, u3_}))) {
    return Status::corruption("secagg: bad consistency signature of " + id_str(m.id));
  }
  u3_sigs_[m.id] = m.sig;
  return {};
}

Result<Bytes> SecAggServer::unmask_request() {
  if (round_ != 3) return Status::failed_precondition("secagg: unmask_request out of order");
  HEAL_RETURN_IF_ERROR(at_least(u3_sigs_.size(), cfg_.threshold, "consistency signatures"));
  UnmaskRequestMsg m{cfg_.session, u3_, {}};
  for (const auto& [id, sig] : u3_sigs_) m.sigs.push_back(SurvivorSigMsg{cfg_.session, id, sig});
  round_ = 4;
  return encode(m);
}

Status SecAggServer::receive_unmask(std::span<const std::uint8_t> msg) {
  if (round_ != 4) return Status::failed_precondition("secagg: round 4 is not open");
  HEAL_ASSIGN_OR_RETURN(UnmaskResponseMsg m, decode_unmask_response(msg));
  HEAL_RETURN_IF_ERROR(check_client(m.session, m.id));
  if (!u3_sigs_.count(m.id)) return Status::failed_precondition("secagg: unmasking shares from outside U4");
  if (unmask_.count(m.id)) return Status::failed_precondition("secagg: second unmasking message of " + id_str(m.id));
  HEAL_RETURN_IF_ERROR(verify(m.id, msg));
  // One share for every member of U2: of b_v for survivors, of s_v^SK for the dropped.
  if (m.shares.size() != shares_.size()) return Status::corruption("secagg: unmasking shares do not cover U2");
  std::size_t j = 0;
  for (const auto& [v, unused] : shares_) {
    const RevealedShare& r = m.shares[j++];
    const ShareKind want = contains(u3_, v) ? ShareKind::kSelfMaskSeed : ShareKind::kMaskingKey;
    if (r.owner != v || r.kind != want) return Status::corruption("secagg: unmasking shares do not match U2 / U3");
  }
  unmask_[m.id] = std::move(m.shares);
  return {};
}

Result<std::vector<std::uint64_t>> SecAggServer::finish() {
  if (round_ != 4) return Status::failed_precondition("secagg: finish out of order");
  HEAL_RETURN_IF_ERROR(at_least(unmask_.size(), cfg_.threshold, "clients sent unmasking shares"));
  std::vector<std::uint64_t> sum = sum_masked(masked_, cfg_.vector_len);

  std::size_t j = 0;
  for (const auto& [v, unused] : shares_) {
    auto secret = reconstruct_secret(
        unmask_, j++, [](const RevealedShare& r) -> const auto& { return r.limbs; }, cfg_.threshold, 32);
    if (!secret.ok()) return secret.status().with_context("secagg: reconstructing the secret of " + id_str(v));
    Key32 key;
    std::copy(secret->span().begin(), secret->span().end(), key.begin());
    if (contains(u3_, v)) {
      if (seed_commitment(cfg_.session, v, key) != shares_.at(v).seed_commitment) {
        sodium_memzero(key.data(), key.size());
        return Status::corruption("secagg: reconstructed self-mask seed of " + id_str(v) +
                                  " does not match its commitment (a wrong unmasking share)");
      }
      add_prg(sum, key, true);  // remove PRG(b_v)
    } else {
      PublicKey pk;
      crypto_scalarmult_base(pk.data(), key.data());
      if (pk != adverts_.at(v).mask_pk) {
        sodium_memzero(key.data(), key.size());
        return Status::corruption("secagg: reconstructed masking key of " + id_str(v) + " does not match its keys");
      }
      // Survivor u added PRG(s_uv) if v > u and subtracted it if v < u: undo that.
      if (Status s = add_pair_masks(
              sum, key, v, u3_, [&](std::uint32_t u) -> const PublicKey& { return adverts_.at(u).mask_pk; },
              [&, dropped = v](const Key32& shared, std::uint32_t u) {  // clang < 16: no binding capture
                return derive("heal-secagg-v1-mask", cfg_.session, shared, u, dropped);
              });
          !s.ok()) {
        sodium_memzero(key.data(), key.size());
        return s;
      }
    }
    sodium_memzero(key.data(), key.size());
  }
  sign_extend_words(sum, cfg_.word_bytes);
  round_ = 5;
  return sum;
}

}  // namespace heal::smpc
