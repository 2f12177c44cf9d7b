#include "heal/fl/model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "heal/fl/plain_aggregator.h"
#include "heal/fl/transport.h"

namespace heal::fl {
namespace {

TEST(FlModel, HashCoversEveryWeightAndTheLength) {
  std::vector<float> w{1.0f, 2.0f, 3.0f};
  const Digest h = model_hash(w);
  EXPECT_EQ(h, model_hash(std::vector<float>{1.0f, 2.0f, 3.0f}));
  for (std::size_t i = 0; i < w.size(); ++i) {
    auto v = w;
    v[i] = std::nextafter(v[i], 10.0f);
    EXPECT_NE(model_hash(v), h);
  }
  EXPECT_NE(model_hash(std::span(w).first(2)), h);
  EXPECT_NE(model_hash(std::vector<float>{-0.0f}), model_hash(std::vector<float>{0.0f}));
}

TEST(FlModel, ClipL2ScalesToTheBoundAndOnlyWhenNeeded) {
  std::vector<float> u{3.0f, 4.0f};
  ClipResult r = clip_l2(u, 10.0);
  EXPECT_FALSE(r.clipped);
  EXPECT_EQ(u, (std::vector<float>{3.0f, 4.0f}));
  r = clip_l2(u, 1.0);
  EXPECT_TRUE(r.clipped);
  EXPECT_DOUBLE_EQ(r.norm_before, 5.0);
  EXPECT_DOUBLE_EQ(r.scale, 0.2);
  EXPECT_NEAR(u[0], 0.6f, 1e-7);
  EXPECT_NEAR(u[1], 0.8f, 1e-7);
  EXPECT_NEAR(l2_norm(u), 1.0, 1e-6);
  std::vector<float> big{30.0f, 40.0f};
  EXPECT_FALSE(clip_l2(big, 0).clipped);  // 0 = clipping off
}

TEST(FlTransport, CountsBytesPerPartyAndLosesMessagesOfOfflineParties) {
  InProcessTransport t;
  ASSERT_TRUE(t.send({kCoordinatorId, 1, MessageKind::kModel, 1, Bytes(100)}).ok());
  ASSERT_TRUE(t.send({1, kCoordinatorId, MessageKind::kUpdate, 1, Bytes(40)}).ok());
  EXPECT_EQ(t.counters(1).bytes_down, 100 + InProcessTransport::kEnvelopeBytes);
  EXPECT_EQ(t.counters(1).bytes_up, 40 + InProcessTransport::kEnvelopeBytes);
  EXPECT_EQ(t.counters(2).bytes_up, 0u);
  ASSERT_TRUE(t.send({kCoordinatorId, 2, MessageKind::kModel, 1, Bytes(10)}).ok());
  t.set_connected(2, false);  // crashes with a message waiting
  EXPECT_FALSE(t.receive(2).has_value());
  EXPECT_EQ(t.send({kCoordinatorId, 2, MessageKind::kModel, 1, Bytes(10)}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(t.lost_messages(), 2u);
  t.set_connected(2, true);
  EXPECT_TRUE(t.send({kCoordinatorId, 2, MessageKind::kModel, 2, Bytes(10)}).ok());
  auto m = t.receive(2);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->round, 2u);
  t.set_interceptor([](Message& msg) { msg.payload.assign(3, 7); });
  ASSERT_TRUE(t.send({kCoordinatorId, 2, MessageKind::kModel, 3, Bytes(10)}).ok());
  EXPECT_EQ(t.receive(2)->payload, Bytes(3, 7));
}

TEST(FlPlainAggregator, SumsWeightedUpdatesAndRejectsBadContributions) {
  PlainAggregator agg({0, 1});
  SeededRng rng(seed_from_u64(1));
  auto p0 = std::move(agg.party(0)).value();
  auto p1 = std::move(agg.party(1)).value();
  EXPECT_FALSE(agg.party(7).ok());
  const std::vector<float> u0{1.0f, 2.0f}, u1{-1.0f, 0.5f};
  std::vector<Bytes> c{*p0->contribute(u0, 3.0, 4, rng), *p1->contribute(u1, 1.0, 4, rng)};
  auto a = agg.aggregate(c, 2, 4);
  ASSERT_TRUE(a.ok());
  auto sum = agg.finalize(*a, {}, 2, 4);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, (std::vector<double>{2.0, 6.5}));
  EXPECT_FALSE(agg.aggregate(c, 3, 4).ok());       // wrong length
  EXPECT_FALSE(agg.aggregate(c, 2, 5).ok());       // wrong round
  EXPECT_FALSE(agg.finalize(c[0], {}, 2, 4).ok()); // a contribution is not an aggregate
  Bytes bad = c[1];
  bad.resize(bad.size() - 1);
  std::vector<Bytes> c2{c[0], bad};
  EXPECT_FALSE(agg.aggregate(c2, 2, 4).ok());
  EXPECT_FALSE(agg.aggregate({}, 2, 4).ok());
}

}  // namespace
}  // namespace heal::fl

namespace heal::fl {
namespace {

TEST(FlSecureAggregation, FactoryKnowsItsModes) {
  auto plain = make_secure_aggregator({"none", 0, 1}, 3);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->setup_info().secure_mode, "none");
  EXPECT_TRUE((*plain)->party(2).ok());
  EXPECT_FALSE((*plain)->party(3).ok());
  auto he = make_secure_aggregator({"he", 2, 1}, 3);
  ASSERT_TRUE(he.ok()) << he.status().to_string();
  EXPECT_EQ((*he)->setup_info().decryption_threshold, 2u);
  EXPECT_EQ(make_secure_aggregator({"he", 4, 1}, 3).status().code(), StatusCode::kInvalidArgument);
  // Threshold rules: t = 1 and t <= n/2 are refused (no opt-in reachable from this config).
  EXPECT_EQ(make_secure_aggregator({"he", 1, 1}, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(make_secure_aggregator({"he", 2, 1}, 4).status().code(), StatusCode::kInvalidArgument);
  auto majority = make_secure_aggregator({"he", 0, 1}, 4);
  ASSERT_TRUE(majority.ok()) << majority.status().to_string();
  EXPECT_EQ((*majority)->setup_info().decryption_threshold, 3u);
  EXPECT_EQ(make_secure_aggregator({"paillier", 0, 1}, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(make_secure_aggregator({"none", 0, 1}, 0).ok());
}

}  // namespace
}  // namespace heal::fl
