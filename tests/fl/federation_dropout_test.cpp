// Dropouts: a hospital that fails must not stall the federation (src/fl/README.md, "Dropouts").
#include <gtest/gtest.h>

#include "fl/fl_fixture.h"

namespace heal::fl {
namespace {

using namespace testing;

std::vector<std::unique_ptr<LocalTrainer>> ones(std::size_t k) {
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (std::size_t i = 0; i < k; ++i) {
    t.push_back(std::make_unique<FixedUpdateTrainer>(std::vector<float>{static_cast<float>(i + 1)}, 1));
  }
  return t;
}

const PartyRoundStats& party(const RoundStats& r, PartyId id) {
  for (const auto& p : r.parties) {
    if (p.party == id) return p;
  }
  throw std::runtime_error("no such party");
}

TEST(FederationDropout, RoundCompletesWithTheQuorumAndTheHospitalComesBack) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 3;
  cfg.min_contributors = 2;
  cfg.dropouts = {{1, 2, DropPhase::kBeforeBroadcast, 1}};
  Federation fed(cfg, ones(3), std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0});
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  ASSERT_EQ(rep->rounds.size(), 3u);
  EXPECT_TRUE(rep->rounds[1].completed);
  EXPECT_EQ(rep->rounds[1].contributors, 2u);
  EXPECT_EQ(party(rep->rounds[1], 1).status, "offline");
  EXPECT_EQ(party(rep->rounds[1], 1).bytes_down, 0u);
  EXPECT_TRUE(rep->rounds[2].completed);
  EXPECT_EQ(rep->rounds[2].contributors, 3u);  // back in round 3
  // Round 2 averaged hospitals 0 and 2 only: (1 + 3) / 2.
  EXPECT_FLOAT_EQ(fed.global_model()[0], 2.0f + 2.0f + 2.0f);
  auto results = round_results(*ledger);
  EXPECT_EQ(results[1].contributions.size(), 2u);
  EXPECT_TRUE(rep->ledger_verified);
}

TEST(FederationDropout, RoundBelowQuorumFailsCleanlyAndTheNextRoundProceeds) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 3;  // min_contributors = all 3
  cfg.dropouts = {{2, 2, DropPhase::kBeforeBroadcast, 1}};
  Federation fed(cfg, ones(3), std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0});
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  EXPECT_TRUE(rep->rounds[0].completed);
  EXPECT_FALSE(rep->rounds[1].completed);
  EXPECT_NE(rep->rounds[1].failure_reason.find("2 of the 3"), std::string::npos) << rep->rounds[1].failure_reason;
  EXPECT_EQ(rep->rounds[1].model_version, 1u);  // unchanged
  EXPECT_TRUE(rep->rounds[2].completed);
  EXPECT_EQ(rep->rounds[2].model_version, 2u);
  EXPECT_FLOAT_EQ(fed.global_model()[0], 4.0f);  // two completed rounds of mean 2
  auto results = round_results(*ledger);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[1].status, ledger::RoundStatus::kFailed);
  EXPECT_TRUE(rep->ledger_verified);
}

TEST(FederationDropout, TrainerCrashIsADropoutNotAnError) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 2;
  cfg.min_contributors = 2;
  auto trainers = ones(3);
  dynamic_cast<FixedUpdateTrainer&>(*trainers[0]).fail_rounds = {1};
  Federation fed(cfg, std::move(trainers), std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0});
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->rounds[0].completed);
  EXPECT_EQ(rep->rounds[0].contributors, 2u);
  EXPECT_EQ(party(rep->rounds[0], 0).status, "failed");
  EXPECT_NE(party(rep->rounds[0], 0).reason.find("simulated crash"), std::string::npos);
  EXPECT_EQ(rep->rounds[1].contributors, 3u);
}

TEST(FederationDropout, ThresholdDecryptionToleratesDropoutsAfterSubmitUpToNMinusT) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 3;
  cfg.min_contributors = 3;
  // Round 1: hospital 3 submits, then crashes: 3 of 4 key holders remain, t = 3 -> completes.
  // Round 2: hospital 3 is back, hospitals 2 and 3 crash after submitting: 2 < t -> fails.
  cfg.dropouts = {{3, 1, DropPhase::kAfterSubmit, 1}, {2, 2, DropPhase::kAfterSubmit, 1}, {3, 2, DropPhase::kAfterSubmit, 1}};
  auto agg = std::make_unique<FakeThresholdAggregator>(party_set(4), 3);
  Federation fed(cfg, ones(4), std::move(agg), *ledger, {0});
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  EXPECT_TRUE(rep->rounds[0].completed) << rep->rounds[0].failure_reason;
  EXPECT_EQ(rep->rounds[0].contributors, 4u);  // its update still counts
  EXPECT_FALSE(party(rep->rounds[0], 3).decrypted);
  EXPECT_FLOAT_EQ(fed.global_model()[0], 2.5f + 2.5f);  // rounds 1 and 3: mean of 1..4
  EXPECT_FALSE(rep->rounds[1].completed);
  EXPECT_NE(rep->rounds[1].failure_reason.find("decryption shares"), std::string::npos);
  EXPECT_TRUE(rep->rounds[2].completed);
  auto results = round_results(*ledger);
  EXPECT_EQ(results[0].decryptors, (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_TRUE(rep->ledger_verified);
  auto setup = ledger->current_setup();
  EXPECT_EQ(setup->decryption_threshold, 3u);
  EXPECT_EQ(setup->secure_mode, "fake-threshold");
}

TEST(FederationDropout, UnresponsiveQuorumMemberIsReplaced) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.min_contributors = 4;
  cfg.dropouts = {{0, 1, DropPhase::kAfterSubmit, 1}};
  auto agg = std::make_unique<FakeThresholdAggregator>(party_set(4), 2);
  Federation fed(cfg, ones(4), std::move(agg), *ledger, {0});
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->completed) << r->failure_reason;
  auto results = round_results(*ledger);
  // The first quorum {0, 1} lost hospital 0; hospital 1 re-shared the same aggregate for {1, 2}.
  EXPECT_EQ(results[0].decryptors, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(results[0].contributions.size(), 4u);
}

TEST(FederationDropout, PermanentDropoutKeepsTheFederationGoing) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 4;
  cfg.min_contributors = 2;
  cfg.dropouts = {{0, 2, DropPhase::kBeforeBroadcast, 0}};
  Federation fed(cfg, ones(3), std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0});
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok());
  for (std::size_t r = 1; r < 4; ++r) {
    EXPECT_TRUE(rep->rounds[r].completed);
    EXPECT_EQ(rep->rounds[r].contributors, 2u);
  }
}

}  // namespace
}  // namespace heal::fl
