#include "heal/ledger/identity.h"

#include <sodium.h>

#include "heal/core/check.h"

namespace heal::ledger {

std::string_view scheme_name(SignatureScheme s) {
  switch (s) {
    case SignatureScheme::kEd25519: return "ed25519";
  }
  return "unknown";
}

std::size_t public_key_size(SignatureScheme s) {
  return s == SignatureScheme::kEd25519 ? crypto_sign_PUBLICKEYBYTES : 0;
}

std::size_t signature_size(SignatureScheme s) { return s == SignatureScheme::kEd25519 ? crypto_sign_BYTES : 0; }

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
  ensure_crypto_init();
  // libsodium's verifier rejects non-canonical encodings and small-order keys.
  if (crypto_sign_verify_detached(signature.data(), message.data(), message.size(), signer.public_key.data()) != 0) {
    return Status::corruption("signature by " + signer.short_name() + " does not verify");
  }
  return {};
}

std::unique_ptr<Ed25519Signer> Ed25519Signer::generate() { return from_seed(random_seed()); }

std::unique_ptr<Ed25519Signer> Ed25519Signer::from_rng(Rng& rng) {
  Seed seed;
  rng.fill(seed);
  auto s = from_seed(seed);
  secure_wipe(seed.data(), seed.size());
  return s;
}

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

}  // namespace heal::ledger
