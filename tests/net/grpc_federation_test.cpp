// The protocol roles unchanged over the network: fl::Coordinator and three fl::Hospitals, each on its own
// GrpcTransport (mutual TLS on 127.0.0.1), run FedAvg rounds and end with the model, the traffic and the
// ledger records of the in-process Federation.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "fl/fl_fixture.h"
#include "heal/fl/coordinator.h"
#include "heal/fl/federation.h"
#include "heal/fl/hospital.h"
#include "heal/fl/plain_aggregator.h"
#include "heal/ledger/identity.h"
#include "heal/net/grpc_transport.h"
#include "net/replica_ledger.h"
#include "net/test_pki.h"

namespace heal::net {
namespace {

using namespace std::chrono_literals;

using testing::ReplicaLedger;
using testing::SharedChain;

const std::vector<std::vector<float>> kUpdates = {{1, 2}, {3, 4}, {5, 6}};
const std::vector<std::uint64_t> kSamples = {2, 2, 4};
const std::vector<float> kInitial = {0, 0};
constexpr int kRounds = 2;

TEST(GrpcFederation, RoundsOverMutualTlsMatchTheInProcessFederation) {
  // Reference: the in-process launcher.
  auto ref_ledger = fl::testing::memory_ledger();
  fl::FederationConfig fcfg;
  fcfg.rounds = kRounds;
  std::vector<std::unique_ptr<fl::LocalTrainer>> ref_trainers;
  for (std::size_t i = 0; i < kUpdates.size(); ++i) {
    ref_trainers.push_back(std::make_unique<fl::testing::FixedUpdateTrainer>(kUpdates[i], kSamples[i]));
  }
  fl::Federation ref(fcfg, std::move(ref_trainers), std::make_unique<fl::PlainAggregator>(fl::testing::party_set(3)),
                     *ref_ledger, kInitial);
  std::vector<fl::RoundStats> ref_stats;
  for (int r = 0; r < kRounds; ++r) ref_stats.push_back(ref.run_round().value());

  // The same federation with one GrpcTransport per party.
  std::string dir = (std::filesystem::temp_directory_path() / "heal_grpc_fed_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
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
  ReplicaLedger hospitals_ledger(chain);  // the hospitals' thread
  auto aggregator = std::make_unique<fl::PlainAggregator>(fl::testing::party_set(3));
  std::vector<std::unique_ptr<GrpcTransport>> nets;
  std::vector<std::unique_ptr<fl::Hospital>> hospitals;
  std::vector<ledger::Participant> members;
  std::vector<const ledger::Signer*> cosigners;
  for (fl::PartyId id = 0; id < 3; ++id) {
    nets.push_back(make_transport(id));
    nets.back()->set_peer(fl::kCoordinatorId, coordinator_addr);
    coordinator_net->set_peer(id, "127.0.0.1:" + std::to_string(nets.back()->port()));
    SeededRng key_rng(seed_from_u64(7), id);
    auto h =
        std::make_unique<fl::Hospital>(id, "hospital-" + std::to_string(id),
                                       std::make_unique<fl::testing::FixedUpdateTrainer>(kUpdates[id], kSamples[id]),
                                       ledger::Ed25519Signer::from_rng(key_rng), hospitals_ledger, *nets.back(),
                                       std::make_unique<SeededRng>(seed_from_u64(7), 1000 + id));
    h->set_federation(fcfg.federation_id, 0, 0);
    h->set_aggregation_party(aggregator->party(id).value());
    members.push_back({id, ledger::Role::kHospital, h->name(), h->identity()});
    cosigners.push_back(&h->signer());
    hospitals.push_back(std::move(h));
  }
  SeededRng coordinator_rng(seed_from_u64(7), fl::kCoordinatorId);
  fl::CoordinatorConfig cc;
  cc.federation_id = fcfg.federation_id;
  // A phase ends once every hospital asked has answered (the transport's wait() returns at the first
  // message; the coordinator waits again with the time left), or after this long.
  cc.response_timeout = 5000ms;
  fl::Coordinator coordinator(cc, members, std::move(aggregator), ledger::Ed25519Signer::from_rng(coordinator_rng),
                              coordinator_ledger, *coordinator_net, kInitial);
  ASSERT_TRUE(coordinator.setup(cosigners).ok());

  // The hospitals answer whatever reaches them, in their own thread, until the coordinator is done.
  std::atomic<bool> stop{false};
  std::thread hospital_loop([&] {
    while (!stop) {
      for (std::size_t i = 0; i < hospitals.size(); ++i) {
        nets[i]->wait(static_cast<fl::PartyId>(i), 10ms);
        hospitals[i]->step();
      }
    }
  });
  std::vector<fl::RoundStats> stats;
  for (int r = 0; r < kRounds; ++r) {
    auto s = coordinator.run_round();
    if (!s.ok()) ADD_FAILURE() << s.status().to_string();
    if (s.ok()) stats.push_back(*s);
  }
  stop = true;
  hospital_loop.join();

  ASSERT_EQ(stats.size(), std::size_t{kRounds});
  for (int r = 0; r < kRounds; ++r) {
    EXPECT_TRUE(stats[r].completed) << "round " << r + 1;
    EXPECT_EQ(stats[r].contributors, 3u);
    EXPECT_EQ(stats[r].bytes_up, ref_stats[r].bytes_up) << "round " << r + 1;
    EXPECT_EQ(stats[r].bytes_down, ref_stats[r].bytes_down) << "round " << r + 1;
  }
  EXPECT_EQ(coordinator.global_model(), ref.global_model());
  EXPECT_EQ(coordinator.model_version(), ref.model_version());
  EXPECT_TRUE(coordinator_ledger.verify().ok);
  EXPECT_EQ(fl::testing::record_counts(coordinator_ledger), fl::testing::record_counts(*ref_ledger));
  for (const auto& n : nets) EXPECT_EQ(n->rejected_messages(), 0u);
  EXPECT_EQ(coordinator_net->rejected_messages(), 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace heal::net
