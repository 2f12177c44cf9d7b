// The dealer-free HE key setup (heal/fl/he_keygen.h) as messages over an fl::Transport (kinds 8-10),
// shared by the in-process launcher (fl::Federation, keygen = KeyGen::kDistributed) and the node
// runtime (heal/node/runtime.h), where each party is its own process. A party's exchange keeps what
// reached it by (kind, sender), whatever the order: a fast peer's round-1 messages may arrive while
// it still waits for box keys.
//
//   hospital i:  send_box_keys -> (all n-1 box keys) send_round1 -> (all n-1 public and sealed shares)
//                finish -> HeKeyMaterial
//   coordinator: take the public shares -> (all n) finish -> HePublicSetup
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"
#include "heal/fl/he_keygen.h"
#include "heal/fl/transport.h"

namespace heal::fl {

/// Whether `kind` is one of the key setup's message kinds (8-10).
bool is_keygen_message(MessageKind kind);

/// One hospital's side of the exchange (it owns nothing secret itself: the HeKeyGenParty does).
class HospitalKeyGenExchange {
 public:
  /// `party` (alive for this object's lifetime) is party `party.party()` of `num_parties`.
  HospitalKeyGenExchange(HeKeyGenParty& party, std::size_t num_parties);

  /// Round 0: its box public key to every other hospital. Unavailable if a peer is unreachable.
  Status send_box_keys(Transport& transport) const;
  /// Keeps a key setup message addressed to this party (others are ignored; returns false for them).
  bool take(Message m);
  bool has_box_keys() const;
  /// Round 1 (needs has_box_keys()): its public share to the coordinator and every hospital, its
  /// sealed Shamir share to each hospital, in that order per recipient. Noise from `rng`.
  Status send_round1(Transport& transport, Rng& rng);
  bool round1_sent() const { return round1_sent_; }
  bool has_round1_messages() const;
  /// Round 2 (needs round1_sent() and has_round1_messages()): opens the sealed shares, derives the
  /// collective public key. Refuses with the sender and reason on anything malformed.
  Result<HeKeyMaterial> finish();

 private:
  const Bytes* find(MessageKind kind, PartyId from) const;
  HeKeyGenParty& party_;
  std::size_t n_;
  bool round1_sent_ = false;
  Bytes own_public_share_;
  std::map<std::pair<MessageKind, PartyId>, Bytes> in_;
};

/// The coordinator's side: it only receives the hospitals' public shares.
class CoordinatorKeyGenExchange {
 public:
  explicit CoordinatorKeyGenExchange(std::size_t num_parties) : n_(num_parties) {}
  /// Keeps a public share from a hospital (false for anything else).
  bool take(Message m);
  bool complete() const { return shares_.size() == n_; }
  /// The secret-free public setup from the n public shares (needs complete()).
  Result<HePublicSetup> finish(const HeAggregatorConfig& config, std::span<const std::uint8_t> federation_id) const;

 private:
  std::size_t n_;
  std::map<PartyId, Bytes> shares_;
};

/// Blocking drivers for a party that is its own process: run the exchange over `transport` (receiving
/// as `self`) until done or `timeout` passes (DeadlineExceeded). Messages of other kinds that arrive
/// meanwhile are handed to `other` (may be empty: they are dropped). `received`: messages the caller
/// took from the transport before (a peer's box key may come before the order to start).
Result<HeKeyMaterial> run_hospital_keygen(Transport& transport, HeKeyGenParty& party, std::size_t num_parties, Rng& rng,
                                          std::chrono::milliseconds timeout,
                                          const std::function<void(Message)>& other = {},
                                          std::vector<Message> received = {});
Result<HePublicSetup> run_coordinator_keygen(Transport& transport, const HeAggregatorConfig& config,
                                             std::size_t num_parties, std::span<const std::uint8_t> federation_id,
                                             std::chrono::milliseconds timeout,
                                             const std::function<void(Message)>& other = {},
                                             std::vector<Message> received = {});

}  // namespace heal::fl
