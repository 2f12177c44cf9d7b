// Federation with keygen = KeyGen::kDistributed: the dealer-free HE key setup (heal/fl/he_keygen.h, design in
// src/fl/README.md "Dealer-free key setup") run between the hospitals over the transport, before
// the first round. Each hospital's HeKeyGenParty sees only the bytes addressed to it; the
// coordinator receives only the public shares and builds the secret-free public HeAggregator. The
// messages are heal/fl/keygen_exchange.h's, as between node processes (heal/node/runtime.h).
#include <map>
#include <string>

#include "heal/core/check.h"
#include "heal/fl/federation.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/he_keygen.h"
#include "heal/fl/keygen_exchange.h"

namespace heal::fl {

namespace {

// Stream of the hospitals' key-setup randomness (the simulation's seed; a deployment passes
// SystemRng). Distinct from federation.cpp's signer (1'000'000) and protocol (2'000'000) streams.
constexpr std::uint64_t kKeyGenStream = 3'000'000;

}  // namespace

std::unique_ptr<SecureAggregator> Federation::distributed_keygen(const SecureAggregator& aggregator) {
  const auto* he = dynamic_cast<const HeAggregator*>(&aggregator);
  HEAL_REQUIRE(he != nullptr, "KeyGen::kDistributed needs secure mode he (an HeAggregator)");
  const HeAggregatorConfig hc = he->config();
  const std::size_t n = hospitals_.size();
  const Bytes federation(config_.federation_id.begin(), config_.federation_id.end());
  const Seed seed = seed_from_u64(config_.seed);

  // Round 0: each hospital draws its secret and box key pair and sends its box public key.
  std::vector<std::unique_ptr<HeKeyGenParty>> kg;
  std::vector<std::unique_ptr<SeededRng>> rngs;
  std::vector<std::unique_ptr<HospitalKeyGenExchange>> ex;
  for (std::size_t i = 0; i < n; ++i) {
    rngs.push_back(std::make_unique<SeededRng>(seed, kKeyGenStream + i));
    kg.push_back(std::make_unique<HeKeyGenParty>(hc, n, static_cast<PartyId>(i), federation, *rngs[i]));
    ex.push_back(std::make_unique<HospitalKeyGenExchange>(*kg[i], n));
    const Status st = ex[i]->send_box_keys(transport_);
    HEAL_REQUIRE(st.ok(), st.to_string());
  }
  // Each hospital reads what reached it (every box key is there: round 0 is done) and runs round 1:
  // public share to everyone (coordinator included), sealed Shamir shares to each peer.
  auto take_all = [this](PartyId id, auto& exchange) {
    while (auto m = transport_.receive(id)) exchange.take(std::move(*m));
  };
  for (std::size_t i = 0; i < n; ++i) {
    take_all(static_cast<PartyId>(i), *ex[i]);
    const Status st = ex[i]->send_round1(transport_, *rngs[i]);
    HEAL_REQUIRE(st.ok(), "key setup, hospital " << i << ": " << st.to_string());
  }
  // Round 2 at every hospital: open the shares addressed to it, derive the collective key.
  std::vector<Digest> hashes;
  for (std::size_t j = 0; j < n; ++j) {
    take_all(static_cast<PartyId>(j), *ex[j]);
    auto m = ex[j]->finish();
    HEAL_REQUIRE(m.ok(), "key setup, hospital " << j << ": " << m.status().to_string());
    hashes.push_back(m->collective_public_key_hash());
    hospitals_[j]->set_aggregation_party(m->make_party());
  }
  // The coordinator: the public side from the public shares alone.
  CoordinatorKeyGenExchange coordinator(n);
  take_all(kCoordinatorId, coordinator);
  auto pub = coordinator.finish(hc, federation);
  HEAL_REQUIRE(pub.ok(), "key setup, coordinator: " << pub.status().to_string());
  // Every hospital derived the key the setup record will hold (in a deployment each compares its
  // hash with the record before co-signing it).
  for (std::size_t j = 0; j < n; ++j) {
    HEAL_REQUIRE(hashes[j] == pub->cpk_hash, "key setup: hospital " << j << " derived another collective public key");
  }
  return std::make_unique<HeAggregator>(*pub);
}

}  // namespace heal::fl
