// An institution of the ensemble, and a site of a multi-site institution (roles.h).
#include <algorithm>
#include <cmath>

#include "heal/core/check.h"
#include "internal.h"

namespace heal::fl::ensemble {

using internal::ServerDriver;
using internal::Stopwatch;

namespace {

std::uint32_t index_in(const SecAggGroup& g, PartyId p) {
  for (std::size_t i = 0; i < g.parties.size(); ++i) {
    if (g.parties[i] == p) return static_cast<std::uint32_t>(i + 1);
  }
  HEAL_REQUIRE(false, "party " + std::to_string(p) + " is not in its SecAgg group");
  return 0;
}

}  // namespace

struct EnsembleNode::State {
  State(EnsembleConfig c, NodeOptions o, Transport& n, ledger::Ledger& l, const ledger::Signer& s, Rng& r)
      : cfg(std::move(c)), opt(std::move(o)), net(n), ledger(l), signer(s), rng(r) {}
  enum class Phase { kIdle, kSites, kEnsemble };

  EnsembleConfig cfg;
  NodeOptions opt;
  Transport& net;
  ledger::Ledger& ledger;
  const ledger::Signer& signer;
  Rng& rng;
  std::uint32_t secagg_id = 0;
  std::uint64_t version = 0;
  bool crashed = false;

  Phase phase = Phase::kIdle;
  NodeRound rec;
  smpc::SecAggConfig agg_cfg;
  // The multi-round SecAgg session (kept across rounds: its setup serves sa_rounds rounds).
  std::unique_ptr<smpc::SecAggMultiClient> client;
  Seed client_session{};
  std::uint32_t sa_rounds = 0, sa_round = 0;  // R of the round start, and r (this round in the session)
  std::vector<std::uint64_t> x;
  std::unique_ptr<ServerDriver> sites;

  void send(MessageKind k, Bytes payload) {
    (void)net.send({opt.id, kCoordinatorId, k, rec.round, std::move(payload)});
  }

  void refuse(const std::string& why) {
    rec.refusal = why;
    phase = Phase::kIdle;
    ByteWriter w;
    w.put_string(why);
    send(MessageKind::kEnsembleRefusal, w.take());
    end_round();
  }

  void end_round() const {
    if (opt.on_round_end) opt.on_round_end(rec);
  }

  Status record_version(std::uint64_t round) {
    ledger::MemberVersion mv;
    mv.institution = opt.id;
    mv.version = ++version;
    mv.architecture = opt.model->describe().architecture;
    mv.model_hash = blake2b_256(opt.model->model_bytes());
    mv.round = round;
    mv.num_parameters = opt.model->describe().num_parameters;
    const ledger::Signer* signers[] = {&signer};
    auto r = ledger.append(ledger::sign_record({cfg.federation_id, ledger::now_ms(), mv}, signers));
    if (!r.ok()) --version;
    rec.member_version = version;
    return r.status();
  }

  void on_round_start(const Message& m) {
    rec = NodeRound{};
    rec.round = m.round;
    sites.reset();
    ByteReader r(m.payload);
    Status s = internal::get_session(r, &agg_cfg);
    if (s.ok()) s = r.get(&sa_rounds);
    if (s.ok()) s = r.get(&sa_round);
    if (s.ok() && !r.at_end()) s = Status::corruption("trailing bytes");
    if (s.ok() && (sa_rounds == 0 || sa_rounds > smpc::kSecAggMaxRounds || sa_round == 0 || sa_round > sa_rounds))
      s = Status::corruption("SecAgg round not in [1, R]");
    if (!s.ok()) return refuse("bad round start: " + s.message());
    rec.secagg_round = sa_round;
    rec.secagg_rounds_per_setup = sa_rounds;
    if (sa_round == 1) {
      client.reset();  // a new session: its setup runs in this round
    } else if (!client || client_session != agg_cfg.session) {
      return refuse("not a member of this SecAgg session (missed its setup); back at the next setup");
    }
    if (agg_cfg.num_clients != cfg.institutions.parties.size() || agg_cfg.threshold != cfg.institutions.threshold ||
        agg_cfg.word_bytes != internal::ensemble_word_bytes(cfg.institutions.parties.size(), cfg.frac_bits)) {
      return refuse("round start does not match the ensemble's group");
    }
    agg_cfg.min_inputs = kEnsembleMinInputs;  // this institution's own rule, whatever the coordinator holds
    // The reference set: this institution's copy must be the one the consortium put on the ledger.
    auto setup = ledger.ensemble_setup();
    if (!setup.ok()) return refuse("no ensemble setup on the ledger: " + setup.status().message());
    if (setup->reference_hash != opt.model->reference_hash()) {
      return refuse("the reference set's hash differs from the ledger's");
    }
    if (setup->reference_size != opt.model->num_reference() || setup->num_classes != opt.model->num_classes() ||
        agg_cfg.vector_len != setup->reference_size * setup->num_classes) {
      return refuse("reference set or class count differs from the ledger's");
    }
    TrainConfig tc = opt.train;
    tc.round = m.round;
    if (opt.sites.parties.empty()) {
      double acc = 0;
      {
        Stopwatch sw(rec.train_seconds);
        auto t = opt.model->train_local(tc);
        if (!t.ok()) return refuse("local training failed: " + t.status().message());
        auto v = opt.model->validate();
        if (!v.ok() || !v->count("accuracy")) return refuse("validation failed");
        acc = v->at("accuracy");
      }
      return contribute(acc);
    }
    // Several sites: FedAvg among them through a SecAgg with this node as aggregator.
    smpc::SecAggConfig sc;
    sc.num_clients = static_cast<std::uint32_t>(opt.sites.parties.size());
    sc.threshold = opt.sites.threshold;
    const std::vector<float> w = opt.model->get_weights();
    sc.vector_len = w.size() + 3;
    rng.fill(sc.session);
    {
      Stopwatch sw(rec.secagg_seconds);
      sites = std::make_unique<ServerDriver>(sc, opt.sites);
    }
    ByteWriter bw;
    internal::put_session(bw, sc);
    bw.put_array(std::span<const float>(w));
    const Bytes payload = bw.take();
    for (PartyId p : opt.sites.parties) (void)net.send({opt.id, p, MessageKind::kSiteRound, rec.round, payload});
    phase = Phase::kSites;
  }

  void contribute(double acc) {
    if (!(acc >= 0 && acc <= 1)) return refuse("validation accuracy not in [0, 1]");
    rec.val_accuracy = acc;
    rec.weight = ensemble_weight(acc, opt.model->num_classes());
    std::vector<double> p;
    {
      Stopwatch sw(rec.train_seconds);
      auto pr = opt.model->predict_reference();
      if (!pr.ok()) return refuse("prediction failed: " + pr.status().message());
      p = std::move(*pr);
    }
    if (p.size() != agg_cfg.vector_len) return refuse("prediction has the wrong shape");
    Stopwatch sw(rec.secagg_seconds);
    for (double& v : p) {
      if (!std::isfinite(v) || v < 0 || v > 1) return refuse("prediction is not a probability");
      v *= rec.weight;
    }
    x = smpc::fixed_encode(p, cfg.frac_bits);
    phase = Phase::kEnsemble;
    if (sa_round == 1) {
      client = std::make_unique<smpc::SecAggMultiClient>(smpc::SecAggMultiConfig{agg_cfg, sa_rounds}, secagg_id,
                                                         internal::copy_identity(opt.identity),
                                                         cfg.institutions.verify_keys, rng);
      client_session = agg_cfg.session;
      send_setup(client->advertise_keys());
      return;
    }
    // The session's setup is done: the masked input of round sa_round goes up at once.
    if (opt.crash == CrashPoint::kBeforeMaskedInput) {
      crashed = true;
      return;
    }
    auto y = client->masked_input(sa_round, x);
    if (!y.ok()) return refuse("SecAgg: " + y.status().message());
    send_contribution(*y);
  }

  void send_setup(Bytes b) {
    rec.secagg_setup_payload_bytes += b.size();
    ++rec.secagg_setup_messages;
    send(MessageKind::kEnsembleSecAgg, std::move(b));
  }

  void send_contribution(const Bytes& masked) {
    ByteWriter w;
    w.put<double>(rec.val_accuracy);
    w.put_bytes(masked);
    rec.contributed = true;
    send(MessageKind::kEnsembleContribution, w.take());
  }

  void on_secagg(const Message& m) {
    if (phase != Phase::kEnsemble || !client) return;
    smpc::MultiMsgType type{};
    if (auto t = smpc::peek_multi(m.payload); t.ok()) type = t->first;
    if ((type == smpc::MultiMsgType::kMSharesForClient && opt.crash == CrashPoint::kBeforeMaskedInput) ||
        (type == smpc::MultiMsgType::kMUnmaskRequest && opt.crash == CrashPoint::kBeforeUnmask)) {
      crashed = true;
      return;
    }
    Result<std::optional<Bytes>> reply = [&] {
      Stopwatch sw(rec.secagg_seconds);
      return internal::multi_client_step(*client, m.payload, sa_round, x, &type);
    }();
    if (!reply.ok() || !*reply) return;  // a refused server message: this node drops out of the round
    if (type == smpc::MultiMsgType::kMSharesForClient) {
      send_contribution(**reply);
    } else if (type == smpc::MultiMsgType::kMKeyList) {
      send_setup(std::move(**reply));
    } else {
      send(MessageKind::kEnsembleSecAgg, std::move(**reply));
    }
  }

  void on_consensus(const Message& m) {
    if (phase != Phase::kEnsemble || !rec.contributed) return;
    // The consensus must be the one the coordinator recorded for this round, with this node among
    // the contributors (a coordinator cannot send different consensus vectors to different members).
    auto recorded = ledger.ensemble_round(m.round);
    if (!recorded.ok()) {
      rec.refusal = "consensus not on the ledger: " + recorded.status().message();
      end_round();
      return;
    }
    if (recorded->consensus_hash != blake2b_256(m.payload)) {
      rec.refusal = "the consensus received differs from the one on the ledger";
      end_round();
      return;
    }
    if (std::none_of(recorded->contributors.begin(), recorded->contributors.end(),
                     [&](const ledger::EnsembleContribution& c) { return c.institution == opt.id; })) {
      rec.refusal = "the ledger does not list this institution among the round's contributors";
      end_round();
      return;
    }
    auto c = internal::decode_doubles(m.payload, agg_cfg.vector_len);
    if (!c.ok() || c->size() != agg_cfg.vector_len) return;
    TrainConfig tc = opt.train;
    tc.round = m.round;
    {
      Stopwatch sw(rec.distill_seconds);
      if (!opt.model->distill(*c, tc).ok()) return;
    }
    rec.distilled = true;
    phase = Phase::kIdle;
    (void)record_version(m.round);
    end_round();
  }

  Status close_sites(bool force, bool* closed) {
    std::vector<std::pair<PartyId, Bytes>> out;
    Result<bool> r = [&] {
      Stopwatch sw(rec.secagg_seconds);
      return sites->maybe_close(force, &out);
    }();
    if (!r.ok()) {
      refuse("site aggregation failed: " + r.status().message());
      *closed = true;
      return {};
    }
    *closed = *r;
    for (auto& [p, bytes] : out) (void)net.send({opt.id, p, MessageKind::kSiteSecAgg, rec.round, std::move(bytes)});
    if (!sites->finished()) return {};
    // FedAvg: sum n_s w_s / sum n_s; accuracy: sum correct_s / sum val_s.
    const std::vector<double> sum = smpc::fixed_decode(sites->sum(), cfg.frac_bits);
    const std::size_t np = sum.size() - 3;
    const double n = sum[np], correct = sum[np + 1], nval = sum[np + 2];
    if (!(n > 0) || !(nval > 0)) {
      refuse("site aggregation with no samples");
      return {};
    }
    std::vector<float> avg(np);
    for (std::size_t k = 0; k < np; ++k) avg[k] = static_cast<float>(sum[k] / n);
    if (Status s = opt.model->set_weights(avg); !s.ok()) {
      refuse("cannot load the sites' average: " + s.message());
      return {};
    }
    contribute(std::clamp(correct / nval, 0.0, 1.0));
    return {};
  }
};

EnsembleNode::EnsembleNode(EnsembleConfig cfg, NodeOptions opt, Transport& net, ledger::Ledger& ledger,
                           const ledger::Signer& signer, Rng& rng) {
  HEAL_REQUIRE(opt.model != nullptr, "an ensemble node needs a model");
  HEAL_REQUIRE(opt.sites.parties.empty() || opt.sites.parties.size() >= 2, "an institution has 1 or >= 2 sites");
  HEAL_REQUIRE(cfg.institutions.parties.size() >= kEnsembleMinInputs,
               "an ensemble needs >= " << kEnsembleMinInputs << " institutions");
  st_ = std::make_unique<State>(std::move(cfg), std::move(opt), net, ledger, signer, rng);
  st_->secagg_id = index_in(st_->cfg.institutions, st_->opt.id);
  HEAL_REQUIRE(st_->cfg.institutions.verify_keys.at(st_->secagg_id - 1) == st_->opt.identity.verify_key,
               "the node's SecAgg identity is not the one in the ensemble's directory");
}

EnsembleNode::~EnsembleNode() = default;

PartyId EnsembleNode::id() const { return st_->opt.id; }
const NodeRound& EnsembleNode::last_round() const { return st_->rec; }

Status EnsembleNode::publish_initial_version() { return st_->record_version(0); }

Result<bool> EnsembleNode::poll() {
  bool any = false;
  while (auto m = st_->net.receive(st_->opt.id)) {
    any = true;
    if (st_->crashed) continue;
    if (m->from == kCoordinatorId) {
      switch (m->kind) {
        case MessageKind::kEnsembleRoundStart:
          st_->on_round_start(*m);
          break;
        case MessageKind::kEnsembleSecAgg:
          if (m->round == st_->rec.round) st_->on_secagg(*m);
          break;
        case MessageKind::kEnsembleConsensus:
          if (m->round == st_->rec.round) st_->on_consensus(*m);
          break;
        default:
          break;
      }
    } else if (m->kind == MessageKind::kSiteSecAgg && st_->phase == State::Phase::kSites && st_->sites &&
               m->round == st_->rec.round) {
      Stopwatch sw(st_->rec.secagg_seconds);
      (void)st_->sites->receive(m->from, m->payload);
    }
  }
  if (st_->phase == State::Phase::kSites && !st_->crashed) {
    bool closed = false;
    HEAL_RETURN_IF_ERROR(st_->close_sites(false, &closed));
    any = any || closed;
  }
  return any;
}

Result<bool> EnsembleNode::on_idle() {
  if (st_->crashed || st_->phase != State::Phase::kSites) return false;
  bool closed = false;
  HEAL_RETURN_IF_ERROR(st_->close_sites(true, &closed));
  return closed;
}

// ---- sites -----------------------------------------------------------------------------------

struct EnsembleSite::State {
  PartyId id = 0, institution = 0;
  EnsembleMember* member = nullptr;
  smpc::SecAggIdentity identity;
  SecAggGroup group;
  TrainConfig train;
  Transport* net = nullptr;
  Rng* rng = nullptr;
  std::uint32_t secagg_id = 0;
  bool crash_before_masked = false, crashed = false;
  std::uint64_t round = 0;
  std::unique_ptr<smpc::SecAggClient> client;
  std::vector<std::uint64_t> x;
  std::function<void(const SiteRound&)> on_trained;

  void send(Bytes b) { (void)net->send({id, institution, MessageKind::kSiteSecAgg, round, std::move(b)}); }

  void on_site_round(const Message& m) {
    client.reset();
    round = m.round;
    smpc::SecAggConfig c;
    ByteReader r(m.payload);
    std::vector<float> w;
    if (!internal::get_session(r, &c).ok() || !r.get_array(&w, smpc::kSecAggMaxVectorLen).ok() || !r.at_end()) return;
    if (c.num_clients != group.parties.size() || c.threshold != group.threshold || c.vector_len != w.size() + 3 ||
        c.word_bytes != 8) {
      return;
    }
    // The institution's weights are outside bytes: finite and encodable, else the site drops out.
    const double limit = smpc::fixed_point_limit();
    for (float f : w) {
      if (!std::isfinite(f) || std::fabs(f) >= limit) return;
    }
    if (!member->set_weights(w).ok()) return;
    // What the launcher hears once the site has trained (contributed or not).
    SiteRound sr;
    sr.round = m.round;
    sr.train_samples = member->num_train_samples();
    sr.contributed = train_and_mask(c, w.size(), sr);
    if (on_trained) on_trained(sr);
  }

  // Trains and validates the member (the institution's weights already loaded), then encodes x and
  // advertises this site's keys. False: the site drops out of this round.
  bool train_and_mask(const smpc::SecAggConfig& c, std::size_t num_weights, SiteRound& sr) {
    TrainConfig tc = train;
    tc.round = sr.round;
    Result<Metrics> t = Metrics{}, v = Metrics{};
    {
      Stopwatch sw(sr.train_seconds);
      t = member->train_local(tc);
      v = member->validate();
    }
    if (!t.ok() || !v.ok() || !v->count("accuracy") || !v->count("num_samples")) return false;
    const double nval = v->at("num_samples"), acc = v->at("accuracy");
    sr.val_accuracy = acc;
    const auto n = member->num_train_samples();
    if (!(nval > 0) || !(acc >= 0 && acc <= 1) || n == 0) return false;
    // x = (n_s * w_s, n_s, correct_s, val_s): the integer weight n_s multiplies the encoded weights
    // exactly (mod 2^64), so the sum decodes to sum n_s w_s within n_sites * n_s * 2^-17.
    const std::vector<float> trained = member->get_weights();
    if (trained.size() != num_weights) return false;
    // n_s * w_s must stay encodable (fixed_encode throws otherwise; found by fuzz_fl_ensemble: huge
    // weights in a kSiteRound): a site whose training diverged that far drops out.
    const double bound = smpc::fixed_point_limit() / static_cast<double>(n);
    for (float f : trained) {
      if (!std::isfinite(f) || std::fabs(f) >= bound) return false;
    }
    std::vector<double> wd(trained.begin(), trained.end());
    x = smpc::fixed_encode(wd);
    smpc::scale_in_place(x, n);
    x.push_back(smpc::fixed_encode(static_cast<double>(n)));
    x.push_back(smpc::fixed_encode(std::round(acc * nval)));
    x.push_back(smpc::fixed_encode(nval));
    client =
        std::make_unique<smpc::SecAggClient>(c, secagg_id, internal::copy_identity(identity), group.verify_keys, *rng);
    send(client->advertise_keys());
    return true;
  }

  void on_secagg(const Message& m) {
    if (!client || m.round != round) return;
    smpc::MsgType type{};
    if (auto t = smpc::peek_type(m.payload); t.ok()) type = *t;
    if (type == smpc::MsgType::kSharesForClient && crash_before_masked) {
      crashed = true;
      return;
    }
    auto reply = internal::client_step(*client, m.payload, x, &type);
    if (reply.ok() && *reply) send(std::move(**reply));
  }
};

EnsembleSite::EnsembleSite(PartyId id, PartyId institution, EnsembleMember& member, smpc::SecAggIdentity identity,
                           SecAggGroup group, TrainConfig train, Transport& net, Rng& rng)
    : st_(std::make_unique<State>()) {
  st_->id = id;
  st_->institution = institution;
  st_->member = &member;
  st_->identity = std::move(identity);
  st_->group = std::move(group);
  st_->train = train;
  st_->net = &net;
  st_->rng = &rng;
  st_->secagg_id = index_in(st_->group, id);
  HEAL_REQUIRE(st_->group.verify_keys.at(st_->secagg_id - 1) == st_->identity.verify_key,
               "the site's SecAgg identity is not the one in its institution's directory");
}

EnsembleSite::~EnsembleSite() = default;

void EnsembleSite::crash_before_masked_input() { st_->crash_before_masked = true; }

void EnsembleSite::on_trained(std::function<void(const SiteRound&)> f) { st_->on_trained = std::move(f); }

Result<bool> EnsembleSite::poll() {
  bool any = false;
  while (auto m = st_->net->receive(st_->id)) {
    any = true;
    if (st_->crashed || m->from != st_->institution) continue;
    if (m->kind == MessageKind::kSiteRound) st_->on_site_round(*m);
    if (m->kind == MessageKind::kSiteSecAgg) st_->on_secagg(*m);
  }
  return any;
}

}  // namespace heal::fl::ensemble
