// Identities and signatures of ledger participants.
//
// An identity is a public key tagged with its signature scheme, so the ledger accepts several
// schemes without changing the record or block formats: a new scheme is a new `SignatureScheme`
// value, a new `Signer` implementation and one more case in `verify_signature`. Two schemes:
// Ed25519 and secp256k1 (ECDSA, the key type of Ethereum accounts, used on both backends so that a
// hospital has one identity whether the ledger is SQLite or an EVM chain).
#pragma once

#include <array>
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
  kEd25519 = 1,    // RFC 8032, libsodium crypto_sign (32-byte public key, 64-byte signature)
  kSecp256k1 = 2,  // SEC 2 curve, libsecp256k1 ECDSA: 33-byte compressed public key, 64-byte compact
                   // r||s signature (low-S only) over BLAKE2b-256 of the message
};

/// "ed25519", "secp256k1" (or "unknown").
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

/// Verifies `signature` over `message` by `signer`. Ok, or Corruption naming the reason. A secp256k1
/// signature with a high S (the malleable twin of a valid one), an r or s out of range, or a key that
/// is not a point on the curve is refused.
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

/// secp256k1 ECDSA signer (libsecp256k1). `sign` signs BLAKE2b-256(message) (RFC 6979 nonces, low-S),
/// so the core ledger needs no keccak; `sign_recoverable_keccak_digest` signs a 32-byte digest the
/// caller computed (an Ethereum transaction's keccak-256 signing hash). The secret key is wiped on
/// destruction and never logged.
class Secp256k1Signer final : public Signer {
 public:
  /// A fresh key from the system CSPRNG (redrawn in the negligible case that 32 random bytes are 0
  /// or not below the group order).
  static std::unique_ptr<Secp256k1Signer> generate();
  /// A key from a 32-byte seed (deterministic): the seed itself when it is a valid secret key,
  /// otherwise BLAKE2b-256("HEAL-secp256k1-seed-retry" || seed) repeated until valid (only the
  /// all-zero seed and seeds >= the group order, probability < 2^-127 for a random seed).
  static std::unique_ptr<Secp256k1Signer> from_seed(const Seed& seed);
  /// A key with the seed drawn from `rng` (SeededRng in simulations).
  static std::unique_ptr<Secp256k1Signer> from_rng(Rng& rng);
  /// Imports a raw 32-byte secret key (a keystore, an Ethereum private key). InvalidArgument if it
  /// is not 32 bytes or not in [1, n-1].
  static Result<std::unique_ptr<Secp256k1Signer>> from_secret(std::span<const std::uint8_t> secret);

  ~Secp256k1Signer() override;
  Secp256k1Signer(const Secp256k1Signer&) = delete;
  Secp256k1Signer& operator=(const Secp256k1Signer&) = delete;

  const Identity& identity() const override { return identity_; }
  /// 64-byte compact r||s (low-S) over BLAKE2b-256(message).
  Bytes sign(std::span<const std::uint8_t> message) const override;
  /// 65 bytes r||s||v (low-S, v = recovery id in {0, 1}) over `digest` as given (no hashing).
  Bytes sign_recoverable_keccak_digest(const std::array<std::uint8_t, 32>& digest) const;
  /// The raw 32-byte secret key, only for a keystore export (wiped when the result is destroyed).
  SecretBytes secret_bytes() const;

 private:
  Secp256k1Signer() = default;
  Identity identity_;
  std::array<std::uint8_t, 32> secret_key_{};
};

/// A signer of `scheme` with its seed drawn from `rng` (simulations, which hold every party's key).
std::unique_ptr<Signer> signer_from_rng(SignatureScheme scheme, Rng& rng);

}  // namespace heal::ledger
