// Test harness: n SecAggClient objects and one SecAggServer that exchange only byte strings, with a
// per-client dropout schedule, recording every message for the mutation tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "heal/smpc/secagg.h"
#include "secagg_parties.h"

namespace heal::smpc::test_support {

struct Recorded {
  std::vector<Bytes> adverts, share_keys, masked, sigs, unmasks;  // client -> server
  Bytes key_list, survivors, unmask_request;                      // server -> clients (broadcast)
  std::vector<Bytes> routed;                                      // server -> each client
};

class SecAggNet {
 public:
  template <typename F>
  static auto timed(double& acc, F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = f();
    acc += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }

  SecAggNet(std::uint32_t n, std::uint32_t t, std::uint64_t len, std::uint64_t seed, std::uint32_t word_bytes = 8,
            std::uint32_t min_inputs = 0)
      : rng_(seed_from_u64(seed)) {
    cfg.num_clients = n;
    cfg.threshold = t;
    cfg.vector_len = len;
    cfg.word_bytes = word_bytes;
    cfg.min_inputs = min_inputs;
    rng_.fill(cfg.session);
    make_parties(cfg, n, rng_, &verify_keys, &sign_keys, &clients, &server);
    up.assign(n, 0);
    down.assign(n, 0);
  }

  // drop_at[u]: the first round (0..4) client u+1 no longer answers; 5 = never drops.
  // Returns the server's result (or the first error of a producing call).
  Result<std::vector<std::uint64_t>> run(const std::vector<std::vector<std::uint64_t>>& inputs,
                                         const std::vector<int>& drop_at) {
    const std::size_t n = clients.size();
    auto alive = [&](std::size_t u, int round) { return drop_at[u] > round; };
    for (std::size_t u = 0; u < n; ++u) {
      if (!alive(u, 0)) continue;
      rec.adverts.push_back(timed(client_secs, [&] { return clients[u]->advertise_keys(); }));
      send(u, rec.adverts.back(), [&](auto b) { return server->receive_advertise(b); });
    }
    HEAL_ASSIGN_OR_RETURN(rec.key_list, timed(server_secs, [&] { return server->key_list(); }));
    for (std::size_t u = 0; u < n; ++u) {
      if (!alive(u, 1)) continue;
      down[u] += rec.key_list.size();
      auto m = timed(client_secs, [&] { return clients[u]->share_keys(rec.key_list); });
      if (!m.ok()) return m.status();
      rec.share_keys.push_back(*m);
      send(u, *m, [&](auto b) { return server->receive_shares(b); });
    }
    HEAL_ASSIGN_OR_RETURN(auto routed, timed(server_secs, [&] { return server->route_shares(); }));
    for (auto& [v, bytes] : routed) {
      rec.routed.push_back(bytes);
      const std::size_t u = v - 1;
      if (!alive(u, 2)) continue;
      down[u] += bytes.size();
      auto m = timed(client_secs, [&] { return clients[u]->masked_input(bytes, inputs[u]); });
      if (!m.ok()) return m.status();
      rec.masked.push_back(*m);
      send(u, *m, [&](auto b) { return server->receive_masked_input(b); });
    }
    HEAL_ASSIGN_OR_RETURN(rec.survivors, timed(server_secs, [&] { return server->survivors(); }));
    for (std::uint32_t v : server->aggregated_clients()) {
      const std::size_t u = v - 1;
      if (!alive(u, 3)) continue;
      down[u] += rec.survivors.size();
      auto m = timed(client_secs, [&] { return clients[u]->sign_survivors(rec.survivors); });
      if (!m.ok()) return m.status();
      rec.sigs.push_back(*m);
      send(u, *m, [&](auto b) { return server->receive_survivor_signature(b); });
    }
    HEAL_ASSIGN_OR_RETURN(rec.unmask_request, timed(server_secs, [&] { return server->unmask_request(); }));
    for (std::uint32_t v : server->aggregated_clients()) {
      const std::size_t u = v - 1;
      if (!alive(u, 4) || !alive(u, 3)) continue;
      down[u] += rec.unmask_request.size();
      auto m = timed(client_secs, [&] { return clients[u]->unmask(rec.unmask_request); });
      if (!m.ok()) return m.status();
      rec.unmasks.push_back(*m);
      send(u, *m, [&](auto b) { return server->receive_unmask(b); });
    }
    return timed(server_secs, [&] { return server->finish(); });
  }

  SecAggConfig cfg;
  std::vector<PublicKey> verify_keys;
  std::vector<Bytes> sign_keys;  // copies, so tests can play a malicious client
  std::vector<std::unique_ptr<SecAggClient>> clients;
  std::unique_ptr<SecAggServer> server;
  Recorded rec;
  std::vector<std::size_t> up, down;        // bytes each client sent / received
  double client_secs = 0, server_secs = 0;  // time in all client calls / all server calls

 private:
  template <typename F>
  void send(std::size_t u, const Bytes& b, F&& deliver) {
    up[u] += b.size();
    const Status s = timed(server_secs, [&] { return deliver(std::span<const std::uint8_t>(b)); });
    EXPECT_TRUE(s.ok()) << "client " << u + 1 << ": " << s.to_string();
  }
  SeededRng rng_;
};

}  // namespace heal::smpc::test_support
