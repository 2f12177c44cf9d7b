// The ensemble coordinator: an untrusted SecAgg server that learns only the weighted sum (roles.h).
#include <algorithm>

#include "heal/core/check.h"
#include "internal.h"

namespace heal::fl::ensemble {

using internal::MultiServerDriver;
using internal::Stopwatch;

// One multi-round SecAgg session: its setup serves cfg.rounds ensemble rounds (secagg_multi.h).
struct EnsembleCoordinator::Session {
  smpc::SecAggMultiConfig cfg;
  std::unique_ptr<smpc::SecAggMultiServer> server;
  std::uint32_t next = 1;     // its next round
  bool setup_failed = false;  // the setup did not complete: a new session runs the next round
};

struct EnsembleCoordinator::State {
  std::uint64_t round = 0;
  bool finished = false;
  std::unique_ptr<MultiServerDriver> agg;
  std::map<PartyId, double> accuracy;
  std::map<PartyId, Digest> masked_hash;
  std::vector<PartyId> refused;
  double seconds = 0;
};

EnsembleCoordinator::EnsembleCoordinator(EnsembleConfig cfg, std::uint64_t reference_size, std::uint32_t num_classes,
                                         Transport& net, ledger::Ledger& ledger, const ledger::Signer& signer, Rng& rng)
    : cfg_(std::move(cfg)),
      reference_size_(reference_size),
      num_classes_(num_classes),
      net_(net),
      ledger_(ledger),
      signer_(signer),
      rng_(rng) {
  HEAL_REQUIRE(std::is_sorted(cfg_.institutions.parties.begin(), cfg_.institutions.parties.end()),
               "institutions must be sorted by party id");
  smpc::SecAggConfig probe{static_cast<std::uint32_t>(cfg_.institutions.parties.size()),
                           cfg_.institutions.threshold,
                           reference_size * num_classes,
                           {}};
  probe.min_inputs = kEnsembleMinInputs;
  HEAL_REQUIRE(probe.num_clients >= kEnsembleMinInputs,
               "an ensemble needs >= " << kEnsembleMinInputs << " institutions, not " << probe.num_clients
                                       << ": a consensus of fewer inputs, published with the public weights, "
                                          "gives each contributor the others' predictions");
  smpc::validate(probe);
  HEAL_REQUIRE(cfg_.secagg_rounds_per_setup >= 1 && cfg_.secagg_rounds_per_setup <= smpc::kSecAggMaxRounds,
               "secagg_rounds_per_setup not in [1, " << smpc::kSecAggMaxRounds << "]");
  HEAL_REQUIRE(num_classes >= 2, "an ensemble needs at least 2 classes");
}

EnsembleCoordinator::~EnsembleCoordinator() = default;

bool EnsembleCoordinator::round_finished() const { return !st_ || st_->finished; }

Status EnsembleCoordinator::write_setup(std::vector<ledger::EnsembleMemberInfo> members, const Digest& reference_hash) {
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.institution < b.institution; });
  ledger::EnsembleSetup s;
  s.members = std::move(members);
  s.reference_hash = reference_hash;
  s.reference_size = reference_size_;
  s.num_classes = num_classes_;
  s.secagg_threshold = cfg_.institutions.threshold;
  s.frac_bits = cfg_.frac_bits;
  s.weight_rule = kWeightRule;
  const ledger::Signer* signers[] = {&signer_};
  return ledger_.append(ledger::sign_record({cfg_.federation_id, ledger::now_ms(), s}, signers)).status();
}

Status EnsembleCoordinator::start_round(std::uint64_t round) {
  if (!round_finished()) return Status::failed_precondition("round " + std::to_string(st_->round) + " is running");
  if (!session_ || session_->setup_failed || session_->next > session_->cfg.rounds) {
    // A new SecAgg session: fresh id, one setup for the next secagg_rounds_per_setup rounds.
    auto s = std::make_unique<Session>();
    smpc::SecAggConfig& c = s->cfg.base;
    c.num_clients = static_cast<std::uint32_t>(cfg_.institutions.parties.size());
    c.threshold = cfg_.institutions.threshold;
    c.vector_len = reference_size_ * num_classes_;
    c.word_bytes = internal::ensemble_word_bytes(cfg_.institutions.parties.size(), cfg_.frac_bits);
    c.min_inputs = kEnsembleMinInputs;
    rng_.fill(c.session);
    s->cfg.rounds = cfg_.secagg_rounds_per_setup;
    s->server = std::make_unique<smpc::SecAggMultiServer>(s->cfg, cfg_.institutions.verify_keys);
    session_ = std::move(s);
  }
  st_ = std::make_unique<State>();
  st_->round = round;
  const std::uint32_t r = session_->next++;
  st_->agg = std::make_unique<MultiServerDriver>(*session_->server, cfg_.institutions, r, r == 1);
  HEAL_RETURN_IF_ERROR(st_->agg->start());
  ByteWriter w;
  internal::put_session(w, session_->cfg.base);
  w.put<std::uint32_t>(session_->cfg.rounds);
  w.put<std::uint32_t>(r);
  const Bytes payload = w.take();
  for (PartyId p : cfg_.institutions.parties) {
    // An unreachable institution simply never answers (a dropout).
    (void)net_.send({kCoordinatorId, p, MessageKind::kEnsembleRoundStart, round, payload});
  }
  return {};
}

Status EnsembleCoordinator::handle(const Message& m) {
  if (!st_ || st_->finished || m.round != st_->round) return Status::failed_precondition("no such round running");
  switch (m.kind) {
    case MessageKind::kEnsembleSecAgg: {
      // A masked input comes only in a kEnsembleContribution (with the accuracy that weights it):
      // accepted bare, its sender would be a contributor without an accuracy (seen while writing fuzz_fl_ensemble).
      auto t = smpc::peek_multi(m.payload);
      if (t.ok() && t->first == smpc::MultiMsgType::kMMaskedInput)
        return Status::corruption("a masked input must come as an ensemble contribution");
      return st_->agg->receive(m.from, m.payload);
    }
    case MessageKind::kEnsembleContribution: {
      ByteReader r(m.payload);
      double acc = 0;
      HEAL_RETURN_IF_ERROR(r.get(&acc));
      if (!(acc >= 0 && acc <= 1)) return Status::corruption("validation accuracy not in [0, 1]");
      std::span<const std::uint8_t> rest;
      HEAL_RETURN_IF_ERROR(r.get_bytes(r.remaining(), &rest));
      auto t = smpc::peek_multi(rest);
      if (!t.ok() || t->first != smpc::MultiMsgType::kMMaskedInput)
        return Status::corruption("an ensemble contribution must carry a SecAgg masked input");
      HEAL_RETURN_IF_ERROR(st_->agg->receive(m.from, rest));
      st_->accuracy[m.from] = acc;
      st_->masked_hash[m.from] = blake2b_256(rest);
      return {};
    }
    case MessageKind::kEnsembleRefusal:
      st_->refused.push_back(m.from);
      st_->agg->withdraw(m.from);
      return {};
    default:
      return Status::invalid_argument("unexpected message kind at the coordinator");
  }
}

Result<bool> EnsembleCoordinator::poll() {
  bool any = false;
  while (auto m = net_.receive(kCoordinatorId)) {
    any = true;
    // A rejected message (forged, out of phase, from a stranger) is dropped; the round goes on.
    (void)handle(*m);
  }
  if (!round_finished()) HEAL_RETURN_IF_ERROR(advance(false));
  return any;
}

Result<bool> EnsembleCoordinator::on_idle() {
  if (round_finished()) return false;
  HEAL_RETURN_IF_ERROR(advance(true));
  return true;
}

void EnsembleCoordinator::fail_round(const std::string& why) {
  last_ = CoordinatorRound{};
  last_.round = st_->round;
  last_.failure = why;
  last_.refused = st_->refused;
  last_.secagg_seconds = st_->agg->seconds();
  if (!st_->agg->setup_complete()) session_->setup_failed = true;
  st_->finished = true;
}

Status EnsembleCoordinator::advance(bool force) {
  std::vector<std::pair<PartyId, Bytes>> out;
  Result<bool> closed = st_->agg->maybe_close(force, &out);
  if (!closed.ok()) {
    fail_round(closed.status().message());
    return {};
  }
  for (auto& [p, bytes] : out) {
    (void)net_.send({kCoordinatorId, p, MessageKind::kEnsembleSecAgg, st_->round, std::move(bytes)});
  }
  if (st_->agg->finished()) return finish_round();
  return {};
}

Status EnsembleCoordinator::finish_round() {
  CoordinatorRound rep;
  rep.round = st_->round;
  rep.refused = st_->refused;
  ledger::EnsembleRound rec;
  rec.round = st_->round;
  double total_weight = 0;
  {
    Stopwatch sw(st_->seconds);
    rep.contributors = st_->agg->contributors();
    for (PartyId p : rep.contributors) {
      if (!st_->accuracy.count(p) || !st_->masked_hash.count(p)) {
        fail_round("contributor " + std::to_string(p) + " sent no accuracy");  // unreachable: handle() checks
        return {};
      }
      const double acc = st_->accuracy.at(p);
      const double w = ensemble_weight(acc, num_classes_);
      rep.accuracy[p] = acc;
      rep.weight[p] = w;
      total_weight += w;
      rec.contributors.push_back({p, w, acc, st_->masked_hash.at(p)});
    }
    rep.consensus = smpc::fixed_decode(st_->agg->sum(), cfg_.frac_bits);
    for (double& v : rep.consensus) v /= total_weight;
  }
  const Bytes payload = internal::encode_doubles(rep.consensus);
  rec.consensus_hash = blake2b_256(payload);
  const ledger::Signer* signers[] = {&signer_};
  auto appended = ledger_.append(ledger::sign_record({cfg_.federation_id, ledger::now_ms(), rec}, signers));
  if (!appended.ok()) {
    fail_round("ledger: " + appended.status().message());
    return appended.status();
  }
  for (PartyId p : rep.contributors) {
    (void)net_.send({kCoordinatorId, p, MessageKind::kEnsembleConsensus, st_->round, payload});
  }
  rep.completed = true;
  completed_ = st_->round;
  rep.secagg_seconds = st_->agg->seconds() + st_->seconds;
  last_ = std::move(rep);
  st_->finished = true;
  return {};
}

}  // namespace heal::fl::ensemble
