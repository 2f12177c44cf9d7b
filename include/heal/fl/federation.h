// A whole federation in one process: K hospitals with their trainers, the coordinator, an
// in-process transport, a secure aggregator, a strategy and a ledger. The driver `heal fl
// simulate` uses; tests use it with toy trainers. Dropout semantics: src/fl/README.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

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

struct FederationConfig {
  std::string federation_id = "heal-sim";
  std::uint64_t rounds = 5;
  StrategyConfig strategy;
  double clip_norm = 0;                // L2 bound on each update (0 = no clipping)
  std::uint32_t min_contributors = 0;  // round quorum; 0 = all hospitals
  std::uint64_t seed = 1;              // keys, training seeds and protocol randomness (simulation)
  bool evaluate = true;                // hospitals evaluate each new global model
  std::vector<DropoutEvent> dropouts;
  /// Ledger keys of the parties: Ed25519, or secp256k1 (one key per party for the record signatures
  /// and its EVM account; an EVM ledger needs it).
  ledger::SignatureScheme signature_scheme = ledger::SignatureScheme::kEd25519;
};

/// One hospital's part in one round.
struct PartyRoundStats {
  PartyId party = 0;
  std::string status;  // submitted | refused | failed | offline
  std::string reason;
  bool in_aggregate = false;
  bool decrypted = false;
  std::uint64_t num_samples = 0;
  Metrics train_metrics;
  Metrics val_metrics;  // of the new global model (if evaluated)
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  double train_seconds = 0;
  double encrypt_seconds = 0;
  double decrypt_seconds = 0;
};

struct RoundStats {
  std::uint64_t round = 0;
  bool completed = false;
  std::string failure_reason;
  std::uint64_t model_version = 0;  // after the round
  Digest model_hash{};
  std::size_t contributors = 0;
  double train_loss = 0;                 // sample-weighted mean of the trainers' "loss" (NaN if none)
  Metrics val_metrics;                   // plain mean over the hospitals that evaluated the new model
  double update_norm_mean = 0;           // mean pre-clip update norm over contributors
  std::size_t clipped = 0;               // contributors whose update was clipped
  double train_seconds = 0;              // slowest hospital (hospitals train in parallel)
  double encrypt_seconds = 0;            // slowest hospital
  double aggregate_seconds = 0;          // coordinator
  double decrypt_seconds = 0;            // slowest share + combining
  double round_seconds = 0;              // wall time of the simulated round
  std::uint64_t bytes_up = 0;            // all hospitals
  std::uint64_t bytes_down = 0;
  std::uint64_t ledger_height = 0;       // blocks after the round
  std::vector<PartyRoundStats> parties;
};

struct FederationReport {
  std::string federation_id;
  std::string secure_mode;
  std::string strategy;
  std::size_t hospitals = 0;
  std::size_t parameters = 0;
  std::vector<RoundStats> rounds;
  Digest ledger_head{};
  bool ledger_verified = false;
  /// The whole report as pretty-printed JSON.
  std::string to_json() const;
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
  /// Runs the next round. A round that misses its quorum is not an error: it is recorded as
  /// failed and the model stays. Errors are ledger/IO failures.
  Result<RoundStats> run_round();
  /// setup() (if not done) and all configured rounds, then a full ledger verification.
  Result<FederationReport> run(bool progress = false);

  const std::vector<float>& global_model() const { return global_; }
  std::uint64_t model_version() const { return version_; }
  std::uint64_t rounds_run() const { return round_; }
  InProcessTransport& transport() { return transport_; }
  Hospital& hospital(PartyId id);
  std::size_t num_hospitals() const { return hospitals_.size(); }
  const Strategy& strategy() const { return *strategy_; }
  const ledger::Signer& coordinator_signer() const { return *coordinator_; }
  /// The parties as the setup record lists them (hospitals 0..K-1, then the coordinator): what a
  /// chain deployment fixes as the consortium's members.
  std::vector<ledger::Participant> participants() const;
  const FederationConfig& config() const { return config_; }
  /// Report of the rounds run so far (without re-verifying the ledger).
  FederationReport report() const;

 private:
  struct RoundWork;
  Status open_round(RoundWork& w);
  Status broadcast(RoundWork& w);
  Status collect_updates(RoundWork& w);
  Status decrypt_and_update(RoundWork& w);
  Status record(RoundWork& w);
  void apply_dropouts(std::uint64_t round, DropPhase phase);
  void evaluate(RoundWork& w);

  FederationConfig config_;
  std::unique_ptr<SecureAggregator> aggregator_;
  std::unique_ptr<Strategy> strategy_;
  ledger::Ledger& ledger_;
  InProcessTransport transport_;
  std::unique_ptr<ledger::Signer> coordinator_;
  std::vector<std::unique_ptr<Hospital>> hospitals_;
  std::vector<float> global_;
  std::uint64_t version_ = 0;
  std::uint64_t round_ = 0;
  bool setup_done_ = false;
  std::vector<RoundStats> history_;
  std::map<PartyId, std::uint64_t> offline_until_;  // party -> first round it is back (0: never)
};

}  // namespace heal::fl
