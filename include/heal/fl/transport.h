// Message passing between the coordinator and hospitals. Both roles only see `Transport`: the
// coordinator sends, waits (with a deadline) and receives; a hospital answers what it receives.
// `InProcessTransport` runs a federation inside one process: a launcher (fl::Federation) installs a
// delivery hook that lets the hospitals handle their messages when the coordinator waits. It can
// simulate parties that drop, lets tests tamper with messages in flight, and counts bytes up/down
// per party.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/fl/model.h"

namespace heal::fl {

/// Message kinds of the round protocol (src/fl/README.md).
enum class MessageKind : std::uint8_t {
  kModel = 1,            // coordinator -> hospital: global model + version
  kUpdate = 2,           // hospital -> coordinator: contribution + signed commitment
  kRefusal = 3,          // hospital -> coordinator: will not train (e.g. model not on the ledger)
  kAggregate = 4,        // coordinator -> hospital: aggregate to partially decrypt
  kDecryptionShare = 5,  // hospital -> coordinator: partial decryption
  kEvaluate = 6,         // coordinator -> hospital: evaluate this candidate model on local validation data
  kEvaluation = 7,       // hospital -> coordinator: the metrics of that evaluation
  // Dealer-free HE key setup (FederationConfig::keygen = KeyGen::kDistributed; heal/fl/he_keygen.h).
  kKeyGenBoxKey = 8,       // hospital -> hospital: its X25519 box public key (32 bytes)
  kKeyGenPublicShare = 9,  // hospital -> hospitals and coordinator: its CKG public-key share
  kKeyGenSealedShare = 10, // hospital -> hospital: a Shamir share sealed to the recipient
  // 11..19 are free for the round protocol.
  // SMPC ensemble (fl/ensemble, src/fl/README.md "Ensemble"): values from 20 on.
  kEnsembleRoundStart = 20,    // coordinator -> institution: round, SecAgg session and sizes
  kEnsembleSecAgg = 21,        // SecAgg message between an institution and the coordinator
  kEnsembleContribution = 22,  // institution -> coordinator: validation accuracy + SecAgg masked input
  kEnsembleConsensus = 23,     // coordinator -> institution: the weighted-mean soft labels
  kEnsembleRefusal = 24,       // institution -> coordinator: will not contribute this round
  kSiteRound = 25,             // institution -> site: institution model, site SecAgg session
  kSiteSecAgg = 26,            // SecAgg message between a site and its institution
};

/// Name of a message kind ("update", "decryption share", ...; "kind <n>" for others).
std::string message_kind_name(MessageKind kind);

struct Message {
  PartyId from = 0;
  PartyId to = 0;
  MessageKind kind = MessageKind::kModel;
  std::uint64_t round = 0;
  Bytes payload;
};

/// Bytes and messages a party sent (up) and received (down).
struct TrafficCounters {
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::uint64_t messages_up = 0;
  std::uint64_t messages_down = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends `m` to `m.to`. Unavailable if either end is unreachable (the message is lost).
  virtual Status send(Message m) = 0;
  /// Next message addressed to `party`, if any.
  virtual std::optional<Message> receive(PartyId party) = 0;
  /// Gives the other parties until `timeout` to answer `party`: returns once answers are waiting
  /// (or, over a network, when the deadline passes). What did not arrive by then is missing.
  virtual void wait(PartyId party, std::chrono::milliseconds timeout) = 0;
  /// Bytes and messages between hospital `party` and the coordinator so far (zeros if not counted).
  virtual TrafficCounters counters(PartyId party) const = 0;
};

class InProcessTransport final : public Transport {
 public:
  /// Envelope bytes counted per message on top of the payload (from, to, kind, round, length).
  static constexpr std::uint64_t kEnvelopeBytes = 4 + 4 + 1 + 8 + 8;

  Status send(Message m) override;
  std::optional<Message> receive(PartyId party) override;
  /// Runs the delivery hook once (in-process, every answer is queued when it returns).
  void wait(PartyId party, std::chrono::milliseconds timeout) override;

  /// The launcher's hook: let every reachable party handle what is waiting for it.
  void set_delivery(std::function<void()> fn) { delivery_ = std::move(fn); }

  /// Disconnects (or reconnects) a party: messages to or from it are lost; queued ones are dropped.
  void set_connected(PartyId party, bool connected);
  bool connected(PartyId party) const { return !offline_.count(party); }
  /// Called on every message before delivery (tests use it to tamper with messages in flight).
  void set_interceptor(std::function<void(Message&)> fn) { interceptor_ = std::move(fn); }
  /// Counters of a hospital (traffic between it and the coordinator).
  TrafficCounters counters(PartyId party) const override;
  /// Traffic between two parties: up = what `party` sent to `peer`, down = what it received from it.
  TrafficCounters link_counters(PartyId party, PartyId peer) const;
  /// Messages lost because an end was offline.
  std::uint64_t lost_messages() const { return lost_; }

 private:
  std::map<PartyId, std::deque<Message>> queues_;
  std::map<PartyId, TrafficCounters> counters_;
  std::map<std::pair<PartyId, PartyId>, TrafficCounters> links_;  // (from, to): bytes_up/messages_up
  std::set<PartyId> offline_;
  std::function<void(Message&)> interceptor_;
  std::function<void()> delivery_;
  std::uint64_t lost_ = 0;
};

}  // namespace heal::fl
