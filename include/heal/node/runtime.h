// The node runtime: one federation party per process (docs/deployment.md, "Running the nodes";
// src/node/README.md). A hospital process holds its own TLS key, ledger key, HE key material (in its
// node store) and trainer; the coordinator process holds its ledger key and the secret-free public
// side of the aggregator. They talk only through net::GrpcTransport (mutual TLS) and the shared ledger.
//
// Start-up: the coordinator asks every hospital who it is (its ledger identity, and whether its node
// store already holds keys); if none has keys it orders the dealer-free key setup
// (heal/fl/keygen_exchange.h, message kinds 8-10), each hospital writes its key material to a new
// node store and acts only through it from then on (safeguards recorded write-ahead); the hospitals
// check and co-sign the setup record; then fl::Coordinator runs the rounds with fl::Hospital on each
// node. A hospital that restarts reopens its node store and answers the next round.
//
// Ledger: a SQLite file shared by the nodes of one host, or (when `ledger` is an evm:// or evms://
// URI, heal/ledger/uri.h) a HealFederation contract on an EVM chain, which works across hosts. On a
// chain every party's ledger key is a secp256k1 key (its account); the coordinator deploys the
// contract for the consortium of the hellos' addresses from the URI's key (and funds the accounts
// from it: dev chains), tells the hospitals its address (kNodeLedger), and each hospital, before it
// co-signs the setup record, reads the contract's members, threshold and quorum back from the chain
// and refuses one that differs from the record.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/core/vault.h"
#include "heal/fl/coordinator.h"
#include "heal/fl/local_trainer.h"
#include "heal/fl/strategy.h"
#include "heal/node/config.h"

namespace heal::node {

/// Node-level message kinds (the round protocol's free range 11..19, src/fl/README.md).
inline constexpr fl::MessageKind kNodeHello = static_cast<fl::MessageKind>(11);   // who are you / identity
inline constexpr fl::MessageKind kNodeKeyGen = static_cast<fl::MessageKind>(12);  // start the key setup
inline constexpr fl::MessageKind kNodeCosign = static_cast<fl::MessageKind>(13);  // sign the setup record / signature
inline constexpr fl::MessageKind kNodeStop = static_cast<fl::MessageKind>(14);    // the federation is over
inline constexpr fl::MessageKind kNodeLedger = static_cast<fl::MessageKind>(15);  // the contract (EVM ledger)

struct NodeOptions {
  /// Argon2id cost of a new node store and of the hospital's ledger key vault (tests pass
  /// VaultKdf::interactive(); below it stores are refused on reopening).
  VaultKdf kdf = VaultKdf::moderate();
  /// Called by the coordinator after each round (progress output; may be empty).
  std::function<void(const fl::RoundStats&)> on_round;
  /// Called by the coordinator for every message it rejects or ignores during a round (a contribution
  /// that does not match its commitment, a replayed or late answer, a malformed decryption share...).
  /// Empty: each is logged as a warning (heal/core/log.h) with Rejection::to_string().
  std::function<void(const fl::Rejection&)> on_reject;
};

/// Runs a hospital until the coordinator says the federation is over (OK), or an error: bad files,
/// a wrong passphrase, a peer unreachable during setup, a setup record that does not match its keys
/// (it refuses to co-sign), or nothing heard from the coordinator for setup_timeout +
/// 4 x response_timeout.
Status run_hospital_node(const NodeConfig& config, std::unique_ptr<fl::LocalTrainer> trainer,
                         const NodeOptions& options = {});

struct CoordinatorNodeResult {
  fl::FederationReport report;  ///< with ledger_verified / ledger_head
  std::vector<float> model;     ///< the final global model
  std::string ledger;           ///< the SQLite file, or the contract's audit URI (evm://host:port?contract=…)
};

/// Runs the coordinator: setup (hellos, key setup, co-signed setup record, model v0), config.rounds
/// rounds (a round that misses its quorum is recorded as failed and the next one runs), then tells
/// the hospitals to stop and verifies the ledger. The ledger must be empty.
Result<CoordinatorNodeResult> run_coordinator_node(const NodeConfig& config, std::vector<float> initial_model,
                                                   const fl::StrategyConfig& strategy = {},
                                                   const NodeOptions& options = {});

}  // namespace heal::node
