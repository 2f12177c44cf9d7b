#include "heal/net/node_identity.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <memory>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/net/grpc_transport.h"

namespace heal::net {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

// The whole content of a memory BIO as bytes.
Bytes bio_bytes(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return Bytes(reinterpret_cast<const std::uint8_t*>(data), reinterpret_cast<const std::uint8_t*>(data) + n);
}

}  // namespace

Result<NodeIdentityFiles> init_node_identity(fl::PartyId id, const std::string& dir, const std::string& organisation) {
  const std::string name = party_cert_name(id);
  NodeIdentityFiles files{dir + "/" + name + ".key", dir + "/" + name + ".csr"};
  struct stat st {};
  if (::lstat(files.key_path.c_str(), &st) == 0) {
    return Status::failed_precondition(files.key_path + " exists: a node key is never overwritten");
  }

  Bytes seed(32);
  SystemRng rng;
  rng.fill(seed);
  Owned<EVP_PKEY> key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  secure_wipe(seed);
  if (!key) return Status::internal("OpenSSL refused an Ed25519 key");

  Owned<X509_REQ> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return Status::internal("X509_REQ_new");
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (!organisation.empty() &&
      X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(organisation.c_str()), -1, -1, 0) != 1) {
    return Status::invalid_argument("organisation name refused by X.509: " + organisation);
  }
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    return Status::internal("building the CSR subject");
  }
  // subjectAltName DNS:party-<id>: the name the peers' clients verify.
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, nullptr, nullptr, req.get(), nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, ("DNS:" + name).c_str());
  if (san == nullptr) return Status::internal("building the subjectAltName");
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, san);
  const int added = X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (added != 1) return Status::internal("adding the CSR extensions");
  if (X509_REQ_sign(req.get(), key.get(), nullptr) <= 0) return Status::internal("signing the CSR");

  Owned<BIO> key_bio(BIO_new(BIO_s_mem()));
  Owned<BIO> csr_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !csr_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509_REQ(csr_bio.get(), req.get()) != 1) {
    return Status::internal("PEM encoding of the key or CSR");
  }
  Bytes key_pem = bio_bytes(key_bio.get());
  const Status key_written = write_secret_file(files.key_path, key_pem);
  secure_wipe(key_pem);
  HEAL_RETURN_IF_ERROR(key_written);
  HEAL_RETURN_IF_ERROR(write_file(files.csr_path, bio_bytes(csr_bio.get())));
  return files;
}

}  // namespace heal::net
