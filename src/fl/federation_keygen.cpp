// Federation with keygen = KeyGen::kDistributed: the dealer-free HE key setup (heal/fl/he_keygen.h, design in
// src/fl/README.md "Dealer-free key setup") run between the hospitals over the transport, before
// the first round. Each hospital's HeKeyGenParty sees only the bytes addressed to it; the
// coordinator receives only the public shares and builds the secret-free public HeAggregator.
#include <map>
#include <string>

#include "heal/core/check.h"
#include "heal/fl/federation.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/he_keygen.h"

namespace heal::fl {

namespace {

// Stream of the hospitals' key-setup randomness (the simulation's seed; a deployment passes
// SystemRng). Distinct from federation.cpp's signer (1'000'000) and protocol (2'000'000) streams.
constexpr std::uint64_t kKeyGenStream = 3'000'000;

// Everything waiting for `party`, by kind and sender (the last message per sender and kind wins;
// a sender's duplicate is its own problem: it is refused by the checks of its content).
std::map<std::pair<MessageKind, PartyId>, Bytes> drain(InProcessTransport& t, PartyId party) {
  std::map<std::pair<MessageKind, PartyId>, Bytes> in;
  while (auto m = t.receive(party)) in[{m->kind, m->from}] = std::move(m->payload);
  return in;
}

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
  for (std::size_t i = 0; i < n; ++i) {
    rngs.push_back(std::make_unique<SeededRng>(seed, kKeyGenStream + i));
    kg.push_back(std::make_unique<HeKeyGenParty>(hc, n, static_cast<PartyId>(i), federation, *rngs[i]));
    const BoxPublicKey& pk = kg[i]->box_public_key();
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const Status st = transport_.send({static_cast<PartyId>(i), static_cast<PartyId>(j), MessageKind::kKeyGenBoxKey,
                                         0, Bytes(pk.begin(), pk.end())});
      HEAL_REQUIRE(st.ok(), "key setup: " << st.to_string());
    }
  }
  // Round 1: public share to everyone (coordinator included), sealed Shamir shares to each peer.
  // Every hospital reads its box keys before anyone sends round-1 messages.
  std::vector<HeKeyGenRound1> round1(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto id = static_cast<PartyId>(i);
    auto in = drain(transport_, id);
    std::vector<BoxPublicKey> keys(n);
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i) {
        keys[j] = kg[i]->box_public_key();
        continue;
      }
      auto it = in.find({MessageKind::kKeyGenBoxKey, static_cast<PartyId>(j)});
      HEAL_REQUIRE(it != in.end() && it->second.size() == keys[j].size(),
                   "key setup: hospital " << i << " has no valid box key of hospital " << j);
      std::copy(it->second.begin(), it->second.end(), keys[j].begin());
    }
    auto r1 = kg[i]->round1(keys, *rngs[i]);
    HEAL_REQUIRE(r1.ok(), "key setup, hospital " << i << ": " << r1.status().to_string());
    round1[i] = std::move(*r1);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto id = static_cast<PartyId>(i);
    const Bytes& pub = round1[i].public_share;
    HEAL_REQUIRE(transport_.send({id, kCoordinatorId, MessageKind::kKeyGenPublicShare, 0, pub}).ok(),
                 "key setup: coordinator unreachable");
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const auto to = static_cast<PartyId>(j);
      HEAL_REQUIRE(
          transport_.send({id, to, MessageKind::kKeyGenPublicShare, 0, pub}).ok() &&
              transport_.send({id, to, MessageKind::kKeyGenSealedShare, 0, std::move(round1[i].sealed[j])}).ok(),
          "key setup: hospital " << j << " unreachable");
    }
  }
  // Round 2 at every hospital: open the shares addressed to it, derive the collective key.
  std::vector<Digest> hashes;
  for (std::size_t j = 0; j < n; ++j) {
    auto in = drain(transport_, static_cast<PartyId>(j));
    std::vector<Bytes> pubs(n), sealed(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (i == j) {
        pubs[i] = round1[j].public_share;
        continue;
      }
      pubs[i] = std::move(in[{MessageKind::kKeyGenPublicShare, static_cast<PartyId>(i)}]);
      sealed[i] = std::move(in[{MessageKind::kKeyGenSealedShare, static_cast<PartyId>(i)}]);
    }
    auto m = kg[j]->round2(pubs, sealed);
    HEAL_REQUIRE(m.ok(), "key setup, hospital " << j << ": " << m.status().to_string());
    hashes.push_back(m->collective_public_key_hash());
    hospitals_[j]->set_aggregation_party(m->make_party());
  }
  // The coordinator: the public side from the public shares alone.
  auto in = drain(transport_, kCoordinatorId);
  std::vector<Bytes> pubs(n);
  for (std::size_t i = 0; i < n; ++i) {
    pubs[i] = std::move(in[{MessageKind::kKeyGenPublicShare, static_cast<PartyId>(i)}]);
  }
  auto pub = he_public_setup(hc, n, federation, pubs);
  HEAL_REQUIRE(pub.ok(), "key setup, coordinator: " << pub.status().to_string());
  // Every hospital derived the key the setup record will hold (in a deployment each compares its
  // hash with the record before co-signing it).
  for (std::size_t j = 0; j < n; ++j) {
    HEAL_REQUIRE(hashes[j] == pub->cpk_hash, "key setup: hospital " << j << " derived another collective public key");
  }
  return std::make_unique<HeAggregator>(*pub);
}

}  // namespace heal::fl
