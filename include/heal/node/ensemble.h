// Ensemble federated learning of heterogeneous models (issue 17) with one process per party: each
// institution runs fl::ensemble::EnsembleNode with its own model, keys and data, the coordinator runs
// fl::ensemble::EnsembleCoordinator, and they talk only over net::GrpcTransport (mutual TLS) and the
// shared ledger (docs/deployment.md, "Ensemble nodes"). The roles and their round protocol are those of
// heal/fl/ensemble/roles.h; this file adds what a simulation gets for free: who the institutions are
// and how their keys become known.
//
// Setup:
//  1. coordinator -> institution: kNodeHello. The institution answers with its ledger identity (an
//     Ed25519 key in a vault next to its node store path, made on first start), a fresh SecAgg
//     identity's verify key bound to its ledger key (signature over the federation id, its party id
//     and the verify key), its member's architecture and size, and its reference set's hash, size and
//     class count. The coordinator refuses a reference set that differs from its own.
//     The institution also sends those bytes to every other institution directly (kNodeEnsemblePeer).
//  2. The genesis record (RoundSetup, secure_mode "smpc-ensemble"), checked and co-signed by every
//     institution (kNodeCosign): its federation, every institution listed once, itself with its own
//     identity and every other one with the identity that institution announced directly, the
//     coordinator's threshold. Then the EnsembleSetup record (members, reference hash).
//  3. coordinator -> institution: kNodeEnsembleConfig, every institution's SecAgg verify key with its
//     binding signature and the SecAgg threshold. The institution checks every binding signature
//     against the identity the co-signed genesis record on the ledger lists for that party, and its own
//     key; so a coordinator cannot slip in a SecAgg key of its own (which would let it unmask a
//     single institution's predictions). It then records its model's version 1 and acknowledges.
//  4. Rounds as in roles.h; a party that has not answered within response_timeout is closed out of the
//     current SecAgg phase (EnsembleCoordinator::on_idle), so the round completes with t institutions.
//  5. kNodeStop; the coordinator verifies the ledger.
// Introductions do not pass through the coordinator: with its hello every institution sends the same
// bytes directly to every other institution (kNodeEnsemblePeer, mutual TLS, so the sender is the
// certified party), checks each peer's binding and reference set, and co-signs the genesis record only
// if every institution is listed with the identity it announced itself, and accepts the SecAgg group
// only if every verify key is the one its owner announced. A coordinator can therefore neither slip in
// a key of its own nor replace an institution by a sybil (docs/security.md, "Ensemble federated
// learning"; tests in tests/node/node_ensemble_setup_test.cpp).
// The ledger: a SQLite file shared by the processes of one host, or the HealFederation contract on an
// EVM chain (`evm://...` in the configurations): the coordinator deploys it for the consortium of the
// hellos' secp256k1 accounts (threshold = the SecAgg t, >= 3 institutions) and names it (kNodeLedger);
// each institution reads the contract back and checks it before co-signing the genesis record, and
// records its own member versions from its own account (contracts/README.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/core/vault.h"
#include "heal/fl/ensemble/member.h"
#include "heal/fl/ensemble/roles.h"
#include "heal/node/config.h"

namespace heal::node {

/// coordinator -> institution: the SecAgg group (verify keys, bindings, threshold); the answer is the
/// acknowledgement after the institution recorded its model's version 1 (message kinds 11..19 are the
/// node runtime's, src/fl/README.md).
inline constexpr fl::MessageKind kNodeEnsembleConfig = static_cast<fl::MessageKind>(16);
/// institution -> institution, directly (mutual TLS: the sender is its certificate's party): the
/// same bytes as its hello (ledger identity, SecAgg verify key and binding, reference set), so that
/// every institution knows the others' identities without the coordinator in between.
inline constexpr fl::MessageKind kNodeEnsemblePeer = static_cast<fl::MessageKind>(17);

/// Sites of a multi-site institution (NodeRole::kSite; the hierarchy of roles.h over processes):
/// site -> its institution and, directly, each sibling site: its fresh SecAgg verify key and its
/// member's architecture and size (kNodeSiteHello); institution -> site: the site group, every site's
/// verify key and the threshold floor(S/2) + 1; site -> institution: the empty acknowledgement once the
/// site has checked that group (kNodeSiteGroup). A site accepts the group only if it lists exactly
/// itself and the siblings its configuration names, each sibling with the key that sibling announced
/// directly (mutual TLS: the sender is its certificate's party), so the institution -- the sites'
/// SecAgg server -- cannot slip in a key of its own and unmask one site's weights. An institution
/// answers the coordinator's hello only once every site has acknowledged the group, and forwards
/// kNodeStop to its sites.
inline constexpr fl::MessageKind kNodeSiteHello = static_cast<fl::MessageKind>(18);
inline constexpr fl::MessageKind kNodeSiteGroup = static_cast<fl::MessageKind>(19);

struct EnsembleNodeOptions {
  /// Argon2id cost of the institution's ledger key vault (tests pass VaultKdf::interactive()).
  VaultKdf kdf = VaultKdf::moderate();
  /// Institutions: the training configuration handed to the member each round (round and seed are
  /// set per round by the role).
  fl::TrainConfig train;
  /// Rounds served by one SecAgg key setup (fl::ensemble::EnsembleConfig::secagg_rounds_per_setup).
  std::uint32_t secagg_rounds_per_setup = 20;
  /// SecAgg threshold t among the institutions; 0: floor(K/2) + 1.
  std::uint32_t threshold = 0;
  /// Coordinator: called after every round (completed or failed).
  std::function<void(const fl::ensemble::CoordinatorRound&)> on_round;
  /// Institutions: called after every round this institution took part in.
  std::function<void(const fl::ensemble::NodeRound&)> on_node_round;
  /// Sites: called after the site trained in a round.
  std::function<void(const fl::ensemble::SiteRound&)> on_site_round;
};

/// An institution's traffic over the run, as its own transport counts it (protocol payloads).
struct EnsembleInstitutionNodeResult {
  std::uint64_t bytes_to_coordinator = 0, bytes_from_coordinator = 0;
  std::uint64_t bytes_to_peers = 0, bytes_from_peers = 0;  ///< the direct announcements (kind 17)
  std::uint64_t bytes_to_sites = 0, bytes_from_sites = 0;  ///< a multi-site institution: its sites' FedAvg
};

/// Runs an institution until the coordinator says the ensemble is over, or an error: bad files, a
/// wrong passphrase, a setup record, peer announcement or SecAgg group that does not check out (it
/// refuses), or nothing heard from the coordinator for setup_timeout + 4 x response_timeout.
/// With sites (config.sites), `member` is the institution model (the sites' architecture, no data of
/// its own): it holds the sites' FedAvg, predicts the reference set and distils; the institution
/// closes a round's site aggregation with the sites that answered after response_timeout / 2 of
/// silence (t = floor(S/2) + 1 of S sites must answer, or it refuses the round).
Result<EnsembleInstitutionNodeResult> run_ensemble_institution_node(const NodeConfig& config,
                                                                    fl::ensemble::EnsembleMember& member,
                                                                    const EnsembleNodeOptions& options = {});

/// A site's traffic over the run, as its own transport counts it (protocol payloads).
struct EnsembleSiteNodeResult {
  std::uint64_t bytes_to_institution = 0, bytes_from_institution = 0;
  std::uint64_t bytes_to_siblings = 0, bytes_from_siblings = 0;  ///< the direct announcements
};

/// Runs a site of a multi-site institution (config.role kSite) until its institution says the
/// ensemble is over, or an error: a site group that does not check out (it refuses), or nothing heard
/// from its institution for setup_timeout + 4 x response_timeout. Each round it receives the
/// institution's model, trains `member` on its own data, validates, and contributes
/// (n_s w_s, n_s, correct_s, val_s) to its institution's FedAvg through the site SecAgg
/// (fl::ensemble::EnsembleSite).
Result<EnsembleSiteNodeResult> run_ensemble_site_node(const NodeConfig& config, fl::ensemble::EnsembleMember& member,
                                                      const EnsembleNodeOptions& options = {});

struct EnsembleInstitutionInfo {
  fl::PartyId party = 0;
  std::string architecture;
  std::uint64_t num_parameters = 0;
};

struct EnsembleCoordinatorNodeResult {
  std::vector<EnsembleInstitutionInfo> institutions;
  std::vector<fl::ensemble::CoordinatorRound> rounds;
  /// Per institution (index = party id): bytes it sent to / received from the coordinator over the
  /// whole run, protocol payloads as the coordinator's transport counts them.
  std::vector<std::uint64_t> bytes_up, bytes_down;
  bool ledger_verified = false;
  Digest ledger_head{};
  std::string ledger;
};

/// Runs the coordinator of an ensemble of config.hospitals institutions for config.rounds rounds. The
/// reference set is the consortium's (its hash, size and class count; an institution whose copy
/// differs is refused at setup). The ledger must be empty.
Result<EnsembleCoordinatorNodeResult> run_ensemble_coordinator_node(const NodeConfig& config,
                                                                    const Digest& reference_hash,
                                                                    std::uint64_t reference_size,
                                                                    std::uint32_t num_classes,
                                                                    const EnsembleNodeOptions& options = {});

}  // namespace heal::node
