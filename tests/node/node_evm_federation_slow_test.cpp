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
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

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

namespace heal::node {
namespace {

constexpr int kHospitals = 3;
constexpr int kRounds = 2;
const std::vector<float> kWStar = {0.5f, -1.0f, 2.0f, 0.25f};

std::unique_ptr<fl::LocalTrainer> trainer(int i) {
  return std::make_unique<fl::testing::LinearRegressionTrainer>(kWStar, 48 + 16 * i, 100 + i);
}

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

NodeOptions test_options() {
  NodeOptions o;
  o.kdf = VaultKdf::interactive();
  return o;
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<float> plaintext_fedavg() {
  auto ledger = fl::testing::memory_ledger();
  std::vector<std::unique_ptr<fl::LocalTrainer>> trainers;
  for (int i = 0; i < kHospitals; ++i) trainers.push_back(trainer(i));
  fl::FederationConfig cfg;
  cfg.rounds = kRounds;
  fl::Federation f(cfg, std::move(trainers), std::make_unique<fl::PlainAggregator>(fl::testing::party_set(kHospitals)),
                   *ledger, std::vector<float>(kWStar.size(), 0.0f));
  EXPECT_TRUE(f.run().ok());
  return f.global_model();
}

class NodeEvmFederation : public ledger::evm::testing::AnvilFixture {};

TEST_F(NodeEvmFederation, OneCoordinatorAndThreeHospitalProcessesOnAnvilMatchPlaintextFedAvg) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string dir = (std::filesystem::temp_directory_path() / "heal_node_evm_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string chain = "evm://" + url().substr(std::string("http://").size());
  std::vector<std::string> configs;  // hospitals 0..K-1, then the coordinator
  {
    heal::testing::TestCa ca(dir, "consortium");
    std::vector<int> ports;
    for (int i = 0; i <= kHospitals; ++i) ports.push_back(free_port());
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
      // The coordinator deploys and pays from anvil's dev account 0; a hospital needs only the chain.
      j["ledger"] = coordinator ? chain + "?key=" + dev_private_keys_hex()[0] : chain;
      j["federation_id"] = "node-evm-test";
      j["rounds"] = kRounds;
      j["he"] = {{"max_abs_update", 8}, {"threshold", 2}};
      j["min_contributors"] = 3;
      if (!coordinator) {
        j["node_store"] = {{"path", "hospital-" + std::to_string(i) + ".store"},
                           {"passphrase_env", "HEAL_TEST_NODE_PASSPHRASE"}};
      }
      j["response_timeout_ms"] = 30000;
      j["setup_timeout_ms"] = 90000;
      const std::string path =
          dir + "/" + (coordinator ? std::string("coordinator") : "hospital-" + std::to_string(i)) + ".json";
      std::ofstream(path) << j.dump(2);
      configs.push_back(path);
    }
  }

  std::vector<pid_t> pids;
  for (int i = 0; i < kHospitals; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::setenv("HEAL_TEST_NODE_PASSPHRASE", ("passphrase of hospital " + std::to_string(i)).c_str(), 1);
      auto c = load_node_config(configs[i]);
      Status s = c.ok() ? run_hospital_node(*c, trainer(i), test_options()) : c.status();
      if (!s.ok()) std::fprintf(stderr, "hospital %d: %s\n", i, s.to_string().c_str());
      ::_exit(s.ok() ? 0 : 1);
    }
    pids.push_back(pid);
  }
  const pid_t coordinator = ::fork();
  ASSERT_GE(coordinator, 0);
  if (coordinator == 0) {
    auto c = load_node_config(configs.back());
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

}  // namespace
}  // namespace heal::node
#endif  // HEAL_HAVE_EVM
