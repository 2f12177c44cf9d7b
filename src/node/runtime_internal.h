// Internals of the node runtime: what tests call directly, and the helpers the FedAvg runtime
// (runtime.cpp) and the ensemble runtime (ensemble_runtime.cpp) share.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/fl/transport.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/ledger.h"
#ifdef HEAL_HAVE_EVM
#include "heal/ledger/backends/evm_ledger.h"
#endif
#include "heal/ledger/uri.h"
#include "heal/net/grpc_transport.h"
#include "heal/node/config.h"
#include "heal/node/ensemble.h"
#include "heal/node/runtime.h"

namespace heal::node::internal {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline std::chrono::milliseconds left(Clock::time_point deadline) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return d.count() > 0 ? d : 0ms;
}

inline bool is_node_message(fl::MessageKind k) {
  return k == kNodeHello || k == kNodeKeyGen || k == kNodeCosign || k == kNodeStop || k == kNodeLedger ||
         k == kNodeEnsembleConfig || k == kNodeEnsemblePeer || k == kNodeSiteHello || k == kNodeSiteGroup;
}

// The transport the protocol roles see: node-level messages are taken out of the stream and handed
// to the runtime, the round protocol's pass through.
class NodeTransport final : public fl::Transport {
 public:
  NodeTransport(fl::Transport& net, std::function<void(fl::Message)> on_node)
      : net_(net), on_node_(std::move(on_node)) {}
  Status send(fl::Message m) override { return net_.send(std::move(m)); }
  std::optional<fl::Message> receive(fl::PartyId party) override {
    while (auto m = net_.receive(party)) {
      if (!is_node_message(m->kind)) return m;
      on_node_(std::move(*m));
    }
    return std::nullopt;
  }
  void wait(fl::PartyId party, std::chrono::milliseconds timeout) override { net_.wait(party, timeout); }
  fl::TrafficCounters counters(fl::PartyId party) const override { return net_.counters(party); }

 private:
  fl::Transport& net_;
  std::function<void(fl::Message)> on_node_;
};

// The coordinator's view of a hospital's ledger key for the setup record: sign() asks the hospital
// over the transport (it checks the record first) and waits for its signature. An empty signature
// (no answer, a refusal) makes the ledger refuse the record, so the setup fails.
class RemoteCosigner final : public ledger::Signer {
 public:
  RemoteCosigner(fl::Transport& net, fl::PartyId party, ledger::Identity identity, std::chrono::milliseconds timeout)
      : net_(net), party_(party), identity_(std::move(identity)), timeout_(timeout) {}
  const ledger::Identity& identity() const override { return identity_; }
  Bytes sign(std::span<const std::uint8_t> message) const override {
    if (!net_.send({fl::kCoordinatorId, party_, kNodeCosign, 0, Bytes(message.begin(), message.end())}).ok()) return {};
    const auto deadline = Clock::now() + timeout_;
    while (true) {
      while (auto m = net_.receive(fl::kCoordinatorId)) {
        if (m->kind == kNodeCosign && m->from == party_) return std::move(m->payload);
      }
      if (Clock::now() >= deadline) return {};
      net_.wait(fl::kCoordinatorId, left(deadline));
    }
  }

 private:
  fl::Transport& net_;
  fl::PartyId party_;
  ledger::Identity identity_;
  std::chrono::milliseconds timeout_;
};

// A hospital's view of its coordinator's liveness: the last time its transport counted a message from
// it. A hospital gives up after setup_timeout + 4 x response_timeout of silence.
// (A site watches its institution alike: `party`.)
class CoordinatorWatch {
 public:
  CoordinatorWatch(const fl::Transport& net, const NodeConfig& c, fl::PartyId party = fl::kCoordinatorId)
      : net_(net), party_(party), limit_(c.setup_timeout + 4 * c.response_timeout) {}
  /// Notes any message from the coordinator since the last call; true if it has been silent too long.
  bool silent_too_long() {
    if (const auto n = net_.counters(party_).messages_down; n != heard_) {
      heard_ = n;
      last_ = Clock::now();
    }
    return Clock::now() - last_ > limit_;
  }

 private:
  const fl::Transport& net_;
  fl::PartyId party_;
  std::chrono::milliseconds limit_;
  Clock::time_point last_ = Clock::now();
  std::uint64_t heard_ = 0;  // messages received from the coordinator so far
};

/// The setup record a coordinator asks a hospital to co-sign: `message` must be a ledger signing
/// message of a RoundSetup of the hospital's federation. InvalidArgument naming what is not.
Result<ledger::RoundSetup> setup_record_to_cosign(const NodeConfig& c, std::span<const std::uint8_t> message);

/// The node's gRPC transport (mutual TLS) from its configuration.
Result<std::unique_ptr<net::GrpcTransport>> start_transport(const NodeConfig& c);
bool on_chain(const ledger::LedgerUri& u);
/// A hospital's ledger key: a 32-byte seed in a vault next to its node store (same passphrase, 0600),
/// made on first start (Ed25519; secp256k1 when `secp256k1`, an EVM ledger).
Result<std::unique_ptr<ledger::Signer>> hospital_ledger_key(const NodeConfig& c, const std::string& passphrase,
                                                            const NodeOptions& o, bool secp256k1);
Result<std::unique_ptr<ledger::Ledger>> open_sqlite(const ledger::LedgerUri& u);
/// The coordinator's ledger: on a chain an EVM handle without a contract (the coordinator deploys one
/// for the consortium), else the SQLite file, which must be empty (FailedPrecondition otherwise).
Result<std::unique_ptr<ledger::Ledger>> open_coordinator_ledger(const ledger::LedgerUri& uri);
#ifdef HEAL_HAVE_EVM
/// kNodeLedger payload (coordinator -> hospital): the first chain block to scan and the contract's
/// 0x address.
Bytes encode_contract(const std::string& address, std::uint64_t from_block);
/// A hospital attaches to the contract the coordinator names, on the chain of its own URI.
Result<std::unique_ptr<ledger::evm::EvmLedger>> open_contract(ledger::LedgerUri u, std::span<const std::uint8_t> b);
#endif
/// The coordinator asks hospitals 0..n-1 who they are (kNodeHello, again every 0.5 s until each has
/// answered) and hands each one's first answer to `on_hello`, whose error ends the wait; Unavailable
/// naming how many of the n `who` answered once `deadline` passes.
Status collect_hellos(fl::Transport& net, std::uint32_t n, Clock::time_point deadline, const std::string& who,
                      const std::function<Status(fl::PartyId, std::span<const std::uint8_t>)>& on_hello);
/// Tells hospitals 0..hospitals-1 that the federation is over.
void stop_all(fl::Transport& net, std::uint32_t hospitals);

// Ensemble nodes (heal/node/ensemble.h).
/// What an institution's ledger key signs to bind its SecAgg verify key to it in a federation.
Bytes ensemble_binding_message(const std::string& federation_id, fl::PartyId party, const smpc::PublicKey& verify_key);
/// An institution's answer to the coordinator's hello (kNodeHello).
struct EnsembleHello {
  ledger::Identity identity;
  smpc::PublicKey verify_key{};
  Bytes binding;  ///< the ledger key's signature over ensemble_binding_message
  std::string architecture;
  std::uint64_t num_parameters = 0;
  Digest reference_hash{};
  std::uint64_t reference_size = 0;
  std::uint32_t num_classes = 0;
};
Bytes encode_ensemble_hello(const EnsembleHello& h);
/// Corruption on anything malformed (lengths, an invalid identity, trailing bytes).
Result<EnsembleHello> decode_ensemble_hello(std::span<const std::uint8_t> b);
struct EnsembleGroupEntry {
  fl::PartyId party = 0;
  smpc::PublicKey verify_key{};
  Bytes binding;  ///< the party's ledger signature over ensemble_binding_message
};
/// kNodeEnsembleConfig's payload.
Bytes encode_ensemble_group(std::uint32_t threshold, std::uint32_t rounds_per_setup,
                            const std::vector<EnsembleGroupEntry>& group);
/// What an institution learnt directly from its peers (kNodeEnsemblePeer): party -> announcement.
using EnsemblePeers = std::map<fl::PartyId, EnsembleHello>;
/// A peer's announcement, received directly from it: decoded, its binding verified against the
/// identity it announces, its reference set the receiver's own.
Result<EnsembleHello> check_ensemble_peer(const NodeConfig& c, fl::PartyId from, const Digest& reference_hash,
                                          std::span<const std::uint8_t> payload);
/// An institution co-signs the genesis record only if it is this federation's ensemble setup, lists
/// every institution 0..K-1 once (itself with its identity `me`, every other one with the identity in
/// `peers`, which must hold them all) and the coordinator, with its SecAgg threshold as the quorum.
/// InvalidArgument naming the mismatch otherwise.
Status check_ensemble_genesis(const NodeConfig& c, const EnsembleNodeOptions& o, const ledger::Identity& me,
                              const EnsemblePeers& peers, std::span<const std::uint8_t> message);
/// The SecAgg group a coordinator sent, checked against the co-signed setup on `ledger`: every
/// institution once in party order, each verify key bound by that party's ledger identity and equal to
/// the key that party announced directly (`peers`), `mine` in this institution's place, threshold and
/// session length as configured. InvalidArgument otherwise.
Result<fl::ensemble::SecAggGroup> check_ensemble_group(const NodeConfig& c, const EnsembleNodeOptions& o,
                                                       const ledger::Ledger& ledger, const smpc::PublicKey& mine,
                                                       const EnsemblePeers& peers,
                                                       std::span<const std::uint8_t> payload);
/// A site's announcement (kNodeSiteHello).
struct SiteHello {
  smpc::PublicKey verify_key{};
  std::string architecture;
  std::uint64_t num_parameters = 0;
};
Bytes encode_site_hello(const SiteHello& h);
/// Corruption on anything malformed.
Result<SiteHello> decode_site_hello(std::span<const std::uint8_t> b);
/// The SecAgg threshold of S sites: floor(S/2) + 1 (as fl::ensemble::EnsembleSimulation).
inline std::uint32_t site_threshold(std::size_t sites) { return static_cast<std::uint32_t>(sites / 2 + 1); }
/// kNodeSiteGroup's payload (institution -> site): u32 threshold, u32 S, per site (ascending): u32
/// party, verify key.
Bytes encode_site_group(const fl::ensemble::SecAggGroup& g);
/// What a site accepts as its group: exactly config.sites (itself and its siblings) in ascending order,
/// `mine` in its own place, every sibling with the key it announced directly (`siblings`, which must
/// hold them all), threshold floor(S/2) + 1. InvalidArgument naming the mismatch otherwise.
Result<fl::ensemble::SecAggGroup> check_site_group(const NodeConfig& c, const smpc::PublicKey& mine,
                                                   const std::map<fl::PartyId, SiteHello>& siblings,
                                                   std::span<const std::uint8_t> payload);

#ifdef HEAL_HAVE_EVM
/// The HealFederation contract of an ensemble: the genesis record's participants (their keys are their
/// accounts) and this configuration's SecAgg threshold (ledger::evm::ensemble_consortium_of).
/// Coordinator and institutions derive it alike.
Result<ledger::evm::Consortium> ensemble_consortium(const NodeConfig& c, const EnsembleNodeOptions& o,
                                                    const std::vector<ledger::Participant>& participants);
/// Before an institution co-signs the genesis record on a chain: the contract the coordinator named,
/// read back from the chain, must be the one for that record's consortium (FailedPrecondition naming
/// the difference otherwise).
Status check_ensemble_contract(const NodeConfig& c, const EnsembleNodeOptions& o, const ledger::evm::EvmLedger& chain,
                               std::span<const std::uint8_t> message);
#endif

/// A hospital co-signs the setup record only if `message` is the ledger signing message of a
/// RoundSetup of its federation, listing it (party id, hospital role) with its own identity `me`,
/// holding the collective public key `cpk` its own key setup derived, with its quorum and threshold
/// and K + 1 participants. InvalidArgument naming the mismatch otherwise.
Status check_setup_record(const NodeConfig& config, const ledger::Identity& me, const Digest& cpk,
                          std::span<const std::uint8_t> message);

}  // namespace heal::node::internal
