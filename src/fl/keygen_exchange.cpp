// The dealer-free key setup as transport messages (heal/fl/keygen_exchange.h).
#include "heal/fl/keygen_exchange.h"

#include <algorithm>
#include <string>
#include <vector>

#include "heal/core/check.h"

namespace heal::fl {

bool is_keygen_message(MessageKind kind) {
  return kind == MessageKind::kKeyGenBoxKey || kind == MessageKind::kKeyGenPublicShare ||
         kind == MessageKind::kKeyGenSealedShare;
}

HospitalKeyGenExchange::HospitalKeyGenExchange(HeKeyGenParty& party, std::size_t num_parties)
    : party_(party), n_(num_parties) {
  HEAL_REQUIRE(party_.party() < n_, "HospitalKeyGenExchange: party " << party_.party() << " of " << n_);
}

Status HospitalKeyGenExchange::send_box_keys(Transport& transport) const {
  const BoxPublicKey& pk = party_.box_public_key();
  const PartyId self = party_.party();
  for (std::size_t j = 0; j < n_; ++j) {
    if (j == self) continue;
    Status st =
        transport.send({self, static_cast<PartyId>(j), MessageKind::kKeyGenBoxKey, 0, Bytes(pk.begin(), pk.end())});
    if (!st.ok()) return st.with_context("key setup: box key to hospital " + std::to_string(j));
  }
  return {};
}

bool HospitalKeyGenExchange::take(Message m) {
  if (!is_keygen_message(m.kind) || m.to != party_.party() || m.from >= n_ || m.from == party_.party()) return false;
  // The last message per sender and kind wins; a sender's duplicate is its own problem: its content
  // is checked in round 2.
  in_[{m.kind, m.from}] = std::move(m.payload);
  return true;
}

const Bytes* HospitalKeyGenExchange::find(MessageKind kind, PartyId from) const {
  auto it = in_.find({kind, from});
  return it == in_.end() ? nullptr : &it->second;
}

bool HospitalKeyGenExchange::has_box_keys() const {
  for (std::size_t j = 0; j < n_; ++j) {
    if (j != party_.party() && !find(MessageKind::kKeyGenBoxKey, static_cast<PartyId>(j))) return false;
  }
  return true;
}

bool HospitalKeyGenExchange::has_round1_messages() const {
  for (std::size_t j = 0; j < n_; ++j) {
    const auto from = static_cast<PartyId>(j);
    if (j == party_.party()) continue;
    if (!find(MessageKind::kKeyGenPublicShare, from) || !find(MessageKind::kKeyGenSealedShare, from)) return false;
  }
  return true;
}

Status HospitalKeyGenExchange::send_round1(Transport& transport, Rng& rng) {
  HEAL_REQUIRE(!round1_sent_, "key setup: round 1 already sent");
  const PartyId self = party_.party();
  std::vector<BoxPublicKey> keys(n_);
  for (std::size_t j = 0; j < n_; ++j) {
    if (j == self) {
      keys[j] = party_.box_public_key();
      continue;
    }
    const Bytes* k = find(MessageKind::kKeyGenBoxKey, static_cast<PartyId>(j));
    if (!k || k->size() != keys[j].size()) {
      return Status::invalid_argument("key setup: hospital " + std::to_string(self) +
                                      " has no valid box key of hospital " + std::to_string(j));
    }
    std::copy(k->begin(), k->end(), keys[j].begin());
  }
  HEAL_ASSIGN_OR_RETURN(HeKeyGenRound1 r1, party_.round1(keys, rng));
  round1_sent_ = true;
  own_public_share_ = r1.public_share;
  const Bytes& pub = r1.public_share;
  Status st = transport.send({self, kCoordinatorId, MessageKind::kKeyGenPublicShare, 0, pub});
  if (!st.ok()) return st.with_context("key setup: coordinator unreachable");
  for (std::size_t j = 0; j < n_; ++j) {
    if (j == self) continue;
    const auto to = static_cast<PartyId>(j);
    st = transport.send({self, to, MessageKind::kKeyGenPublicShare, 0, pub});
    if (st.ok()) st = transport.send({self, to, MessageKind::kKeyGenSealedShare, 0, std::move(r1.sealed[j])});
    if (!st.ok()) return st.with_context("key setup: hospital " + std::to_string(j) + " unreachable");
  }
  return {};
}

Result<HeKeyMaterial> HospitalKeyGenExchange::finish() {
  HEAL_REQUIRE(round1_sent_, "key setup: round 2 before round 1");
  const PartyId self = party_.party();
  std::vector<Bytes> pubs(n_), sealed(n_);
  for (std::size_t i = 0; i < n_; ++i) {
    if (i == self) {
      pubs[i] = own_public_share_;
      continue;
    }
    const auto from = static_cast<PartyId>(i);
    if (const Bytes* p = find(MessageKind::kKeyGenPublicShare, from)) pubs[i] = *p;
    if (const Bytes* s = find(MessageKind::kKeyGenSealedShare, from)) sealed[i] = *s;
  }
  return party_.round2(pubs, sealed);
}

bool CoordinatorKeyGenExchange::take(Message m) {
  if (m.kind != MessageKind::kKeyGenPublicShare || m.to != kCoordinatorId || m.from >= n_) return false;
  shares_[m.from] = std::move(m.payload);
  return true;
}

Result<HePublicSetup> CoordinatorKeyGenExchange::finish(const HeAggregatorConfig& config,
                                                        std::span<const std::uint8_t> federation_id) const {
  std::vector<Bytes> pubs(n_);
  for (std::size_t i = 0; i < n_; ++i) {
    if (auto it = shares_.find(static_cast<PartyId>(i)); it != shares_.end()) pubs[i] = it->second;
  }
  return he_public_setup(config, n_, federation_id, pubs);
}

namespace {
using Clock = std::chrono::steady_clock;
std::chrono::milliseconds left(Clock::time_point deadline) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return d.count() > 0 ? d : std::chrono::milliseconds(0);
}
}  // namespace

Result<HeKeyMaterial> run_hospital_keygen(Transport& transport, HeKeyGenParty& party, std::size_t num_parties, Rng& rng,
                                          std::chrono::milliseconds timeout, const std::function<void(Message)>& other,
                                          std::vector<Message> received) {
  const auto deadline = Clock::now() + timeout;
  const PartyId self = party.party();
  HospitalKeyGenExchange ex(party, num_parties);
  for (auto& m : received) {
    if (!ex.take(std::move(m)) && other) other(std::move(m));
  }
  HEAL_RETURN_IF_ERROR(ex.send_box_keys(transport));
  while (true) {
    while (auto m = transport.receive(self)) {
      if (!ex.take(*m) && other) other(std::move(*m));
    }
    if (!ex.round1_sent() && ex.has_box_keys()) HEAL_RETURN_IF_ERROR(ex.send_round1(transport, rng));
    if (ex.round1_sent() && ex.has_round1_messages()) return ex.finish();
    if (Clock::now() >= deadline) {
      return Status::unavailable("key setup: hospital " + std::to_string(self) +
                                 " did not hear from every hospital in time");
    }
    transport.wait(self, left(deadline));
  }
}

Result<HePublicSetup> run_coordinator_keygen(Transport& transport, const HeAggregatorConfig& config,
                                             std::size_t num_parties, std::span<const std::uint8_t> federation_id,
                                             std::chrono::milliseconds timeout,
                                             const std::function<void(Message)>& other, std::vector<Message> received) {
  const auto deadline = Clock::now() + timeout;
  CoordinatorKeyGenExchange ex(num_parties);
  for (auto& m : received) {
    if (!ex.take(std::move(m)) && other) other(std::move(m));
  }
  while (true) {
    while (auto m = transport.receive(kCoordinatorId)) {
      if (!ex.take(*m) && other) other(std::move(*m));
    }
    if (ex.complete()) return ex.finish(config, federation_id);
    if (Clock::now() >= deadline) {
      return Status::unavailable("key setup: the coordinator did not receive every public share in time");
    }
    transport.wait(kCoordinatorId, left(deadline));
  }
}

}  // namespace heal::fl
