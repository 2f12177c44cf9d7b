#include "ledger/backends/evm/keystore.h"

#include <cryptopp/aes.h>
#include <cryptopp/misc.h>
#include <cryptopp/modes.h>
#include <cryptopp/pwdbased.h>
#include <cryptopp/scrypt.h>
#include <cryptopp/secblock.h>
#include <cryptopp/sha.h>

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "ledger/backends/evm/types.h"

namespace heal::ledger::evm {
namespace {

using nlohmann::json;
constexpr std::uint64_t kMinWork = std::uint64_t{1} << 20;          // scrypt N * r * p
constexpr std::uint64_t kMinPbkdf2Rounds = std::uint64_t{1} << 18;  // geth's and the spec's c = 262144

Status scrypt_params_ok(std::uint64_t n, std::uint64_t r, std::uint64_t p, bool allow_weak, std::uint64_t max_mem) {
  if (n < 2 || (n & (n - 1)) != 0 || n > (std::uint64_t{1} << 24)) {
    return Status::invalid_argument("scrypt n = " + std::to_string(n) + " must be a power of two in [2, 2^24]");
  }
  if (r < 1 || r > 64 || p < 1 || p > 64) {
    return Status::invalid_argument("scrypt r = " + std::to_string(r) + ", p = " + std::to_string(p) +
                                    " must lie in [1, 64]");
  }
  if (128 * n * r > max_mem) {
    return Status::out_of_range("scrypt needs " + std::to_string(128 * n * r) + " bytes of memory, limit " +
                                std::to_string(max_mem));
  }
  if (!allow_weak && n * r * p < kMinWork) {
    return Status::invalid_argument("scrypt work n*r*p = " + std::to_string(n * r * p) +
                                    " is below 2^20 (a weak keystore; opt in explicitly for tests)");
  }
  return {};
}

Hash32 compute_mac(const CryptoPP::SecByteBlock& dk, std::span<const std::uint8_t> ciphertext) {
  Bytes body(16 + ciphertext.size());
  std::memcpy(body.data(), dk.data() + 16, 16);
  if (!ciphertext.empty()) std::memcpy(body.data() + 16, ciphertext.data(), ciphertext.size());
  const Hash32 mac = keccak256(body);
  secure_wipe(body);
  return mac;
}

void aes128_ctr(const CryptoPP::SecByteBlock& dk, std::span<const std::uint8_t> iv, std::span<const std::uint8_t> in,
                std::uint8_t* out) {
  CryptoPP::CTR_Mode<CryptoPP::AES>::Encryption ctr;  // CTR: encryption and decryption are the same
  ctr.SetKeyWithIV(dk.data(), 16, iv.data(), iv.size());
  ctr.ProcessData(out, in.data(), in.size());
}

std::string uuid_v4() {
  std::uint8_t b[16];
  SystemRng().fill(b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  const std::string h = to_hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

// Field accessors that name what is wrong.
Status missing(const std::string& field, const char* what) {
  return Status::corruption("keystore: field '" + field + "' " + what);
}

Result<const json*> member(const json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) return missing(path + key, "is missing");
  return &*it;
}

Result<Bytes> hex_field(const json& obj, const std::string& key, const std::string& path, std::size_t min_len,
                        std::size_t max_len) {
  HEAL_ASSIGN_OR_RETURN(const json* v, member(obj, key, path));
  if (!v->is_string()) return missing(path + key, "is not a string");
  const std::string& s = v->get_ref<const std::string&>();
  auto b = from_hex(s);
  if (!b.ok()) return missing(path + key, "is not hex");
  if (b->size() < min_len || b->size() > max_len) {
    return missing(path + key, ("has " + std::to_string(b->size()) + " bytes, expected " + std::to_string(min_len) +
                                (max_len != min_len ? ".." + std::to_string(max_len) : std::string()))
                                   .c_str());
  }
  return std::move(b).value();
}

Result<std::uint64_t> uint_field(const json& obj, const std::string& key, const std::string& path) {
  HEAL_ASSIGN_OR_RETURN(const json* v, member(obj, key, path));
  if (!v->is_number_unsigned()) return missing(path + key, "is not a non-negative integer");
  return v->get<std::uint64_t>();
}

Result<std::string> string_field(const json& obj, const std::string& key, const std::string& path) {
  HEAL_ASSIGN_OR_RETURN(const json* v, member(obj, key, path));
  if (!v->is_string()) return missing(path + key, "is not a string");
  return v->get<std::string>();
}

}  // namespace

Result<std::string> encrypt_keystore(const Secp256k1Signer& signer, std::string_view password,
                                     const KeystoreOptions& o) {
  HEAL_RETURN_IF_ERROR(scrypt_params_ok(o.scrypt_n, o.scrypt_r, o.scrypt_p, o.allow_weak_kdf, std::uint64_t{1} << 32));
  std::uint8_t salt[32], iv[16];
  SystemRng rng;
  rng.fill(salt);
  rng.fill(iv);
  try {
    CryptoPP::SecByteBlock dk(32);
    CryptoPP::Scrypt().DeriveKey(dk.data(), dk.size(), reinterpret_cast<const CryptoPP::byte*>(password.data()),
                                 password.size(), salt, sizeof(salt), o.scrypt_n, o.scrypt_r, o.scrypt_p);
    const SecretBytes secret = signer.secret_bytes();
    Bytes ciphertext(secret.size());
    aes128_ctr(dk, iv, secret, ciphertext.data());
    const Hash32 mac = compute_mac(dk, ciphertext);
    const Address addr = *address_of(signer.identity());
    json j;
    j["address"] = to_hex(addr.bytes);
    j["crypto"] = {
        {"cipher", "aes-128-ctr"},
        {"cipherparams", {{"iv", to_hex(iv)}}},
        {"ciphertext", to_hex(ciphertext)},
        {"kdf", "scrypt"},
        {"kdfparams", {{"dklen", 32}, {"n", o.scrypt_n}, {"r", o.scrypt_r}, {"p", o.scrypt_p}, {"salt", to_hex(salt)}}},
        {"mac", to_hex(mac)}};
    j["id"] = uuid_v4();
    j["version"] = 3;
    return j.dump(2) + "\n";
  } catch (const CryptoPP::Exception& e) {
    return Status::internal(std::string("keystore encryption failed: ") + e.what());
  }
}

Result<std::unique_ptr<Secp256k1Signer>> decrypt_keystore(std::string_view text, std::string_view password,
                                                          const KeystoreReadOptions& o) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::corruption("keystore is not a JSON object");
  HEAL_ASSIGN_OR_RETURN(const std::uint64_t version, uint_field(j, "version", ""));
  if (version != 3)
    return Status::unsupported("keystore version " + std::to_string(version) + " (only 3 is supported)");
  // geth writes "crypto", some older tools "Crypto".
  const json* crypto = nullptr;
  if (j.contains("crypto")) {
    crypto = &j["crypto"];
  } else if (j.contains("Crypto")) {
    crypto = &j["Crypto"];
  }
  if (crypto == nullptr || !crypto->is_object()) return missing("crypto", "is missing or not an object");
  HEAL_ASSIGN_OR_RETURN(const std::string cipher, string_field(*crypto, "cipher", "crypto."));
  if (cipher != "aes-128-ctr") return Status::unsupported("keystore cipher '" + cipher + "' (only aes-128-ctr)");
  HEAL_ASSIGN_OR_RETURN(const json* cp, member(*crypto, "cipherparams", "crypto."));
  if (!cp->is_object()) return missing("crypto.cipherparams", "is not an object");
  HEAL_ASSIGN_OR_RETURN(const Bytes iv, hex_field(*cp, "iv", "crypto.cipherparams.", 16, 16));
  HEAL_ASSIGN_OR_RETURN(const Bytes ciphertext, hex_field(*crypto, "ciphertext", "crypto.", 32, 32));
  HEAL_ASSIGN_OR_RETURN(const Bytes mac, hex_field(*crypto, "mac", "crypto.", 32, 32));
  HEAL_ASSIGN_OR_RETURN(const std::string kdf, string_field(*crypto, "kdf", "crypto."));
  HEAL_ASSIGN_OR_RETURN(const json* kp, member(*crypto, "kdfparams", "crypto."));
  if (!kp->is_object()) return missing("crypto.kdfparams", "is not an object");
  const std::string kpath = "crypto.kdfparams.";
  HEAL_ASSIGN_OR_RETURN(const std::uint64_t dklen, uint_field(*kp, "dklen", kpath));
  if (dklen != 32) return missing(kpath + "dklen", "is not 32");
  HEAL_ASSIGN_OR_RETURN(const Bytes salt, hex_field(*kp, "salt", kpath, 16, 128));
  if (j.contains("id") && !j["id"].is_string()) return missing("id", "is not a string");

  try {
    CryptoPP::SecByteBlock dk(32);
    const auto* pw = reinterpret_cast<const CryptoPP::byte*>(password.data());
    if (kdf == "scrypt") {
      HEAL_ASSIGN_OR_RETURN(const std::uint64_t n, uint_field(*kp, "n", kpath));
      HEAL_ASSIGN_OR_RETURN(const std::uint64_t r, uint_field(*kp, "r", kpath));
      HEAL_ASSIGN_OR_RETURN(const std::uint64_t p, uint_field(*kp, "p", kpath));
      Status st = scrypt_params_ok(n, r, p, o.allow_weak_kdf, o.max_scrypt_memory);
      if (!st.ok())
        return Status(st.code() == StatusCode::kOutOfRange ? st.code() : StatusCode::kCorruption,
                      "keystore: " + st.message());
      CryptoPP::Scrypt().DeriveKey(dk.data(), dk.size(), pw, password.size(), salt.data(), salt.size(), n, r, p);
    } else if (kdf == "pbkdf2") {
      HEAL_ASSIGN_OR_RETURN(const std::string prf, string_field(*kp, "prf", kpath));
      if (prf != "hmac-sha256") return Status::unsupported("keystore pbkdf2 prf '" + prf + "' (only hmac-sha256)");
      HEAL_ASSIGN_OR_RETURN(const std::uint64_t c, uint_field(*kp, "c", kpath));
      if (c < 1 || c > (std::uint64_t{1} << 24)) return missing(kpath + "c", "is not in [1, 2^24]");
      if (!o.allow_weak_kdf && c < kMinPbkdf2Rounds) {
        return Status::corruption("keystore: pbkdf2 c = " + std::to_string(c) +
                                  " is below 2^18 (weak; opt in explicitly)");
      }
      CryptoPP::PKCS5_PBKDF2_HMAC<CryptoPP::SHA256>().DeriveKey(dk.data(), dk.size(), 0, pw, password.size(),
                                                                salt.data(), salt.size(), static_cast<unsigned int>(c));
    } else {
      return Status::unsupported("keystore kdf '" + kdf + "' (scrypt or pbkdf2)");
    }
    const Hash32 want = compute_mac(dk, ciphertext);
    if (!CryptoPP::VerifyBufsEqual(want.data(), mac.data(), 32)) {
      return Status::corruption("MAC mismatch: wrong password or corrupted keystore");
    }
    Bytes plain(ciphertext.size());
    aes128_ctr(dk, iv, ciphertext, plain.data());
    const SecretBytes secret(std::move(plain));
    auto signer = Secp256k1Signer::from_secret(secret);
    if (!signer.ok()) return Status::corruption("keystore holds an invalid secp256k1 key");
    if (j.contains("address")) {
      if (!j["address"].is_string()) return missing("address", "is not a string");
      std::string a = j["address"].get<std::string>();
      if (a.rfind("0x", 0) == 0) a = a.substr(2);
      for (auto& ch : a) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (a != to_hex(address_of((*signer)->identity())->bytes)) {
        return Status::corruption("keystore: field 'address' does not match the decrypted key");
      }
    }
    return std::move(signer).value();
  } catch (const CryptoPP::Exception& e) {
    return Status::corruption(std::string("keystore: key derivation failed: ") + e.what());
  }
}

Status write_keystore(const std::string& path, const Secp256k1Signer& signer, std::string_view password,
                      const KeystoreOptions& options) {
  HEAL_ASSIGN_OR_RETURN(const std::string text, encrypt_keystore(signer, password, options));
  return write_secret_file(path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

Result<std::unique_ptr<Secp256k1Signer>> read_keystore(const std::string& path, std::string_view password,
                                                       const KeystoreReadOptions& options) {
  // Like ssh with a private key: a key file others can read is refused, not used.
  struct stat sb {};
  if (::stat(path.c_str(), &sb) == 0 && (sb.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(sb.st_mode & 0777));
    return Status::failed_precondition("keystore " + path + " is readable or writable by others (mode " + mode +
                                       "); run: chmod 600 " + path);
  }
  HEAL_ASSIGN_OR_RETURN(const SecretBytes b, read_secret_file(path, std::size_t{1} << 16));
  auto r = decrypt_keystore(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), password, options);
  if (!r.ok()) return r.status().with_context(path);
  return r;
}

}  // namespace heal::ledger::evm
