// The two protocol roles run apart: a Coordinator built from public identities and a Transport
// only, and Hospitals that a separate pump (this test) drives. Everything the coordinator reports
// comes from the messages it received.
#include "heal/fl/coordinator.h"

#include <gtest/gtest.h>

#include <functional>

#include "fl/fl_fixture.h"
#include "fl/messages.h"
#include "heal/fl/hospital.h"

namespace heal::fl {
namespace {

using namespace testing;

/// A Transport of the test's own (not InProcessTransport): queues, a log of every message, and a
/// pump the test installs; wait() runs the pump, the only way hospitals get to act.
class PumpedTransport final : public Transport {
 public:
  Status send(Message m) override {
    if (rewrite) rewrite(m);
    log.push_back({m.from, m.to, m.kind});
    queues_[m.to].push_back(std::move(m));
    return {};
  }
  std::optional<Message> receive(PartyId party) override {
    auto& q = queues_[party];
    if (q.empty()) return std::nullopt;
    Message m = std::move(q.front());
    q.pop_front();
    return m;
  }
  void wait(PartyId party, std::chrono::milliseconds timeout) override {
    EXPECT_EQ(party, kCoordinatorId);
    EXPECT_GT(timeout.count(), 0);
    ++waits;
    if (pump) pump();
  }
  TrafficCounters counters(PartyId) const override { return {}; }

  struct Entry {
    PartyId from, to;
    MessageKind kind;
  };
  std::vector<Entry> log;
  std::function<void()> pump;
  std::function<void(Message&)> rewrite;
  int waits = 0;

 private:
  std::map<PartyId, std::deque<Message>> queues_;
};

struct Consortium {
  std::unique_ptr<ledger::SqliteLedger> ledger = memory_ledger();
  PumpedTransport transport;
  std::vector<std::unique_ptr<Hospital>> hospitals;
  std::unique_ptr<Coordinator> coordinator;

  explicit Consortium(std::size_t k) {
    auto agg = std::make_unique<PlainAggregator>(party_set(k));
    std::vector<ledger::Participant> members;
    for (std::size_t i = 0; i < k; ++i) {
      const auto id = static_cast<PartyId>(i);
      SeededRng key_rng(seed_from_u64(10 + i));
      auto h = std::make_unique<Hospital>(
          id, "h" + std::to_string(i),
          std::make_unique<FixedUpdateTrainer>(std::vector<float>{static_cast<float>(i + 1), 0}, 1),
          ledger::Ed25519Signer::from_rng(key_rng), *ledger, transport,
          std::make_unique<SeededRng>(seed_from_u64(20 + i)));
      h->set_federation("roles", 0, 0);
      h->set_aggregation_party(std::move(agg->party(id)).value());
      ledger->add_local_signer(h->signer());
      members.push_back({id, ledger::Role::kHospital, h->name(), h->identity()});
      hospitals.push_back(std::move(h));
    }
    SeededRng coord_rng(seed_from_u64(99));
    auto signer = ledger::Ed25519Signer::from_rng(coord_rng);
    ledger->add_local_signer(*signer);
    CoordinatorConfig cc;
    cc.federation_id = "roles";
    cc.response_timeout = std::chrono::seconds(5);
    // The coordinator gets public identities, the aggregator's public side, its own key, the ledger
    // and the transport: no Hospital object.
    coordinator = std::make_unique<Coordinator>(cc, members, std::move(agg), std::move(signer), *ledger, transport,
                                                std::vector<float>{0, 0});
    std::vector<const ledger::Signer*> cosigners;
    for (const auto& h : hospitals) cosigners.push_back(&h->signer());
    EXPECT_TRUE(coordinator->setup(cosigners).ok());
    transport.pump = [this] {
      for (auto& h : hospitals) h->step();
    };
  }
};

TEST(Coordinator, RunsRoundsAgainstHospitalsDrivenBySeparatePump) {
  Consortium c(3);
  for (int r = 0; r < 2; ++r) {
    auto s = c.coordinator->run_round();
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    ASSERT_TRUE(s->completed) << s->failure_reason;
    EXPECT_EQ(s->contributors, 3u);
    EXPECT_EQ(s->val_metrics.at("acc"), 0.5);  // evaluations came back as messages
  }
  // FedAvg of updates 1, 2, 3 (one sample each) twice.
  EXPECT_FLOAT_EQ(c.coordinator->global_model()[0], 4.0f);
  EXPECT_EQ(c.coordinator->model_version(), 2u);
  // Per round the coordinator waited twice (updates, evaluations; plain mode needs no shares) and
  // only spoke the protocol: model / evaluate down, update / evaluation up.
  EXPECT_EQ(c.transport.waits, 4);
  for (const auto& e : c.transport.log) {
    if (e.from == kCoordinatorId) {
      EXPECT_TRUE(e.kind == MessageKind::kModel || e.kind == MessageKind::kEvaluate) << int(e.kind);
    } else {
      EXPECT_EQ(e.to, kCoordinatorId);
      EXPECT_TRUE(e.kind == MessageKind::kUpdate || e.kind == MessageKind::kEvaluation) << int(e.kind);
    }
  }
  EXPECT_TRUE(c.ledger->verify().ok);
}

TEST(Coordinator, ReportsWhatTheMessagesSayNotWhatTheHospitalHolds) {
  Consortium c(2);
  c.transport.rewrite = [](Message& m) {
    if (m.kind != MessageKind::kUpdate) return;
    auto u = internal::decode_update(m.payload).value();
    u.stats.train_seconds = 1000 + m.from;
    u.stats.norm_before_clip = 7;
    m.payload = internal::encode_update(u);
  };
  auto s = c.coordinator->run_round();
  ASSERT_TRUE(s.ok() && s->completed);
  EXPECT_EQ(s->parties[0].train_seconds, 1000);
  EXPECT_EQ(s->parties[1].train_seconds, 1001);
  EXPECT_LT(c.hospitals[1]->last_round().train_seconds, 1000);  // the hospital's own log differs
  EXPECT_DOUBLE_EQ(s->update_norm_mean, 7);
}

TEST(Coordinator, AnsweredByNobodyWhenThePumpDoesNotRun) {
  // Without the pump, no hospital ever acts: the coordinator cannot make them.
  Consortium c(2);
  c.transport.pump = nullptr;
  auto s = c.coordinator->run_round();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->completed);
  EXPECT_EQ(s->contributors, 0u);
  for (const auto& h : c.hospitals) EXPECT_EQ(dynamic_cast<FixedUpdateTrainer&>(h->trainer()).calls, 0);
}

}  // namespace
}  // namespace heal::fl
