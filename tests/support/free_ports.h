// Free loopback ports for tests that start servers (federations of node processes, Orthanc).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <stdexcept>
#include <vector>

namespace heal::testing {

// `n` distinct loopback ports that were free a moment ago. They are held open together until all are
// found (so one call never hands out the same port twice, which sequential bind-to-0 calls can), and
// drawn below the kernel's ephemeral range (net.ipv4.ip_local_port_range), so that the source ports
// of outgoing connections (every gRPC client in the tests) cannot take one before its node listens.
inline std::vector<int> free_ports(int n) {
  int lo = 32768;
  if (std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range"); f) f >> lo;
  const int first = 10000;
  const int span = lo - first;
  if (span < 1000) throw std::runtime_error("free_ports: the ephemeral port range starts below 11000");
  std::random_device rd;
  std::mt19937 gen(rd());  // a test's port choice, not a secret
  std::uniform_int_distribution<int> pick(first, lo - 1);
  std::vector<int> fds;
  std::vector<int> ports;
  for (int tries = 0; static_cast<int>(ports.size()) < n && tries < 100 * n; ++tries) {
    const int port = pick(gen);
    if (std::find(ports.begin(), ports.end(), port) != ports.end()) continue;
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) break;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(s);
      continue;
    }
    fds.push_back(s);
    ports.push_back(port);
  }
  for (int s : fds) ::close(s);
  if (static_cast<int>(ports.size()) < n) throw std::runtime_error("free_ports: could not find enough free ports");
  return ports;
}

}  // namespace heal::testing
