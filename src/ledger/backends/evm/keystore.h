// Encrypted key files: Web3 Secret Storage v3 (the keystore format of geth, Besu and ethers;
// https://ethereum.org/en/developers/docs/data-structures-and-encoding/web3-secret-storage/).
// Written with scrypt (RFC 7914) + AES-128-CTR (Crypto++), mac = keccak256(dk[16:32] || ciphertext),
// to a file created 0600 (write_secret_file). Read accepts scrypt and PBKDF2-HMAC-SHA256 files and
// validates every field.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "heal/core/status.h"
#include "heal/ledger/identity.h"

namespace heal::ledger::evm {

struct KeystoreOptions {
  /// scrypt parameters (geth's "standard" ones: N = 2^18, r = 8, p = 1; 256 MiB, about a second).
  std::uint64_t scrypt_n = std::uint64_t{1} << 18;
  std::uint32_t scrypt_r = 8;
  std::uint32_t scrypt_p = 1;
  /// Parameters with N * r * p < 2^20 are refused unless this is set.
  bool allow_weak_kdf = false;

  /// N = 2^10, r = 8, p = 1: milliseconds instead of a second. For tests only: such a file falls to
  /// a password guesser quickly.
  static KeystoreOptions insecure_fast_for_tests() { return {std::uint64_t{1} << 10, 8, 1, true}; }
};

struct KeystoreReadOptions {
  /// Accept files whose KDF work is below N * r * p = 2^20 (scrypt) or c = 2^18 (PBKDF2), e.g. geth --lightkdf.
  bool allow_weak_kdf = false;
  /// scrypt memory (128 * N * r bytes) above this is refused rather than allocated.
  std::uint64_t max_scrypt_memory = std::uint64_t{1} << 30;

  static KeystoreReadOptions insecure_fast_for_tests() { return {true, std::uint64_t{1} << 30}; }
};

/// The keystore JSON of `signer`'s secret key under `password` (fresh random salt, iv and UUID v4
/// from the core CSPRNG). InvalidArgument for invalid or (without opt-in) weak scrypt parameters.
Result<std::string> encrypt_keystore(const Secp256k1Signer& signer, std::string_view password,
                                     const KeystoreOptions& options = {});
/// Decrypts a keystore JSON. Corruption naming the field for malformed input; wrong password:
/// Corruption "MAC mismatch: wrong password or corrupted keystore"; Unsupported for other ciphers/KDFs.
Result<std::unique_ptr<Secp256k1Signer>> decrypt_keystore(std::string_view json, std::string_view password,
                                                          const KeystoreReadOptions& options = {});

/// encrypt_keystore, then write_secret_file (mode 0600, atomic, no symlinks).
Status write_keystore(const std::string& path, const Secp256k1Signer& signer, std::string_view password,
                      const KeystoreOptions& options = {});
/// Reads (at most 64 KiB, no symlinks) and decrypts a keystore file.
Result<std::unique_ptr<Secp256k1Signer>> read_keystore(const std::string& path, std::string_view password,
                                                       const KeystoreReadOptions& options = {});

}  // namespace heal::ledger::evm
