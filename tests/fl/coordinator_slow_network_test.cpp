// The coordinator over a transport whose wait() returns at the first answer (as a network transport
// does): every phase must keep collecting until each party asked has answered or the phase's deadline
// passes, not take what happens to be queued after the first wait.
#include <gtest/gtest.h>

#include <deque>

#include "fl/fl_fixture.h"
#include "heal/fl/coordinator.h"
#include "heal/fl/hospital.h"
#include "heal/ledger/identity.h"

namespace heal::fl {
namespace {

using namespace std::chrono_literals;

// Wraps an InProcessTransport: the hospitals answer at once, but the coordinator's wait() hands over
// one answer per call (the others are "still on the wire"), the worst a network may do.
class OneAnswerPerWait final : public Transport {
 public:
  Status send(Message m) override { return inner.send(std::move(m)); }
  std::optional<Message> receive(PartyId party) override {
    if (party != kCoordinatorId) return inner.receive(party);
    if (visible_.empty()) return std::nullopt;
    Message m = std::move(visible_.front());
    visible_.pop_front();
    return m;
  }
  void wait(PartyId party, std::chrono::milliseconds timeout) override {
    ++waits;
    inner.wait(party, timeout);  // the hospitals handle what reached them
    while (auto m = inner.receive(kCoordinatorId)) in_flight_.push_back(std::move(*m));
    if (in_flight_.empty()) return;
    visible_.push_back(std::move(in_flight_.front()));
    in_flight_.pop_front();
  }
  TrafficCounters counters(PartyId party) const override { return inner.counters(party); }

  InProcessTransport inner;
  int waits = 0;

 private:
  std::deque<Message> in_flight_;
  std::deque<Message> visible_;
};

TEST(CoordinatorSlowNetwork, EveryPhaseCollectsAllAnswersWhenWaitReturnsAtTheFirst) {
  constexpr std::size_t kHospitals = 3;
  const std::vector<std::vector<float>> updates = {{1, 2}, {3, 4}, {5, 6}};
  const std::vector<std::uint64_t> samples = {1, 1, 2};
  auto ledger = testing::memory_ledger();
  OneAnswerPerWait net;
  // t = 2 key holders of 3: the decryption phase needs two shares, so it also needs a second wait.
  auto aggregator = std::make_unique<testing::FakeThresholdAggregator>(testing::party_set(kHospitals), 2);
  std::vector<std::unique_ptr<Hospital>> hospitals;
  std::vector<ledger::Participant> members;
  std::vector<const ledger::Signer*> cosigners;
  for (PartyId id = 0; id < kHospitals; ++id) {
    SeededRng key_rng(seed_from_u64(11), id);
    auto h = std::make_unique<Hospital>(id, "hospital-" + std::to_string(id),
                                        std::make_unique<testing::FixedUpdateTrainer>(updates[id], samples[id]),
                                        ledger::Ed25519Signer::from_rng(key_rng), *ledger, net,
                                        std::make_unique<SeededRng>(seed_from_u64(11), 100 + id));
    h->set_federation("heal-sim", 0, 0);
    h->set_aggregation_party(aggregator->party(id).value());
    ledger->add_local_signer(h->signer());
    members.push_back({id, ledger::Role::kHospital, h->name(), h->identity()});
    cosigners.push_back(&h->signer());
    hospitals.push_back(std::move(h));
  }
  net.inner.set_delivery([&] {
    for (auto& h : hospitals) h->step();
  });
  SeededRng coordinator_rng(seed_from_u64(11), kCoordinatorId);
  auto coordinator_signer = ledger::Ed25519Signer::from_rng(coordinator_rng);
  ledger->add_local_signer(*coordinator_signer);
  CoordinatorConfig cc;
  cc.response_timeout = 5s;
  Coordinator coordinator(cc, members, std::move(aggregator), std::move(coordinator_signer), *ledger, net,
                          std::vector<float>{0, 0});
  ASSERT_TRUE(coordinator.setup(cosigners).ok());

  auto s = coordinator.run_round();
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_TRUE(s->completed) << s->failure_reason;
  EXPECT_EQ(s->contributors, kHospitals);
  // FedAvg: (1*{1,2} + 1*{3,4} + 2*{5,6}) / 4.
  EXPECT_EQ(coordinator.global_model(), (std::vector<float>{3.5f, 4.5f}));
  std::size_t decrypted = 0, evaluated = 0;
  for (const auto& p : s->parties) {
    EXPECT_EQ(p.status, "submitted") << "hospital " << p.party;
    decrypted += p.decrypted ? 1 : 0;
    evaluated += p.val_metrics.empty() ? 0 : 1;
  }
  EXPECT_EQ(decrypted, 2u);
  EXPECT_EQ(evaluated, kHospitals);
  EXPECT_EQ(s->val_metrics.at("acc"), 0.5);
  // 3 updates + 2 shares + 3 evaluations, one answer per wait, plus one empty wait at most per phase.
  EXPECT_GE(net.waits, 8);
  EXPECT_TRUE(ledger->verify().ok);
}

}  // namespace
}  // namespace heal::fl
