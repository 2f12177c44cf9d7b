#include "heal/fl/hospital.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "heal/core/check.h"
#include "heal/core/log.h"
#include "messages.h"

namespace heal::fl {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Hospital::Hospital(PartyId id, std::string name, std::unique_ptr<LocalTrainer> trainer,
                   std::unique_ptr<ledger::Signer> signer, ledger::Ledger& ledger, Transport& transport,
                   std::unique_ptr<Rng> rng)
    : id_(id),
      name_(std::move(name)),
      trainer_(std::move(trainer)),
      signer_(std::move(signer)),
      ledger_(ledger),
      transport_(transport),
      rng_(std::move(rng)) {
  HEAL_REQUIRE(trainer_ && signer_ && rng_, "Hospital needs a trainer, a signer and an Rng");
}

void Hospital::set_federation(std::string federation_id, double clip_norm, double proximal_mu) {
  federation_id_ = std::move(federation_id);
  clip_norm_ = clip_norm;
  proximal_mu_ = proximal_mu;
}

void Hospital::step() {
  while (auto m = transport_.receive(id_)) {
    if (m->from != kCoordinatorId) continue;  // hospitals only take orders from the coordinator
    if (m->kind == MessageKind::kModel) {
      on_model(*m);
    } else if (m->kind == MessageKind::kAggregate) {
      on_aggregate(*m);
    } else if (m->kind == MessageKind::kEvaluate) {
      on_evaluate(*m);
    }
  }
}

void Hospital::refuse(const Message& m, internal::RefusalCode code, const std::string& reason, std::uint64_t budget) {
  if (m.kind == MessageKind::kModel) {
    log_.status = std::string(internal::refusal_status(code));
    log_.reason = reason;
  }
  // Visible at the hospital too: what it refused, of which round, and why.
  log::warn(name_ + " refuses the " + message_kind_name(m.kind) + " of round " + std::to_string(m.round) + ": " +
            reason);
  internal::RefusalMsg r{code, reason, budget, 0, 0};
  if (m.kind == MessageKind::kModel) {
    r.train_seconds = log_.train_seconds;
    r.encrypt_seconds = log_.encrypt_seconds;
  }
  (void)transport_.send({id_, kCoordinatorId, MessageKind::kRefusal, m.round, internal::encode_refusal(r)});
}

void Hospital::on_model(const Message& m) {
  log_ = HospitalRoundLog{};
  log_.round = m.round;
  auto model = internal::decode_model(m.payload);
  using internal::RefusalCode;
  if (!model.ok()) {
    return refuse(m, RefusalCode::kMalformedModel, "malformed model message: " + model.status().message());
  }
  if (model->weights.size() != trainer_->num_parameters()) {
    return refuse(m, RefusalCode::kMalformedModel,
                  "model has " + std::to_string(model->weights.size()) + " weights, expected " +
                      std::to_string(trainer_->num_parameters()));
  }
  // Model-consistency check (Pasquini et al., CCS'22): train only on the model the ledger records
  // for this version, and only on the latest version, so a coordinator cannot isolate a hospital
  // with a model of its own.
  const Digest hash = model_hash(model->weights);
  if (Status s = ledger_.check_model(model->version, hash); !s.ok()) {
    return refuse(m, RefusalCode::kModelNotOnLedger, s.message());
  }
  auto latest = ledger_.latest_model_version();
  if (!latest.ok() || *latest != model->version) {
    return refuse(m, RefusalCode::kStaleModel,
                  "model v" + std::to_string(model->version) + " is not the latest version on the ledger");
  }
  if (!party_) return refuse(m, RefusalCode::kNoKeyShare, "no secure-aggregation key share installed");

  TrainConfig tc{m.round, proximal_mu_, (m.round << 20) ^ id_};
  auto t0 = std::chrono::steady_clock::now();
  ++trainings_;
  Result<TrainResult> tr = trainer_->train(model->weights, tc);
  log_.train_seconds = seconds_since(t0);
  if (!tr.ok()) return refuse(m, RefusalCode::kTrainingFailed, "local training failed: " + tr.status().message());
  if (tr->update.size() != model->weights.size() || tr->num_samples == 0) {
    return refuse(m, RefusalCode::kTrainingFailed, "trainer returned a malformed update");
  }
  log_.num_samples = tr->num_samples;
  log_.metrics = tr->metrics;
  log_.clip = clip_l2(tr->update, clip_norm_);

  t0 = std::chrono::steady_clock::now();
  auto contribution = party_->contribute(tr->update, static_cast<double>(tr->num_samples), m.round, *rng_);
  log_.encrypt_seconds = seconds_since(t0);
  if (!contribution.ok()) {
    return refuse(m, RefusalCode::kContributionFailed, "contribution failed: " + contribution.status().message());
  }
  ledger::UpdateCommitment c{m.round,         id_,       model->version, hash, blake2b_256(*contribution),
                             tr->num_samples, clip_norm_};
  const ledger::Signer* signers[] = {signer_.get()};
  const internal::HospitalStats stats{log_.train_seconds, log_.encrypt_seconds, log_.clip.norm_before,
                                      log_.clip.clipped};
  internal::UpdateMsg u{tr->num_samples, tr->metrics, stats, std::move(*contribution),
                        ledger::sign_record(ledger::Record{federation_id_, ledger::now_ms(), c}, signers)};
  // The hospital writes its commitment to the ledger itself: the coordinator can neither forge nor
  // drop it, and the ledger refuses a second one, one for a round that is not open, or one after the
  // round's contributor set.
  if (auto appended = ledger_.append(u.commitment); !appended.ok()) {
    return refuse(m, RefusalCode::kCommitmentRefused,
                  "the ledger refused the commitment: " + appended.status().message());
  }
  log_.status = "submitted";
  (void)transport_.send({id_, kCoordinatorId, MessageKind::kUpdate, m.round, internal::encode_update(u)});
}

void Hospital::on_evaluate(const Message& m) {
  // Metrics of a candidate model on this hospital's validation data (no training, no key use).
  auto model = internal::decode_model(m.payload);
  if (!model.ok() || model->weights.size() != trainer_->num_parameters()) return;
  auto metrics = trainer_->evaluate(model->weights);
  if (!metrics.ok()) return;
  (void)transport_.send(
      {id_, kCoordinatorId, MessageKind::kEvaluation, m.round, internal::encode_evaluation(*metrics)});
}

void Hospital::on_aggregate(const Message& m) {
  // A decryption share is a decryption oracle: a coordinator that obtained shares for a single
  // hospital's contribution would learn that update. So a hospital decrypts only one aggregate
  // per round (re-sharing it for at most kMaxSharesPerRound quorums when decryptors drop out),
  // never for an earlier round, and only an aggregate that claims at least the quorum of
  // contributions committed on the ledger for that round. With an aggregate check the request
  // carries the contributions instead of their sum, and the hospital decrypts the sum it made.
  using internal::RefusalCode;
  auto agg = internal::decode_aggregate(m.payload);
  if (!agg.ok()) return refuse(m, RefusalCode::kMalformedAggregate, "malformed aggregate: " + agg.status().message());
  if (!party_) return refuse(m, RefusalCode::kNoKeyShare, "no secure-aggregation key share installed");
  if (aggregate_check_) {
    // Trust no one with the sum: every contribution must be the one its hospital committed to on
    // the ledger, and their sum, made here, must be the aggregate the ledger names for the round.
    if (agg->contributions.empty() || agg->contributions.size() != agg->contributors.size()) {
      return refuse(m, RefusalCode::kAggregateNotVerified,
                    "the decryption request does not carry the contributions to recompute the aggregate");
    }
    auto committed = ledger_.contributor_set(m.round);
    if (!committed.ok()) {
      return refuse(m, RefusalCode::kAggregateNotOnLedger, "no contributor set on the ledger for this round");
    }
    for (std::size_t i = 0; i < agg->contributors.size(); ++i) {
      const auto it = std::find_if(committed->contributions.begin(), committed->contributions.end(),
                                   [&](const ledger::Contribution& c) { return c.party_id == agg->contributors[i]; });
      if (it == committed->contributions.end() || it->contribution_hash != blake2b_256(agg->contributions[i])) {
        return refuse(m, RefusalCode::kAggregateNotVerified,
                      "the contribution of hospital " + std::to_string(agg->contributors[i]) +
                          " is not the one committed on the ledger");
      }
    }
    auto mine = aggregate_check_(agg->contributions, trainer_->num_parameters(), m.round);
    if (!mine.ok() || blake2b_256(*mine) != committed->aggregate_hash) {
      return refuse(m, RefusalCode::kAggregateNotVerified,
                    "the aggregate is not the sum of the committed contributions" +
                        (mine.ok() ? std::string() : ": " + mine.status().message()));
    }
    agg->aggregate = std::move(*mine);
    agg->contributions.clear();
  }
  const Digest agg_hash = blake2b_256(agg->aggregate);
  if (decrypted_round_) {
    if (m.round < *decrypted_round_) {
      return refuse(m, RefusalCode::kDecryptionNotAllowed, "decryption request for an earlier round");
    }
    if (m.round == *decrypted_round_ && agg_hash != decrypted_hash_) {
      return refuse(m, RefusalCode::kDecryptionNotAllowed, "a different aggregate was already decrypted this round");
    }
    if (m.round == *decrypted_round_ && shares_in_round_ >= kMaxSharesPerRound) {
      return refuse(m, RefusalCode::kDecryptionNotAllowed,
                    "already shared this round's aggregate " + std::to_string(kMaxSharesPerRound) + " times");
    }
  }
  if (!std::is_sorted(agg->quorum.begin(), agg->quorum.end()) ||
      std::adjacent_find(agg->quorum.begin(), agg->quorum.end()) != agg->quorum.end() ||
      !std::binary_search(agg->quorum.begin(), agg->quorum.end(), id_)) {
    return refuse(m, RefusalCode::kDecryptionNotAllowed,
                  "the quorum is not sorted, has repeats or lacks this hospital");
  }
  // Only the aggregate of the round's one contributor set, posted on the ledger before any share is
  // asked for (the ledger checked that its contributors committed and meet the quorum).
  auto posted = ledger_.contributor_set(m.round);
  if (!posted.ok() || posted->aggregate_hash != agg_hash) {
    return refuse(m, RefusalCode::kAggregateNotOnLedger, "the aggregate is not the one on the ledger for this round");
  }
  std::vector<std::uint32_t> listed(agg->contributors.begin(), agg->contributors.end());
  std::sort(listed.begin(), listed.end());
  std::vector<std::uint32_t> on_ledger;
  for (const auto& c : posted->contributions) on_ledger.push_back(c.party_id);
  std::sort(on_ledger.begin(), on_ledger.end());
  if (listed != on_ledger) {
    return refuse(m, RefusalCode::kAggregateNotOnLedger, "the contributors differ from the ledger's contributor set");
  }
  if (!decrypted_round_ || *decrypted_round_ != m.round) shares_in_round_ = 0;
  decrypted_round_ = m.round;
  decrypted_hash_ = agg_hash;
  ++shares_in_round_;
  auto t0 = std::chrono::steady_clock::now();
  auto share = party_->decryption_share(agg->aggregate, agg->quorum, on_ledger, m.round, *rng_);
  const double secs = seconds_since(t0);
  log_.decrypt_seconds = secs;
  if (!share.ok()) {
    const std::uint64_t budget = party_->decryption_budget();
    if (share.status().code() == StatusCode::kOutOfRange && budget > 0) {
      return refuse(m, RefusalCode::kFloodingBudgetExhausted, share.status().message(), budget);
    }
    return refuse(m, RefusalCode::kDecryptionFailed, "decryption share failed: " + share.status().message());
  }
  (void)transport_.send(
      {id_, kCoordinatorId, MessageKind::kDecryptionShare, m.round, internal::encode_share({secs, std::move(*share)})});
}

}  // namespace heal::fl
