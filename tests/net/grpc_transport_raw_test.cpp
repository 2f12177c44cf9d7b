// GrpcTransport's server against clients that do not use GrpcTransport: no client certificate, a
// stream shorter or longer than it declared, a message for another party, an oversized declaration.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "heal/net/grpc_transport.h"
#include "heal_transport.grpc.pb.h"
#include "net/test_pki.h"

namespace heal::net {
namespace {

using namespace std::chrono_literals;
namespace v1 = ::heal::net::v1;

std::string read_text(const std::string& path) {
  auto b = read_file(path).value();
  return std::string(b.begin(), b.end());
}

class GrpcRawClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "heal_grpc_raw_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ca_ = std::make_unique<testing::TestCa>(dir_, "consortium");
    const auto p1 = ca_->issue("party-1");
    GrpcTransportConfig cfg;
    cfg.self = 1;
    cfg.max_message_bytes = 1 << 20;
    cfg.tls = load_tls_identity(p1.ca_cert_path, p1.cert_path, p1.key_path).value();
    server_ = GrpcTransport::start(std::move(cfg)).value();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A stub to party 1's server; with `cn` empty the client presents no certificate.
  std::unique_ptr<v1::PartyTransport::Stub> stub(const std::string& cn) {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = read_text(ca_->cert_path());
    if (!cn.empty()) {
      const auto p = ca_->issue(cn);
      opts.pem_cert_chain = read_text(p.cert_path);
      opts.pem_private_key = read_text(p.key_path);
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("party-1");
    auto channel =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->port()), grpc::SslCredentials(opts), args);
    return v1::PartyTransport::NewStub(channel);
  }

  // Streams `chunks` as one Deliver call and returns the server's answer.
  static grpc::Status deliver(v1::PartyTransport::Stub& s, const std::vector<v1::Chunk>& chunks) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::Ack ack;
    auto w = s.Deliver(&ctx, &ack);
    for (const auto& c : chunks) {
      if (!w->Write(c)) break;
    }
    w->WritesDone();
    return w->Finish();
  }

  static v1::Chunk head(std::uint32_t from, std::uint32_t to, std::uint64_t size, const std::string& data) {
    v1::Chunk c;
    c.set_from(from);
    c.set_to(to);
    c.set_kind(static_cast<std::uint32_t>(fl::MessageKind::kUpdate));
    c.set_round(1);
    c.set_payload_size(size);
    c.set_data(data);
    return c;
  }

  bool nothing_queued() {
    server_->wait(1, 100ms);
    return !server_->receive(1).has_value();
  }

  std::string dir_;
  std::unique_ptr<testing::TestCa> ca_;
  std::unique_ptr<GrpcTransport> server_;
};

TEST_F(GrpcRawClientTest, WellFormedMessageIsQueued) {
  // The control case: the same raw client with a valid certificate and a well-formed stream.
  auto s = stub("party-2");
  v1::Chunk tail;
  tail.set_data("world");
  ASSERT_TRUE(deliver(*s, {head(2, 1, 10, "hello"), tail}).ok());
  server_->wait(1, 5s);
  auto m = server_->receive(1);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(std::string(m->payload.begin(), m->payload.end()), "helloworld");
  EXPECT_EQ(server_->rejected_messages(), 0u);
}

TEST_F(GrpcRawClientTest, ClientWithoutCertificateIsRefusedInTheHandshake) {
  auto s = stub("");
  const grpc::Status st = deliver(*s, {head(2, 1, 5, "hello")});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_EQ(server_->rejected_messages(), 0u);  // no call reached the service
  EXPECT_TRUE(nothing_queued());
}

TEST_F(GrpcRawClientTest, MalformedStreamsAreRefused) {
  auto s = stub("party-2");
  EXPECT_EQ(deliver(*s, {head(2, 1, 10, "short")}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(deliver(*s, {head(2, 1, 3, "too long")}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(deliver(*s, {head(2, 3, 5, "hello")}).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(deliver(*s, {head(2, 1, (1 << 20) + 1, "x")}).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(deliver(*s, {}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::Chunk bad_kind = head(2, 1, 1, "x");
  bad_kind.set_kind(256);
  EXPECT_EQ(deliver(*s, {bad_kind}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(server_->rejected_messages(), 6u);
  EXPECT_TRUE(nothing_queued());
  EXPECT_EQ(server_->counters(2).messages_down, 0u);
}

TEST_F(GrpcRawClientTest, CertificateWithoutPartyNameIsRefused) {
  auto s = stub("hospital-b");  // CA-signed, but not a party-<id> name
  EXPECT_EQ(deliver(*s, {head(2, 1, 5, "hello")}).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server_->rejected_messages(), 1u);
  EXPECT_TRUE(nothing_queued());
}

}  // namespace
}  // namespace heal::net
