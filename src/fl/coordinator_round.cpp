// One round of the protocol (src/fl/README.md): broadcast -> local training -> contributions +
// signed commitments -> aggregate -> joint decryption -> strategy -> ledger.
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "coordinator_internal.h"
#include "heal/fl/coordinator.h"
#include "messages.h"

namespace heal::fl {

namespace {
using Clock = std::chrono::steady_clock;

// Each phase of a round collects answers until every party it asked has answered or the phase's
// deadline passes. A transport's wait() may return at the first answer (over a network it does),
// so the phase waits again with the time left; it stops early when a wait brought nothing (the
// deadline passed, or in-process: every reachable party has already answered).
struct PhaseDeadline {
  explicit PhaseDeadline(std::chrono::milliseconds timeout) : at(Clock::now() + timeout) {}
  std::chrono::milliseconds left() const {
    const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(at - Clock::now());
    return d.count() > 0 ? d : std::chrono::milliseconds(0);
  }
  bool passed() const { return Clock::now() >= at; }
  /// Whether to wait again after a pass that received `got` messages with `awaiting` parties left.
  bool wait_again(std::size_t got, std::size_t awaiting) const { return got > 0 && awaiting > 0 && !passed(); }
  Clock::time_point at;
};
}  // namespace

std::string Rejection::to_string() const {
  return "rejected " + message_kind_name(kind) + " from hospital " + std::to_string(from) + " (message round " +
         std::to_string(message_round) + ", round " + std::to_string(round) + "): " + reason;
}

void Coordinator::reject(const RoundWork& w, const Message& m, std::string reason) const {
  if (config_.on_reject) config_.on_reject({m.from, m.kind, m.round, w.round, std::move(reason)});
}

Status Coordinator::collect(std::set<PartyId>& awaiting, const std::function<Status(const Message&)>& handle) {
  const PhaseDeadline deadline(config_.response_timeout);
  for (bool more = true; more;) {
    transport_.wait(kCoordinatorId, deadline.left());
    std::size_t got = 0;
    while (auto m = transport_.receive(kCoordinatorId)) {
      ++got;
      HEAL_RETURN_IF_ERROR(handle(*m));
    }
    more = deadline.wait_again(got, awaiting.size());
  }
  return {};
}

Result<RoundStats> Coordinator::run_round() {
  if (!setup_done_) return Status::failed_precondition("the coordinator has not written the setup yet");
  RoundWork w;
  w.round = ++round_;
  w.start = std::chrono::steady_clock::now();
  w.version_in = version_;
  w.hash_in = model_hash(global_);
  for (const auto& h : hospitals_) {
    w.traffic_before[h.party_id] = transport_.counters(h.party_id);
    w.parties[h.party_id].party = h.party_id;
  }
  HEAL_RETURN_IF_ERROR(open_round(w));
  HEAL_RETURN_IF_ERROR(broadcast(w));
  HEAL_RETURN_IF_ERROR(collect_updates(w));
  if (!w.failed && w.contributors.size() < config_.min_contributors) {
    w.fail("only " + std::to_string(w.contributors.size()) + " of the " + std::to_string(config_.min_contributors) +
           " contributions required");
  }
  HEAL_RETURN_IF_ERROR(decrypt_and_update(w));
  // The round's traffic is the protocol's; evaluation requests are not counted in it.
  for (const auto& h : hospitals_) w.traffic_after[h.party_id] = transport_.counters(h.party_id);
  if (!w.failed && config_.evaluate) evaluate(w);
  HEAL_RETURN_IF_ERROR(record(w));
  history_.push_back(w.stats);
  return w.stats;
}

Status Coordinator::open_round(RoundWork& w) {
  ledger::RoundOpen o;
  o.round = w.round;
  o.key_epoch = 1;
  o.params_hash = aggregator_->setup_info().params_hash;
  o.model_version = w.version_in;
  o.model_hash = w.hash_in;
  for (const auto& h : hospitals_) o.selected.push_back(h.party_id);
  const ledger::Signer* coord[] = {signer_.get()};
  return ledger_.append(ledger::sign_record({config_.federation_id, ledger::now_ms(), o}, coord)).status();
}

Status Coordinator::broadcast(RoundWork& w) {
  const Bytes payload = internal::encode_model({version_, global_});
  for (const auto& h : hospitals_) {
    Status s = transport_.send({kCoordinatorId, h.party_id, MessageKind::kModel, w.round, payload});
    w.parties[h.party_id].status = s.ok() ? "selected" : "offline";
  }
  return {};
}

Status Coordinator::collect_updates(RoundWork& w) {
  // The hospitals train, contribute and commit; what has not arrived by the deadline is missing.
  std::set<PartyId> awaiting;
  for (const auto& [id, p] : w.parties) {
    if (p.status == "selected") awaiting.insert(id);
  }
  return collect(awaiting, [&](const Message& m) -> Status {
    if (m.from >= hospitals_.size()) return reject(w, m, "not from a hospital of the federation"), Status{};
    // A late answer of an earlier round (or a replayed one) never counts in this one.
    if (m.round != w.round) return reject(w, m, "not of this round (late or replayed)"), Status{};
    if (m.kind == MessageKind::kRefusal || m.kind == MessageKind::kUpdate) awaiting.erase(m.from);
    return take_update(w, m);
  });
}

Status Coordinator::take_update(RoundWork& w, const Message& msg) {
  const Message* m = &msg;  // (the body of the former receive loop, one message)
  {
    PartyRoundStats& p = w.parties[m->from];
    if (m->kind == MessageKind::kRefusal) {
      auto refusal = internal::decode_refusal(m->payload);
      if (!refusal.ok()) {
        p.status = "refused";
        p.reason = "malformed refusal: " + refusal.status().message();
        return {};
      }
      p.status = std::string(internal::refusal_status(refusal->code));
      p.reason = std::move(refusal->reason);
      p.train_seconds = refusal->train_seconds;
      p.encrypt_seconds = refusal->encrypt_seconds;
      return {};
    }
    if (m->kind != MessageKind::kUpdate) {
      reject(w, *m, "unexpected while collecting updates");
      return {};
    }
    auto reject = [&](const std::string& why) {
      p.status = "rejected";
      p.reason = why;
      this->reject(w, *m, why);
    };
    auto u = internal::decode_update(m->payload);
    if (!u.ok()) {
      reject("malformed update: " + u.status().message());
      return {};
    }
    p.train_seconds = u->stats.train_seconds;
    p.encrypt_seconds = u->stats.encrypt_seconds;
    if (std::find(w.contributors.begin(), w.contributors.end(), m->from) != w.contributors.end()) {
      reject("second update in the round");
      return {};
    }
    // A contribution's party id is bound to its authenticated sender: a hospital cannot pass off
    // a contribution labelled as another's (the aggregate would then name the wrong set).
    auto labelled = aggregator_->contributor(u->contribution, global_.size(), w.round);
    if (!labelled.ok()) {
      reject("malformed contribution: " + labelled.status().message());
      return {};
    }
    if (labelled->has_value() && **labelled != m->from) {
      reject("the contribution is labelled as hospital " + std::to_string(**labelled) + ", not its sender");
      return {};
    }
    auto rec = ledger::decode_record(u->commitment.record);
    const auto* c = rec.ok() ? std::get_if<ledger::UpdateCommitment>(&rec->body) : nullptr;
    if (!c) {
      reject("the commitment is not a commitment record");
      return {};
    }
    if (c->party_id != m->from || c->round != w.round || c->model_version != version_ || c->model_hash != w.hash_in ||
        c->contribution_hash != blake2b_256(u->contribution) || c->num_samples != u->num_samples ||
        u->num_samples == 0) {
      reject("the commitment does not match the update");
      return {};
    }
    // The hospital wrote its signed commitment to the ledger (which checked signature and rules);
    // the update counts only if that commitment is there, with this contribution's hash.
    auto on_ledger = ledger_.commitment(w.round, m->from);
    if (!on_ledger.ok()) {
      if (on_ledger.status().code() != StatusCode::kNotFound) return on_ledger.status();
      reject("its commitment is not on the ledger");
      return {};
    }
    if (*on_ledger != *c) {
      reject("the update's commitment differs from the one on the ledger");
      return {};
    }
    p.status = "submitted";
    p.in_aggregate = true;
    p.num_samples = u->num_samples;
    p.train_metrics = u->metrics;
    w.reported[m->from] = u->stats;
    w.contributors.push_back(m->from);
    w.contributions.push_back(std::move(u->contribution));
    w.samples.push_back(u->num_samples);
    w.entries.push_back({m->from, c->contribution_hash, u->num_samples});  // hash checked against the bytes above
  }
  return {};
}

Status Coordinator::decrypt_and_update(RoundWork& w) {
  if (w.failed) return {};
  const std::size_t n = global_.size();
  auto t0 = std::chrono::steady_clock::now();
  auto agg = aggregator_->aggregate(w.contributions, n, w.round);
  w.stats.aggregate_seconds = seconds_since(t0);
  if (!agg.ok()) {
    w.fail("aggregation failed: " + agg.status().message());
    return {};
  }
  w.aggregate_hash = blake2b_256(*agg);

  // The round's one contributor set goes on the ledger before any decryption share is asked for;
  // key holders decrypt nothing else this round.
  {
    ledger::ContributorSet cs;
    cs.round = w.round;
    cs.contributions = w.entries;
    std::sort(cs.contributions.begin(), cs.contributions.end(),
              [](const ledger::Contribution& a, const ledger::Contribution& b) { return a.party_id < b.party_id; });
    cs.aggregate_hash = w.aggregate_hash;
    const ledger::Signer* coord[] = {signer_.get()};
    auto posted = ledger_.append(ledger::sign_record({config_.federation_id, ledger::now_ms(), cs}, coord));
    if (!posted.ok()) {
      w.fail("the ledger refused the contributor set: " + posted.status().message());
      return {};
    }
  }

  // Joint decryption by a quorum of t key holders (any hospital, contributor or not). t-of-n shares
  // depend on the quorum, so the coordinator names it; members that do not answer are replaced
  // and the quorum asked again, at most kMaxQuorumAttempts times (src/fl/README.md).
  const std::uint32_t t = aggregator_->setup_info().decryption_threshold;
  std::vector<DecryptionShare> shares;
  double slowest_share = 0;
  if (t > 0) {
    constexpr int kMaxQuorumAttempts = 3;
    std::set<PartyId> unresponsive;
    std::map<PartyId, std::uint64_t> exhausted;  // key holder -> its flooding budget D
    std::map<PartyId, std::string> refused;      // key holder -> why it refused otherwise
    bool done = false;
    for (int attempt = 0; attempt < kMaxQuorumAttempts && !done; ++attempt) {
      std::vector<PartyId> quorum;
      for (const auto& h : hospitals_) {
        if (quorum.size() < t && !unresponsive.count(h.party_id)) quorum.push_back(h.party_id);
      }
      if (quorum.size() < t) break;
      // With attach_contributions each member makes the sum itself from the committed contributions
      // (and checks it against the ledger's aggregate hash), so the sum is not sent as well.
      internal::AggregateMsg request{config_.attach_contributions ? Bytes{} : *agg, w.contributors, quorum, {}};
      if (config_.attach_contributions) request.contributions = w.contributions;
      const Bytes payload = internal::encode_aggregate(request);
      std::set<PartyId> awaiting;
      for (PartyId q : quorum) {
        if (transport_.send({kCoordinatorId, q, MessageKind::kAggregate, w.round, payload}).ok()) awaiting.insert(q);
      }
      std::map<PartyId, internal::ShareMsg> got;
      HEAL_RETURN_IF_ERROR(collect(awaiting, [&](const Message& m) -> Status {
        if (m.round != w.round) return reject(w, m, "not of this round (late or replayed)"), Status{};
        if (m.kind == MessageKind::kUpdate) return reject(w, m, "after the deadline for updates"), Status{};
        if (!std::binary_search(quorum.begin(), quorum.end(), m.from)) {
          if (m.kind == MessageKind::kDecryptionShare) reject(w, m, "the sender is not in the decryption quorum");
          return {};
        }
        if (m.kind == MessageKind::kRefusal || m.kind == MessageKind::kDecryptionShare) awaiting.erase(m.from);
        if (m.kind == MessageKind::kRefusal) {
          auto refusal = internal::decode_refusal(m.payload);
          if (!refusal.ok()) {
            refused[m.from] = "malformed refusal";
          } else if (refusal->code == internal::RefusalCode::kFloodingBudgetExhausted) {
            exhausted[m.from] = refusal->budget;
          } else {
            refused[m.from] = refusal->reason;
          }
          return {};
        }
        if (m.kind != MessageKind::kDecryptionShare) return {};
        if (got.count(m.from)) return reject(w, m, "second decryption share for this quorum"), Status{};
        // A share that does not parse, or was not made by its sender for this round's aggregate, is
        // rejected here (its sender counts as unresponsive and the quorum is asked again) rather
        // than failing the decryption of the whole quorum.
        auto share = internal::decode_share(m.payload);
        if (!share.ok()) return reject(w, m, "malformed decryption share: " + share.status().message()), Status{};
        if (Status ok = aggregator_->check_share(share->share, m.from, n, w.round); !ok.ok()) {
          return reject(w, m, "bad decryption share: " + ok.message()), Status{};
        }
        got[m.from] = std::move(*share);
        return {};
      }));
      shares.clear();
      for (PartyId q : quorum) {
        auto it = got.find(q);
        if (it == got.end()) {
          unresponsive.insert(q);
          continue;
        }
        shares.push_back({q, std::move(it->second.share)});
        const double secs = it->second.decrypt_seconds;
        slowest_share = std::max(slowest_share, secs);
        w.parties[q].decrypt_seconds += secs;
      }
      done = shares.size() == t;
    }
    if (!done && !exhausted.empty()) {
      // Say which key holders ran out of noise-flooding budget: rotating keys is the remedy, not waiting.
      std::string why;
      for (const auto& [q, d] : exhausted) {
        why += (why.empty() ? "" : "; ") + std::string("flooding budget exhausted at hospital ") + std::to_string(q) +
               " (" + std::to_string(d) + " decryptions)";
      }
      w.fail("could not gather the " + std::to_string(t) + " decryption shares required: " + why);
      return {};
    }
    if (!done) {
      std::size_t silent = unresponsive.size();
      std::string refusals;
      for (const auto& [q, reason] : refused) {
        if (!unresponsive.count(q)) continue;
        --silent;
        refusals += "; hospital " + std::to_string(q) + " refused: " + reason;
      }
      const std::string why = std::to_string(silent) + " key holders unresponsive" + refusals;
      w.fail("could not gather the " + std::to_string(t) + " decryption shares required (" + why + ")");
      return {};
    }
  }
  t0 = std::chrono::steady_clock::now();
  auto sum = aggregator_->finalize(*agg, shares, n, w.round);
  w.stats.decrypt_seconds = slowest_share + seconds_since(t0);
  if (!sum.ok()) {
    w.fail("decryption failed: " + sum.status().message());
    return {};
  }
  for (const auto& s : shares) {
    w.decryptors.push_back(s.party);
    w.parties[s.party].decrypted = true;
  }
  double total = 0;
  for (auto s : w.samples) total += static_cast<double>(s);
  // Range check: an honest sum has |x| <= W * U (+ the decryption noise bound) in every
  // coordinate. A corrupt decryption share (or a contribution encrypting an out-of-range update)
  // decrypts to values spread over the whole modulus, far outside it: the round fails, the
  // model stays.
  const double bound = aggregator_->sum_bound(total);
  if (std::any_of(sum->begin(), sum->end(), [&](double x) { return !(std::fabs(x) <= bound); })) {
    w.fail("decrypted aggregate out of range: a decryption share or contribution is corrupt");
    return {};
  }
  std::vector<double> mean(n);
  for (std::size_t i = 0; i < n; ++i) mean[i] = (*sum)[i] / total;
  std::vector<float> next = global_;
  strategy_->apply(next, mean, w.round);
  if (std::any_of(next.begin(), next.end(), [](float x) { return !std::isfinite(x); })) {
    w.fail("the update produced a non-finite model");
    return {};
  }
  global_ = std::move(next);
  ++version_;
  return {};
}

void Coordinator::evaluate(RoundWork& w) {
  // Every reachable hospital evaluates the new model on its own validation data and reports the
  // metrics; the round's value is their plain mean.
  const Bytes payload = internal::encode_model({version_, global_});
  std::set<PartyId> awaiting;
  for (const auto& h : hospitals_) {
    if (transport_.send({kCoordinatorId, h.party_id, MessageKind::kEvaluate, w.round, payload}).ok()) {
      awaiting.insert(h.party_id);
    }
  }
  std::map<std::string, std::pair<double, int>> acc;
  std::set<PartyId> answered;
  (void)collect(awaiting, [&](const Message& m) -> Status {
    if (m.round != w.round) return reject(w, m, "not of this round (late or replayed)"), Status{};
    if (m.kind == MessageKind::kUpdate || m.kind == MessageKind::kDecryptionShare || m.kind == MessageKind::kRefusal) {
      return reject(w, m, "after the deadline of its phase"), Status{};
    }
    if (m.kind != MessageKind::kEvaluation || !w.parties.count(m.from)) return {};
    awaiting.erase(m.from);
    if (!answered.insert(m.from).second) return reject(w, m, "second evaluation in the round"), Status{};
    auto metrics = internal::decode_evaluation(m.payload);
    if (!metrics.ok()) return reject(w, m, "malformed evaluation: " + metrics.status().message()), Status{};
    w.parties[m.from].val_metrics = *metrics;
    for (const auto& [k, v] : *metrics) {
      acc[k].first += v;
      acc[k].second += 1;
    }
    return {};
  });
  for (const auto& [k, sv] : acc) w.stats.val_metrics[k] = sv.first / sv.second;
}

Status Coordinator::record(RoundWork& w) {
  RoundStats& s = w.stats;
  s.round = w.round;
  s.completed = !w.failed;
  s.failure_reason = w.failure;
  s.model_version = version_;
  s.model_hash = model_hash(global_);
  s.contributors = w.contributors.size();
  double loss = 0, weight = 0, norms = 0;
  for (auto& [id, p] : w.parties) {
    const TrafficCounters now = w.traffic_after[id], before = w.traffic_before[id];
    p.bytes_up = now.bytes_up - before.bytes_up;
    p.bytes_down = now.bytes_down - before.bytes_down;
    s.bytes_up += p.bytes_up;
    s.bytes_down += p.bytes_down;
    s.train_seconds = std::max(s.train_seconds, p.train_seconds);
    s.encrypt_seconds = std::max(s.encrypt_seconds, p.encrypt_seconds);
    if (p.in_aggregate) {
      const internal::HospitalStats& reported = w.reported[id];
      norms += reported.norm_before_clip;
      s.clipped += reported.clipped ? 1 : 0;
      if (auto it = p.train_metrics.find("loss"); it != p.train_metrics.end()) {
        loss += it->second * static_cast<double>(p.num_samples);
        weight += static_cast<double>(p.num_samples);
      }
    }
    if (p.status == "selected") p.status = "no response";
    s.parties.push_back(p);
  }
  s.train_loss = weight > 0 ? loss / weight : std::numeric_limits<double>::quiet_NaN();
  s.update_norm_mean = w.contributors.empty() ? 0 : norms / static_cast<double>(w.contributors.size());

  nlohmann::json metrics = nlohmann::json::object();
  if (weight > 0) metrics["train_loss"] = s.train_loss;
  for (const auto& [k, v] : s.val_metrics) metrics["val_" + k] = v;
  metrics["contributors"] = s.contributors;
  const ledger::Signer* coord[] = {signer_.get()};
  if (s.completed) {
    ledger::ModelVersion mv{version_, w.round, w.version_in, s.model_hash, global_.size(), metrics.dump()};
    HEAL_RETURN_IF_ERROR(
        ledger_.append(ledger::sign_record({config_.federation_id, ledger::now_ms(), mv}, coord)).status());
  }
  ledger::RoundResult x;
  x.round = w.round;
  x.key_epoch = 1;
  x.status = s.completed ? ledger::RoundStatus::kCompleted : ledger::RoundStatus::kFailed;
  x.failure_reason = w.failure;
  for (const auto& h : hospitals_) x.selected.push_back(h.party_id);
  x.contributions = w.entries;
  x.decryptors = w.decryptors;
  x.aggregate_hash = w.aggregate_hash;
  x.model_version_in = w.version_in;
  x.model_hash_in = w.hash_in;
  x.model_version_out = version_;
  x.model_hash_out = s.model_hash;
  x.strategy = strategy_->describe();
  x.clip_norm = config_.clip_norm;
  x.metrics_json = metrics.dump();
  HEAL_RETURN_IF_ERROR(
      ledger_.append(ledger::sign_record({config_.federation_id, ledger::now_ms(), x}, coord)).status());
  HEAL_ASSIGN_OR_RETURN(s.ledger_height, ledger_.size());
  s.round_seconds = seconds_since(w.start);
  return {};
}

}  // namespace heal::fl
