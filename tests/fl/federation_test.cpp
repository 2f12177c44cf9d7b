#include "heal/fl/federation.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fl/fl_fixture.h"

namespace heal::fl {
namespace {

using namespace testing;

std::vector<std::unique_ptr<LocalTrainer>> fixed_trainers(const std::vector<std::vector<float>>& updates,
                                                          const std::vector<std::uint64_t>& samples) {
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (std::size_t i = 0; i < updates.size(); ++i) t.push_back(std::make_unique<FixedUpdateTrainer>(updates[i], samples[i]));
  return t;
}

TEST(Federation, FedAvgIsExactlyTheSampleWeightedMean) {
  // Dyadic values: every product and sum is exact in binary floating point, so equality is exact.
  const std::vector<std::vector<float>> u{{1.0f, -2.0f, 0.5f}, {0.25f, 4.0f, -1.0f}, {-3.0f, 0.0f, 2.0f}};
  const std::vector<std::uint64_t> n{1, 3, 4};
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 2;
  const std::vector<float> x0{10.0f, 20.0f, 30.0f};
  Federation fed(cfg, fixed_trainers(u, n), std::make_unique<PlainAggregator>(party_set(3)), *ledger, x0);
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(r->completed) << r->failure_reason;
  std::vector<float> want(3);
  for (std::size_t j = 0; j < 3; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < 3; ++i) s += static_cast<double>(n[i]) * u[i][j];
    want[j] = static_cast<float>(x0[j] + s / 8.0);
  }
  EXPECT_EQ(fed.global_model(), want);
  EXPECT_EQ(want, (std::vector<float>{8.71875f, 21.25f, 30.6875f}));  // by hand
  EXPECT_EQ(fed.model_version(), 1u);
  EXPECT_EQ(r->contributors, 3u);
  EXPECT_DOUBLE_EQ(r->train_loss, 1.0);
}

TEST(Federation, LedgerRecordsEveryRoundAndVerifies) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 3;
  cfg.clip_norm = 100;
  Federation fed(cfg, fixed_trainers({{1, 2}, {3, 4}, {5, 6}}, {2, 2, 4}),
                 std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0, 0});
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  EXPECT_TRUE(rep->ledger_verified);
  auto counts = record_counts(*ledger);
  EXPECT_EQ(counts[ledger::RecordType::kRoundSetup], 1);
  EXPECT_EQ(counts[ledger::RecordType::kUpdateCommitment], 9);
  EXPECT_EQ(counts[ledger::RecordType::kRoundResult], 3);
  EXPECT_EQ(counts[ledger::RecordType::kModelVersion], 4);
  EXPECT_EQ(counts[ledger::RecordType::kRoundOpen], 3);
  EXPECT_EQ(counts[ledger::RecordType::kContributorSet], 3);
  auto results = round_results(*ledger);
  ASSERT_EQ(results.size(), 3u);
  for (std::size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(results[r].round, r + 1);
    EXPECT_EQ(results[r].contributions.size(), 3u);
    EXPECT_EQ(results[r].clip_norm, 100);
    EXPECT_EQ(results[r].strategy, "fedavg(lr=1)");
    EXPECT_NE(results[r].aggregate_hash, Digest{});
    EXPECT_EQ(results[r].model_version_out, r + 1);
  }
  EXPECT_EQ(results[2].model_hash_out, model_hash(fed.global_model()));
  EXPECT_TRUE(ledger->check_model(3, model_hash(fed.global_model())).ok());
  auto setup = ledger->current_setup();
  ASSERT_TRUE(setup.ok());
  EXPECT_EQ(setup->secure_mode, "none");
  EXPECT_EQ(setup->participants.size(), 4u);
  EXPECT_EQ(setup->min_contributors, 3u);
  EXPECT_EQ(setup->clip_norm, 100);
  // The report is JSON with per-hospital traffic.
  auto j = nlohmann::json::parse(rep->to_json());
  EXPECT_EQ(j["rounds"].size(), 3u);
  EXPECT_EQ(j["secure_mode"], "none");
  for (const auto& p : j["rounds"][0]["parties"]) {
    EXPECT_GT(p["bytes_up"].get<std::uint64_t>(), 0u);
    // Model message: format version u8 + version u64 + count u64 + 2 floats, plus the envelope.
    EXPECT_EQ(p["bytes_down"].get<std::uint64_t>(), 1u + 8 + 8 + 2 * 4 + InProcessTransport::kEnvelopeBytes);
  }
}

TEST(Federation, ClippingBoundsEachUpdateBeforeAveraging) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.clip_norm = 1.0;
  // Hospital 0's update has norm 5 and is scaled to (0.6, 0.8); hospital 1's (norm 0.5) is kept.
  Federation fed(cfg, fixed_trainers({{3, 4}, {0.3f, 0.4f}}, {1, 1}), std::make_unique<PlainAggregator>(party_set(2)),
                 *ledger, {0, 0});
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok() && r->completed);
  EXPECT_NEAR(fed.global_model()[0], (0.6 + 0.3) / 2, 1e-6);
  EXPECT_NEAR(fed.global_model()[1], (0.8 + 0.4) / 2, 1e-6);
  EXPECT_EQ(r->clipped, 1u);
  EXPECT_NEAR(r->update_norm_mean, (5.0 + 0.5) / 2, 1e-6);
}

TEST(Federation, FedProxPassesMuToTrainers) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.strategy.name = "fedprox";
  cfg.strategy.proximal_mu = 0.25;
  Federation fed(cfg, fixed_trainers({{1}, {1}}, {1, 1}), std::make_unique<PlainAggregator>(party_set(2)), *ledger, {0});
  ASSERT_TRUE(fed.run_round().ok());
  EXPECT_EQ(dynamic_cast<FixedUpdateTrainer&>(fed.hospital(0).trainer()).last_mu, 0.25);
}

class FederationConverges : public ::testing::TestWithParam<const char*> {};

TEST_P(FederationConverges, OnNonIidLinearRegression) {
  const std::vector<float> w_star{1.0f, -2.0f, 0.5f, 3.0f};
  std::vector<std::unique_ptr<LocalTrainer>> trainers;
  const std::size_t sizes[] = {20, 60, 120};
  for (std::size_t i = 0; i < 3; ++i) {
    trainers.push_back(std::make_unique<LinearRegressionTrainer>(w_star, sizes[i], 7 + i, 0.3f * static_cast<float>(i)));
  }
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 25;
  cfg.strategy.name = GetParam();
  if (cfg.strategy.name == "fedadam" || cfg.strategy.name == "fedyogi") {
    // Adaptive server steps are ~lr per coordinate per round and momentum overshoots: more rounds.
    cfg.strategy.server_lr = 0.1;
    cfg.rounds = 80;
  }
  Federation fed(cfg, std::move(trainers), std::make_unique<PlainAggregator>(party_set(3)), *ledger,
                 std::vector<float>(4, 0.0f));
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  const double first = rep->rounds.front().val_metrics.at("loss");
  const double last = rep->rounds.back().val_metrics.at("loss");
  EXPECT_LT(last, first * 0.05) << GetParam() << ": " << first << " -> " << last;
  for (std::size_t j = 0; j < 4; ++j) EXPECT_NEAR(fed.global_model()[j], w_star[j], 0.05) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Strategies, FederationConverges, ::testing::Values("fedavg", "fedprox", "fedadam", "fedyogi"));

TEST(Federation, RejectsInconsistentConfiguration) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.min_contributors = 3;
  EXPECT_THROW(Federation(cfg, fixed_trainers({{1}, {1}}, {1, 1}), std::make_unique<PlainAggregator>(party_set(2)),
                          *ledger, {0}),
               std::invalid_argument);
  cfg = {};
  EXPECT_THROW(Federation(cfg, fixed_trainers({{1}, {1}}, {1, 1}), std::make_unique<PlainAggregator>(party_set(2)),
                          *ledger, {0, 0}),
               std::invalid_argument);
  EXPECT_THROW(Federation(cfg, {}, std::make_unique<PlainAggregator>(party_set(2)), *ledger, {0}), std::invalid_argument);
  // A non-empty ledger is refused at setup.
  Federation a(cfg, fixed_trainers({{1}}, {1}), std::make_unique<PlainAggregator>(party_set(1)), *ledger, {0});
  ASSERT_TRUE(a.setup().ok());
  Federation b(cfg, fixed_trainers({{1}}, {1}), std::make_unique<PlainAggregator>(party_set(1)), *ledger, {0});
  EXPECT_EQ(b.setup().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace heal::fl
