// Identities and signatures of ledger participants.
//
// An identity is a public key tagged with its signature scheme, so the ledger can later accept
// other schemes (secp256k1/ECDSA for an Ethereum backend) next to Ed25519 without changing the
// record or block formats: a new scheme is a new `SignatureScheme` value, a new `Signer`
// implementation and one more case in `verify_signature`.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"

namespace heal::ledger {

/// Signature schemes. Values are part of the on-disk format: never renumber.
enum class SignatureScheme : std::uint8_t {
  kEd25519 = 1,  // RFC 8032, libsodium crypto_sign (32-byte public key, 64-byte signature)
  // kSecp256k1 = 2 reserved for an Ethereum-compatible signer.
};

/// "ed25519" (or "unknown").
std::string_view scheme_name(SignatureScheme s);

/// A party's public identity: scheme + public key bytes. Comparable, printable.
struct Identity {
  SignatureScheme scheme = SignatureScheme::kEd25519;
  Bytes public_key;

  /// "ed25519:<hex of the first 8 bytes>…" for humans; `to_hex()` gives the full key.
  std::string short_name() const;
  /// "ed25519:<full hex>".
  std::string to_string() const;
  friend bool operator==(const Identity&, const Identity&) = default;
};

/// Expected public-key size for a scheme (0 if unknown).
std::size_t public_key_size(SignatureScheme s);
/// Expected signature size for a scheme (0 if unknown).
std::size_t signature_size(SignatureScheme s);

/// Checks scheme and key size (Corruption / Unsupported otherwise).
Status validate_identity(const Identity& id);

/// Verifies `signature` over `message` by `signer`. Ok, or Corruption naming the reason.
Status verify_signature(const Identity& signer, std::span<const std::uint8_t> message,
                        std::span<const std::uint8_t> signature);

/// Something that signs ledger records on behalf of one identity (a hospital, a committee member).
class Signer {
 public:
  virtual ~Signer() = default;
  /// The public identity signatures verify against.
  virtual const Identity& identity() const = 0;
  /// Signs `message` (detached signature).
  virtual Bytes sign(std::span<const std::uint8_t> message) const = 0;
};

/// Ed25519 signer (libsodium crypto_sign_detached). The secret key is wiped on destruction and
/// never logged.
class Ed25519Signer final : public Signer {
 public:
  /// A fresh key pair from the system CSPRNG.
  static std::unique_ptr<Ed25519Signer> generate();
  /// A key pair derived from a 32-byte seed (deterministic; for tests and simulations, or a seed
  /// kept in a hospital's key store).
  static std::unique_ptr<Ed25519Signer> from_seed(const Seed& seed);
  /// A key pair with the seed drawn from `rng` (SeededRng in simulations).
  static std::unique_ptr<Ed25519Signer> from_rng(Rng& rng);

  ~Ed25519Signer() override;
  Ed25519Signer(const Ed25519Signer&) = delete;
  Ed25519Signer& operator=(const Ed25519Signer&) = delete;

  const Identity& identity() const override { return identity_; }
  Bytes sign(std::span<const std::uint8_t> message) const override;

 private:
  Ed25519Signer() = default;
  Identity identity_;
  std::uint8_t secret_key_[64] = {};  // libsodium layout: seed || public key
};

}  // namespace heal::ledger
