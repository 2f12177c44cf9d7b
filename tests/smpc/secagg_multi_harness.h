// Test harness for multi-round SecAgg: n SecAggMultiClient objects and one SecAggMultiServer that
// exchange only byte strings; one setup, then rounds with a per-client dropout schedule. Records
// every client message (for replay and mutation tests) and the bytes each client sends.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "heal/smpc/secagg_multi.h"
#include "secagg_parties.h"

namespace heal::smpc::test_support {

struct MultiRecorded {
  std::vector<Bytes> adverts, share_keys;  // setup, client -> server
  Bytes key_list;
  std::vector<Bytes> routed;
  // Per round (index = round): client -> server messages and the server's broadcasts.
  std::map<std::uint32_t, std::vector<Bytes>> masked, sigs, unmasks;
  std::map<std::uint32_t, Bytes> survivors, unmask_request;
};

// Where a client stops in a round (the first step it no longer does).
enum MultiDrop { kBeforeInput = 0, kAfterInput = 1, kAfterSign = 2, kNever = 3 };

class SecAggMultiNet {
 public:
  SecAggMultiNet(std::uint32_t n, std::uint32_t t, std::uint64_t len, std::uint32_t rounds, std::uint64_t seed,
                 std::uint32_t word_bytes = 8, std::uint32_t min_inputs = 0)
      : rng_(seed_from_u64(seed)) {
    cfg.base.num_clients = n;
    cfg.base.threshold = t;
    cfg.base.vector_len = len;
    cfg.base.word_bytes = word_bytes;
    cfg.base.min_inputs = min_inputs;
    cfg.rounds = rounds;
    rng_.fill(cfg.base.session);
    make_parties(cfg, n, rng_, &verify_keys, &sign_keys, &clients, &server);
    setup_up.assign(n, 0);
    round_up.assign(n, 0);
  }

  Status setup() {
    for (auto& c : clients) {
      rec.adverts.push_back(c->advertise_keys());
      setup_up[c->id() - 1] += rec.adverts.back().size();
      HEAL_RETURN_IF_ERROR(server->receive_advertise(rec.adverts.back()));
    }
    HEAL_ASSIGN_OR_RETURN(rec.key_list, server->key_list());
    for (auto& c : clients) {
      HEAL_ASSIGN_OR_RETURN(Bytes m, c->share_keys(rec.key_list));
      setup_up[c->id() - 1] += m.size();
      rec.share_keys.push_back(m);
      HEAL_RETURN_IF_ERROR(server->receive_shares(m));
    }
    HEAL_ASSIGN_OR_RETURN(auto routed, server->route_shares());
    for (auto& [v, bytes] : routed) {
      rec.routed.push_back(bytes);
      HEAL_RETURN_IF_ERROR(clients[v - 1]->receive_shares(bytes));
    }
    return {};
  }

  // One round; drop[u] says where client u+1 stops (empty: nobody drops).
  Result<std::vector<std::uint64_t>> round(std::uint32_t r, const std::vector<std::vector<std::uint64_t>>& inputs,
                                           std::vector<MultiDrop> drop = {}) {
    drop.resize(clients.size(), kNever);
    HEAL_RETURN_IF_ERROR(server->begin_round(r));
    for (std::size_t u = 0; u < clients.size(); ++u) {
      if (drop[u] <= kBeforeInput) continue;
      HEAL_ASSIGN_OR_RETURN(Bytes m, clients[u]->masked_input(r, inputs[u]));
      send(u, m, rec.masked[r]);
      HEAL_RETURN_IF_ERROR(server->receive_masked_input(m));
    }
    HEAL_ASSIGN_OR_RETURN(rec.survivors[r], server->survivors());
    for (std::uint32_t v : server->aggregated_clients()) {
      if (drop[v - 1] <= kAfterInput) continue;
      HEAL_ASSIGN_OR_RETURN(Bytes m, clients[v - 1]->sign_survivors(rec.survivors[r]));
      send(v - 1, m, rec.sigs[r]);
      HEAL_RETURN_IF_ERROR(server->receive_survivor_signature(m));
    }
    HEAL_ASSIGN_OR_RETURN(rec.unmask_request[r], server->unmask_request());
    for (std::uint32_t v : server->aggregated_clients()) {
      if (drop[v - 1] <= kAfterSign) continue;
      HEAL_ASSIGN_OR_RETURN(Bytes m, clients[v - 1]->unmask(rec.unmask_request[r]));
      if (tamper_unmask) m = tamper_unmask(v, std::move(m));
      send(v - 1, m, rec.unmasks[r]);
      HEAL_RETURN_IF_ERROR(server->receive_unmask(m));
    }
    return server->finish();
  }

  SecAggMultiConfig cfg;
  std::vector<PublicKey> verify_keys;
  std::vector<std::unique_ptr<SecAggMultiClient>> clients;
  std::unique_ptr<SecAggMultiServer> server;
  MultiRecorded rec;
  std::vector<std::size_t> setup_up, round_up;               // bytes each client sent in the setup / in all rounds
  std::vector<Bytes> sign_keys;                              // copies, so tests can play a malicious client
  std::function<Bytes(std::uint32_t, Bytes)> tamper_unmask;  // applied to each unmasking response

 private:
  void send(std::size_t u, const Bytes& m, std::vector<Bytes>& log) {
    round_up[u] += m.size();
    log.push_back(m);
  }
  SeededRng rng_;
};

}  // namespace heal::smpc::test_support
