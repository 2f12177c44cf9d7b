// HE aggregation at the size of the real model (hecnn, ~74k weights, 19 ciphertexts) with 5
// hospitals, a 3-of-5 quorum and several rounds: exactness, bytes, and the refusal to exceed the
// flooding budget of a key epoch.
#include <gtest/gtest.h>

#include <cmath>

#include "fl/fl_fixture.h"
#include "heal/fl/he_aggregator.h"

namespace heal::fl {
namespace {

TEST(HeAggregatorSlow, ModelSizedUpdatesFiveHospitalsThreeOfFive) {
  const std::size_t n = 74000;
  HeAggregatorConfig cfg;
  cfg.threshold = 3;
  cfg.max_total_weight = 8192;
  cfg.max_abs_update = 256;
  HeAggregator agg(cfg, 5);
  std::vector<std::unique_ptr<AggregationParty>> parties;
  for (PartyId p = 0; p < 5; ++p) parties.push_back(std::move(agg.party(p)).value());
  const double weights[] = {1500, 900, 700, 1200, 400};
  for (std::uint64_t round = 1; round <= 3; ++round) {
    std::vector<Bytes> contributions;
    std::vector<double> plain(n, 0.0);
    for (PartyId p = 0; p < 5; ++p) {
      if (round == 2 && p == 4) continue;  // offline this round
      SeededRng rng(seed_from_u64(round * 10 + p));
      std::vector<float> u(n);
      for (auto& x : u) x = static_cast<float>((rng.uniform_double() - 0.5) * 1e-3 * std::pow(10.0, 2 * rng.uniform_double()));
      auto c = parties[p]->contribute(u, weights[p], round, rng);
      ASSERT_TRUE(c.ok()) << c.status().to_string();
      EXPECT_LE(static_cast<double>(c->size()), 3.0 * 4.0 * static_cast<double>(n));
      contributions.push_back(*c);
      for (std::size_t k = 0; k < n; ++k) plain[k] += weights[p] * static_cast<double>(u[k]);
    }
    auto sum = agg.aggregate(contributions, n, round);
    ASSERT_TRUE(sum.ok());
    const std::vector<PartyId> quorum = round == 3 ? std::vector<PartyId>{1, 3, 4} : std::vector<PartyId>{0, 1, 2};
    std::vector<DecryptionShare> shares;
    for (PartyId q : quorum) {
      SeededRng rng(seed_from_u64(99 + q));
      std::vector<PartyId> set{0, 1, 2, 3};
      if (round != 2) set.push_back(4);
      auto s = parties[q]->decryption_share(*sum, quorum, set, round, rng);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      shares.push_back({q, *s});
    }
    auto dec = agg.finalize(*sum, shares, n, round);
    ASSERT_TRUE(dec.ok());
    double num = 0, den = 0;
    for (std::size_t k = 0; k < n; ++k) {
      num += ((*dec)[k] - plain[k]) * ((*dec)[k] - plain[k]);
      den += plain[k] * plain[k];
    }
    EXPECT_LE(std::sqrt(num / den), 1e-6) << "round " << round;
  }
}

TEST(HeAggregatorSlow, PartyRefusesBeyondTheFloodingBudget) {
  HeAggregatorConfig cfg;
  cfg.threshold = 2;
  cfg.max_decryptions = 5;  // ciphertext decryptions per key epoch
  cfg.max_total_weight = 64;
  HeAggregator agg(cfg, 3);
  auto p0 = std::move(agg.party(0)).value();
  auto p1 = std::move(agg.party(1)).value();
  auto p2 = std::move(agg.party(2)).value();
  const std::size_t n = 2 * 4096;  // 2 ciphertexts per round
  const PartyId quorum[] = {0, 1};
  const PartyId set[] = {0, 1, 2};
  int ok_rounds = 0;
  for (std::uint64_t round = 1; round <= 4; ++round) {
    SeededRng rng(seed_from_u64(round));
    std::vector<float> u(n, 0.25f);
    std::vector<Bytes> c{*p0->contribute(u, 1, round, rng), *p1->contribute(u, 1, round, rng),
                         *p2->contribute(u, 1, round, rng)};
    auto sum = agg.aggregate(c, n, round);
    ASSERT_TRUE(sum.ok());
    if (p0->decryption_share(*sum, quorum, set, round, rng).ok()) ++ok_rounds;
  }
  EXPECT_EQ(ok_rounds, 2);  // 2 + 2 ciphertexts fit in 5, a third round's 2 do not
}

}  // namespace
}  // namespace heal::fl
