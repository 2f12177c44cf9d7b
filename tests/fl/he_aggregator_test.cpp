// Threshold-CKKS secure aggregation (secure mode "he"): exactness against plaintext FedAvg,
// that no single party's key material decrypts an update, refusal rules, dropouts, bytes.
#include "heal/fl/he_aggregator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "fl/fl_fixture.h"

namespace heal::fl {
namespace {

using namespace testing;

struct Errors {
  double rel_l2 = 0;   // ||dec - plain||_2 / ||plain||_2
  double max_rel = 0;  // max |dec - plain| / max |plain|
};

Errors compare(const std::vector<double>& dec, const std::vector<double>& plain) {
  double num = 0, den = 0, max_err = 0, max_abs = 0;
  for (std::size_t i = 0; i < plain.size(); ++i) {
    num += (dec[i] - plain[i]) * (dec[i] - plain[i]);
    den += plain[i] * plain[i];
    max_err = std::max(max_err, std::fabs(dec[i] - plain[i]));
    max_abs = std::max(max_abs, std::fabs(plain[i]));
  }
  return {std::sqrt(num / den), max_err / max_abs};
}

// Updates with a realistic spread of magnitudes (1e-5 .. 1e-1).
std::vector<float> random_update(std::size_t n, std::uint64_t seed) {
  SeededRng rng(seed_from_u64(seed));
  std::vector<float> u(n);
  for (auto& x : u) {
    const double mag = std::pow(10.0, -5 + 4 * rng.uniform_double());
    x = static_cast<float>((rng.uniform_double() - 0.5) * 2 * mag);
  }
  return u;
}

struct Round {
  std::vector<Bytes> contributions;
  std::vector<double> plain;
};

Round contribute_all(HeAggregator& agg, std::vector<std::unique_ptr<AggregationParty>>& parties, std::size_t n,
                     std::uint64_t round, std::vector<std::size_t> who) {
  Round r;
  r.plain.assign(n, 0.0);
  const double weights[] = {1200, 800, 450, 999};
  for (std::size_t i : who) {
    const auto u = random_update(n, 100 * round + i);
    SeededRng rng(seed_from_u64(7 + i));
    auto c = parties[i]->contribute(u, weights[i], round, rng);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    r.contributions.push_back(*c);
    for (std::size_t k = 0; k < n; ++k) r.plain[k] += weights[i] * static_cast<double>(u[k]);
  }
  (void)agg;
  return r;
}

std::vector<std::unique_ptr<AggregationParty>> all_parties(HeAggregator& agg, std::size_t k) {
  std::vector<std::unique_ptr<AggregationParty>> out;
  for (std::size_t i = 0; i < k; ++i) out.push_back(std::move(agg.party(static_cast<PartyId>(i))).value());
  return out;
}

HeAggregatorConfig small_config(std::uint32_t t) {
  HeAggregatorConfig c;
  c.threshold = t;
  c.max_total_weight = 4096;
  return c;
}

TEST(HeAggregator, DecryptedAggregateEqualsPlainFedAvgSum) {
  const std::size_t n = 9000;  // 3 ciphertexts at N = 4096, last one partial
  HeAggregator agg(small_config(2), 3);
  auto parties = all_parties(agg, 3);
  auto r = contribute_all(agg, parties, n, 1, {0, 1, 2});
  auto sum = agg.aggregate(r.contributions, n, 1);
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  const PartyId quorum[] = {0, 2};
  std::vector<DecryptionShare> shares;
  for (PartyId q : quorum) {
    SeededRng rng(seed_from_u64(50 + q));
    const PartyId all[] = {0, 1, 2};
    auto s = parties[q]->decryption_share(*sum, quorum, all, 1, rng);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    shares.push_back({q, *s});
  }
  auto dec = agg.finalize(*sum, shares, n, 1);
  ASSERT_TRUE(dec.ok()) << dec.status().to_string();
  const Errors e = compare(*dec, r.plain);
  EXPECT_LE(e.rel_l2, 1e-6) << "max rel " << e.max_rel;
  EXPECT_LE(e.max_rel, 1e-6);
  // The budget predicted the error size (within a factor 4 either way; it is not trivially tiny).
  double se = 0;
  for (std::size_t i = 0; i < n; ++i) se += ((*dec)[i] - r.plain[i]) * ((*dec)[i] - r.plain[i]);
  const double rms = std::sqrt(se / static_cast<double>(n));
  EXPECT_GT(rms, agg.budget().abs_error_std / 4);
  EXPECT_LT(rms, agg.budget().abs_error_std * 4);
  // A wrong quorum's shares (shares made for {0, 2}, combined as if for another quorum) fail.
  std::vector<DecryptionShare> one{shares[0]};
  EXPECT_FALSE(agg.finalize(*sum, one, n, 1).ok());
}

TEST(HeAggregator, NoSinglePartysKeyMaterialDecryptsAnUpdate) {
  const std::size_t n = 4096;
  HeAggregator agg(small_config(2), 3);
  auto parties = all_parties(agg, 3);
  auto r = contribute_all(agg, parties, n, 1, {0, 1, 2});
  const auto u0 = random_update(n, 100);
  std::vector<double> plain0(n);
  for (std::size_t k = 0; k < n; ++k) plain0[k] = 1200 * static_cast<double>(u0[k]);
  // What a wrong key yields is uniform modulo Q: rms ~ Q / (sqrt(12) Delta), far above the data.
  const double uniform_rms = std::exp2(agg.budget().log_q - agg.budget().log_delta) / std::sqrt(12.0);
  auto expect_garbage = [&](const std::vector<double>& d, const std::vector<double>& truth, const char* what) {
    const Errors e = compare(d, truth);
    double ss = 0;
    for (double v : d) ss += v * v;
    const double rms = std::sqrt(ss / static_cast<double>(d.size()));
    EXPECT_GT(e.rel_l2, 1e3) << what;
    EXPECT_NEAR(rms / uniform_rms, 1.0, 0.1) << what;
  };
  // Party 0's contribution, decrypted with every key a single other party holds.
  for (PartyId other : {1u, 2u}) {
    auto d = agg.decrypt_with_for_testing(r.contributions[0], 1, n, 0, agg.secret_for_testing(other));
    ASSERT_TRUE(d.ok());
    expect_garbage(*d, plain0, "additive secret of another party");
    d = agg.decrypt_with_for_testing(r.contributions[0], 1, n, 0, agg.shamir_share_for_testing(other));
    ASSERT_TRUE(d.ok());
    expect_garbage(*d, plain0, "Shamir share of another party");
  }
  // Sanity: the owner's own secret does decrypt it (so the checks above are meaningful).
  auto own = agg.decrypt_with_for_testing(r.contributions[0], 1, n, 0, agg.secret_for_testing(0));
  ASSERT_TRUE(own.ok());
  EXPECT_LE(compare(*own, plain0).rel_l2, 1e-9);
  // The aggregate under one party's key share: garbage too.
  auto sum = agg.aggregate(r.contributions, n, 1);
  ASSERT_TRUE(sum.ok());
  for (PartyId p : {0u, 1u, 2u}) {
    auto d = agg.decrypt_with_for_testing(*sum, 1, n, 0, agg.shamir_share_for_testing(p));
    ASSERT_TRUE(d.ok());
    expect_garbage(*d, r.plain, "aggregate under one Shamir share");
  }
}

TEST(HeAggregator, QuorumRefusesSingleContributionsAndSecondSets) {
  const std::size_t n = 100;
  HeAggregator agg(small_config(2), 3);
  auto parties = all_parties(agg, 3);
  auto r = contribute_all(agg, parties, n, 1, {0, 1, 2});
  const PartyId quorum[] = {1, 2};
  SeededRng rng(seed_from_u64(3));
  // An "aggregate" of party 0's contribution alone, or of two contributions (either contributor
  // would read the other's update from the sum): no quorum member decrypts it, even when the
  // contributor set it is asked for matches.
  const PartyId set0[] = {0}, set01[] = {0, 1}, set012[] = {0, 1, 2};
  auto alone = agg.aggregate(std::span<const Bytes>(r.contributions.data(), 1), n, 1);
  ASSERT_TRUE(alone.ok());
  EXPECT_FALSE(parties[1]->decryption_share(*alone, quorum, set0, 1, rng).ok());
  auto two = agg.aggregate(std::span<const Bytes>(r.contributions.data(), 2), n, 1);
  ASSERT_TRUE(two.ok());
  auto refused = parties[1]->decryption_share(*two, quorum, set01, 1, rng);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("2 contributor(s)"), std::string::npos) << refused.status().to_string();
  // The subset trick: the ledger lists {0, 1, 2}, the aggregate holds {0, 1}: refused for the mismatch.
  refused = parties[1]->decryption_share(*two, quorum, set012, 1, rng);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("differ from the round's contributor set"), std::string::npos)
      << refused.status().to_string();
  auto all = agg.aggregate(r.contributions, n, 1);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(parties[1]->decryption_share(*all, quorum, set01, 1, rng).ok());  // listed {0, 1}, holds {0, 1, 2}
  EXPECT_TRUE(parties[1]->decryption_share(*all, quorum, set012, 1, rng).ok());
  // A party never encrypts twice under the same round's public polynomials.
  const std::vector<float> u(n, 0.5f);
  EXPECT_FALSE(parties[0]->contribute(u, 1, 1, rng).ok());
  EXPECT_TRUE(parties[0]->contribute(u, 1, 2, rng).ok());
  // Out-of-bound inputs are refused, not wrapped around.
  const std::vector<float> big(n, 1000.0f);
  EXPECT_FALSE(parties[1]->contribute(big, 1, 3, rng).ok());
}

// The flooding noise is sized from what each party knows (B_ct = parties * 6 sigma, derived, not
// configured) and its precision is checked at setup and before each share.
TEST(HeAggregator, FloodingBoundIsDerivedAndPrecisionChecked) {
  HeAggregator agg(small_config(2), 3);
  EXPECT_DOUBLE_EQ(agg.budget().fresh_noise_bound, 3 * 6 * 3.2);
  HeAggregatorConfig c = small_config(2);
  c.min_precision_bits = 40;  // more than the flooding leaves at this scale
  try {
    HeAggregator bad(c, 3);
    ADD_FAILURE() << "a configuration whose flooding swamps the requested precision was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bits of precision"), std::string::npos) << e.what();
  }
}

TEST(HeAggregator, CorruptInputsAreRejected) {
  const std::size_t n = 100;
  HeAggregator agg(small_config(2), 3);
  auto parties = all_parties(agg, 3);
  auto r = contribute_all(agg, parties, n, 1, {0, 1});
  EXPECT_FALSE(agg.aggregate(r.contributions, n, 2).ok());      // wrong round
  EXPECT_FALSE(agg.aggregate(r.contributions, n + 1, 1).ok());  // wrong length
  Bytes cut(r.contributions[0].begin(), r.contributions[0].begin() + 200);
  EXPECT_FALSE(agg.aggregate(std::vector<Bytes>{cut}, n, 1).ok());
  Bytes flipped = r.contributions[0];
  flipped[60] ^= 0x10;  // inside the parameter hash
  EXPECT_FALSE(agg.aggregate(std::vector<Bytes>{flipped}, n, 1).ok());
  std::vector<Bytes> dup{r.contributions[0], r.contributions[0]};
  EXPECT_FALSE(agg.aggregate(dup, n, 1).ok());
}

// Issue 16: contributions (c0) and decryption shares travel without their k low bits (ckks
// compact forms), k derived from the budget: at most 2x float32 each, for a negligible error.
TEST(HeAggregator, UploadAndSharesAreAtMostTwiceFloat32) {
  HeAggregatorConfig c = small_config(2);
  HeAggregator agg(c, 3);
  auto parties = all_parties(agg, 3);
  const std::size_t n = 4 * 4096;
  std::vector<Bytes> contributions;
  for (PartyId p = 0; p < 3; ++p) {
    SeededRng rng(seed_from_u64(1 + p));
    auto bytes = parties[p]->contribute(random_update(n, 1 + p), 10, 1, rng);
    ASSERT_TRUE(bytes.ok());
    contributions.push_back(*bytes);
  }
  const double ratio = static_cast<double>(contributions[0].size()) / (4.0 * static_cast<double>(n));
  EXPECT_LE(ratio, 2.0);
  EXPECT_EQ(contributions[0].size(), agg.contribution_bytes(n));
  const HeBudget& b = agg.budget();
  // Bit-packed rounded c0 only: ceil(log2 Q) - k (+ 1) bits per weight, plus small headers.
  EXPECT_NEAR(ratio, b.upload_ratio, 0.01);
  EXPECT_GE(b.drop_bits, 20);
  EXPECT_GE(b.upload_ratio * 32, 86.0 - b.drop_bits);
  EXPECT_LE(b.upload_ratio * 32, 87.0 - b.drop_bits);
  auto sum = agg.aggregate(contributions, n, 1);
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  const PartyId quorum[] = {0, 1}, all[] = {0, 1, 2};
  SeededRng rng(seed_from_u64(9));
  auto share = parties[0]->decryption_share(*sum, quorum, all, 1, rng);
  ASSERT_TRUE(share.ok()) << share.status().to_string();
  const double share_ratio = static_cast<double>(share->size()) / (4.0 * static_cast<double>(n));
  EXPECT_LE(share_ratio, 2.0);
  EXPECT_NEAR(share_ratio, b.share_ratio, 0.01);
  // The rounding stays below 1/16 of the noise std, so the predicted error grows by < 0.2%.
  EXPECT_GT(b.rounding_std, 0);
  EXPECT_LE(b.rounding_std, b.abs_error_std_unrounded / 16);
  EXPECT_NEAR(b.abs_error_std, std::hypot(b.abs_error_std_unrounded, b.rounding_std), 1e-18);
  EXPECT_LE(b.abs_error_std, b.abs_error_std_unrounded * std::sqrt(1.0 + 1.0 / 256));
  std::printf("[ he ] drop %d bits: contribution %.3fx, share %.3fx float32; error std %.4g -> %.4g\n", b.drop_bits,
              ratio, share_ratio, b.abs_error_std_unrounded, b.abs_error_std);
}

TEST(HeAggregator, VersionTwoRoundMessagesAreRefused) {
  HeAggregator agg(small_config(2), 3);
  auto parties = all_parties(agg, 3);
  SeededRng rng(seed_from_u64(3));
  auto bytes = parties[0]->contribute(random_update(100, 1), 10, 1, rng);
  ASSERT_TRUE(bytes.ok());
  Bytes old = *bytes;
  ASSERT_EQ(old[4], 3);  // u16 version after the 4-byte magic
  old[4] = 2;            // an uncompressed (version 2) round message
  auto r = agg.aggregate(std::vector<Bytes>{old}, 100, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version 2"), std::string::npos) << r.status().to_string();
  EXPECT_FALSE(agg.contributor(old, 100, 1).ok());
}

// Issue 14: the default preset sat at log QP = 107.98 (N = 2^12), between the 2024 bound of 106
// (ePrint 2024/463 Table 5.2) and the 2018 one of 109. Re-planned to Q = 43 + 43, P = 20.
TEST(HeAggregator, DefaultPresetMeetsThe2024SecurityTable) {
  HeAggregator agg(HeAggregatorConfig{}, 3);
  const auto& ctx = agg.context();
  EXPECT_EQ(ctx->log_n(), 12);
  EXPECT_LE(ctx->log_qp(), 106.0);
  EXPECT_TRUE(ctx->meets_security_bound());
  EXPECT_NEAR(agg.budget().log_q, 86.0, 0.01);
  const std::size_t hecnn_weights = 87224;  // PneumoniaMNIST hecnn, src/fl/README.md
  const std::size_t bytes = agg.contribution_bytes(hecnn_weights);
  // Issue 16 acceptance: the encrypted update is at most 2x its float32 size.
  EXPECT_LE(bytes, 2 * 4 * hecnn_weights);
  const HeBudget& b = agg.budget();
  std::printf(
      "[ he ] default preset: %s; log2 Delta = %.0f, drop %d bits, abs error std %.4g (unrounded %.4g); hecnn upload "
      "%.1f KiB = %.3fx float32, shares %.3fx\n",
      ctx->describe().c_str(), b.log_delta, b.drop_bits, b.abs_error_std, b.abs_error_std_unrounded,
      static_cast<double>(bytes) / 1024.0, static_cast<double>(bytes) / (4.0 * static_cast<double>(hecnn_weights)),
      b.share_ratio);
}

TEST(HeAggregator, FederationWithDropoutsMatchesPlainFedAvg) {
  const std::vector<float> w_star{1, -2, 0.5f, 3};
  auto trainers = [&] {
    std::vector<std::unique_ptr<LocalTrainer>> t;
    for (std::uint64_t i = 0; i < 4; ++i) {
      t.push_back(std::make_unique<LinearRegressionTrainer>(w_star, 40 + 10 * i, i));
    }
    return t;
  };
  FederationConfig cfg;
  cfg.rounds = 3;
  cfg.min_contributors = 3;  // the HE floor: max(3, colluders tolerated + 2)
  // Hospital 3 is offline in round 1; hospital 0 crashes after submitting in round 2 (cannot decrypt).
  cfg.dropouts = {{3, 1, DropPhase::kBeforeBroadcast, 1}, {0, 2, DropPhase::kAfterSubmit, 1}};
  auto plain_ledger = memory_ledger();
  Federation plain(cfg, trainers(), std::make_unique<PlainAggregator>(party_set(4)), *plain_ledger, {0, 0, 0, 0});
  auto prep = plain.run();
  ASSERT_TRUE(prep.ok()) << prep.status().to_string();
  auto he_ledger = memory_ledger();
  HeAggregatorConfig hc = small_config(3);  // t = 3 of 4 (> n/2)
  hc.colluders_tolerated = 1;               // so 3 contributions suffice (default t - 1 = 2 would need 4)
  Federation he(cfg, trainers(), std::make_unique<HeAggregator>(hc, 4), *he_ledger, {0, 0, 0, 0});
  auto hrep = he.run();
  ASSERT_TRUE(hrep.ok()) << hrep.status().to_string();
  ASSERT_EQ(hrep->rounds.size(), 3u);
  for (const auto& r : hrep->rounds) EXPECT_TRUE(r.completed) << r.round << ": " << r.failure_reason;
  EXPECT_EQ(hrep->rounds[0].contributors, 3u);
  EXPECT_EQ(hrep->rounds[1].contributors, 4u);  // 0 is in the sum though it cannot decrypt
  EXPECT_EQ(hrep->secure_mode, "threshold-ckks");
  EXPECT_TRUE(hrep->ledger_verified);
  for (std::size_t j = 0; j < w_star.size(); ++j) EXPECT_NEAR(he.global_model()[j], plain.global_model()[j], 1e-5);
  // Bytes: the HE upload per hospital exceeds the plain float64 one only by headers and padding.
  EXPECT_GT(hrep->rounds[2].bytes_up, 0u);
}

// Threshold rules (src/fl/README.md): t >= 2 always; t > n/2 unless explicitly opted in; sums over
// at least max(3, colluders tolerated + 2) contributions; colluders tolerated <= t - 1.
TEST(HeAggregator, ThresholdRules) {
  auto refused = [](HeAggregatorConfig c, std::size_t n, const char* why) {
    try {
      HeAggregator agg(c, n);
      ADD_FAILURE() << "accepted: t = " << c.threshold << ", n = " << n;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  refused(small_config(1), 3, "t must be >= 2");
  refused(small_config(2), 4, "t must exceed n/2");
  refused(small_config(3), 6, "t must exceed n/2");
  refused(small_config(5), 4, "exceeds the 4 parties");
  refused(small_config(2), 2, "only 2 parties");  // HE needs 3 contributors per sum
  refused(small_config(4), 4, "only 4 parties");  // colluders 3 would need 5 contributions
  HeAggregatorConfig low = small_config(2);
  low.min_aggregate_parties = 2;
  refused(low, 3, "min_aggregate_parties 2 is below 3");
  HeAggregatorConfig many = small_config(2);
  many.colluders_tolerated = 2;
  refused(many, 3, "exceeds t - 1");
  HeAggregatorConfig opt = small_config(1);
  opt.allow_non_majority_threshold = true;  // the opt-in never lifts t >= 2
  refused(opt, 4, "t must be >= 2");
  // Accepted: the default (a majority), the opt-in, an explicit colluder bound.
  HeAggregator def(small_config(0), 5);
  EXPECT_EQ(def.threshold(), 3u);
  EXPECT_EQ(def.colluders_tolerated(), 2u);
  EXPECT_EQ(def.min_aggregate_parties(), 4u);
  EXPECT_EQ(def.setup_info().min_contributors, 4u);
  opt.threshold = 2;
  HeAggregator weak(opt, 4);
  EXPECT_EQ(weak.min_aggregate_parties(), 3u);
  HeAggregatorConfig all = small_config(4);
  all.colluders_tolerated = 2;
  HeAggregator n_of_n(all, 4);
  EXPECT_EQ(n_of_n.min_aggregate_parties(), 4u);
  // The coordinator refuses a round quorum below the aggregator's floor.
  auto ledger = memory_ledger();
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (int i = 0; i < 5; ++i) t.push_back(std::make_unique<FixedUpdateTrainer>(std::vector<float>{1, 1}, 1));
  FederationConfig cfg;
  cfg.min_contributors = 3;
  EXPECT_THROW(Federation(cfg, std::move(t), std::make_unique<HeAggregator>(small_config(0), 5), *ledger, {0, 0}),
               std::invalid_argument);
}

TEST(HeAggregator, ContributorLabelAndSumBound) {
  HeAggregator agg(small_config(2), 3);
  auto parties = all_parties(agg, 3);
  auto r = contribute_all(agg, parties, 10, 1, {0, 1, 2});
  for (PartyId p = 0; p < 3; ++p) {
    auto id = agg.contributor(r.contributions[p], 10, 1);
    ASSERT_TRUE(id.ok() && id->has_value()) << id.status().to_string();
    EXPECT_EQ(**id, p);
  }
  EXPECT_FALSE(agg.contributor(r.contributions[0], 10, 2).ok());  // another round
  // W * U plus the noise bound (which is tiny next to it).
  EXPECT_GE(agg.sum_bound(100), 100 * 64.0);
  EXPECT_LT(agg.sum_bound(100), 100 * 64.0 + 1);
}

}  // namespace
}  // namespace heal::fl
