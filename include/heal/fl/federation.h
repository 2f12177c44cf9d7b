// The in-process launcher of a federation: it owns an InProcessTransport, a Coordinator and K
// Hospitals (with their trainers), and pumps messages: when the coordinator waits for answers, the
// launcher lets every reachable hospital handle what the transport holds for it. The two roles
// never call each other. It also plays the simulation's scheduled failures (DropoutEvent) and holds
// every party's key (simulation only). The driver `heal fl simulate` uses; tests use it with toy
// trainers. Dropout semantics: src/fl/README.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "heal/fl/coordinator.h"
#include "heal/fl/hospital.h"
#include "heal/fl/local_trainer.h"
#include "heal/fl/secure_aggregator.h"
#include "heal/fl/strategy.h"
#include "heal/fl/transport.h"
#include "heal/ledger/ledger.h"

namespace heal::fl {

/// When a simulated hospital fails.
enum class DropPhase : std::uint8_t {
  kBeforeBroadcast,  // offline for the whole round: never receives the model
  kAfterSubmit,      // submits its update, then goes offline: cannot send a decryption share
};

/// A scheduled failure: `party` goes offline in `round` at `phase` for `rounds_offline` rounds
/// (0 = never comes back).
struct DropoutEvent {
  PartyId party = 0;
  std::uint64_t round = 1;
  DropPhase phase = DropPhase::kBeforeBroadcast;
  std::uint64_t rounds_offline = 1;
};

/// How the keys of secure mode he are made.
enum class KeyGen : std::uint8_t {
  kSimulated,    // the aggregator passed in made every party's keys (one seeded dealer; simulation)
  kDistributed,  // no dealer: each hospital runs HeKeyGenParty (heal/fl/he_keygen.h) over the transport
};

struct FederationConfig {
  std::string federation_id = "heal-sim";
  std::uint64_t rounds = 5;
  StrategyConfig strategy;
  double clip_norm = 0;                // L2 bound on each update (0 = no clipping)
  std::uint32_t min_contributors = 0;  // round quorum; 0 = all hospitals
  std::uint64_t seed = 1;              // keys, training seeds and protocol randomness (simulation)
  bool evaluate = true;                // hospitals evaluate each new global model
  /// The coordinator's log of rejected messages (CoordinatorConfig::on_reject); may be empty.
  std::function<void(const Rejection&)> on_reject;
  std::vector<DropoutEvent> dropouts;
  /// Ledger keys of the parties: Ed25519, or secp256k1 (one key per party for the record signatures
  /// and its EVM account; an EVM ledger needs it).
  ledger::SignatureScheme signature_scheme = ledger::SignatureScheme::kEd25519;
  /// Key setup of secure mode he. kDistributed: the messages go through the transport; the
  /// aggregator passed in must be an HeAggregator, of which only the configuration is used; the
  /// coordinator gets the secret-free public side (HeAggregator(HePublicSetup)).
  KeyGen keygen = KeyGen::kSimulated;
};

class Federation {
 public:
  /// One trainer per hospital (party ids 0..K-1). `ledger` must be empty; it receives the setup
  /// in setup(). Throws std::invalid_argument on inconsistent arguments (no trainers, trainers of
  /// different sizes, initial model of the wrong size, quorum above K).
  Federation(FederationConfig config, std::vector<std::unique_ptr<LocalTrainer>> trainers,
             std::unique_ptr<SecureAggregator> aggregator, ledger::Ledger& ledger, std::vector<float> initial_model);
  ~Federation();

  /// Writes the setup record (signed by every hospital and the coordinator) and model v0.
  Status setup();
  /// Runs the next round (with this round's scheduled dropouts). A round that misses its quorum is
  /// not an error: it is recorded as failed and the model stays. Errors are ledger/IO failures.
  Result<RoundStats> run_round();
  /// setup() (if not done) and all configured rounds, then a full ledger verification.
  Result<FederationReport> run(bool progress = false);

  const std::vector<float>& global_model() const { return coordinator_->global_model(); }
  std::uint64_t model_version() const { return coordinator_->model_version(); }
  std::uint64_t rounds_run() const { return coordinator_->rounds_run(); }
  InProcessTransport& transport() { return transport_; }
  Coordinator& coordinator() { return *coordinator_; }
  Hospital& hospital(PartyId id);
  std::size_t num_hospitals() const { return hospitals_.size(); }
  const Strategy& strategy() const { return coordinator_->strategy(); }
  const ledger::Signer& coordinator_signer() const { return coordinator_->signer(); }
  /// The parties as the setup record lists them (hospitals 0..K-1, then the coordinator): what a
  /// chain deployment fixes as the consortium's members.
  std::vector<ledger::Participant> participants() const { return coordinator_->participants(); }
  const FederationConfig& config() const { return config_; }
  /// Report of the rounds run so far (without re-verifying the ledger).
  FederationReport report() const { return coordinator_->report(); }

 private:
  /// The transport's delivery hook: every reachable hospital handles its messages.
  void deliver();
  void apply_dropouts(std::uint64_t round, DropPhase phase);
  /// KeyGen::kDistributed: runs the dealer-free setup over the transport, gives every hospital
  /// the party made from its own key material and returns the coordinator's public aggregator.
  std::unique_ptr<SecureAggregator> distributed_keygen(const SecureAggregator& aggregator);

  FederationConfig config_;
  ledger::Ledger& ledger_;
  InProcessTransport transport_;
  std::vector<std::unique_ptr<Hospital>> hospitals_;
  std::unique_ptr<Coordinator> coordinator_;
  std::uint64_t round_in_progress_ = 0;
  bool after_submit_applied_ = true;
  std::map<PartyId, std::uint64_t> offline_until_;  // party -> first round it is back (0: never)
};

}  // namespace heal::fl
