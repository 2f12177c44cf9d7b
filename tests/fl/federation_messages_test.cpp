// What hospitals report travels in their messages (src/fl/messages.h): versioned, validated
// payloads; refusals carry a reason code; an exhausted flooding budget is named as such.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fl/fl_fixture.h"
#include "fl/messages.h"
#include "heal/fl/federation.h"
#include "heal/fl/he_aggregator.h"

namespace heal::fl {
namespace {

using namespace testing;
using namespace internal;

TEST(FlMessages, RefusalAndShareRoundTrip) {
  const RefusalMsg r{RefusalCode::kFloodingBudgetExhausted, "budget spent", 4096, 1.5, 0.25};
  auto d = decode_refusal(encode_refusal(r));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->code, r.code);
  EXPECT_EQ(d->reason, r.reason);
  EXPECT_EQ(d->budget, 4096u);
  EXPECT_EQ(d->train_seconds, 1.5);
  EXPECT_EQ(d->encrypt_seconds, 0.25);
  EXPECT_EQ(refusal_status(RefusalCode::kTrainingFailed), "failed");
  EXPECT_EQ(refusal_status(RefusalCode::kStaleModel), "refused");
  auto s = decode_share(encode_share({0.5, Bytes{1, 2, 3}}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->decrypt_seconds, 0.5);
  EXPECT_EQ(s->share, (Bytes{1, 2, 3}));
}

TEST(FlMessages, UpdateCarriesTheHospitalsStatistics) {
  UpdateMsg u;
  u.num_samples = 17;
  u.metrics = {{"loss", 0.5}};
  u.stats = {2.0, 0.75, 3.25, true};
  u.contribution = Bytes(5, 9);
  auto d = decode_update(encode_update(u));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->num_samples, 17u);
  EXPECT_EQ(d->stats.train_seconds, 2.0);
  EXPECT_EQ(d->stats.encrypt_seconds, 0.75);
  EXPECT_EQ(d->stats.norm_before_clip, 3.25);
  EXPECT_TRUE(d->stats.clipped);
}

TEST(FlMessages, DecodersRefuseOtherVersionsAndBadValuesWithAClearError) {
  Bytes b = encode_refusal({RefusalCode::kStaleModel, "old", 0, 0, 0});
  b[0] = 9;
  auto r = decode_refusal(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("format version 9"), std::string::npos) << r.status().message();
  EXPECT_FALSE(decode_model({}).ok());
  b = encode_refusal({RefusalCode::kStaleModel, "old", 0, 0, 0});
  b[1] = 200;  // unknown code
  r = decode_refusal(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown refusal code 200"), std::string::npos) << r.status().message();
  auto s = decode_share(encode_share({-1.0, Bytes{1}}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("decrypt seconds"), std::string::npos) << s.status().message();
  UpdateMsg u;
  u.num_samples = 1;
  u.stats.norm_before_clip = std::numeric_limits<double>::quiet_NaN();
  auto d = decode_update(encode_update(u));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("pre-clip norm"), std::string::npos) << d.status().message();
  Bytes trailing = encode_share({0, Bytes{}});
  trailing.push_back(0);
  EXPECT_FALSE(decode_share(trailing).ok());
}

TEST(FlMessages, CoordinatorReportsWhatTheHospitalsSent) {
  // A refusal's reason and the timings / pre-clip norms reach the round stats through the messages:
  // an interceptor that rewrites them changes what the coordinator reports.
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.min_contributors = 2;
  cfg.clip_norm = 1.0;
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (int i = 0; i < 3; ++i) t.push_back(std::make_unique<FixedUpdateTrainer>(std::vector<float>{3, 4}, 10));
  dynamic_cast<FixedUpdateTrainer&>(*t[2]).fail_rounds = {1};
  Federation fed(cfg, std::move(t), std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0, 0});
  fed.transport().set_interceptor([](Message& m) {
    if (m.kind == MessageKind::kUpdate && m.from == 1) {
      auto u = decode_update(m.payload).value();
      u.stats.train_seconds = 42;
      m.payload = encode_update(u);
    } else if (m.kind == MessageKind::kRefusal) {
      auto r = decode_refusal(m.payload).value();
      r.encrypt_seconds = 7;
      m.payload = encode_refusal(r);
    }
  });
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok() && r->completed) << r->failure_reason;
  EXPECT_EQ(r->parties[1].train_seconds, 42);
  EXPECT_EQ(r->train_seconds, 42);
  EXPECT_EQ(r->parties[2].status, "failed");
  EXPECT_NE(r->parties[2].reason.find("local training failed"), std::string::npos) << r->parties[2].reason;
  EXPECT_EQ(r->parties[2].encrypt_seconds, 7);
  EXPECT_EQ(r->clipped, 2u);                 // ||(3, 4)|| = 5 > 1
  EXPECT_DOUBLE_EQ(r->update_norm_mean, 5);  // reported pre-clip norms
}

TEST(FlMessages, ExhaustedFloodingBudgetIsNamedInTheRoundFailure) {
  // Each key holder may make one flooded decryption per key epoch (D = 1): round 1 spends the
  // budget of the quorum {0, 1}; in round 2 both refuse with the budget code, and the round fails
  // saying so (it used to say "key holders unresponsive").
  HeAggregatorConfig c;
  c.threshold = 2;
  c.max_total_weight = 4096;
  c.max_decryptions = 1;
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 2;
  cfg.min_contributors = 3;  // HE decrypts sums over >= 3 contributions
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (int i = 0; i < 3; ++i) t.push_back(std::make_unique<FixedUpdateTrainer>(std::vector<float>{0.5f, -0.25f}, 4));
  Federation fed(cfg, std::move(t), std::make_unique<HeAggregator>(c, 3), *ledger, {0, 0});
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  ASSERT_EQ(rep->rounds.size(), 2u);
  EXPECT_TRUE(rep->rounds[0].completed) << rep->rounds[0].failure_reason;
  EXPECT_FALSE(rep->rounds[1].completed);
  const std::string& why = rep->rounds[1].failure_reason;
  EXPECT_NE(why.find("flooding budget exhausted at hospital 0 (1 decryptions)"), std::string::npos) << why;
  EXPECT_NE(why.find("flooding budget exhausted at hospital 1 (1 decryptions)"), std::string::npos) << why;
  EXPECT_EQ(why.find("unresponsive"), std::string::npos) << why;
}

TEST(FlMessages, AReplayedDecryptionShareIsRejectedOnReceiptAndAnotherQuorumDecrypts) {
  // Hospital 0's round-2 decryption share is replaced in flight by its round-1 share (relabelled as
  // round 2's). The coordinator used to take it, and the whole round failed in finalize(); now the
  // share is checked on receipt, rejected and logged, hospital 0 counts as unresponsive and the
  // quorum {1, 2} decrypts.
  HeAggregatorConfig c;
  c.threshold = 2;
  c.max_total_weight = 4096;
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 2;
  cfg.min_contributors = 3;
  std::vector<Rejection> rejections;
  cfg.on_reject = [&](const Rejection& r) { rejections.push_back(r); };
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (int i = 0; i < 3; ++i) t.push_back(std::make_unique<FixedUpdateTrainer>(std::vector<float>{0.5f, -0.25f}, 4));
  Federation fed(cfg, std::move(t), std::make_unique<HeAggregator>(c, 3), *ledger, {0, 0});
  Bytes round1_share;
  fed.transport().set_interceptor([&](Message& m) {
    if (m.kind != MessageKind::kDecryptionShare || m.from != 0) return;
    if (m.round == 1) round1_share = m.payload;
    if (m.round == 2) m.payload = round1_share;
  });
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  ASSERT_EQ(rep->rounds.size(), 2u);
  EXPECT_TRUE(rep->rounds[0].completed) << rep->rounds[0].failure_reason;
  const RoundStats& r2 = rep->rounds[1];
  EXPECT_TRUE(r2.completed) << r2.failure_reason;
  EXPECT_FALSE(r2.parties[0].decrypted);
  EXPECT_TRUE(r2.parties[1].decrypted && r2.parties[2].decrypted);
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].to_string(),
            "rejected decryption share from hospital 0 (message round 2, round 2): bad decryption share: he update is "
            "for round 1, expected 2");
}

}  // namespace
}  // namespace heal::fl
