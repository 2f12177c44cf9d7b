// A federation of separate processes on an EVM ledger: one coordinator and three hospitals, each
// fork()ed, talking over GrpcTransport (mutual TLS on 127.0.0.1), with the ledger a HealFederation
// contract on a private anvil chain (tests/ledger/evm/anvil_fixture.h) instead of a shared SQLite
// file, as across hosts. Each hospital makes a secp256k1 ledger key (its account) in a vault; the
// coordinator deploys the contract for the hellos' accounts (t = 2 of 3, quorum 3), funds them from
// anvil's dev key and names it to the hospitals, which check it on chain before co-signing. 2 rounds
// of FedAvg under HE: the final model equals plaintext FedAvg within 1e-3 and the chain ledger verifies.
#ifdef HEAL_HAVE_EVM
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fl/fl_fixture.h"
#include "heal/fl/federation.h"
#include "heal/fl/plain_aggregator.h"
#include "heal/ledger/backends/evm_ledger.h"
#include "heal/ledger/uri.h"
#include "heal/net/grpc_transport.h"
#include "heal/node/config.h"
#include "heal/node/runtime.h"
#include "ledger/evm/anvil_fixture.h"
#include "net/test_pki.h"
#include "node/node_cluster.h"

namespace heal::node {
namespace {

using testing_cluster::free_ports;
using testing_cluster::wait_exit;

constexpr int kHospitals = 3;
constexpr int kRounds = 2;
const std::vector<float> kWStar = {0.5f, -1.0f, 2.0f, 0.25f};

std::unique_ptr<fl::LocalTrainer> trainer(int i) {
  return std::make_unique<fl::testing::LinearRegressionTrainer>(kWStar, 48 + 16 * i, 100 + i);
}

NodeOptions test_options() {
  NodeOptions o;
  o.kdf = VaultKdf::interactive();
  return o;
}

std::vector<float> plaintext_fedavg(int rounds = kRounds) {
  auto ledger = fl::testing::memory_ledger();
  std::vector<std::unique_ptr<fl::LocalTrainer>> trainers;
  for (int i = 0; i < kHospitals; ++i) trainers.push_back(trainer(i));
  fl::FederationConfig cfg;
  cfg.rounds = rounds;
  fl::Federation f(cfg, std::move(trainers), std::make_unique<fl::PlainAggregator>(fl::testing::party_set(kHospitals)),
                   *ledger, std::vector<float>(kWStar.size(), 0.0f));
  EXPECT_TRUE(f.run().ok());
  return f.global_model();
}

class NodeEvmFederation : public ledger::evm::testing::AnvilFixture {};

// Configurations of hospitals 0..K-1, then the coordinator, in `dir`: the coordinator deploys and
// pays from `coordinator_key` (anvil's dev account 0); a hospital needs only the chain.
std::vector<std::string> make_configs(const std::string& dir, const std::string& chain,
                                      const std::string& coordinator_key, int rounds, int response_timeout_ms) {
  std::vector<std::string> configs;
  {
    heal::testing::TestCa ca(dir, "consortium");
    const std::vector<int> ports = free_ports(kHospitals + 1);
    auto addr = [&](int i) { return "127.0.0.1:" + std::to_string(ports[i]); };
    for (int i = 0; i <= kHospitals; ++i) {
      const bool coordinator = i == kHospitals;
      const auto pki = ca.issue(net::party_cert_name(coordinator ? fl::kCoordinatorId : static_cast<fl::PartyId>(i)));
      nlohmann::json j;
      j["role"] = coordinator ? "coordinator" : "hospital";
      if (!coordinator) j["party_id"] = i;
      j["hospitals"] = kHospitals;
      j["listen"] = addr(i);
      j["peers"] = nlohmann::json::object();
      for (int p = 0; p < kHospitals; ++p) {
        if (p != i) j["peers"][std::to_string(p)] = addr(p);
      }
      if (!coordinator) j["peers"]["coordinator"] = addr(kHospitals);
      j["tls"] = {{"ca_cert", pki.ca_cert_path}, {"cert", pki.cert_path}, {"key", pki.key_path}};
      j["ledger"] = coordinator ? chain + "?key=" + coordinator_key : chain;
      j["federation_id"] = "node-evm-test";
      j["rounds"] = rounds;
      j["he"] = {{"max_abs_update", 8}, {"threshold", 2}};
      j["min_contributors"] = 3;
      if (!coordinator) {
        j["node_store"] = {{"path", "hospital-" + std::to_string(i) + ".store"},
                           {"passphrase_env", "HEAL_TEST_NODE_PASSPHRASE"}};
      }
      j["response_timeout_ms"] = response_timeout_ms;
      j["setup_timeout_ms"] = 90000;
      const std::string path =
          dir + "/" + (coordinator ? std::string("coordinator") : "hospital-" + std::to_string(i)) + ".json";
      std::ofstream(path) << j.dump(2);
      configs.push_back(path);
    }
  }

  return configs;
}

// A trainer that dies (SIGKILL to its own process) when asked to train in round `round`.
class DiesInRound final : public fl::LocalTrainer {
 public:
  DiesInRound(std::unique_ptr<fl::LocalTrainer> inner, std::uint64_t round) : inner_(std::move(inner)), round_(round) {}
  std::size_t num_parameters() const override { return inner_->num_parameters(); }
  Result<fl::TrainResult> train(std::span<const float> w, const fl::TrainConfig& c) override {
    if (c.round == round_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the model's send is acknowledged first
      ::kill(::getpid(), SIGKILL);
    }
    return inner_->train(w, c);
  }
  Result<fl::Metrics> evaluate(std::span<const float> w) override { return inner_->evaluate(w); }

 private:
  std::unique_ptr<fl::LocalTrainer> inner_;
  std::uint64_t round_;
};

// Child: a hospital node; exit code 0 on a clean stop. die_in_round > 0: killed in that round.
[[noreturn]] void hospital_child(const std::string& config, int i, std::uint64_t die_in_round = 0) {
  ::setenv("HEAL_TEST_NODE_PASSPHRASE", ("passphrase of hospital " + std::to_string(i)).c_str(), 1);
  auto c = load_node_config(config);
  std::unique_ptr<fl::LocalTrainer> t = trainer(i);
  if (die_in_round > 0) t = std::make_unique<DiesInRound>(std::move(t), die_in_round);
  Status s = c.ok() ? run_hospital_node(*c, std::move(t), test_options()) : c.status();
  if (!s.ok()) std::fprintf(stderr, "hospital %d: %s\n", i, s.to_string().c_str());
  ::_exit(s.ok() ? 0 : 1);
}

// Child: the coordinator; writes the final model, the report and the ledger's audit URI to result.json.
[[noreturn]] void coordinator_child(const std::string& dir, const std::string& config) {
  auto c = load_node_config(config);
  if (!c.ok()) ::_exit(2);
  auto rep = run_coordinator_node(*c, std::vector<float>(kWStar.size(), 0.0f), {}, test_options());
  if (!rep.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", rep.status().to_string().c_str());
    ::_exit(1);
  }
  nlohmann::json out;
  out["report"] = nlohmann::json::parse(rep->report.to_json());
  out["model"] = rep->model;
  out["ledger"] = rep->ledger;
  std::ofstream(dir + "/result.json") << out.dump();
  ::_exit(0);
}

TEST_F(NodeEvmFederation, OneCoordinatorAndThreeHospitalProcessesOnAnvilMatchPlaintextFedAvg) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string dir = (std::filesystem::temp_directory_path() / "heal_node_evm_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string chain = evm_uri();
  const std::vector<std::string> configs = make_configs(dir, chain, dev_private_keys_hex()[0], kRounds, 30000);
  std::vector<pid_t> pids;
  for (int i = 0; i < kHospitals; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) hospital_child(configs[i], i);
    pids.push_back(pid);
  }
  const pid_t coordinator = ::fork();
  ASSERT_GE(coordinator, 0);
  if (coordinator == 0) coordinator_child(dir, configs.back());
  EXPECT_EQ(wait_exit(coordinator), 0);
  for (int i = 0; i < kHospitals; ++i) EXPECT_EQ(wait_exit(pids[i]), 0) << "hospital " << i;
  std::printf("[ timing ] 4 processes on anvil, deploy + key setup + %d rounds: %.1f s\n", kRounds,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  std::ifstream in(dir + "/result.json");
  ASSERT_TRUE(in.good());
  nlohmann::json out = nlohmann::json::parse(in);
  // The chain ledger, read back by an auditor with no key, verifies: setup, 2 completed rounds.
  const std::string audit = out["ledger"].get<std::string>();
  ASSERT_EQ(audit.rfind(chain + "?contract=0x", 0), 0u) << audit;
  auto ledger = ledger::evm::EvmLedger::open(ledger::parse_ledger_uri(audit).value(), /*read_only=*/true).value();
  const ledger::VerifyReport v = ledger->verify();
  EXPECT_TRUE(v.ok) << v.summary();
  const auto results = fl::testing::round_results(*ledger);
  ASSERT_EQ(results.size(), std::size_t{kRounds});
  for (const auto& r : results) {
    EXPECT_EQ(r.status, ledger::RoundStatus::kCompleted) << r.failure_reason;
    EXPECT_EQ(r.contributions.size(), std::size_t{kHospitals});
    EXPECT_EQ(r.decryptors.size(), 2u);  // t = 2 of 3
  }
  // Each hospital's chain key lives in a 0600 vault next to its store; no Ed25519 ledger key was made.
  for (int i = 0; i < kHospitals; ++i) {
    const auto p = std::filesystem::path(dir) / ("hospital-" + std::to_string(i) + ".store.chain-key");
    ASSERT_TRUE(std::filesystem::exists(p));
    EXPECT_EQ(std::filesystem::status(p).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    EXPECT_FALSE(
        std::filesystem::exists(std::filesystem::path(dir) / ("hospital-" + std::to_string(i) + ".store.ledger-key")));
  }
  const auto model = out["model"].get<std::vector<float>>();
  const auto want = plaintext_fedavg();
  ASSERT_EQ(model.size(), want.size());
  for (std::size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(model[k], want[k], 1e-3) << "weight " << k;
  std::filesystem::remove_all(dir);
}

TEST_F(NodeEvmFederation, AHospitalKilledMidRoundRejoinsFromItsStoreAndTheContractItWasNamed) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string dir = (std::filesystem::temp_directory_path() / "heal_node_evm_kill_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string chain = evm_uri();
  const std::vector<std::string> configs = make_configs(dir, chain, dev_private_keys_hex()[0], 3, 8000);
  std::vector<pid_t> pids;
  for (int i = 0; i < kHospitals; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) hospital_child(configs[i], i, i == 2 ? 2 : 0);  // hospital 2 dies training round 2
    pids.push_back(pid);
  }
  const pid_t coordinator = ::fork();
  ASSERT_GE(coordinator, 0);
  if (coordinator == 0) coordinator_child(dir, configs.back());
  // Restarted at once, hospital 2 reopens its node store, chain key and the contract it was named
  // at setup (nobody names it again), and takes part in round 3.
  EXPECT_EQ(wait_exit(pids[2]), 128 + SIGKILL);
  pids[2] = ::fork();
  ASSERT_GE(pids[2], 0);
  if (pids[2] == 0) hospital_child(configs[2], 2);
  EXPECT_EQ(wait_exit(coordinator), 0);
  for (int i = 0; i < kHospitals; ++i) EXPECT_EQ(wait_exit(pids[i]), 0) << "hospital " << i;
  std::printf("[ timing ] anvil, kill + restart, 3 rounds: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  std::ifstream in(dir + "/result.json");
  ASSERT_TRUE(in.good());
  nlohmann::json out = nlohmann::json::parse(in);
  auto ledger = ledger::evm::EvmLedger::open(ledger::parse_ledger_uri(out["ledger"].get<std::string>()).value(),
                                             /*read_only=*/true)
                    .value();
  const ledger::VerifyReport v = ledger->verify();
  EXPECT_TRUE(v.ok) << v.summary();
  const auto results = fl::testing::round_results(*ledger);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status, ledger::RoundStatus::kCompleted) << results[0].failure_reason;
  EXPECT_EQ(results[1].status, ledger::RoundStatus::kFailed);
  EXPECT_EQ(results[2].status, ledger::RoundStatus::kCompleted) << results[2].failure_reason;
  EXPECT_EQ(results[2].contributions.size(), std::size_t{kHospitals});
  const auto model = out["model"].get<std::vector<float>>();
  const auto want = plaintext_fedavg(2);  // two completed rounds
  ASSERT_EQ(model.size(), want.size());
  for (std::size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(model[k], want[k], 1e-3) << "weight " << k;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace heal::node
#endif  // HEAL_HAVE_EVM
