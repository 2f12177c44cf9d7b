#include "heal/fl/federation.h"

#include <cmath>

#include "heal/core/check.h"
#include "heal/core/progress.h"
#include "heal/fl/model.h"

namespace heal::fl {

namespace {
// Stream ids separating the simulation's uses of the one seed.
constexpr std::uint64_t kSignerStream = 1'000'000;
constexpr std::uint64_t kProtocolStream = 2'000'000;

}  // namespace

Federation::Federation(FederationConfig config, std::vector<std::unique_ptr<LocalTrainer>> trainers,
                       std::unique_ptr<SecureAggregator> aggregator, ledger::Ledger& ledger,
                       std::vector<float> initial_model)
    : config_(std::move(config)), ledger_(ledger) {
  HEAL_REQUIRE(!trainers.empty(), "a federation needs at least one hospital");
  HEAL_REQUIRE(aggregator != nullptr, "a federation needs a secure aggregator");
  HEAL_REQUIRE(trainers.size() < kCoordinatorId, "too many hospitals");
  HEAL_REQUIRE(config_.min_contributors <= trainers.size(),
               "min_contributors " << config_.min_contributors << " exceeds " << trainers.size() << " hospitals");
  HEAL_REQUIRE(config_.clip_norm >= 0 && std::isfinite(config_.clip_norm), "clip_norm must be finite and >= 0");
  HEAL_REQUIRE(!config_.federation_id.empty(), "federation_id must not be empty");
  HEAL_REQUIRE(config_.keygen == KeyGen::kSimulated || config_.keygen == KeyGen::kDistributed, "unknown keygen");
  const bool distributed = config_.keygen == KeyGen::kDistributed;
  if (config_.min_contributors == 0) config_.min_contributors = static_cast<std::uint32_t>(trainers.size());
  const Seed seed = seed_from_u64(config_.seed);
  std::unique_ptr<ledger::Signer> coordinator_signer;
  {
    SeededRng rng(seed, kSignerStream + kCoordinatorId);
    coordinator_signer = ledger::signer_from_rng(config_.signature_scheme, rng);
  }
  ledger_.add_local_signer(*coordinator_signer);
  const double proximal_mu = make_strategy(config_.strategy)->proximal_mu();
  std::vector<ledger::Participant> members;
  for (std::size_t i = 0; i < trainers.size(); ++i) {
    HEAL_REQUIRE(trainers[i] != nullptr, "trainer " << i << " is null");
    HEAL_REQUIRE(trainers[i]->num_parameters() == initial_model.size(),
                 "trainer " << i << " expects " << trainers[i]->num_parameters() << " weights, the initial model has "
                            << initial_model.size());
    const auto id = static_cast<PartyId>(i);
    SeededRng key_rng(seed, kSignerStream + id);
    auto h = std::make_unique<Hospital>(id, "hospital-" + std::to_string(i), std::move(trainers[i]),
                                        ledger::signer_from_rng(config_.signature_scheme, key_rng), ledger_, transport_,
                                        std::make_unique<SeededRng>(seed, kProtocolStream + id));
    h->set_federation(config_.federation_id, config_.clip_norm, proximal_mu);
    if (!distributed) {
      // Simulation: the aggregator made every party's key material and hands each hospital its own.
      auto party = aggregator->party(id);
      HEAL_REQUIRE(party.ok(), "aggregator has no key share for hospital " << i << ": " << party.status().to_string());
      h->set_aggregation_party(std::move(party).value());
    }
    ledger_.add_local_signer(h->signer());  // the simulation holds every party's key
    members.push_back({id, ledger::Role::kHospital, h->name(), h->identity()});
    hospitals_.push_back(std::move(h));
  }
  if (distributed) aggregator = distributed_keygen(*aggregator);
  CoordinatorConfig cc;
  cc.federation_id = config_.federation_id;
  cc.strategy = config_.strategy;
  cc.clip_norm = config_.clip_norm;
  cc.min_contributors = config_.min_contributors;
  cc.evaluate = config_.evaluate;
  cc.on_reject = config_.on_reject;
  coordinator_ = std::make_unique<Coordinator>(cc, std::move(members), std::move(aggregator),
                                               std::move(coordinator_signer), ledger_, transport_,
                                               std::move(initial_model));
  transport_.set_delivery([this] { deliver(); });
}

Federation::~Federation() = default;

Hospital& Federation::hospital(PartyId id) {
  HEAL_REQUIRE(id < hospitals_.size(), "no hospital " << id);
  return *hospitals_[id];
}

Status Federation::setup() {
  std::vector<const ledger::Signer*> cosigners;
  for (const auto& h : hospitals_) cosigners.push_back(&h->signer());
  // In a deployment every hospital signs the setup after checking it; the simulation holds all keys.
  return coordinator_->setup(cosigners);
}

void Federation::deliver() {
  for (const auto& h : hospitals_) {
    if (transport_.connected(h->id())) h->step();
  }
  // kAfterSubmit: the first delivery of a round is the model broadcast; once the hospitals have
  // answered it, the scheduled ones go offline (their updates are already on the way).
  if (!after_submit_applied_) {
    after_submit_applied_ = true;
    apply_dropouts(round_in_progress_, DropPhase::kAfterSubmit);
  }
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

Result<RoundStats> Federation::run_round() {
  if (!coordinator_->setup_done()) HEAL_RETURN_IF_ERROR(setup());
  round_in_progress_ = coordinator_->rounds_run() + 1;
  apply_dropouts(round_in_progress_, DropPhase::kBeforeBroadcast);
  after_submit_applied_ = false;  // deliver() applies kAfterSubmit once the broadcast is answered
  return coordinator_->run_round();
}

Result<FederationReport> Federation::run(bool progress) {
  if (!coordinator_->setup_done()) HEAL_RETURN_IF_ERROR(setup());
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

}  // namespace heal::fl
