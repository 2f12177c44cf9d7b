// Passphrase-encrypted files (heal/core/vault.h): Argon2id (RFC 9106) + XChaCha20-Poly1305-IETF
// through libsodium, header bound as associated data.
#include "heal/core/vault.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "heal/core/check.h"
#include "heal/core/rng.h"
#include "heal/core/serialization.h"

namespace heal {

namespace {

constexpr std::uint8_t kKdfArgon2id13 = 1;
constexpr std::uint8_t kAeadXChaCha20Poly1305 = 1;
constexpr std::size_t kSaltSize = 16;
constexpr std::size_t kNonceSize = 24;
constexpr std::size_t kTagSize = 16;
// Bytes after the HEAL header and before the ciphertext: kdf, aead, reserved, ops, mem, salt,
// nonce, ciphertext length.
constexpr std::size_t kFixedPayload = 1 + 1 + 2 + 8 + 8 + kSaltSize + kNonceSize + 8;

static_assert(kSaltSize == crypto_pwhash_SALTBYTES);
static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);

bool ensure_sodium() { return sodium_init() >= 0; }

Status check_kdf(const VaultKdf& kdf) {
  if (kdf.opslimit < crypto_pwhash_OPSLIMIT_MIN || kdf.opslimit > crypto_pwhash_OPSLIMIT_MAX ||
      kdf.memlimit < crypto_pwhash_MEMLIMIT_MIN || kdf.memlimit > crypto_pwhash_MEMLIMIT_MAX) {
    return Status::invalid_argument("vault: Argon2id cost (opslimit " + std::to_string(kdf.opslimit) + ", memlimit " +
                                    std::to_string(kdf.memlimit) + ") outside libsodium's limits");
  }
  return {};
}

// Argon2id(passphrase, salt) -> 32-byte key.
Status derive_key(std::string_view passphrase, const VaultKdf& kdf, const std::uint8_t* salt, std::uint8_t* key) {
  if (!ensure_sodium()) return Status::internal("vault: libsodium failed to initialise");
  if (passphrase.empty()) return Status::invalid_argument("vault: empty passphrase");
  HEAL_RETURN_IF_ERROR(check_kdf(kdf));
  if (crypto_pwhash(key, 32, passphrase.data(), passphrase.size(), salt, kdf.opslimit,
                    static_cast<std::size_t>(kdf.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::internal("vault: Argon2id failed (out of memory for memlimit " + std::to_string(kdf.memlimit) +
                            "?)");
  }
  return {};
}

}  // namespace

VaultKdf VaultKdf::interactive() { return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE}; }
VaultKdf VaultKdf::moderate() { return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE}; }
VaultKdf VaultKdf::min_for_testing() { return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN}; }

Result<VaultKey> VaultKey::derive(std::string_view passphrase, const VaultKdf& kdf) {
  VaultKey k;
  k.kdf_ = kdf;
  SystemRng().fill(k.salt_);
  HEAL_RETURN_IF_ERROR(derive_key(passphrase, kdf, k.salt_.data(), k.key_.data()));
  k.valid_ = true;
  return k;
}

VaultKey::VaultKey(VaultKey&& o) noexcept : kdf_(o.kdf_), salt_(o.salt_), key_(o.key_), valid_(o.valid_) { o.wipe(); }
VaultKey& VaultKey::operator=(VaultKey&& o) noexcept {
  if (this != &o) {
    kdf_ = o.kdf_;
    salt_ = o.salt_;
    key_ = o.key_;
    valid_ = o.valid_;
    o.wipe();
  }
  return *this;
}
VaultKey::~VaultKey() { wipe(); }
void VaultKey::wipe() {
  secure_wipe(key_.data(), key_.size());
  valid_ = false;
}

Bytes vault_seal(const VaultKey& key, std::span<const std::uint8_t> plaintext) {
  HEAL_REQUIRE(ensure_sodium(), "vault: libsodium failed to initialise");
  HEAL_REQUIRE(!key.empty(), "vault_seal: empty VaultKey (derive one or receive it from vault_open)");
  std::uint8_t nonce[kNonceSize];
  SystemRng().fill(nonce);
  ByteWriter w;
  const std::size_t start = begin_object(w, ObjectType::kVault, kVaultVersion);
  w.put<std::uint8_t>(kKdfArgon2id13);
  w.put<std::uint8_t>(kAeadXChaCha20Poly1305);
  w.put<std::uint16_t>(0);
  w.put<std::uint64_t>(key.kdf_.opslimit);
  w.put<std::uint64_t>(key.kdf_.memlimit);
  w.put_bytes(key.salt_);
  w.put_bytes(nonce);
  w.put<std::uint64_t>(plaintext.size() + kTagSize);
  Bytes out = w.take();
  const std::size_t ad_len = out.size();
  out.resize(ad_len + plaintext.size() + kTagSize);
  // The payload length in the header counts the ciphertext: patch it before it is authenticated.
  const std::uint64_t payload = out.size() - start - kHeaderSize;
  std::memcpy(out.data() + start + 8, &payload, 8);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + ad_len, &clen, plaintext.data(), plaintext.size(), out.data(),
                                             ad_len, nullptr, nonce, key.key_.data());
  HEAL_DCHECK(clen == plaintext.size() + kTagSize);
  return out;
}

Result<SecretBytes> vault_open(std::span<const std::uint8_t> bytes, std::string_view passphrase,
                               const VaultOpenOptions& options, VaultKey* key_out) {
  ByteReader r(bytes);
  auto h = read_header(r, ObjectType::kVault, kVaultVersion);
  if (!h.ok()) return h.status().with_context("vault");
  if (h->payload_size != r.remaining()) {
    return Status::corruption("vault: " + std::to_string(r.remaining() - h->payload_size) + " bytes after the payload");
  }
  std::uint8_t kdf_alg = 0, aead_alg = 0;
  std::uint16_t reserved = 0;
  VaultKdf kdf;
  std::span<const std::uint8_t> salt, nonce, ct;
  std::uint64_t ct_len = 0;
  HEAL_RETURN_IF_ERROR(r.get(&kdf_alg));
  HEAL_RETURN_IF_ERROR(r.get(&aead_alg));
  HEAL_RETURN_IF_ERROR(r.get(&reserved));
  HEAL_RETURN_IF_ERROR(r.get(&kdf.opslimit));
  HEAL_RETURN_IF_ERROR(r.get(&kdf.memlimit));
  HEAL_RETURN_IF_ERROR(r.get_bytes(kSaltSize, &salt));
  HEAL_RETURN_IF_ERROR(r.get_bytes(kNonceSize, &nonce));
  HEAL_RETURN_IF_ERROR(r.get(&ct_len));
  if (kdf_alg != kKdfArgon2id13 || aead_alg != kAeadXChaCha20Poly1305 || reserved != 0) {
    return Status::unsupported("vault: unknown key derivation (" + std::to_string(kdf_alg) + ") or cipher (" +
                               std::to_string(aead_alg) + ")");
  }
  if (ct_len < kTagSize || ct_len != r.remaining()) {
    return Status::corruption("vault: ciphertext length " + std::to_string(ct_len) + " does not match the " +
                              std::to_string(r.remaining()) + " bytes present (truncated file?)");
  }
  HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(ct_len), &ct));
  if (kdf.opslimit > options.max_opslimit || kdf.memlimit > options.max_memlimit) {
    return Status::failed_precondition("vault: the file asks for Argon2id cost (opslimit " +
                                       std::to_string(kdf.opslimit) + ", memlimit " + std::to_string(kdf.memlimit) +
                                       ") above this reader's limit");
  }
  const VaultKdf weakest = VaultKdf::interactive();
  if (!options.allow_weak_kdf && (kdf.opslimit < weakest.opslimit || kdf.memlimit < weakest.memlimit)) {
    return Status::failed_precondition(
        "vault: the file was sealed with an Argon2id cost below the interactive "
        "limits (a test file?); refusing it");
  }
  VaultKey key;
  key.kdf_ = kdf;
  std::memcpy(key.salt_.data(), salt.data(), kSaltSize);
  HEAL_RETURN_IF_ERROR(derive_key(passphrase, kdf, key.salt_.data(), key.key_.data()));
  key.valid_ = true;
  const std::size_t ad_len = bytes.size() - ct.size();
  Bytes plain(ct.size() - kTagSize);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plen, nullptr, ct.data(), ct.size(), bytes.data(),
                                                 ad_len, nonce.data(), key.key_.data()) != 0) {
    secure_wipe(plain);
    return Status::invalid_argument("vault: wrong passphrase or tampered file (authentication failed)");
  }
  SecretBytes secret(std::move(plain));
  if (key_out) *key_out = std::move(key);
  return secret;
}

Status write_vault_file(const std::string& path, const VaultKey& key, std::span<const std::uint8_t> plaintext) {
  const Bytes sealed = vault_seal(key, plaintext);
  return write_secret_file(path, sealed);
}

Result<SecretBytes> read_vault_file(const std::string& path, std::string_view passphrase,
                                    const VaultOpenOptions& options, VaultKey* key_out) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::not_found("no such file: " + path);
    return Status::io_error("cannot stat " + path + ": " + std::strerror(errno));
  }
  if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::failed_precondition(path + " has mode " + mode +
                                       ": other users may access this key file; run `chmod 600 " + path + "`");
  }
  auto bytes = read_secret_file(path, std::size_t{1} << 30);  // refuses a symlink or a non-regular file
  if (!bytes.ok()) return bytes.status();
  auto opened = vault_open(bytes->span(), passphrase, options, key_out);
  if (!opened.ok()) return opened.status().with_context(path);
  return opened;
}

}  // namespace heal
