// Tampered, replayed and truncated messages over the network: fl::Coordinator and four fl::Hospitals (HE,
// t = 3 of 4, 3 contributions per sum), each on its own GrpcTransport (mutual TLS on 127.0.0.1). One
// hospital's transport is wrapped in a test-only decorator that alters what that hospital sends after it
// signed it (the roles talk only through their Transport, so this is where a faulty or dishonest sender
// acts). The coordinator rejects each bad message, logs it through CoordinatorConfig::on_reject (sender,
// round, kind, reason), and the round completes with the honest parties.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "fl/fl_fixture.h"
#include "fl/messages.h"
#include "heal/fl/coordinator.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/hospital.h"
#include "heal/ledger/identity.h"
#include "heal/net/grpc_transport.h"
#include "net/replica_ledger.h"
#include "net/test_pki.h"

namespace heal::net {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kHospitals = 4;

using testing::ReplicaLedger;
using testing::SharedChain;

// Test-only decorator: every message the hospital sends passes through `fault`, which may alter it and
// returns the messages to put on the wire instead (none, the altered one, or more: a replay).
class FaultyTransport final : public fl::Transport {
 public:
  using Fault = std::function<std::vector<fl::Message>(fl::Message)>;
  FaultyTransport(fl::Transport& inner, Fault fault) : inner_(inner), fault_(std::move(fault)) {}
  Status send(fl::Message m) override {
    Status last;
    for (auto& out : fault_(std::move(m))) last = inner_.send(std::move(out));
    return last;
  }
  std::optional<fl::Message> receive(fl::PartyId party) override { return inner_.receive(party); }
  void wait(fl::PartyId party, std::chrono::milliseconds timeout) override { inner_.wait(party, timeout); }
  fl::TrafficCounters counters(fl::PartyId party) const override { return inner_.counters(party); }

 private:
  fl::Transport& inner_;
  Fault fault_;
};

struct Outcome {
  std::vector<fl::RoundStats> rounds;
  std::vector<fl::Rejection> rejections;
};

// Runs `rounds` rounds; hospital `faulty` sends through FaultyTransport(fault).
Outcome run_with_fault(fl::PartyId faulty, FaultyTransport::Fault fault, int rounds = 2) {
  std::string dir = (std::filesystem::temp_directory_path() / "heal_grpc_faults_XXXXXX").string();
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  testing::TestCa ca(dir, "consortium");
  auto make_transport = [&](fl::PartyId id) {
    const auto pki = ca.issue(party_cert_name(id));
    GrpcTransportConfig cfg;
    cfg.self = id;
    cfg.tls = load_tls_identity(pki.ca_cert_path, pki.cert_path, pki.key_path).value();
    return GrpcTransport::start(std::move(cfg)).value();
  };
  auto coordinator_net = make_transport(fl::kCoordinatorId);
  const std::string coordinator_addr = "127.0.0.1:" + std::to_string(coordinator_net->port());

  SharedChain chain;
  ReplicaLedger coordinator_ledger(chain);
  ReplicaLedger hospitals_ledger(chain);
  fl::HeAggregatorConfig he;
  he.threshold = 3;
  he.max_total_weight = 4096;
  he.colluders_tolerated = 1;  // sums over >= 3 contributions (the default for t = 3 is c = 2, 4)
  auto aggregator = std::make_unique<fl::HeAggregator>(he, kHospitals);
  std::vector<std::unique_ptr<GrpcTransport>> nets;
  std::unique_ptr<FaultyTransport> faulty_net;
  std::vector<std::unique_ptr<fl::Hospital>> hospitals;
  std::vector<ledger::Participant> members;
  std::vector<const ledger::Signer*> cosigners;
  const std::string federation_id = "grpc-faults";
  for (fl::PartyId id = 0; id < kHospitals; ++id) {
    nets.push_back(make_transport(id));
    nets.back()->set_peer(fl::kCoordinatorId, coordinator_addr);
    coordinator_net->set_peer(id, "127.0.0.1:" + std::to_string(nets.back()->port()));
    fl::Transport* t = nets.back().get();
    if (id == faulty) {
      faulty_net = std::make_unique<FaultyTransport>(*nets.back(), fault);
      t = faulty_net.get();
    }
    SeededRng key_rng(seed_from_u64(11), id);
    const std::vector<float> update = {0.25f * static_cast<float>(id + 1), -0.5f};
    auto h = std::make_unique<fl::Hospital>(id, "hospital-" + std::to_string(id),
                                            std::make_unique<fl::testing::FixedUpdateTrainer>(update, 4),
                                            ledger::Ed25519Signer::from_rng(key_rng), hospitals_ledger, *t,
                                            std::make_unique<SeededRng>(seed_from_u64(11), 1000 + id));
    h->set_federation(federation_id, 0, 0);
    h->set_aggregation_party(aggregator->party(id).value());
    members.push_back({id, ledger::Role::kHospital, h->name(), h->identity()});
    cosigners.push_back(&h->signer());
    hospitals.push_back(std::move(h));
  }
  Outcome out;
  SeededRng coordinator_rng(seed_from_u64(11), fl::kCoordinatorId);
  fl::CoordinatorConfig cc;
  cc.federation_id = federation_id;
  cc.min_contributors = 3;
  cc.response_timeout = 5000ms;  // phases end as soon as every party asked has answered
  cc.on_reject = [&](const fl::Rejection& r) { out.rejections.push_back(r); };
  fl::Coordinator coordinator(cc, members, std::move(aggregator), ledger::Ed25519Signer::from_rng(coordinator_rng),
                              coordinator_ledger, *coordinator_net, {0, 0});
  EXPECT_TRUE(coordinator.setup(cosigners).ok());

  std::atomic<bool> stop{false};
  std::thread hospital_loop([&] {
    while (!stop) {
      for (std::size_t i = 0; i < hospitals.size(); ++i) {
        nets[i]->wait(static_cast<fl::PartyId>(i), 10ms);
        hospitals[i]->step();
      }
    }
  });
  for (int r = 0; r < rounds; ++r) {
    auto s = coordinator.run_round();
    if (!s.ok()) ADD_FAILURE() << s.status().to_string();
    if (s.ok()) out.rounds.push_back(*s);
  }
  stop = true;
  hospital_loop.join();
  EXPECT_TRUE(coordinator_ledger.verify().ok);
  std::filesystem::remove_all(dir);
  return out;
}

// The rejections logged for (from, kind, message round), with their reasons.
std::vector<std::string> logged(const Outcome& o, fl::PartyId from, fl::MessageKind kind, std::uint64_t round) {
  std::vector<std::string> reasons;
  for (const auto& r : o.rejections) {
    if (r.from == from && r.kind == kind && r.message_round == round) reasons.push_back(r.to_string());
  }
  return reasons;
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

std::string all(const Outcome& o) {
  std::string s;
  for (const auto& r : o.rejections) s += r.to_string() + "\n";
  return s;
}

TEST(GrpcFaults, AContributionAlteredAfterItsCommitmentIsRejectedAndLogged) {
  // Hospital 3 signs and writes its commitment, then the contribution bytes it sends are altered.
  auto out = run_with_fault(3, [](fl::Message m) {
    if (m.kind == fl::MessageKind::kUpdate && m.round == 1) {
      auto u = fl::internal::decode_update(m.payload).value();
      u.contribution.back() ^= 0x01;
      m.payload = fl::internal::encode_update(u);
    }
    return std::vector<fl::Message>{std::move(m)};
  });
  ASSERT_EQ(out.rounds.size(), 2u);
  const auto& r1 = out.rounds[0];
  EXPECT_TRUE(r1.completed) << r1.failure_reason;
  EXPECT_EQ(r1.contributors, 3u);
  EXPECT_EQ(r1.parties[3].status, "rejected");
  EXPECT_FALSE(r1.parties[3].in_aggregate);
  EXPECT_NE(r1.parties[3].reason.find("the commitment does not match the update"), std::string::npos)
      << r1.parties[3].reason;
  const auto lines = logged(out, 3, fl::MessageKind::kUpdate, 1);
  ASSERT_EQ(lines.size(), 1u) << all(out);
  EXPECT_EQ(lines[0],
            "rejected update from hospital 3 (message round 1, round 1): the commitment does not match the update");
  // Round 2 is clean: hospital 3 contributes again.
  EXPECT_TRUE(out.rounds[1].completed) << out.rounds[1].failure_reason;
  EXPECT_EQ(out.rounds[1].contributors, 4u);
  EXPECT_EQ(out.rejections.size(), 1u) << all(out);
}

TEST(GrpcFaults, AContributionAndADecryptionShareOfAnEarlierRoundReplayedAreRejectedAndLogged) {
  // Hospital 0 keeps what it sent in round 1. In round 2 it sends, instead of its update, round 1's
  // update relabelled as round 2's, plus the round-1 message verbatim; and instead of its decryption
  // share, round 1's share relabelled as round 2's.
  std::map<fl::MessageKind, fl::Message> kept;
  auto out = run_with_fault(0, [&](fl::Message m) {
    std::vector<fl::Message> send;
    if (m.round == 1) kept[m.kind] = m;
    if (m.round == 2 && (m.kind == fl::MessageKind::kUpdate || m.kind == fl::MessageKind::kDecryptionShare)) {
      const fl::Message& old = kept.at(m.kind);
      if (m.kind == fl::MessageKind::kUpdate) send.push_back(old);  // verbatim: names round 1
      m.payload = old.payload;
    }
    send.push_back(std::move(m));
    return send;
  });
  ASSERT_EQ(out.rounds.size(), 2u);
  EXPECT_TRUE(out.rounds[0].completed) << out.rounds[0].failure_reason;
  EXPECT_EQ(out.rounds[0].contributors, 4u);
  const auto& r2 = out.rounds[1];
  EXPECT_TRUE(r2.completed) << r2.failure_reason;
  EXPECT_EQ(r2.contributors, 3u);
  EXPECT_EQ(r2.parties[0].status, "rejected");
  EXPECT_FALSE(r2.parties[0].in_aggregate);
  // The first quorum {0, 1, 2} lost hospital 0's share; {1, 2, 3} decrypted.
  EXPECT_FALSE(r2.parties[0].decrypted);
  for (fl::PartyId q : {1u, 2u, 3u}) EXPECT_TRUE(r2.parties[q].decrypted) << q;
  EXPECT_TRUE(mentions(logged(out, 0, fl::MessageKind::kUpdate, 1), "(message round 1, round 2): not of this round"))
      << all(out);
  // The relabelled contribution names round 1 inside its bytes.
  EXPECT_TRUE(mentions(logged(out, 0, fl::MessageKind::kUpdate, 2), "malformed contribution: he update is for round 1"))
      << all(out);
  EXPECT_TRUE(mentions(logged(out, 0, fl::MessageKind::kDecryptionShare, 2), "bad decryption share")) << all(out);
  EXPECT_TRUE(mentions(logged(out, 0, fl::MessageKind::kDecryptionShare, 2), "round 1, expected 2")) << all(out);
}

TEST(GrpcFaults, TruncatedAndBitFlippedMessagesAreRejectedAndLogged) {
  // Hospital 1: its round-1 update loses its last byte; its round-1 decryption share has the bits of
  // a used coefficient flipped and its round-2 share is cut in half.
  auto out = run_with_fault(1, [](fl::Message m) {
    if (m.kind == fl::MessageKind::kUpdate && m.round == 1) m.payload.pop_back();
    if (m.kind == fl::MessageKind::kDecryptionShare && m.round == 1) {
      auto s = fl::internal::decode_share(m.payload).value();
      // The share's polynomial ends the message, coefficient by coefficient in the compact form:
      // N = 4096 coefficients of b bits take 512 b bytes, after a header of fewer than 512 bytes.
      // Flip the low 48 bits of coefficient 0, i.e. of weight 0 (a flip in the coefficients beyond
      // the model's 2 weights would change nothing that is used).
      const std::size_t poly_bytes = s.share.size() / 512 * 512;
      if (poly_bytes < 512 * 40 || poly_bytes > s.share.size()) std::abort();  // not the layout described
      for (std::size_t k = 0; k < 6; ++k) s.share[s.share.size() - poly_bytes + k] ^= 0xff;
      m.payload = fl::internal::encode_share(s);
    }
    if (m.kind == fl::MessageKind::kDecryptionShare && m.round == 2) m.payload.resize(m.payload.size() / 2);
    return std::vector<fl::Message>{std::move(m)};
  });
  ASSERT_EQ(out.rounds.size(), 2u);
  const auto& r1 = out.rounds[0];
  EXPECT_EQ(r1.parties[1].status, "rejected");
  EXPECT_NE(r1.parties[1].reason.find("malformed update"), std::string::npos) << r1.parties[1].reason;
  EXPECT_TRUE(mentions(logged(out, 1, fl::MessageKind::kUpdate, 1), "malformed update")) << all(out);
  EXPECT_EQ(r1.contributors, 3u);
  // A flipped bit inside the share's ciphertext parses: the decrypted sum leaves its range, and the round
  // fails cleanly (recorded, the model stays) instead of publishing a corrupt model.
  EXPECT_FALSE(r1.completed) << all(out) << " decrypted by 1: " << r1.parties[1].decrypted;
  EXPECT_NE(r1.failure_reason.find("out of range"), std::string::npos) << r1.failure_reason;
  EXPECT_EQ(r1.model_version, 0u);
  // Round 2: the truncated share is rejected on receipt and another quorum decrypts.
  const auto& r2 = out.rounds[1];
  EXPECT_TRUE(r2.completed) << r2.failure_reason;
  EXPECT_EQ(r2.contributors, 4u);
  EXPECT_FALSE(r2.parties[1].decrypted);
  EXPECT_TRUE(mentions(logged(out, 1, fl::MessageKind::kDecryptionShare, 2), "decryption share")) << all(out);
  EXPECT_EQ(r2.model_version, 1u);
}

}  // namespace
}  // namespace heal::net
