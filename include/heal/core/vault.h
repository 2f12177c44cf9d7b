// A vault: secret bytes encrypted at rest under a passphrase (libsodium: Argon2id, RFC 9106, for
// the key; XChaCha20-Poly1305-IETF for authenticated encryption, with the whole header bound as
// associated data). Used for a node's key material and safeguard state (fl::NodeStore).
//
// Format (docs/formats/README.md header, ObjectType::kVault, version 1), all little-endian:
//   16-byte HEAL header (magic, version, type, payload length)
//   u8 kdf (1 = Argon2id v1.3), u8 aead (1 = XChaCha20-Poly1305-IETF), u16 reserved (0)
//   u64 opslimit, u64 memlimit (bytes), 16-byte salt, 24-byte nonce, u64 ciphertext length
//   ciphertext (plaintext length + 16-byte tag)
// Associated data: every byte before the ciphertext, so a changed parameter, length or version
// fails authentication like a changed ciphertext byte.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "heal/core/bytes.h"
#include "heal/core/status.h"

namespace heal {

inline constexpr std::uint16_t kVaultVersion = 1;

/// Argon2id cost. Defaults: libsodium's MODERATE limits (3 passes, 256 MiB).
struct VaultKdf {
  std::uint64_t opslimit = 3;
  std::uint64_t memlimit = std::uint64_t{256} << 20;

  static VaultKdf interactive();  ///< 2 passes, 64 MiB
  static VaultKdf moderate();     ///< 3 passes, 256 MiB
  /// TESTS ONLY: libsodium's minimum (1 pass, 8 KiB): no protection against guessing. Files sealed
  /// with it open only with VaultOpenOptions::allow_weak_kdf.
  static VaultKdf min_for_testing();
};

/// What a reader accepts from a file's header before running the KDF (a file could otherwise ask
/// for terabytes of memory).
struct VaultOpenOptions {
  std::uint64_t max_opslimit = 4;                       ///< libsodium SENSITIVE
  std::uint64_t max_memlimit = std::uint64_t{1} << 30;  ///< 1 GiB
  /// Accept costs below VaultKdf::interactive() (tests with min_for_testing()).
  bool allow_weak_kdf = false;
};

/// A key derived from a passphrase, with the salt and cost it was derived with. Move-only; the key
/// is wiped on destruction. Sealing with it again reuses the salt with a fresh random nonce
/// (192-bit XChaCha nonces: random nonces do not collide), so a store rewritten on every action
/// does not rerun Argon2id.
class VaultKey {
 public:
  /// Derives a key from `passphrase` with a fresh random salt. InvalidArgument for an empty
  /// passphrase or a cost outside libsodium's limits; Internal if Argon2id fails (out of memory).
  static Result<VaultKey> derive(std::string_view passphrase, const VaultKdf& kdf);
  /// An empty key, only to receive one from vault_open / read_vault_file (sealing with it throws).
  VaultKey() = default;

  VaultKey(VaultKey&& o) noexcept;
  VaultKey& operator=(VaultKey&& o) noexcept;
  VaultKey(const VaultKey&) = delete;
  VaultKey& operator=(const VaultKey&) = delete;
  ~VaultKey();

  const VaultKdf& kdf() const { return kdf_; }
  bool empty() const { return !valid_; }

 private:
  friend Bytes vault_seal(const VaultKey& key, std::span<const std::uint8_t> plaintext);
  friend Result<SecretBytes> vault_open(std::span<const std::uint8_t> bytes, std::string_view passphrase,
                                        const VaultOpenOptions& options, VaultKey* key_out);
  void wipe();

  VaultKdf kdf_;
  std::array<std::uint8_t, 16> salt_{};
  std::array<std::uint8_t, 32> key_{};
  bool valid_ = false;
};

/// Encrypts `plaintext` under `key` with a fresh random nonce: the whole vault file's bytes.
Bytes vault_seal(const VaultKey& key, std::span<const std::uint8_t> plaintext);

/// Decrypts a vault. Corruption for a malformed or truncated file, Unsupported for another
/// version or algorithm, FailedPrecondition for a cost outside `options`, and InvalidArgument
/// "wrong passphrase or tampered file" when authentication fails (the two cannot be told apart).
/// When `key_out` is given it receives the derived key (to reseal without rerunning the KDF).
Result<SecretBytes> vault_open(std::span<const std::uint8_t> bytes, std::string_view passphrase,
                               const VaultOpenOptions& options = {}, VaultKey* key_out = nullptr);

/// vault_seal + write_secret_file: atomic (temporary file created O_CREAT | O_EXCL, mode 0600,
/// fsync, rename, fsync of the directory), never through a symlink.
Status write_vault_file(const std::string& path, const VaultKey& key, std::span<const std::uint8_t> plaintext);

/// Refuses a file any group or other user may read, write or execute (FailedPrecondition naming
/// the mode and `chmod 600`), a symlink or a non-regular file; then read_secret_file + vault_open.
Result<SecretBytes> read_vault_file(const std::string& path, std::string_view passphrase,
                                    const VaultOpenOptions& options = {}, VaultKey* key_out = nullptr);

}  // namespace heal
