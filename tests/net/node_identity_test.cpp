// init_node_identity: a node's key + CSR, signed by the consortium CA, then used by GrpcTransport.
#include "heal/net/node_identity.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "heal/net/grpc_transport.h"
#include "net/test_pki.h"

namespace heal::net {
namespace {

using namespace std::chrono_literals;

class NodeIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "heal_node_init_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(NodeIdentityTest, WritesAPrivateKeyAndAVerifiableCsr) {
  auto files = init_node_identity(7, dir_, "Hospital A").value();
  EXPECT_EQ(files.key_path, dir_ + "/party-7.key");
  EXPECT_EQ(files.csr_path, dir_ + "/party-7.csr");
  struct stat st {};
  ASSERT_EQ(::stat(files.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const Bytes pem = read_file(files.csr_path).value();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(req, nullptr);
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_get_id(pub), EVP_PKEY_ED25519);
  EXPECT_EQ(X509_REQ_verify(req, pub), 1);
  char cn[64] = {};
  ASSERT_GT(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof cn), 0);
  EXPECT_STREQ(cn, "party-7");
  char org[64] = {};
  ASSERT_GT(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_organizationName, org, sizeof org), 0);
  EXPECT_STREQ(org, "Hospital A");
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  ASSERT_NE(exts, nullptr);
  bool san = false;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    san = san || OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i))) == NID_subject_alt_name;
  }
  EXPECT_TRUE(san);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(req);

  // Two nodes never get the same key, and an existing key is never overwritten.
  const Bytes key = read_file(files.key_path).value();
  EXPECT_EQ(init_node_identity(7, dir_).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(read_file(files.key_path).value(), key);
  auto other = init_node_identity(8, dir_).value();
  EXPECT_NE(read_file(other.key_path).value(), key);
}

TEST_F(NodeIdentityTest, CaSignedCsrWorksWithTheTransport) {
  testing::TestCa ca(dir_, "consortium");
  auto n1 = init_node_identity(1, dir_).value();
  auto n2 = init_node_identity(2, dir_).value();
  const std::string c1 = ca.sign_csr(n1.csr_path);
  const std::string c2 = ca.sign_csr(n2.csr_path);
  GrpcTransportConfig cfg1;
  cfg1.self = 1;
  cfg1.tls = load_tls_identity(ca.cert_path(), c1, n1.key_path).value();
  GrpcTransportConfig cfg2;
  cfg2.self = 2;
  cfg2.tls = load_tls_identity(ca.cert_path(), c2, n2.key_path).value();
  auto a = GrpcTransport::start(cfg1).value();
  auto b = GrpcTransport::start(cfg2).value();
  a->set_peer(2, "127.0.0.1:" + std::to_string(b->port()));
  ASSERT_TRUE(a->send({1, 2, fl::MessageKind::kModel, 3, Bytes{1, 2, 3}}).ok());
  b->wait(2, 5s);
  auto m = b->receive(2);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload, (Bytes{1, 2, 3}));
}

}  // namespace
}  // namespace heal::net
