// A hospital's side of the round protocol: check the broadcast model against the ledger, train,
// clip, contribute, commit (signed), and partially decrypt aggregates. It reacts to messages from
// its Transport; src/fl/README.md has the protocol.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "heal/core/rng.h"
#include "heal/fl/local_trainer.h"
#include "heal/fl/secure_aggregator.h"
#include "heal/fl/transport.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/ledger.h"

namespace heal::fl {

namespace internal {
enum class RefusalCode : std::uint8_t;  // src/fl/messages.h
}

/// What a hospital did in its latest round.
struct HospitalRoundLog {
  std::uint64_t round = 0;
  std::string status = "idle";  // idle | submitted | refused | failed
  std::string reason;           // why refused/failed
  std::uint64_t num_samples = 0;
  Metrics metrics;
  ClipResult clip;
  double train_seconds = 0;
  double encrypt_seconds = 0;
  double decrypt_seconds = 0;   // producing decryption shares
};

class Hospital {
 public:
  /// `ledger` is this hospital's handle on the federation ledger: it checks models against it and
  /// writes its own signed commitments to it (on a chain, from its own account).
  Hospital(PartyId id, std::string name, std::unique_ptr<LocalTrainer> trainer, std::unique_ptr<ledger::Signer> signer,
           ledger::Ledger& ledger, Transport& transport, std::unique_ptr<Rng> rng);

  PartyId id() const { return id_; }
  const std::string& name() const { return name_; }
  const ledger::Identity& identity() const { return signer_->identity(); }
  const ledger::Signer& signer() const { return *signer_; }
  LocalTrainer& trainer() { return *trainer_; }

  /// Installs this hospital's side of the secure aggregation protocol (its key share).
  void set_aggregation_party(std::unique_ptr<AggregationParty> party) { party_ = std::move(party); }
  /// The public-side sum of contributions (SecureAggregator::aggregate of this hospital's own
  /// public setup). When set, the hospital shares only for an aggregate it made itself from the
  /// contributions the decryption request carries (CoordinatorConfig::attach_contributions), whose
  /// hashes, and whose sum's hash, the ledger's contributor set commits to; otherwise it refuses.
  using AggregateCheck =
      std::function<Result<Bytes>(std::span<const Bytes> contributions, std::size_t length, std::uint64_t round)>;
  void set_aggregate_check(AggregateCheck check) { aggregate_check_ = std::move(check); }
  /// Federation rules the hospital applies to every update it sends.
  void set_federation(std::string federation_id, double clip_norm, double proximal_mu);

  /// Handles every message waiting for this hospital.
  void step();

  const HospitalRoundLog& last_round() const { return log_; }
  /// How many times the local trainer ran (tests check refusals never train).
  std::uint64_t trainings() const { return trainings_; }

 private:
  void on_model(const Message& m);
  void on_aggregate(const Message& m);
  void on_evaluate(const Message& m);
  /// Answers `m` with a kRefusal (code, reason, the flooding budget D if that is the reason).
  void refuse(const Message& m, internal::RefusalCode code, const std::string& reason, std::uint64_t budget = 0);

  PartyId id_;
  std::string name_;
  std::unique_ptr<LocalTrainer> trainer_;
  std::unique_ptr<ledger::Signer> signer_;
  ledger::Ledger& ledger_;
  Transport& transport_;
  std::unique_ptr<Rng> rng_;
  std::unique_ptr<AggregationParty> party_;
  AggregateCheck aggregate_check_;
  std::string federation_id_;
  double clip_norm_ = 0;
  double proximal_mu_ = 0;
  HospitalRoundLog log_;
  std::uint64_t trainings_ = 0;
  static constexpr int kMaxSharesPerRound = 3;
  std::optional<std::uint64_t> decrypted_round_;
  Digest decrypted_hash_{};
  int shares_in_round_ = 0;
};

}  // namespace heal::fl
