// Federation with keygen = KeyGen::kDistributed: the dealer-free HE key setup runs over the transport, the
// coordinator holds only the public side, and two rounds train to the plaintext FedAvg model.
#include <gtest/gtest.h>

#include <cmath>

#include "fl/fl_fixture.h"
#include "heal/fl/federation.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/plain_aggregator.h"

namespace heal::fl {
namespace {

using namespace testing;

std::vector<std::unique_ptr<LocalTrainer>> trainers(std::size_t k) {
  const std::vector<float> w_star{1, -2, 0.5f, 3, -0.75f};
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (std::uint64_t i = 0; i < k; ++i) {
    t.push_back(std::make_unique<LinearRegressionTrainer>(w_star, 30 + 7 * i, 100 + i, 0.1f * static_cast<float>(i)));
  }
  return t;
}

FederationConfig config(KeyGen keygen) {
  FederationConfig cfg;
  cfg.federation_id = "keygen-test-federation";
  cfg.rounds = 2;
  cfg.min_contributors = 3;  // the HE floor (src/fl/README.md "Threshold rules")
  cfg.keygen = keygen;
  return cfg;
}

HeAggregatorConfig he_config() {
  HeAggregatorConfig c;
  c.threshold = 2;
  c.max_total_weight = 4096;
  return c;
}

TEST(FederationKeyGen, DistributedSetupTrainsTwoRoundsLikePlaintext) {
  auto ledger = memory_ledger();
  Federation fed(config(KeyGen::kDistributed), trainers(3), std::make_unique<HeAggregator>(he_config(), 3), *ledger,
                 std::vector<float>(5, 0.0f));
  // The key setup crossed the transport: box keys, public and sealed shares between hospitals.
  for (PartyId i = 0; i < 3; ++i) {
    for (PartyId j = 0; j < 3; ++j) {
      if (i != j) {
        EXPECT_EQ(fed.transport().link_counters(i, j).messages_up, 3u) << i << " -> " << j;
      }
    }
    EXPECT_EQ(fed.transport().link_counters(i, kCoordinatorId).messages_up, 1u);  // its public share
  }
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  ASSERT_EQ(rep->rounds.size(), 2u);
  for (const auto& r : rep->rounds) EXPECT_TRUE(r.completed) << r.round << ": " << r.failure_reason;
  EXPECT_TRUE(rep->ledger_verified);

  // The setup record holds the collective key the hospitals derived without a dealer: not the one
  // the simulated aggregator (passed in, config only) would have made from its seed.
  auto setup = ledger->current_setup();
  ASSERT_TRUE(setup.ok()) << setup.status().to_string();
  const HeAggregator simulated(he_config(), 3);
  EXPECT_NE(setup->collective_public_key_hash, simulated.setup_info().collective_public_key_hash);
  EXPECT_NE(setup->collective_public_key_hash, Digest{});
  EXPECT_EQ(setup->decryption_threshold, 2u);

  // The same federation in plaintext: the models agree up to the HE error.
  auto plain_ledger = memory_ledger();
  Federation plain(config(KeyGen::kSimulated), trainers(3), std::make_unique<PlainAggregator>(party_set(3)),
                   *plain_ledger, std::vector<float>(5, 0.0f));
  ASSERT_TRUE(plain.run().ok());
  ASSERT_EQ(fed.global_model().size(), plain.global_model().size());
  double max_diff = 0;
  for (std::size_t k = 0; k < fed.global_model().size(); ++k) {
    max_diff = std::max(max_diff, std::fabs(double{fed.global_model()[k]} - double{plain.global_model()[k]}));
  }
  EXPECT_LT(max_diff, 1e-4);
  EXPECT_GT(std::fabs(fed.global_model()[0]), 1e-3);  // it did train
}

TEST(FederationKeyGen, RejectsUnknownModeAndNonHeAggregator) {
  auto ledger = memory_ledger();
  EXPECT_THROW(Federation(config(static_cast<KeyGen>(7)), trainers(2), std::make_unique<PlainAggregator>(party_set(2)),
                          *ledger, std::vector<float>(5, 0.0f)),
               std::invalid_argument);
  auto ledger2 = memory_ledger();
  EXPECT_THROW(Federation(config(KeyGen::kDistributed), trainers(2), std::make_unique<PlainAggregator>(party_set(2)),
                          *ledger2, std::vector<float>(5, 0.0f)),
               std::invalid_argument);
}

}  // namespace
}  // namespace heal::fl
