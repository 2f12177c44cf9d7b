// heal::net::GrpcTransport on 127.0.0.1 with ephemeral ports and a throwaway consortium PKI.
#include "heal/net/grpc_transport.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "heal/core/rng.h"
#include "net/test_pki.h"

namespace heal::net {
namespace {

using namespace std::chrono_literals;
using fl::Message;
using fl::MessageKind;
using testing::PartyPki;
using testing::TestCa;

constexpr std::uint64_t kEnvelope = fl::InProcessTransport::kEnvelopeBytes;

Bytes random_bytes(std::size_t n, std::uint64_t stream) {
  Bytes b(n);
  SeededRng rng(Seed{}, stream);
  rng.fill(b);
  return b;
}

class GrpcTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "heal_grpc_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ca_ = std::make_unique<TestCa>(dir_, "consortium");
    foreign_ = std::make_unique<TestCa>(dir_, "foreign");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<GrpcTransport> party(fl::PartyId self, const PartyPki& pki, GrpcTransportConfig cfg = {}) {
    cfg.self = self;
    cfg.listen_address = "127.0.0.1:0";
    cfg.tls = load_tls_identity(pki.ca_cert_path, pki.cert_path, pki.key_path).value();
    cfg.send_timeout = 20s;
    return GrpcTransport::start(std::move(cfg)).value();
  }
  static std::string addr(const GrpcTransport& t) { return "127.0.0.1:" + std::to_string(t.port()); }
  static void link(GrpcTransport& a, GrpcTransport& b) {
    a.set_peer(b.self(), addr(b));
    b.set_peer(a.self(), addr(a));
  }

  std::string dir_;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> foreign_;
};

TEST(GrpcTransportNames, PartyCertNames) {
  EXPECT_EQ(party_cert_name(7), "party-7");
  EXPECT_EQ(parse_party_cert_name("party-0"), fl::PartyId{0});
  EXPECT_EQ(parse_party_cert_name("party-100000"), fl::PartyId{100000});
  EXPECT_EQ(parse_party_cert_name("party-4294967295"), fl::PartyId{4294967295u});
  for (const char* bad : {"party-", "party-01", "party--1", "party-4294967296", "party-1 ", "Party-1", "x", ""}) {
    EXPECT_FALSE(parse_party_cert_name(bad).has_value()) << bad;
  }
}

TEST_F(GrpcTransportTest, KeyFileReadableByOthersIsRefused) {
  const PartyPki p = ca_->issue("party-1");
  struct stat st {};
  ASSERT_EQ(::stat(p.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(load_tls_identity(p.ca_cert_path, p.cert_path, p.key_path).ok());
  ASSERT_EQ(::chmod(p.key_path.c_str(), 0644), 0);
  EXPECT_EQ(load_tls_identity(p.ca_cert_path, p.cert_path, p.key_path).status().code(),
            StatusCode::kFailedPrecondition);
  // A key that is not the certificate's is refused at start.
  ASSERT_EQ(::chmod(p.key_path.c_str(), 0600), 0);
  const PartyPki q = ca_->issue("party-2");
  GrpcTransportConfig cfg;
  cfg.self = 1;
  cfg.tls = load_tls_identity(p.ca_cert_path, p.cert_path, q.key_path).value();
  EXPECT_EQ(GrpcTransport::start(cfg).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GrpcTransportTest, TwoPartiesExchangeBothWays) {
  auto a = party(1, ca_->issue("party-1"));
  auto b = party(2, ca_->issue("party-2"));
  link(*a, *b);
  const Bytes p1 = random_bytes(5000, 1);
  const Bytes p2 = random_bytes(3 * (1 << 20) + 17, 2);  // several chunks
  ASSERT_TRUE(a->send({1, 2, MessageKind::kModel, 7, p1}).ok());
  ASSERT_TRUE(a->send({1, 2, MessageKind::kEvaluate, 8, {}}).ok());  // empty payload
  b->wait(2, 5s);
  auto m = b->receive(2);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->from, 1u);
  EXPECT_EQ(m->to, 2u);
  EXPECT_EQ(m->kind, MessageKind::kModel);
  EXPECT_EQ(m->round, 7u);
  EXPECT_EQ(m->payload, p1);
  auto e = b->receive(2);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, MessageKind::kEvaluate);
  EXPECT_EQ(e->round, 8u);
  EXPECT_TRUE(e->payload.empty());
  EXPECT_FALSE(b->receive(2).has_value());

  ASSERT_TRUE(b->send({2, 1, MessageKind::kUpdate, 7, p2}).ok());
  a->wait(1, 5s);
  auto r = a->receive(1);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->from, 2u);
  EXPECT_EQ(r->kind, MessageKind::kUpdate);
  EXPECT_EQ(r->payload, p2);

  const auto ca = a->counters(2);
  EXPECT_EQ(ca.bytes_up, p1.size() + 2 * kEnvelope);
  EXPECT_EQ(ca.messages_up, 2u);
  EXPECT_EQ(ca.bytes_down, p2.size() + kEnvelope);
  EXPECT_EQ(ca.messages_down, 1u);
  const auto cb = b->counters(1);
  EXPECT_EQ(cb.bytes_up, ca.bytes_down);
  EXPECT_EQ(cb.bytes_down, ca.bytes_up);
  EXPECT_EQ(cb.messages_up, 1u);
  EXPECT_EQ(cb.messages_down, 2u);
  EXPECT_EQ(a->counters(9).bytes_up + a->counters(9).bytes_down, 0u);
  EXPECT_EQ(a->rejected_messages() + b->rejected_messages(), 0u);
  // Unknown peer: NotFound, nothing counted.
  EXPECT_EQ(a->send({1, 9, MessageKind::kModel, 1, p1}).code(), StatusCode::kNotFound);
}

TEST_F(GrpcTransportTest, FortyMegabytePayloadArrivesIntact) {
  auto a = party(1, ca_->issue("party-1"));
  auto b = party(100000, ca_->issue("party-100000"));
  link(*a, *b);
  const Bytes big = random_bytes(40'000'000, 3);  // 10^7 float32 parameters
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(a->send({1, 100000, MessageKind::kUpdate, 1, big}).ok());
  b->wait(100000, 5s);
  auto m = b->receive(100000);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload.size(), big.size());
  EXPECT_TRUE(m->payload == big);
  // Both ends account the update to hospital 1's upload (fl::Transport counts from the hospital's end).
  EXPECT_EQ(a->counters(100000).bytes_up, big.size() + kEnvelope);
  EXPECT_EQ(b->counters(1).bytes_up, big.size() + kEnvelope);
  EXPECT_EQ(b->counters(1).messages_up, 1u);
  EXPECT_EQ(b->counters(1).bytes_down, 0u);
  std::printf("40 MB over gRPC + mutual TLS on loopback: %.3f s\n", s);
}

TEST_F(GrpcTransportTest, ForeignCaIsRefusedBeforeAnyMessage) {
  auto a = party(1, ca_->issue("party-1"));
  // A client for "party-2" whose certificate another CA signed: the handshake fails.
  auto intruder = party(2, foreign_->issue("party-2"));
  intruder->set_peer(1, addr(*a));
  const Status s = intruder->send({2, 1, MessageKind::kUpdate, 1, random_bytes(100, 4)});
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
  a->wait(1, 300ms);
  EXPECT_FALSE(a->receive(1).has_value());
  EXPECT_EQ(a->counters(2).messages_down, 0u);
  EXPECT_EQ(intruder->counters(1).messages_up, 0u);
  // Nor does a party talk to a server with a foreign certificate.
  a->set_peer(2, addr(*intruder));
  EXPECT_EQ(a->send({1, 2, MessageKind::kModel, 1, random_bytes(100, 5)}).code(), StatusCode::kUnavailable);
  intruder->wait(2, 100ms);
  EXPECT_FALSE(intruder->receive(2).has_value());
}

TEST_F(GrpcTransportTest, ClaimedSenderMustMatchCertificate) {
  auto coordinator = party(100000, ca_->issue("party-100000"));
  // Party 2's valid certificate, used to send messages claiming from=1.
  auto liar = party(1, ca_->issue("party-2"));
  liar->set_peer(100000, addr(*coordinator));
  const Status s = liar->send({1, 100000, MessageKind::kUpdate, 1, random_bytes(1000, 6)});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.to_string();
  EXPECT_EQ(coordinator->rejected_messages(), 1u);
  coordinator->wait(100000, 200ms);
  EXPECT_FALSE(coordinator->receive(100000).has_value());
  for (fl::PartyId p : {1u, 2u}) {
    const auto c = coordinator->counters(p);
    EXPECT_EQ(c.messages_up + c.messages_down + c.bytes_up + c.bytes_down, 0u);
  }
  // The sender checks the server's name too: party 100000's server listed as party 3's address is
  // refused in the handshake (its certificate is not for party-3), so the message is never sent.
  auto honest = party(2, ca_->issue("party-2"));
  honest->set_peer(3, addr(*coordinator));
  EXPECT_EQ(honest->send({2, 3, MessageKind::kUpdate, 1, {}}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(coordinator->rejected_messages(), 1u);
  EXPECT_FALSE(coordinator->receive(100000).has_value());
  // The honest party's own messages go through.
  honest->set_peer(100000, addr(*coordinator));
  EXPECT_TRUE(honest->send({2, 100000, MessageKind::kUpdate, 1, {}}).ok());
  coordinator->wait(100000, 5s);
  auto m = coordinator->receive(100000);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->from, 2u);
}

TEST_F(GrpcTransportTest, WaitReturnsAtTheDeadline) {
  auto a = party(1, ca_->issue("party-1"));
  const auto t0 = std::chrono::steady_clock::now();
  a->wait(1, 300ms);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_GE(ms.count(), 295);
  EXPECT_LT(ms.count(), 1300);
  EXPECT_FALSE(a->receive(1).has_value());
}

TEST_F(GrpcTransportTest, WaitReturnsEarlyWhenAMessageArrives) {
  auto a = party(1, ca_->issue("party-1"));
  auto b = party(2, ca_->issue("party-2"));
  link(*a, *b);
  std::thread sender([&] {
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(b->send({2, 1, MessageKind::kUpdate, 1, random_bytes(10, 7)}).ok());
  });
  const auto t0 = std::chrono::steady_clock::now();
  a->wait(1, 10s);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  sender.join();
  EXPECT_LT(ms.count(), 5000);
  EXPECT_TRUE(a->receive(1).has_value());
}

TEST_F(GrpcTransportTest, WaitUntilDeadlineCollectsEveryAnswer) {
  GrpcTransportConfig whole;
  whole.wait_until_deadline = true;
  auto coordinator = party(fl::kCoordinatorId, ca_->issue("party-100000"), whole);
  auto h0 = party(0, ca_->issue("party-0"));
  auto h1 = party(1, ca_->issue("party-1"));
  link(*h0, *coordinator);
  link(*h1, *coordinator);
  std::thread early([&] { EXPECT_TRUE(h0->send({0, fl::kCoordinatorId, MessageKind::kUpdate, 1, {}}).ok()); });
  std::thread late([&] {
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(h1->send({1, fl::kCoordinatorId, MessageKind::kUpdate, 1, {}}).ok());
  });
  const auto t0 = std::chrono::steady_clock::now();
  coordinator->wait(fl::kCoordinatorId, 1500ms);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  early.join();
  late.join();
  EXPECT_GE(ms.count(), 1495);
  EXPECT_LT(ms.count(), 3000);
  int answers = 0;
  while (coordinator->receive(fl::kCoordinatorId)) ++answers;
  EXPECT_EQ(answers, 2);  // the late answer is there too
}

TEST_F(GrpcTransportTest, ConcurrentHospitalsReachTheCoordinatorInOrder) {
  constexpr int kHospitals = 4;
  constexpr int kMessages = 5;
  auto coordinator = party(fl::kCoordinatorId, ca_->issue("party-100000"));
  std::vector<std::unique_ptr<GrpcTransport>> hospitals;
  for (int h = 0; h < kHospitals; ++h) {
    hospitals.push_back(party(static_cast<fl::PartyId>(h), ca_->issue("party-" + std::to_string(h))));
    link(*hospitals.back(), *coordinator);
  }
  std::vector<std::thread> senders;
  for (int h = 0; h < kHospitals; ++h) {
    senders.emplace_back([&, h] {
      for (int r = 1; r <= kMessages; ++r) {
        const auto id = static_cast<fl::PartyId>(h);
        Bytes payload = random_bytes(100'000, 100 * static_cast<std::uint64_t>(h) + static_cast<std::uint64_t>(r));
        EXPECT_TRUE(hospitals[h]->send({id, fl::kCoordinatorId, MessageKind::kUpdate, std::uint64_t(r), payload}).ok());
      }
    });
  }
  std::map<fl::PartyId, std::uint64_t> last_round;
  int got = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (got < kHospitals * kMessages && std::chrono::steady_clock::now() < deadline) {
    coordinator->wait(fl::kCoordinatorId, 1s);
    while (auto m = coordinator->receive(fl::kCoordinatorId)) {
      ++got;
      EXPECT_EQ(m->round, last_round[m->from] + 1) << "party " << m->from;  // each sender's order is kept
      last_round[m->from] = m->round;
      EXPECT_EQ(m->payload, random_bytes(100'000, 100 * std::uint64_t{m->from} + m->round));
    }
  }
  for (auto& t : senders) t.join();
  EXPECT_EQ(got, kHospitals * kMessages);
  for (int h = 0; h < kHospitals; ++h) {
    const auto c = coordinator->counters(static_cast<fl::PartyId>(h));
    EXPECT_EQ(c.messages_up, std::uint64_t{kMessages});
    EXPECT_EQ(c.bytes_up, kMessages * (100'000 + kEnvelope));
    EXPECT_EQ(hospitals[h]->counters(fl::kCoordinatorId).bytes_up, c.bytes_up);
  }
}

TEST_F(GrpcTransportTest, FullQueueHoldsTheSender) {
  GrpcTransportConfig small;
  small.max_queued_messages = 1;
  auto a = party(1, ca_->issue("party-1"), small);
  auto b = party(2, ca_->issue("party-2"));
  link(*a, *b);
  ASSERT_TRUE(b->send({2, 1, MessageKind::kUpdate, 1, random_bytes(10, 8)}).ok());
  std::atomic<bool> done{false};
  std::thread sender([&] {
    EXPECT_TRUE(b->send({2, 1, MessageKind::kUpdate, 2, random_bytes(10, 9)}).ok());
    done = true;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(done.load());  // the second message waits in its call: the queue holds one
  auto first = a->receive(1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->round, 1u);
  sender.join();
  EXPECT_TRUE(done.load());
  auto second = a->receive(1);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->round, 2u);
}

}  // namespace
}  // namespace heal::net
