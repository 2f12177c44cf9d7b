#include "heal/fl/federation.h"

#include <cmath>

#include "federation_internal.h"
#include "heal/core/check.h"
#include "heal/core/progress.h"
#include "heal/fl/model.h"

namespace heal::fl {

namespace {
// Stream ids separating the simulation's uses of the one seed.
constexpr std::uint64_t kSignerStream = 1'000'000;
constexpr std::uint64_t kProtocolStream = 2'000'000;

std::unique_ptr<ledger::Signer> make_signer(ledger::SignatureScheme scheme, Rng& rng) {
  if (scheme == ledger::SignatureScheme::kSecp256k1) return ledger::Secp256k1Signer::from_rng(rng);
  HEAL_REQUIRE(scheme == ledger::SignatureScheme::kEd25519, "unknown signature scheme");
  return ledger::Ed25519Signer::from_rng(rng);
}
}  // namespace

Federation::Federation(FederationConfig config, std::vector<std::unique_ptr<LocalTrainer>> trainers,
                       std::unique_ptr<SecureAggregator> aggregator, ledger::Ledger& ledger,
                       std::vector<float> initial_model)
    : config_(std::move(config)), aggregator_(std::move(aggregator)), ledger_(ledger), global_(std::move(initial_model)) {
  HEAL_REQUIRE(!trainers.empty(), "a federation needs at least one hospital");
  HEAL_REQUIRE(aggregator_ != nullptr, "a federation needs a secure aggregator");
  HEAL_REQUIRE(trainers.size() < kCoordinatorId, "too many hospitals");
  HEAL_REQUIRE(config_.min_contributors <= trainers.size(),
               "min_contributors " << config_.min_contributors << " exceeds " << trainers.size() << " hospitals");
  HEAL_REQUIRE(config_.clip_norm >= 0 && std::isfinite(config_.clip_norm), "clip_norm must be finite and >= 0");
  HEAL_REQUIRE(!config_.federation_id.empty(), "federation_id must not be empty");
  if (config_.min_contributors == 0) config_.min_contributors = static_cast<std::uint32_t>(trainers.size());
  strategy_ = make_strategy(config_.strategy);
  const Seed seed = seed_from_u64(config_.seed);
  {
    SeededRng rng(seed, kSignerStream + kCoordinatorId);
    coordinator_ = make_signer(config_.signature_scheme, rng);
  }
  ledger_.add_local_signer(*coordinator_);
  for (std::size_t i = 0; i < trainers.size(); ++i) {
    HEAL_REQUIRE(trainers[i] != nullptr, "trainer " << i << " is null");
    HEAL_REQUIRE(trainers[i]->num_parameters() == global_.size(),
                 "trainer " << i << " expects " << trainers[i]->num_parameters() << " weights, the initial model has "
                            << global_.size());
    const auto id = static_cast<PartyId>(i);
    SeededRng key_rng(seed, kSignerStream + id);
    auto h = std::make_unique<Hospital>(id, "hospital-" + std::to_string(i), std::move(trainers[i]),
                                        make_signer(config_.signature_scheme, key_rng), ledger_, transport_,
                                        std::make_unique<SeededRng>(seed, kProtocolStream + id));
    h->set_federation(config_.federation_id, config_.clip_norm, strategy_->proximal_mu());
    auto party = aggregator_->party(id);
    HEAL_REQUIRE(party.ok(), "aggregator has no key share for hospital " << i << ": " << party.status().to_string());
    h->set_aggregation_party(std::move(party).value());
    ledger_.add_local_signer(h->signer());  // the simulation holds every party's key
    hospitals_.push_back(std::move(h));
  }
}

Federation::~Federation() = default;

Hospital& Federation::hospital(PartyId id) {
  HEAL_REQUIRE(id < hospitals_.size(), "no hospital " << id);
  return *hospitals_[id];
}

std::vector<ledger::Participant> Federation::participants() const {
  std::vector<ledger::Participant> out;
  for (const auto& h : hospitals_) out.push_back({h->id(), ledger::Role::kHospital, h->name(), h->identity()});
  out.push_back({kCoordinatorId, ledger::Role::kCoordinator, "coordinator", coordinator_->identity()});
  return out;
}

Status Federation::setup() {
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
  std::vector<const ledger::Signer*> signers;
  for (const auto& h : hospitals_) signers.push_back(&h->signer());
  signers.push_back(coordinator_.get());
  // In a deployment every hospital signs the setup after checking it; the simulation holds all keys.
  HEAL_RETURN_IF_ERROR(
      ledger_.append(ledger::sign_record({config_.federation_id, ledger::now_ms(), s}, signers)).status());
  ledger::ModelVersion v0{0, 0, 0, model_hash(global_), global_.size(), ""};
  const ledger::Signer* coord[] = {coordinator_.get()};
  HEAL_RETURN_IF_ERROR(ledger_.append(ledger::sign_record({config_.federation_id, ledger::now_ms(), v0}, coord)).status());
  setup_done_ = true;
  return {};
}

void Federation::apply_dropouts(std::uint64_t round, DropPhase phase) {
  if (phase == DropPhase::kBeforeBroadcast) {
    for (auto it = offline_until_.begin(); it != offline_until_.end();) {
      if (it->second != 0 && it->second <= round) {
        transport_.set_connected(it->first, true);
        it = offline_until_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& d : config_.dropouts) {
    if (d.round != round || d.phase != phase) continue;
    transport_.set_connected(d.party, false);
    // kAfterSubmit: the hospital is gone for the rest of this round plus rounds_offline - 1.
    offline_until_[d.party] = d.rounds_offline == 0 ? 0 : round + d.rounds_offline;
  }
}

Result<FederationReport> Federation::run(bool progress) {
  if (!setup_done_) HEAL_RETURN_IF_ERROR(setup());
  ProgressBar bar("fl rounds", config_.rounds, progress);
  for (std::uint64_t r = 0; r < config_.rounds; ++r) {
    HEAL_ASSIGN_OR_RETURN(RoundStats s, run_round());
    std::string suffix = s.completed ? "loss " + std::to_string(s.train_loss) : "round failed";
    bar.tick(1, suffix);
  }
  bar.finish();
  FederationReport rep = report();
  ledger::VerifyReport v = ledger_.verify();
  rep.ledger_verified = v.ok;
  rep.ledger_head = v.head_hash;
  if (!v.ok) return Status::corruption("ledger fails verification after the run: " + v.summary());
  return rep;
}

FederationReport Federation::report() const {
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
