// The parties of a test SecAgg (one-shot or multi-round): fresh identities, one client per identity
// and the server; shared by secagg_harness.h and secagg_multi_harness.h.
#pragma once

#include <memory>
#include <vector>

#include "heal/core/rng.h"
#include "heal/smpc/secagg.h"

namespace heal::smpc::test_support {

// Clients 1..n of `cfg` with fresh identities and the server; keeps the verify keys and copies of
// the signing keys (so tests can play a malicious client).
template <class Client, class Server, class Config>
void make_parties(const Config& cfg, std::uint32_t n, Rng& rng, std::vector<PublicKey>* verify_keys,
                  std::vector<Bytes>* sign_keys, std::vector<std::unique_ptr<Client>>* clients,
                  std::unique_ptr<Server>* server) {
  std::vector<SecAggIdentity> ids;
  for (std::uint32_t u = 0; u < n; ++u) {
    ids.push_back(make_secagg_identity(rng));
    verify_keys->push_back(ids.back().verify_key);
    sign_keys->emplace_back(ids.back().sign_key.span().begin(), ids.back().sign_key.span().end());
  }
  for (std::uint32_t u = 0; u < n; ++u)
    clients->push_back(std::make_unique<Client>(cfg, u + 1, std::move(ids[u]), *verify_keys, rng));
  *server = std::make_unique<Server>(cfg, *verify_keys);
}

}  // namespace heal::smpc::test_support
