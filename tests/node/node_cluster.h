// Test helpers for federations of processes (tests/node/*_slow_test.cpp): free loopback ports, the
// configurations of a coordinator and K hospitals (their own certificates from a throwaway CA, a
// shared SQLite ledger file), and the exit code of a forked child.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "heal/fl/model.h"
#include "heal/net/grpc_transport.h"
#include "net/test_pki.h"
#include "support/free_ports.h"

namespace heal::node::testing_cluster {

using ::heal::testing::free_ports;

struct Cluster {
  std::string dir;
  std::vector<std::string> configs;  // hospitals 0..K-1, then the coordinator
  /// Sites of multi-site institutions (ensembles), in party id order, and their configurations.
  std::vector<fl::PartyId> site_ids;
  std::vector<std::string> site_configs;
};

// `extra`: configuration keys that differ from the defaults (merged into every node's configuration).
// `sites`: an ensemble's sites per institution (empty: one each); institution k with S > 1 sites has
// site processes 1000 (k + 1) + s, s < S (heal/node/config.h), which get configurations of their own.
inline Cluster make_cluster(const std::string& name, int response_timeout_ms = 20000, int hospitals = 3,
                            const nlohmann::json& extra = nlohmann::json::object(), int rounds = 3,
                            const std::vector<int>& sites = {}) {
  Cluster c;
  c.dir = (std::filesystem::temp_directory_path() / ("heal_node_" + name + "_XXXXXX")).string();
  if (::mkdtemp(c.dir.data()) == nullptr) throw std::runtime_error("mkdtemp");
  ::heal::testing::TestCa ca(c.dir, "consortium");
  int n_sites = 0;
  for (int sk : sites) n_sites += sk < 2 ? 0 : sk;
  // Hospitals 0..K-1, the coordinator, then the sites in order.
  const std::vector<int> ports = free_ports(hospitals + 1 + n_sites);
  std::size_t next_site_port = static_cast<std::size_t>(hospitals) + 1;
  auto addr = [&](int i) { return "127.0.0.1:" + std::to_string(ports[static_cast<std::size_t>(i)]); };
  std::map<fl::PartyId, std::string> site_addr;  // site id -> address
  std::vector<std::vector<fl::PartyId>> sites_of(static_cast<std::size_t>(hospitals));
  for (std::size_t k = 0; k < sites.size(); ++k) {
    if (sites[k] < 2) continue;
    for (int s = 0; s < sites[k]; ++s) {
      const auto id = static_cast<fl::PartyId>(1000 * (k + 1) + static_cast<std::size_t>(s));
      sites_of[k].push_back(id);
      site_addr[id] = "127.0.0.1:" + std::to_string(ports[next_site_port++]);
    }
  }
  for (int i = 0; i <= hospitals; ++i) {
    const bool coordinator = i == hospitals;
    const fl::PartyId id = coordinator ? fl::kCoordinatorId : static_cast<fl::PartyId>(i);
    const auto pki = ca.issue(net::party_cert_name(id));
    nlohmann::json j;
    j["role"] = coordinator ? "coordinator" : "hospital";
    if (!coordinator) j["party_id"] = i;
    j["hospitals"] = hospitals;
    j["listen"] = addr(i);
    j["peers"] = nlohmann::json::object();
    for (int p = 0; p < hospitals; ++p) {
      if (p != i) j["peers"][std::to_string(p)] = addr(p);
    }
    if (!coordinator) j["peers"]["coordinator"] = addr(hospitals);
    if (!coordinator) {
      for (fl::PartyId sid : sites_of[static_cast<std::size_t>(i)]) j["peers"][std::to_string(sid)] = site_addr[sid];
    }
    j["tls"] = {{"ca_cert", pki.ca_cert_path}, {"cert", pki.cert_path}, {"key", pki.key_path}};
    j["ledger"] = "ledger.sqlite";  // relative to the configuration's directory
    j["federation_id"] = "node-test-" + name;
    j["rounds"] = rounds;
    j["he"] = {{"max_abs_update", 8}};
    if (!coordinator) {
      j["node_store"] = {{"path", "hospital-" + std::to_string(i) + ".store"},
                         {"passphrase_env", "HEAL_TEST_NODE_PASSPHRASE"}};
    }
    j["response_timeout_ms"] = response_timeout_ms;
    j["setup_timeout_ms"] = 60000;
    j.merge_patch(extra);
    const std::string path =
        c.dir + "/" + (coordinator ? std::string("coordinator") : "hospital-" + std::to_string(i)) + ".json";
    std::ofstream(path) << j.dump(2);
    c.configs.push_back(path);
  }
  for (std::size_t k = 0; k < sites_of.size(); ++k) {
    for (fl::PartyId sid : sites_of[k]) {
      const auto pki = ca.issue(net::party_cert_name(sid));
      nlohmann::json j;
      j["role"] = "site";
      j["party_id"] = sid;
      j["hospitals"] = hospitals;
      j["listen"] = site_addr[sid];
      j["peers"] = nlohmann::json::object();
      j["peers"][std::to_string(k)] = addr(static_cast<int>(k));
      for (fl::PartyId other : sites_of[k]) {
        if (other != sid) j["peers"][std::to_string(other)] = site_addr[other];
      }
      j["tls"] = {{"ca_cert", pki.ca_cert_path}, {"cert", pki.cert_path}, {"key", pki.key_path}};
      j["federation_id"] = "node-test-" + name;
      j["rounds"] = rounds;
      j["response_timeout_ms"] = response_timeout_ms;
      j["setup_timeout_ms"] = 60000;
      const std::string path = c.dir + "/site-" + std::to_string(sid) + ".json";
      std::ofstream(path) << j.dump(2);
      c.site_ids.push_back(sid);
      c.site_configs.push_back(path);
    }
  }
  return c;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace heal::node::testing_cluster
