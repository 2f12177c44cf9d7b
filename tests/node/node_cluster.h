// Test helpers for federations of processes (tests/node/*_slow_test.cpp): a free loopback port, the
// configurations of a coordinator and K hospitals (their own certificates from a throwaway CA, a
// shared SQLite ledger file), and the exit code of a forked child.
#pragma once

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "heal/fl/model.h"
#include "heal/net/grpc_transport.h"
#include "net/test_pki.h"

namespace heal::node::testing_cluster {

inline int free_port() {
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

struct Cluster {
  std::string dir;
  std::vector<std::string> configs;  // hospitals 0..K-1, then the coordinator
};

// `extra`: configuration keys that differ from the defaults (merged into every node's configuration).
inline Cluster make_cluster(const std::string& name, int response_timeout_ms = 20000, int hospitals = 3,
                            const nlohmann::json& extra = nlohmann::json::object(), int rounds = 3) {
  Cluster c;
  c.dir = (std::filesystem::temp_directory_path() / ("heal_node_" + name + "_XXXXXX")).string();
  if (::mkdtemp(c.dir.data()) == nullptr) throw std::runtime_error("mkdtemp");
  ::heal::testing::TestCa ca(c.dir, "consortium");
  std::vector<int> ports;
  for (int i = 0; i <= hospitals; ++i) ports.push_back(free_port());
  auto addr = [&](int i) { return "127.0.0.1:" + std::to_string(ports[i]); };
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
  return c;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace heal::node::testing_cluster
