// The in-process launcher of the ensemble roles (simulation.h).
#include "heal/fl/ensemble/simulation.h"

#include <chrono>

#include "heal/core/check.h"

namespace heal::fl::ensemble {

struct EnsembleSimulation::Roles {
  std::vector<std::unique_ptr<ledger::Signer>> signers;  // institutions..., coordinator
  std::unique_ptr<EnsembleCoordinator> coordinator;
  std::vector<std::unique_ptr<EnsembleNode>> nodes;
  std::vector<std::unique_ptr<EnsembleSite>> sites;
  std::uint64_t reference_size = 0;
  std::uint32_t num_classes = 0;
};

EnsembleSimulation::EnsembleSimulation(std::vector<InstitutionSpec> institutions, SimulationOptions opt,
                                       ledger::Ledger& ledger, Rng& rng)
    : specs_(std::move(institutions)), opt_(std::move(opt)), ledger_(ledger), rng_(rng) {
  const std::size_t n = specs_.size();
  HEAL_REQUIRE(n >= kEnsembleMinInputs,
               "an ensemble needs >= " << kEnsembleMinInputs << " institutions, not " << n
                                       << ": a consensus of fewer inputs, published with the public weights, "
                                          "gives each contributor the others' predictions");
  HEAL_REQUIRE(opt_.reference_hash != Digest{}, "the consortium's reference-set hash is required");
  for (const auto& s : specs_) {
    HEAL_REQUIRE(s.model != nullptr, "institution '" + s.name + "' has no model");
    HEAL_REQUIRE(s.sites.empty() || s.sites.size() >= 2, "an institution has 1 or >= 2 sites");
  }
  if (opt_.threshold == 0) opt_.threshold = static_cast<std::uint32_t>(n / 2 + 1);
  roles_ = std::make_unique<Roles>();
  roles_->reference_size = specs_[0].model->num_reference();
  roles_->num_classes = static_cast<std::uint32_t>(specs_[0].model->num_classes());

  EnsembleConfig cfg;
  cfg.federation_id = opt_.federation_id;
  cfg.institutions.threshold = opt_.threshold;
  cfg.secagg_rounds_per_setup = opt_.secagg_rounds_per_setup;
  session_setup_up_.assign(n, 0);
  std::vector<smpc::SecAggIdentity> ids;
  for (std::size_t k = 0; k < n; ++k) {
    cfg.institutions.parties.push_back(institution_id(k));
    ids.push_back(smpc::make_secagg_identity(rng_));
    cfg.institutions.verify_keys.push_back(ids.back().verify_key);
    roles_->signers.push_back(ledger::signer_from_rng(opt_.signature_scheme, rng_));
  }
  roles_->signers.push_back(ledger::signer_from_rng(opt_.signature_scheme, rng_));
  for (const auto& s : roles_->signers) ledger_.add_local_signer(*s);  // the simulation holds every key
  roles_->coordinator = std::make_unique<EnsembleCoordinator>(cfg, roles_->reference_size, roles_->num_classes, net_,
                                                              ledger_, *roles_->signers.back(), rng_);
  for (std::size_t k = 0; k < n; ++k) {
    NodeOptions o;
    o.id = institution_id(k);
    o.model = specs_[k].model;
    o.identity = std::move(ids[k]);
    o.train = opt_.train;
    o.crash = specs_[k].crash;
    const auto& sites = specs_[k].sites;
    std::vector<smpc::SecAggIdentity> site_ids;
    for (std::size_t s = 0; s < sites.size(); ++s) {
      o.sites.parties.push_back(static_cast<PartyId>(1000 * (k + 1) + s));
      site_ids.push_back(smpc::make_secagg_identity(rng_));
      o.sites.verify_keys.push_back(site_ids.back().verify_key);
    }
    o.sites.threshold = static_cast<std::uint32_t>(sites.size() / 2 + 1);
    for (std::size_t s = 0; s < sites.size(); ++s) {
      roles_->sites.push_back(std::make_unique<EnsembleSite>(o.sites.parties[s], o.id, *sites[s],
                                                             std::move(site_ids[s]), o.sites, opt_.train, net_, rng_));
      if (static_cast<int>(s) == specs_[k].crashing_site) roles_->sites.back()->crash_before_masked_input();
    }
    roles_->nodes.push_back(
        std::make_unique<EnsembleNode>(cfg, std::move(o), net_, ledger_, *roles_->signers[k], rng_));
  }
}

EnsembleSimulation::~EnsembleSimulation() = default;

const ledger::Signer& EnsembleSimulation::institution_signer(std::size_t k) const {
  HEAL_REQUIRE(k < specs_.size(), "no institution " << k);
  return *roles_->signers[k];
}

const ledger::Signer& EnsembleSimulation::coordinator_signer() const { return *roles_->signers.back(); }

std::vector<ledger::Participant> EnsembleSimulation::participants() const {
  std::vector<ledger::Participant> out;
  for (std::size_t k = 0; k < specs_.size(); ++k) {
    out.push_back({institution_id(k), ledger::Role::kHospital, specs_[k].name, roles_->signers[k]->identity()});
  }
  out.push_back({kCoordinatorId, ledger::Role::kCoordinator, "coordinator", roles_->signers.back()->identity()});
  return out;
}

Status EnsembleSimulation::setup() {
  HEAL_ASSIGN_OR_RETURN(std::uint64_t size, ledger_.size());
  if (size != 0) return Status::failed_precondition("the simulation needs an empty ledger");
  ledger::RoundSetup genesis;
  genesis.key_epoch = 1;
  genesis.secure_mode = "smpc-ensemble";
  genesis.min_contributors = opt_.threshold;
  genesis.strategy = std::string("ensemble-distillation(") + kWeightRule + ")";
  genesis.participants = participants();
  std::vector<const ledger::Signer*> all;
  std::vector<ledger::EnsembleMemberInfo> members;
  for (std::size_t k = 0; k < specs_.size(); ++k) {
    members.push_back({institution_id(k), specs_[k].model->describe().architecture,
                       static_cast<std::uint32_t>(std::max<std::size_t>(1, specs_[k].sites.size()))});
  }
  for (const auto& s : roles_->signers) all.push_back(s.get());
  HEAL_RETURN_IF_ERROR(
      ledger_.append(ledger::sign_record({opt_.federation_id, ledger::now_ms(), genesis}, all)).status());
  HEAL_RETURN_IF_ERROR(roles_->coordinator->write_setup(members, opt_.reference_hash));
  for (auto& node : roles_->nodes) HEAL_RETURN_IF_ERROR(node->publish_initial_version());
  return {};
}

TrafficCounters EnsembleSimulation::site_traffic(std::size_t k) const {
  TrafficCounters t;
  for (std::size_t s = 0; s < specs_[k].sites.size(); ++s) {
    const TrafficCounters c = net_.link_counters(static_cast<PartyId>(1000 * (k + 1) + s), institution_id(k));
    t.bytes_up += c.bytes_up;
    t.bytes_down += c.bytes_down;
  }
  return t;
}

Result<EnsembleRoundReport> EnsembleSimulation::run_round() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t round = roles_->coordinator->next_round();  // a failed round's number is taken again
  std::vector<TrafficCounters> before, sites_before;
  for (std::size_t k = 0; k < specs_.size(); ++k) {
    before.push_back(net_.link_counters(institution_id(k), kCoordinatorId));
    sites_before.push_back(site_traffic(k));
  }
  HEAL_RETURN_IF_ERROR(roles_->coordinator->start_round(round));
  // Deliver until nothing moves; then let the nodes (their sites' deadlines) and only then the
  // coordinator close a phase with whoever answered.
  for (std::size_t guard = 0;; ++guard) {
    if (guard > 100000) return Status::internal("the ensemble round does not terminate");
    bool moved = false;
    HEAL_ASSIGN_OR_RETURN(bool c, roles_->coordinator->poll());
    moved = moved || c;
    for (auto& s : roles_->sites) {
      HEAL_ASSIGN_OR_RETURN(bool m, s->poll());
      moved = moved || m;
    }
    for (auto& node : roles_->nodes) {
      HEAL_ASSIGN_OR_RETURN(bool m, node->poll());
      moved = moved || m;
    }
    if (moved) continue;
    for (auto& node : roles_->nodes) {
      HEAL_ASSIGN_OR_RETURN(bool m, node->on_idle());
      moved = moved || m;
    }
    if (moved) continue;
    HEAL_ASSIGN_OR_RETURN(bool closed, roles_->coordinator->on_idle());
    if (!closed) break;
  }
  const CoordinatorRound& cr = roles_->coordinator->last_round();
  EnsembleRoundReport rep;
  rep.round = round;
  rep.completed = cr.completed;
  rep.failure = cr.failure;
  rep.contributors = cr.contributors;
  rep.consensus = cr.consensus;
  rep.secagg_server_seconds = cr.secagg_seconds;
  rep.secagg_seconds = cr.secagg_seconds;
  for (std::size_t k = 0; k < specs_.size(); ++k) {
    const NodeRound& nr = roles_->nodes[k]->last_round();
    InstitutionRoundReport ir;
    ir.institution = institution_id(k);
    ir.name = specs_[k].name;
    if (nr.round == round) {
      ir.contributed = nr.contributed;
      ir.distilled = nr.distilled;
      ir.refusal = nr.refusal;
      ir.val_accuracy = nr.val_accuracy;
      ir.weight = nr.weight;
      ir.train_seconds = nr.train_seconds;
      ir.secagg_seconds = nr.secagg_seconds;
      ir.distill_seconds = nr.distill_seconds;
      ir.member_version = nr.member_version;
      rep.secagg_seconds += nr.secagg_seconds;
    }
    const TrafficCounters after = net_.link_counters(institution_id(k), kCoordinatorId);
    ir.bytes_up = after.bytes_up - before[k].bytes_up;
    ir.bytes_down = after.bytes_down - before[k].bytes_down;
    if (nr.round == round && nr.secagg_round == 1) {
      ir.setup_bytes_up = nr.secagg_setup_payload_bytes + nr.secagg_setup_messages * InProcessTransport::kEnvelopeBytes;
      session_setup_up_[k] = ir.setup_bytes_up;
    }
    const std::uint32_t served =
        nr.round == round && nr.secagg_rounds_per_setup > 0 ? nr.secagg_rounds_per_setup : opt_.secagg_rounds_per_setup;
    ir.amortised_bytes_up = static_cast<double>(ir.bytes_up - ir.setup_bytes_up) +
                            static_cast<double>(session_setup_up_[k]) / static_cast<double>(served);
    ir.plaintext_bytes = roles_->reference_size * roles_->num_classes * 4;
    const TrafficCounters sites_after = site_traffic(k);
    ir.site_bytes_up = sites_after.bytes_up - sites_before[k].bytes_up;
    ir.site_bytes_down = sites_after.bytes_down - sites_before[k].bytes_down;
    rep.institutions.push_back(std::move(ir));
  }
  rep.round_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

Result<std::vector<EnsembleRoundReport>> EnsembleSimulation::run(std::size_t rounds) {
  std::vector<EnsembleRoundReport> out;
  for (std::size_t r = 0; r < rounds; ++r) {
    HEAL_ASSIGN_OR_RETURN(EnsembleRoundReport rep, run_round());
    out.push_back(std::move(rep));
  }
  return out;
}

}  // namespace heal::fl::ensemble
