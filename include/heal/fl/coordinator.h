// The round coordinator: one protocol role, holding only its own state (its ledger key, the
// public side of the secure aggregator, the strategy, the global model, the round history) and
// talking to hospitals only through a Transport, with a deadline for their answers. It never
// sees a Hospital object: what a hospital reports (timings, pre-clip norm, samples, refusal
// reasons) arrives in its messages (src/fl/messages.h). fl::Federation is the in-process
// launcher that runs a coordinator and K hospitals over an InProcessTransport. Protocol:
// src/fl/README.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "heal/fl/local_trainer.h"
#include "heal/fl/secure_aggregator.h"
#include "heal/fl/strategy.h"
#include "heal/fl/transport.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/ledger.h"

namespace heal::fl {

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

/// A message the coordinator rejected or ignored: a contribution that does not match its commitment,
/// a malformed or foreign decryption share, an answer for another round (a late or replayed one), ...
struct Rejection {
  PartyId from = 0;
  MessageKind kind = MessageKind::kModel;
  std::uint64_t message_round = 0;  // the round the message names
  std::uint64_t round = 0;          // the round the coordinator was running
  std::string reason;
  /// One line: "rejected <kind> from hospital <from> (message round <r>, round <r'>): <reason>".
  std::string to_string() const;
};

/// The coordinator's rules (a FederationConfig without the simulation's parts).
struct CoordinatorConfig {
  std::string federation_id = "heal-sim";
  StrategyConfig strategy;
  double clip_norm = 0;                // L2 bound on each update (0 = no clipping), recorded on the ledger
  std::uint32_t min_contributors = 0;  // round quorum; 0 = all hospitals
  bool evaluate = true;                // hospitals evaluate each new global model
  /// Send each decryption quorum member the round's contributions instead of their sum, so that it
  /// makes the sum itself, checks every contribution and the sum against their hashes on the ledger,
  /// and decrypts only that (Hospital::set_aggregate_check; every member must have one): the
  /// coordinator is then not trusted with the sum. Costs each member the download of every contribution.
  bool attach_contributions = false;
  /// How long the coordinator waits for the hospitals' answers in each phase of a round (updates,
  /// decryption shares, evaluations): a phase ends when every hospital asked has answered or this
  /// much time has passed since it began, whatever the transport's wait() does.
  std::chrono::milliseconds response_timeout{std::chrono::minutes(10)};
  /// Called for every message rejected or ignored during a round (the node runtime logs them; the
  /// rejected updates also appear in RoundStats::parties). May be empty.
  std::function<void(const Rejection&)> on_reject;
};

class Coordinator {
 public:
  /// `hospitals`: the consortium's hospitals (ids, names, public identities), as the setup record
  /// lists them. `aggregator` is used only for its public side (setup_info, aggregate, finalize).
  /// Throws std::invalid_argument on inconsistent arguments (no hospitals, quorum above K, ...).
  Coordinator(CoordinatorConfig config, std::vector<ledger::Participant> hospitals,
              std::unique_ptr<SecureAggregator> aggregator, std::unique_ptr<ledger::Signer> signer,
              ledger::Ledger& ledger, Transport& transport, std::vector<float> initial_model);
  ~Coordinator();

  /// Writes the setup record, signed by `cosigners` (every hospital, after checking it) and the
  /// coordinator, and model v0. The ledger must be empty.
  Status setup(std::span<const ledger::Signer* const> cosigners);
  /// Runs the next round. A round that misses its quorum is not an error: it is recorded as failed
  /// and the model stays. Errors are ledger/IO failures.
  Result<RoundStats> run_round();

  const std::vector<float>& global_model() const { return global_; }
  std::uint64_t model_version() const { return version_; }
  std::uint64_t rounds_run() const { return round_; }
  bool setup_done() const { return setup_done_; }
  const Strategy& strategy() const { return *strategy_; }
  const ledger::Signer& signer() const { return *signer_; }
  const CoordinatorConfig& config() const { return config_; }
  /// The hospitals, then the coordinator: the setup record's participants.
  std::vector<ledger::Participant> participants() const;
  std::size_t num_hospitals() const { return hospitals_.size(); }
  /// Report of the rounds run so far (without verifying the ledger).
  FederationReport report() const;

 private:
  struct RoundWork;
  Status open_round(RoundWork& w);
  Status broadcast(RoundWork& w);
  Status collect_updates(RoundWork& w);
  /// One phase: waits and hands every received message to `handle` until each party in `awaiting`
  /// has answered (`handle` erases it) or the response timeout passes; stops at handle's first error.
  Status collect(std::set<PartyId>& awaiting, const std::function<Status(const Message&)>& handle);
  Status take_update(RoundWork& w, const Message& m);
  Status decrypt_and_update(RoundWork& w);
  Status record(RoundWork& w);
  void reject(const RoundWork& w, const Message& m, std::string reason) const;
  void evaluate(RoundWork& w);

  CoordinatorConfig config_;
  std::vector<ledger::Participant> hospitals_;
  std::unique_ptr<SecureAggregator> aggregator_;
  std::unique_ptr<Strategy> strategy_;
  std::unique_ptr<ledger::Signer> signer_;
  ledger::Ledger& ledger_;
  Transport& transport_;
  std::vector<float> global_;
  std::uint64_t version_ = 0;
  std::uint64_t round_ = 0;
  bool setup_done_ = false;
  std::vector<RoundStats> history_;
};

}  // namespace heal::fl
