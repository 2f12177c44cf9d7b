// No trust in the coordinator's sum (issue 16, "every quorum member recomputes the aggregate"): a
// coordinator that decrypts something other than the sum of the committed contributions. The attack:
// the ledger commits to hospitals 0, 1 and 2's contributions, but the coordinator swaps in its own
// encryption of a poisoned update for hospital 2 (made with a second copy of hospital 2's key
// material, as a simulated dealer could) and posts that sum's hash as the round's aggregate. The
// decryption shares never read c0, so without the check the quorum decrypts the poisoned sum and the
// federation adopts the coordinator's model; with the check each member recomputes the sum from
// the committed contributions and refuses.
#include <gtest/gtest.h>

#include "fl/fl_fixture.h"
#include "heal/fl/coordinator.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/hospital.h"
#include "heal/ledger/identity.h"

namespace heal::fl {
namespace {

using namespace std::chrono_literals;

// The coordinator's aggregator: the honest public side, except that aggregate() replaces hospital
// 2's contribution by `replacement` when one is set.
class SwappingAggregator final : public SecureAggregator {
 public:
  explicit SwappingAggregator(HeAggregator& inner) : inner_(inner) {}
  AggregatorSetupInfo setup_info() const override { return inner_.setup_info(); }
  Result<std::unique_ptr<AggregationParty>> party(PartyId p) override { return inner_.party(p); }
  Result<Bytes> aggregate(std::span<const Bytes> contributions, std::size_t length, std::uint64_t round) override {
    std::vector<Bytes> used(contributions.begin(), contributions.end());
    if (!replacement.empty()) {
      for (auto& c : used) {
        auto who = inner_.contributor(c, length, round);
        if (who.ok() && *who == std::optional<PartyId>(2)) c = replacement;
      }
    }
    return inner_.aggregate(used, length, round);
  }
  Result<std::optional<PartyId>> contributor(std::span<const std::uint8_t> c, std::size_t length,
                                             std::uint64_t round) const override {
    return inner_.contributor(c, length, round);
  }
  Status check_share(std::span<const std::uint8_t> share, PartyId p, std::size_t length,
                     std::uint64_t round) const override {
    return inner_.check_share(share, p, length, round);
  }
  double sum_bound(double w) const override { return inner_.sum_bound(w); }
  Result<std::vector<double>> finalize(std::span<const std::uint8_t> aggregate, std::span<const DecryptionShare> shares,
                                       std::size_t length, std::uint64_t round) override {
    return inner_.finalize(aggregate, shares, length, round);
  }
  Bytes replacement;  // empty: none

 private:
  HeAggregator& inner_;
};

struct Outcome {
  bool completed = false;
  std::string failure;
  std::vector<float> model;
  std::vector<std::string> refusals;  // per hospital status + reason
};

Outcome run_attack(bool hospitals_check) {
  constexpr std::size_t kHospitals = 3;
  const std::vector<std::vector<float>> updates = {{0.1f, 0.2f}, {0.3f, 0.4f}, {0.5f, 0.6f}};
  const std::vector<std::uint64_t> samples = {1, 1, 2};
  const std::vector<float> poisoned = {-3.0f, 3.0f};
  HeAggregatorConfig hc;
  hc.threshold = 2;
  hc.max_total_weight = 16;
  hc.seed = 5;
  HeAggregator honest(hc, kHospitals);
  auto ledger = testing::memory_ledger();
  InProcessTransport net;
  std::vector<std::unique_ptr<Hospital>> hospitals;
  std::vector<ledger::Participant> members;
  std::vector<const ledger::Signer*> cosigners;
  for (PartyId id = 0; id < kHospitals; ++id) {
    SeededRng key_rng(seed_from_u64(21), id);
    auto h = std::make_unique<Hospital>(id, "hospital-" + std::to_string(id),
                                        std::make_unique<testing::FixedUpdateTrainer>(updates[id], samples[id]),
                                        ledger::Ed25519Signer::from_rng(key_rng), *ledger, net,
                                        std::make_unique<SeededRng>(seed_from_u64(21), 100 + id));
    h->set_federation("heal-sim", 0, 0);
    h->set_aggregation_party(honest.party(id).value());
    if (hospitals_check) {
      h->set_aggregate_check([&honest](std::span<const Bytes> c, std::size_t length, std::uint64_t round) {
        return honest.aggregate(c, length, round);  // each hospital's own public side in a deployment
      });
    }
    ledger->add_local_signer(h->signer());
    members.push_back({id, ledger::Role::kHospital, h->name(), h->identity()});
    cosigners.push_back(&h->signer());
    hospitals.push_back(std::move(h));
  }
  net.set_delivery([&] {
    for (auto& h : hospitals) h->step();
  });
  auto swapping = std::make_unique<SwappingAggregator>(honest);
  {
    // The coordinator's own encryption of the poisoned update under hospital 2's key, for round 1.
    auto rogue = honest.party(2).value();
    SeededRng rng(seed_from_u64(99), 0);
    swapping->replacement = rogue->contribute(poisoned, static_cast<double>(samples[2]), 1, rng).value();
  }
  SeededRng coordinator_rng(seed_from_u64(21), kCoordinatorId);
  auto coordinator_signer = ledger::Ed25519Signer::from_rng(coordinator_rng);
  ledger->add_local_signer(*coordinator_signer);
  CoordinatorConfig cc;
  cc.response_timeout = 5s;
  cc.attach_contributions = hospitals_check;  // members without a check need the sum itself
  Coordinator coordinator(cc, members, std::move(swapping), std::move(coordinator_signer), *ledger, net,
                          std::vector<float>{0, 0});
  EXPECT_TRUE(coordinator.setup(cosigners).ok());
  auto s = coordinator.run_round();
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  Outcome o;
  if (!s.ok()) return o;
  o.completed = s->completed;
  o.failure = s->failure_reason;
  o.model = coordinator.global_model();
  for (const auto& p : s->parties) o.refusals.push_back(p.status + ": " + p.reason);
  EXPECT_TRUE(ledger->verify().ok);
  return o;
}

TEST(AggregateCheck, WithoutTheCheckTheCoordinatorsSwappedSumIsDecryptedAndAdopted) {
  const Outcome o = run_attack(/*hospitals_check=*/false);
  ASSERT_TRUE(o.completed) << o.failure;
  // FedAvg with hospital 2's update replaced: (1*{.1,.2} + 1*{.3,.4} + 2*{-3,3}) / 4.
  ASSERT_EQ(o.model.size(), 2u);
  EXPECT_NEAR(o.model[0], (0.1 + 0.3 - 6.0) / 4, 1e-3);
  EXPECT_NEAR(o.model[1], (0.2 + 0.4 + 6.0) / 4, 1e-3);
}

TEST(AggregateCheck, QuorumMembersRecomputeTheSumAndRefuseTheSwappedOne) {
  const Outcome o = run_attack(/*hospitals_check=*/true);
  EXPECT_FALSE(o.completed);
  EXPECT_NE(o.failure.find("decrypt"), std::string::npos) << o.failure;
  EXPECT_EQ(o.model, (std::vector<float>{0, 0}));  // the model stays
  // The round's failure names the members' reason.
  EXPECT_NE(o.failure.find("not the sum of the committed contributions"), std::string::npos) << o.failure;
}

TEST(AggregateCheck, AnHonestRoundPassesTheCheck) {
  // The same federation with an honest coordinator: every member's recomputed sum matches.
  constexpr std::size_t kHospitals = 3;
  HeAggregatorConfig hc;
  hc.threshold = 2;
  hc.max_total_weight = 16;
  hc.seed = 6;
  HeAggregator honest(hc, kHospitals);
  SwappingAggregator passthrough(honest);
  auto c0 = honest.party(0).value();
  auto c1 = honest.party(1).value();
  auto c2 = honest.party(2).value();
  SeededRng rng(seed_from_u64(3), 0);
  const std::vector<Bytes> cs = {c0->contribute(std::vector<float>{1, 2}, 1, 1, rng).value(),
                                 c1->contribute(std::vector<float>{3, 4}, 1, 1, rng).value(),
                                 c2->contribute(std::vector<float>{5, 6}, 1, 1, rng).value()};
  // Two independent public sides compute byte-identical aggregates (what a member compares).
  HeAggregator other(hc, kHospitals);
  EXPECT_EQ(blake2b_256(passthrough.aggregate(cs, 2, 1).value()), blake2b_256(other.aggregate(cs, 2, 1).value()));
}

}  // namespace
}  // namespace heal::fl
