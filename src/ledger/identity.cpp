#include "heal/ledger/identity.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

#include <cstring>

#include "heal/core/check.h"
#include "heal/core/hash.h"

namespace heal::ledger {
namespace {

constexpr std::size_t kSecpPublicKeyBytes = 33;  // compressed point
constexpr std::size_t kSecpSignatureBytes = 64;  // compact r || s

// One context for the process, randomized once (side-channel blinding of signing) with a seed from
// the core CSPRNG. libsecp256k1 contexts are safe to share between threads for signing and
// verification once created.
const secp256k1_context* secp_ctx() {
  static secp256k1_context* const ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    HEAL_REQUIRE(c != nullptr, "secp256k1_context_create failed");
    Seed blind = random_seed();
    const int ok = secp256k1_context_randomize(c, blind.data());
    secure_wipe(blind.data(), blind.size());
    HEAL_REQUIRE(ok == 1, "secp256k1_context_randomize failed");
    return c;
  }();
  return ctx;
}

Status verify_secp256k1(const Identity& signer, std::span<const std::uint8_t> message,
                        std::span<const std::uint8_t> signature) {
  secp256k1_pubkey pk;
  if (secp256k1_ec_pubkey_parse(secp_ctx(), &pk, signer.public_key.data(), signer.public_key.size()) != 1) {
    return Status::corruption("secp256k1 public key of " + signer.short_name() + " is not a point on the curve");
  }
  secp256k1_ecdsa_signature sig;
  if (secp256k1_ecdsa_signature_parse_compact(secp_ctx(), &sig, signature.data()) != 1) {
    return Status::corruption("signature by " + signer.short_name() + " has r or s out of range");
  }
  // The verifier refuses high S itself; say so explicitly (normalize returns 1 if S was high).
  secp256k1_ecdsa_signature low;
  if (secp256k1_ecdsa_signature_normalize(secp_ctx(), &low, &sig) == 1) {
    return Status::corruption("signature by " + signer.short_name() + " has a high S (not canonical)");
  }
  const Digest h = blake2b_256(message);
  if (secp256k1_ecdsa_verify(secp_ctx(), &sig, h.data(), &pk) != 1) {
    return Status::corruption("signature by " + signer.short_name() + " does not verify");
  }
  return {};
}

}  // namespace

std::string_view scheme_name(SignatureScheme s) {
  switch (s) {
    case SignatureScheme::kEd25519: return "ed25519";
    case SignatureScheme::kSecp256k1: return "secp256k1";
  }
  return "unknown";
}

std::size_t public_key_size(SignatureScheme s) {
  switch (s) {
    case SignatureScheme::kEd25519: return crypto_sign_PUBLICKEYBYTES;
    case SignatureScheme::kSecp256k1: return kSecpPublicKeyBytes;
  }
  return 0;
}

std::size_t signature_size(SignatureScheme s) {
  switch (s) {
    case SignatureScheme::kEd25519: return crypto_sign_BYTES;
    case SignatureScheme::kSecp256k1: return kSecpSignatureBytes;
  }
  return 0;
}

std::string Identity::short_name() const {
  const std::size_t n = std::min<std::size_t>(public_key.size(), 8);
  return std::string(scheme_name(scheme)) + ":" + to_hex({public_key.data(), n});
}

std::string Identity::to_string() const { return std::string(scheme_name(scheme)) + ":" + to_hex(public_key); }

Status validate_identity(const Identity& id) {
  const std::size_t want = public_key_size(id.scheme);
  if (want == 0) {
    return Status::unsupported("signature scheme " + std::to_string(static_cast<int>(id.scheme)) + " is not supported");
  }
  if (id.public_key.size() != want) {
    return Status::corruption(std::string(scheme_name(id.scheme)) + " public key has " +
                              std::to_string(id.public_key.size()) + " bytes, expected " + std::to_string(want));
  }
  return {};
}

Status verify_signature(const Identity& signer, std::span<const std::uint8_t> message,
                        std::span<const std::uint8_t> signature) {
  HEAL_RETURN_IF_ERROR(validate_identity(signer));
  if (signature.size() != signature_size(signer.scheme)) {
    return Status::corruption("signature has " + std::to_string(signature.size()) + " bytes, expected " +
                              std::to_string(signature_size(signer.scheme)));
  }
  if (signer.scheme == SignatureScheme::kSecp256k1) return verify_secp256k1(signer, message, signature);
  ensure_crypto_init();
  // libsodium's verifier rejects non-canonical encodings and small-order keys.
  if (crypto_sign_verify_detached(signature.data(), message.data(), message.size(), signer.public_key.data()) != 0) {
    return Status::corruption("signature by " + signer.short_name() + " does not verify");
  }
  return {};
}

std::unique_ptr<Ed25519Signer> Ed25519Signer::generate() { return from_seed(random_seed()); }

namespace {
// A signer of type S from a seed drawn from `rng`; the seed is wiped.
template <typename S>
std::unique_ptr<S> signer_from_rng(Rng& rng) {
  Seed seed;
  rng.fill(seed);
  auto s = S::from_seed(seed);
  secure_wipe(seed.data(), seed.size());
  return s;
}
}  // namespace

std::unique_ptr<Ed25519Signer> Ed25519Signer::from_rng(Rng& rng) { return signer_from_rng<Ed25519Signer>(rng); }

std::unique_ptr<Ed25519Signer> Ed25519Signer::from_seed(const Seed& seed) {
  ensure_crypto_init();
  std::unique_ptr<Ed25519Signer> s(new Ed25519Signer());
  s->identity_.scheme = SignatureScheme::kEd25519;
  s->identity_.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  static_assert(sizeof(s->secret_key_) == crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(s->identity_.public_key.data(), s->secret_key_, seed.data());
  return s;
}

Ed25519Signer::~Ed25519Signer() { secure_wipe(secret_key_, sizeof(secret_key_)); }

Bytes Ed25519Signer::sign(std::span<const std::uint8_t> message) const {
  Bytes sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key_);
  return sig;
}

std::unique_ptr<Secp256k1Signer> Secp256k1Signer::generate() {
  SystemRng rng;
  return from_rng(rng);
}

std::unique_ptr<Secp256k1Signer> Secp256k1Signer::from_rng(Rng& rng) { return signer_from_rng<Secp256k1Signer>(rng); }

std::unique_ptr<Secp256k1Signer> Secp256k1Signer::from_seed(const Seed& seed) {
  Seed candidate = seed;
  while (secp256k1_ec_seckey_verify(secp_ctx(), candidate.data()) != 1) {
    Blake2b h;
    h.update("HEAL-secp256k1-seed-retry");
    h.update(candidate);
    const Digest next = h.finish();
    std::memcpy(candidate.data(), next.data(), candidate.size());
  }
  auto s = from_secret(candidate);
  secure_wipe(candidate.data(), candidate.size());
  HEAL_REQUIRE(s.ok(), "Secp256k1Signer::from_seed: " << s.status().message());
  return std::move(s).value();
}

Result<std::unique_ptr<Secp256k1Signer>> Secp256k1Signer::from_secret(std::span<const std::uint8_t> secret) {
  if (secret.size() != 32) {
    return Status::invalid_argument("secp256k1 secret key has " + std::to_string(secret.size()) +
                                    " bytes, expected 32");
  }
  std::unique_ptr<Secp256k1Signer> s(new Secp256k1Signer());
  std::memcpy(s->secret_key_.data(), secret.data(), 32);
  if (secp256k1_ec_seckey_verify(secp_ctx(), s->secret_key_.data()) != 1) {
    return Status::invalid_argument("secp256k1 secret key is zero or not below the group order");
  }
  secp256k1_pubkey pk;
  HEAL_REQUIRE(secp256k1_ec_pubkey_create(secp_ctx(), &pk, s->secret_key_.data()) == 1,
               "secp256k1_ec_pubkey_create failed on a verified secret key");
  s->identity_.scheme = SignatureScheme::kSecp256k1;
  s->identity_.public_key.resize(kSecpPublicKeyBytes);
  std::size_t len = kSecpPublicKeyBytes;
  secp256k1_ec_pubkey_serialize(secp_ctx(), s->identity_.public_key.data(), &len, &pk, SECP256K1_EC_COMPRESSED);
  return s;
}

Secp256k1Signer::~Secp256k1Signer() { secure_wipe(secret_key_.data(), secret_key_.size()); }

Bytes Secp256k1Signer::sign(std::span<const std::uint8_t> message) const {
  const Digest h = blake2b_256(message);
  secp256k1_ecdsa_signature sig;
  // RFC 6979 deterministic nonce; libsecp256k1 always produces a low-S signature.
  HEAL_REQUIRE(secp256k1_ecdsa_sign(secp_ctx(), &sig, h.data(), secret_key_.data(), nullptr, nullptr) == 1,
               "secp256k1_ecdsa_sign failed");
  Bytes out(kSecpSignatureBytes);
  secp256k1_ecdsa_signature_serialize_compact(secp_ctx(), out.data(), &sig);
  return out;
}

Bytes Secp256k1Signer::sign_recoverable_keccak_digest(const std::array<std::uint8_t, 32>& digest) const {
  secp256k1_ecdsa_recoverable_signature sig;
  HEAL_REQUIRE(secp256k1_ecdsa_sign_recoverable(secp_ctx(), &sig, digest.data(), secret_key_.data(), nullptr,
                                                nullptr) == 1,
               "secp256k1_ecdsa_sign_recoverable failed");
  Bytes out(65);
  int recid = -1;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(secp_ctx(), out.data(), &recid, &sig);
  // recid 2 or 3 needs r = R.x - n, i.e. R.x >= n: probability below 2^-127; Ethereum cannot encode it.
  HEAL_REQUIRE(recid == 0 || recid == 1, "secp256k1 recovery id " << recid << " cannot be encoded as y parity");
  out[64] = static_cast<std::uint8_t>(recid);
  return out;
}

SecretBytes Secp256k1Signer::secret_bytes() const {
  return SecretBytes(Bytes(secret_key_.begin(), secret_key_.end()));
}

std::unique_ptr<Signer> signer_from_rng(SignatureScheme scheme, Rng& rng) {
  if (scheme == SignatureScheme::kSecp256k1) return Secp256k1Signer::from_rng(rng);
  HEAL_REQUIRE(scheme == SignatureScheme::kEd25519, "unknown signature scheme");
  return Ed25519Signer::from_rng(rng);
}

}  // namespace heal::ledger
