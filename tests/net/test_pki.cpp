#include "net/test_pki.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <span>
#include <stdexcept>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"

namespace heal::testing {
namespace {

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

// Ed25519 (RFC 8032) from a 32-byte seed drawn with heal's SystemRng; signing is deterministic, so the
// PKI uses no randomness of OpenSSL's own.
EVP_PKEY* new_ed25519_key() {
  Bytes seed(32);
  SystemRng rng;
  rng.fill(seed);
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  secure_wipe(seed);
  check(key != nullptr, "Ed25519 key");
  return key;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return s;
}

std::string cert_pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  check(PEM_write_bio_X509(bio, cert) == 1, "PEM certificate");
  return bio_text(bio);
}

std::string key_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  check(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM key");
  return bio_text(bio);
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "X.509 extension");
  check(X509_add_ext(cert, ext, -1) == 1, "adding an X.509 extension");
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by `issuer_key` (issuer == nullptr: self-signed CA).
X509* make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key) {
  X509* cert = X509_new();
  check(cert != nullptr, "X509_new");
  X509_set_version(cert, 2);
  std::array<std::uint8_t, 16> serial{};
  SystemRng rng;
  rng.fill(serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("HEAL test consortium"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(signer));
  add_ext(cert, signer, NID_subject_key_identifier, "hash");
  if (issuer == nullptr) {
    add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert, signer, NID_authority_key_identifier, "keyid:always");
    add_ext(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert, signer, NID_key_usage, "critical,digitalSignature");
    add_ext(cert, signer, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(cert, signer, NID_subject_alt_name, ("DNS:" + cn).c_str());
  }
  check(X509_sign(cert, issuer_key, nullptr) > 0, "signing a certificate");
  return cert;
}

void write_text(const std::string& path, const std::string& text, bool secret) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  const std::span<const std::uint8_t> bytes(p, text.size());
  const Status s = secret ? write_secret_file(path, bytes) : write_file(path, bytes);
  check(s.ok(), "writing a PEM file");
}

}  // namespace

struct TestCa::Keys {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~Keys() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

TestCa::TestCa(const std::string& dir, const std::string& name)
    : keys_(std::make_unique<Keys>()), dir_(dir), name_(name) {
  keys_->key = new_ed25519_key();
  keys_->cert = make_cert(keys_->key, name + " CA", nullptr, keys_->key);
  cert_path_ = dir_ + "/" + name_ + ".crt";
  write_text(cert_path_, cert_pem(keys_->cert), false);
}

TestCa::~TestCa() = default;

PartyPki TestCa::issue(const std::string& cn) {
  EVP_PKEY* key = new_ed25519_key();
  X509* cert = make_cert(key, cn, keys_->cert, keys_->key);
  PartyPki out{cert_path_, dir_ + "/" + name_ + "-" + cn + ".crt", dir_ + "/" + name_ + "-" + cn + ".key"};
  write_text(out.cert_path, cert_pem(cert), false);
  write_text(out.key_path, key_pem(key), true);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

std::string TestCa::sign_csr(const std::string& csr_path) {
  auto pem = read_file(csr_path);
  check(pem.ok(), "reading the CSR");
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  check(req != nullptr, "parsing the CSR");
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
  check(pub != nullptr && X509_REQ_verify(req, pub) == 1, "the CSR's signature");
  char cn[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof cn);
  check(n > 0, "the CSR has no CN");
  X509* cert = make_cert(pub, std::string(cn, static_cast<std::size_t>(n)), keys_->cert, keys_->key);
  const std::string path = dir_ + "/" + name_ + "-" + std::string(cn, static_cast<std::size_t>(n)) + ".crt";
  write_text(path, cert_pem(cert), false);
  X509_free(cert);
  X509_REQ_free(req);
  return path;
}

}  // namespace heal::testing
