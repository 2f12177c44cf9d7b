#include "heal/fl/coordinator.h"

#include <cmath>

#include "heal/core/check.h"
#include "heal/fl/model.h"

namespace heal::fl {

Coordinator::Coordinator(CoordinatorConfig config, std::vector<ledger::Participant> hospitals,
                         std::unique_ptr<SecureAggregator> aggregator, std::unique_ptr<ledger::Signer> signer,
                         ledger::Ledger& ledger, Transport& transport, std::vector<float> initial_model)
    : config_(std::move(config)),
      hospitals_(std::move(hospitals)),
      aggregator_(std::move(aggregator)),
      signer_(std::move(signer)),
      ledger_(ledger),
      transport_(transport),
      global_(std::move(initial_model)) {
  HEAL_REQUIRE(!hospitals_.empty(), "a federation needs at least one hospital");
  HEAL_REQUIRE(aggregator_ != nullptr, "a coordinator needs a secure aggregator");
  HEAL_REQUIRE(signer_ != nullptr, "a coordinator needs its ledger key");
  HEAL_REQUIRE(hospitals_.size() < kCoordinatorId, "too many hospitals");
  for (std::size_t i = 0; i < hospitals_.size(); ++i) {
    HEAL_REQUIRE(hospitals_[i].party_id == i && hospitals_[i].role == ledger::Role::kHospital,
                 "hospital " << i << " must have party id " << i << " and the hospital role");
  }
  HEAL_REQUIRE(config_.min_contributors <= hospitals_.size(),
               "min_contributors " << config_.min_contributors << " exceeds " << hospitals_.size() << " hospitals");
  HEAL_REQUIRE(config_.clip_norm >= 0 && std::isfinite(config_.clip_norm), "clip_norm must be finite and >= 0");
  HEAL_REQUIRE(!config_.federation_id.empty(), "federation_id must not be empty");
  if (config_.min_contributors == 0) config_.min_contributors = static_cast<std::uint32_t>(hospitals_.size());
  // Threshold rules (src/fl/README.md): the aggregator enforces its own (t >= 2, t > n/2 unless
  // opted in, its contributor floor); a round quorum below that floor could never be decrypted.
  const AggregatorSetupInfo info = aggregator_->setup_info();
  HEAL_REQUIRE(info.decryption_threshold != 1,
               "decryption threshold t = 1 refused: every key holder would decrypt any contribution alone");
  HEAL_REQUIRE(info.decryption_threshold <= hospitals_.size(), "decryption threshold "
                                                                   << info.decryption_threshold << " exceeds "
                                                                   << hospitals_.size() << " hospitals");
  HEAL_REQUIRE(config_.min_contributors >= info.min_contributors,
               "min_contributors " << config_.min_contributors << " is below the aggregator's floor of "
                                   << info.min_contributors << " contributions per decrypted sum");
  strategy_ = make_strategy(config_.strategy);
}

Coordinator::~Coordinator() = default;

std::vector<ledger::Participant> Coordinator::participants() const {
  std::vector<ledger::Participant> out = hospitals_;
  out.push_back({kCoordinatorId, ledger::Role::kCoordinator, "coordinator", signer_->identity()});
  return out;
}

Status Coordinator::setup(std::span<const ledger::Signer* const> cosigners) {
  HEAL_REQUIRE(!setup_done_, "setup() already ran");
  HEAL_ASSIGN_OR_RETURN(std::uint64_t blocks, ledger_.size());
  if (blocks != 0) return Status::failed_precondition("the federation needs an empty ledger");
  const AggregatorSetupInfo info = aggregator_->setup_info();
  ledger::RoundSetup s;
  s.key_epoch = 1;
  s.secure_mode = info.secure_mode;
  s.params_id = info.params_id;
  s.params_hash = info.params_hash;
  s.collective_public_key_hash = info.collective_public_key_hash;
  s.min_contributors = config_.min_contributors;
  s.decryption_threshold = info.decryption_threshold;
  s.strategy = strategy_->describe();
  s.clip_norm = config_.clip_norm;
  s.participants = participants();
  std::vector<const ledger::Signer*> signers(cosigners.begin(), cosigners.end());
  signers.push_back(signer_.get());
  HEAL_RETURN_IF_ERROR(
      ledger_.append(ledger::sign_record({config_.federation_id, ledger::now_ms(), s}, signers)).status());
  ledger::ModelVersion v0{0, 0, 0, model_hash(global_), global_.size(), ""};
  const ledger::Signer* coord[] = {signer_.get()};
  HEAL_RETURN_IF_ERROR(
      ledger_.append(ledger::sign_record({config_.federation_id, ledger::now_ms(), v0}, coord)).status());
  setup_done_ = true;
  return {};
}

FederationReport Coordinator::report() const {
  FederationReport rep;
  rep.federation_id = config_.federation_id;
  rep.secure_mode = aggregator_->setup_info().secure_mode;
  rep.strategy = strategy_->describe();
  rep.hospitals = hospitals_.size();
  rep.parameters = global_.size();
  rep.rounds = history_;
  return rep;
}

}  // namespace heal::fl
