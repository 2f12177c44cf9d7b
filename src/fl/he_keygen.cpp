// Dealer-free key setup of secure mode "he" (heal/fl/he_keygen.h): collective public key (CKG of
// Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, ePrint 2020/304) and t-of-n access structure by
// Shamir re-sharing of each party's additive secret (Mouchet, Bertrand, Hubaux, ePrint 2022/780),
// the Shamir shares travelling in libsodium sealed boxes. The ckks layer does the lattice work
// (CollectivePublicKeyGen, ThresholdKeyGen); this file moves, binds and checks the bytes.
//
// Wire format (HEAL header ObjectType::kFlUpdate, version 2, like the other HE messages):
//   public share  u8 kind 8, 32-byte setup digest, u32 sender, u64 size + ckks KeyShare (kPublicKey)
//   sealed share  u8 kind 9, 32-byte setup digest, u32 sender, u32 recipient, u64 size + sealed box
//   sealed plaintext: "HEAL-fl-he-shamir-v1" (20 bytes), setup digest, u32 sender, u32 recipient,
//                     ckks KeyShare (kShamirSecret, party = sender + 1, recipient = recipient + 1)
// setup digest = BLAKE2b-256("HEAL-fl-he-setup-v1" || crs || parameter hash || u32 parties || u32 t).
#include "heal/fl/he_keygen.h"

#include <sodium.h>

#include <cstring>
#include <numeric>
#include <string>

#include "he_internal.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/ckks/serialization.h"
#include "heal/core/check.h"
#include "heal/core/serialization.h"

namespace heal::fl {

namespace {

using ckks::multiparty::KeyShare;
using ckks::multiparty::ShareKind;

constexpr std::uint8_t kPublicShareKind = 8;
constexpr std::uint8_t kSealedShareKind = 9;
constexpr char kShamirDomain[] = "HEAL-fl-he-shamir-v1";
constexpr std::size_t kShamirDomainSize = sizeof(kShamirDomain) - 1;
constexpr std::size_t kMaxParties = 1u << 16;

void put_u32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

Digest setup_digest(const he::Shared& sh) {
  Blake2b h;
  h.update(std::string_view("HEAL-fl-he-setup-v1"));
  h.update(sh.crs);
  h.update(sh.params_hash);
  Bytes tail;
  put_u32(tail, static_cast<std::uint32_t>(sh.parties));
  put_u32(tail, sh.threshold);
  h.update(tail);
  return h.finish();
}

std::shared_ptr<he::Shared> distributed_state(const HeAggregatorConfig& config, std::size_t num_parties,
                                              std::span<const std::uint8_t> federation_id) {
  HEAL_REQUIRE(!federation_id.empty(), "he keygen: the federation id must not be empty");
  HEAL_REQUIRE(num_parties <= kMaxParties, "he keygen: too many parties");
  auto sh = he::make_shared_state(config, num_parties);
  sh->crs = he_crs_from_federation(federation_id);
  return sh;
}

std::string from(std::size_t sender) { return "party " + std::to_string(sender) + ": "; }

// A public CKG share message of `sender`, checked against the setup.
Result<KeyShare> read_public_share(const he::Shared& sh, const Digest& setup, std::span<const std::uint8_t> bytes,
                                   PartyId sender) {
  ByteReader r(bytes);
  HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, ObjectType::kFlUpdate, he::kWireVersion));
  if (h.version != he::kWireVersion || h.payload_size != r.remaining()) {
    return Status::corruption("he keygen public share: bad header");
  }
  std::uint8_t kind = 0;
  std::span<const std::uint8_t> digest;
  std::uint32_t who = 0;
  std::uint64_t size = 0;
  HEAL_RETURN_IF_ERROR(r.get(&kind));
  if (kind != kPublicShareKind) {
    return Status::corruption("he keygen public share: unexpected kind " + std::to_string(kind));
  }
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &digest));
  if (std::memcmp(digest.data(), setup.data(), 32) != 0) {
    return Status::corruption("he keygen public share: made for another setup (federation, parameters or parties)");
  }
  HEAL_RETURN_IF_ERROR(r.get(&who));
  if (who != sender) {
    return Status::corruption("he keygen public share: claims sender " + std::to_string(who) + ", expected " +
                              std::to_string(sender));
  }
  HEAL_RETURN_IF_ERROR(r.get(&size));
  if (size != r.remaining()) return Status::corruption("he keygen public share: size mismatch");
  std::span<const std::uint8_t> body;
  HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(size), &body));
  auto share = ckks::load_key_share(*sh.ctx, body);
  if (!share.ok()) return share.status().with_context("he keygen public share");
  if (share->kind != ShareKind::kPublicKey || share->party != sender + 1) {
    return Status::corruption("he keygen public share: not a public-key share of party " + std::to_string(sender));
  }
  return std::move(*share);
}

// Sums every party's public share into the collective public key (serialized).
Result<Bytes> collective_key(const he::Shared& sh, const Digest& setup, std::span<const Bytes> public_shares) {
  if (public_shares.size() != sh.parties) {
    return Status::invalid_argument("he keygen: need " + std::to_string(sh.parties) + " public shares, got " +
                                    std::to_string(public_shares.size()));
  }
  std::vector<KeyShare> shares;
  for (std::size_t i = 0; i < public_shares.size(); ++i) {
    auto s = read_public_share(sh, setup, public_shares[i], static_cast<PartyId>(i));
    if (!s.ok()) return s.status().with_context(from(i));
    shares.push_back(std::move(*s));
  }
  const ckks::multiparty::CollectivePublicKeyGen cpkg(sh.ctx, sh.crs);
  return ckks::save(*sh.ctx, cpkg.finalize(cpkg.aggregate_shares(shares)));
}

}  // namespace

Seed he_crs_from_federation(std::span<const std::uint8_t> federation_id) {
  Blake2b h;
  h.update(std::string_view("HEAL-fl-he-crs-v1"));
  Bytes len;
  const std::uint64_t n = federation_id.size();
  for (int i = 0; i < 8; ++i) len.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  h.update(len);
  h.update(federation_id);
  return h.finish();
}

Result<HeSealedEnvelope> he_parse_sealed_share(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, ObjectType::kFlUpdate, he::kWireVersion));
  if (h.version != he::kWireVersion || h.payload_size != r.remaining()) {
    return Status::corruption("he keygen sealed share: bad header");
  }
  HeSealedEnvelope e;
  std::uint8_t kind = 0;
  std::span<const std::uint8_t> digest;
  std::uint64_t size = 0;
  HEAL_RETURN_IF_ERROR(r.get(&kind));
  if (kind != kSealedShareKind) {
    return Status::corruption("he keygen sealed share: unexpected kind " + std::to_string(kind));
  }
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &digest));
  std::memcpy(e.setup.data(), digest.data(), 32);
  HEAL_RETURN_IF_ERROR(r.get(&e.sender));
  HEAL_RETURN_IF_ERROR(r.get(&e.recipient));
  if (e.sender >= kMaxParties || e.recipient >= kMaxParties || e.sender == e.recipient) {
    return Status::corruption("he keygen sealed share: bad sender/recipient");
  }
  HEAL_RETURN_IF_ERROR(r.get(&size));
  if (size != r.remaining()) return Status::corruption("he keygen sealed share: size mismatch (truncated?)");
  if (size < crypto_box_SEALBYTES) return Status::corruption("he keygen sealed share: box too short");
  HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(size), &e.box));
  return e;
}

Result<HePublicSetup> he_public_setup(const HeAggregatorConfig& config, std::size_t num_parties,
                                      std::span<const std::uint8_t> federation_id,
                                      std::span<const Bytes> public_shares) {
  auto sh = distributed_state(config, num_parties, federation_id);
  auto cpk = collective_key(*sh, setup_digest(*sh), public_shares);
  if (!cpk.ok()) return cpk.status();
  return HePublicSetup{config, num_parties, sh->crs, blake2b_256(*cpk)};
}

// ---------------------------------------------------------------------------------------------
// HeKeyMaterial

struct HeKeyMaterial::Impl {
  std::shared_ptr<he::Shared> sh;
  PartyId id = 0;
  he::Material material;
  HePublicSetup setup;
  Bytes cpk;
};

HeKeyMaterial::HeKeyMaterial(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HeKeyMaterial::HeKeyMaterial(HeKeyMaterial&&) noexcept = default;
HeKeyMaterial& HeKeyMaterial::operator=(HeKeyMaterial&&) noexcept = default;
HeKeyMaterial::~HeKeyMaterial() = default;  // SecretKey and KeyShare wipe themselves

PartyId HeKeyMaterial::party() const { return impl_->id; }
const HePublicSetup& HeKeyMaterial::public_setup() const { return impl_->setup; }
const Digest& HeKeyMaterial::collective_public_key_hash() const { return impl_->setup.cpk_hash; }
const Bytes& HeKeyMaterial::collective_public_key() const { return impl_->cpk; }

std::unique_ptr<AggregationParty> HeKeyMaterial::make_party() const {
  return he::make_party(impl_->sh, impl_->id, impl_->material);
}

Result<std::unique_ptr<NodeStore>> HeKeyMaterial::create_store(const std::string& path, std::string_view passphrase,
                                                               const VaultKdf& kdf) const {
  const auto& sh = *impl_->sh;
  return NodeStore::create(path, passphrase, impl_->id, sh.cpk_hash, sh.config.max_decryptions,
                           he::save_material(sh, impl_->id, impl_->material), kdf);
}

std::vector<std::uint64_t> HeKeyMaterial::secret_for_testing() const {
  const auto& ctx = *impl_->sh->ctx;
  const auto& s = impl_->material.secret.poly();
  return std::vector<std::uint64_t>(s.data(), s.data() + ctx.q_count() * ctx.n());
}

std::vector<std::uint64_t> HeKeyMaterial::shamir_share_for_testing() const {
  const auto& ctx = *impl_->sh->ctx;
  const KeyShare sum = ckks::multiparty::sum_key_shares(ctx, impl_->material.received);
  return std::vector<std::uint64_t>(sum.polys[0].data(), sum.polys[0].data() + ctx.q_count() * ctx.n());
}

// ---------------------------------------------------------------------------------------------
// HeKeyGenParty

struct HeKeyGenParty::Impl {
  std::shared_ptr<he::Shared> sh;
  Digest setup{};
  PartyId id = 0;
  ckks::SecretKey secret;  // s_i, drawn from the party's own rng
  BoxPublicKey box_pk{};
  std::array<std::uint8_t, crypto_box_SECRETKEYBYTES> box_sk{};
  bool round1_done = false;
  Bytes own_public_share;
  KeyShare own_shamir;  // f_i(x_i)

  ~Impl() { sodium_memzero(box_sk.data(), box_sk.size()); }
};

HeKeyGenParty::HeKeyGenParty(const HeAggregatorConfig& config, std::size_t num_parties, PartyId party,
                             std::span<const std::uint8_t> federation_id, Rng& rng)
    : impl_(std::make_unique<Impl>()) {
  HEAL_REQUIRE(sodium_init() >= 0, "he keygen: libsodium initialisation failed");
  auto& m = *impl_;
  m.sh = distributed_state(config, num_parties, federation_id);
  HEAL_REQUIRE(party < num_parties, "he keygen: party " << party << " not in [0, " << num_parties << ")");
  m.id = party;
  m.setup = setup_digest(*m.sh);
  // s_i from this party's rng alone (the ternary secret distribution of KeyGenerator).
  Seed seed{};
  rng.fill(seed);
  {
    ckks::KeyGenerator kg(m.sh->ctx, std::make_unique<SeededRng>(seed));
    m.secret = kg.secret_key();
  }
  sodium_memzero(seed.data(), seed.size());
  HEAL_REQUIRE(crypto_box_keypair(m.box_pk.data(), m.box_sk.data()) == 0, "he keygen: crypto_box_keypair failed");
}

HeKeyGenParty::~HeKeyGenParty() = default;

PartyId HeKeyGenParty::party() const { return impl_->id; }
const BoxPublicKey& HeKeyGenParty::box_public_key() const { return impl_->box_pk; }

Result<HeKeyGenRound1> HeKeyGenParty::round1(std::span<const BoxPublicKey> box_keys, Rng& rng) {
  auto& m = *impl_;
  const auto& sh = *m.sh;
  if (m.round1_done) return Status::failed_precondition("he keygen: round 1 already run (fresh randomness per setup)");
  if (box_keys.size() != sh.parties) {
    return Status::invalid_argument("he keygen: need " + std::to_string(sh.parties) + " box public keys, got " +
                                    std::to_string(box_keys.size()));
  }
  if (box_keys[m.id] != m.box_pk) {
    return Status::invalid_argument("he keygen: box key list does not hold this party's key");
  }
  std::vector<ckks::multiparty::PartyId> ids(sh.parties);
  std::iota(ids.begin(), ids.end(), 1u);
  const ckks::multiparty::ThresholdKeyGen tkg(sh.ctx, sh.threshold, ids);
  const ckks::multiparty::CollectivePublicKeyGen cpkg(sh.ctx, sh.crs);
  HeKeyGenRound1 out;
  {
    const KeyShare p = cpkg.gen_share(m.id + 1, m.secret, rng);
    const Bytes body = ckks::save(*sh.ctx, p);
    ByteWriter w;
    const std::size_t start = begin_object(w, ObjectType::kFlUpdate, he::kWireVersion);
    w.put<std::uint8_t>(kPublicShareKind);
    w.put_bytes(m.setup);
    w.put<std::uint32_t>(m.id);
    w.put<std::uint64_t>(body.size());
    w.put_bytes(body);
    end_object(w, start);
    out.public_share = w.take();
  }
  std::vector<KeyShare> shamir = tkg.gen_share(m.id + 1, m.secret, rng);
  out.sealed.resize(sh.parties);
  for (std::size_t j = 0; j < sh.parties; ++j) {
    if (j == m.id) {
      m.own_shamir = std::move(shamir[j]);
      continue;
    }
    Bytes body = ckks::save(*sh.ctx, shamir[j]);
    // Sized once, so no reallocation leaves a copy of the share behind.
    Bytes plain(kShamirDomainSize + 32 + 8 + body.size());
    std::uint8_t* at = plain.data();
    std::memcpy(at, kShamirDomain, kShamirDomainSize);
    std::memcpy(at + kShamirDomainSize, m.setup.data(), 32);
    for (int b = 0; b < 4; ++b) {
      at[kShamirDomainSize + 32 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(m.id >> (8 * b));
      at[kShamirDomainSize + 36 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(j >> (8 * b));
    }
    std::memcpy(at + kShamirDomainSize + 40, body.data(), body.size());
    secure_wipe(body);
    Bytes box(plain.size() + crypto_box_SEALBYTES);
    const int rc = crypto_box_seal(box.data(), plain.data(), plain.size(), box_keys[j].data());
    secure_wipe(plain);
    if (rc != 0) return Status::internal("he keygen: crypto_box_seal failed for party " + std::to_string(j));
    ByteWriter w;
    const std::size_t start = begin_object(w, ObjectType::kFlUpdate, he::kWireVersion);
    w.put<std::uint8_t>(kSealedShareKind);
    w.put_bytes(m.setup);
    w.put<std::uint32_t>(m.id);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(j));
    w.put<std::uint64_t>(box.size());
    w.put_bytes(box);
    end_object(w, start);
    out.sealed[j] = w.take();
  }
  m.own_public_share = out.public_share;
  m.round1_done = true;
  return out;
}

Result<HeKeyMaterial> HeKeyGenParty::round2(std::span<const Bytes> public_shares, std::span<const Bytes> sealed_to_me) {
  auto& m = *impl_;
  const auto& sh = *m.sh;
  const auto& ctx = *sh.ctx;
  if (!m.round1_done) return Status::failed_precondition("he keygen: round 2 before round 1");
  if (sealed_to_me.size() != sh.parties) {
    return Status::invalid_argument("he keygen: need " + std::to_string(sh.parties) + " sealed-share slots, got " +
                                    std::to_string(sealed_to_me.size()));
  }
  if (public_shares.size() == sh.parties && public_shares[m.id] != m.own_public_share) {
    return Status::invalid_argument("he keygen: the public share listed for this party is not the one it made");
  }
  he::Material material;
  material.secret = m.secret;
  material.received.resize(sh.parties);
  for (std::size_t i = 0; i < sh.parties; ++i) {
    if (i == m.id) {
      material.received[i] = m.own_shamir;
      continue;
    }
    auto env = he_parse_sealed_share(sealed_to_me[i]);
    if (!env.ok()) return env.status().with_context(from(i) + "sealed share");
    if (env->setup != m.setup) {
      return Status::corruption(from(i) + "sealed share made for another setup (federation, parameters or parties)");
    }
    if (env->sender != i) {
      return Status::corruption(from(i) + "sealed share claims sender " + std::to_string(env->sender));
    }
    if (env->recipient != m.id) {
      return Status::corruption(from(i) + "sealed share is addressed to party " + std::to_string(env->recipient) +
                                ", not to this party (" + std::to_string(m.id) + ")");
    }
    Bytes plain(env->box.size() - crypto_box_SEALBYTES);
    if (crypto_box_seal_open(plain.data(), env->box.data(), env->box.size(), m.box_pk.data(), m.box_sk.data()) != 0) {
      return Status::corruption(from(i) +
                                "sealed share does not open with this party's box key "
                                "(sealed to another recipient, or altered)");
    }
    const SecretBytes guard(std::move(plain));  // wiped on every return below
    const std::span<const std::uint8_t> pt(guard.data(), guard.size());
    constexpr std::size_t kPrefix = kShamirDomainSize + 32 + 8;
    if (pt.size() < kPrefix || std::memcmp(pt.data(), kShamirDomain, kShamirDomainSize) != 0) {
      return Status::corruption(from(i) + "sealed share: not a Shamir share message");
    }
    if (std::memcmp(pt.data() + kShamirDomainSize, m.setup.data(), 32) != 0) {
      return Status::corruption(from(i) + "sealed share: bound to another setup (replayed?)");
    }
    auto u32 = [&](std::size_t off) {
      std::uint32_t v = 0;
      for (int b = 0; b < 4; ++b) v |= std::uint32_t{pt[off + static_cast<std::size_t>(b)]} << (8 * b);
      return v;
    };
    const std::uint32_t in_sender = u32(kShamirDomainSize + 32), in_recipient = u32(kShamirDomainSize + 36);
    if (in_sender != i || in_recipient != m.id) {
      return Status::corruption(from(i) + "sealed share: inside it is bound to sender " + std::to_string(in_sender) +
                                " and recipient " + std::to_string(in_recipient) + " (re-addressed or replayed)");
    }
    auto share = ckks::load_key_share(ctx, pt.subspan(kPrefix));
    if (!share.ok()) return share.status().with_context(from(i) + "sealed share");
    if (share->kind != ShareKind::kShamirSecret || share->party != i + 1 || share->recipient != m.id + 1) {
      return Status::corruption(from(i) + "sealed share: not a Shamir share from that sender to this party");
    }
    material.received[i] = std::move(*share);
  }
  auto cpk = collective_key(sh, m.setup, public_shares);
  if (!cpk.ok()) return cpk.status();

  auto impl = std::make_unique<HeKeyMaterial::Impl>();
  impl->sh = m.sh;
  impl->id = m.id;
  impl->material = std::move(material);
  impl->setup = HePublicSetup{sh.config, sh.parties, sh.crs, blake2b_256(*cpk)};
  impl->cpk = std::move(*cpk);
  m.sh->cpk_hash = impl->setup.cpk_hash;
  return HeKeyMaterial(std::move(impl));
}

}  // namespace heal::fl
