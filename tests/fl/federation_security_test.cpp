// Attacks on the round protocol that the ledger and the hospitals' checks must stop.
#include <gtest/gtest.h>

#include "fl/fl_fixture.h"
#include "fl/messages.h"

namespace heal::fl {
namespace {

using namespace testing;

std::vector<std::unique_ptr<LocalTrainer>> ones(std::size_t k) {
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (std::size_t i = 0; i < k; ++i) t.push_back(std::make_unique<FixedUpdateTrainer>(std::vector<float>{1, 1}, 1));
  return t;
}

FixedUpdateTrainer& trainer(Federation& f, PartyId id) {
  return dynamic_cast<FixedUpdateTrainer&>(f.hospital(id).trainer());
}

const PartyRoundStats& party(const RoundStats& r, PartyId id) {
  for (const auto& p : r.parties) {
    if (p.party == id) return p;
  }
  throw std::runtime_error("no such party");
}

TEST(FederationSecurity, HospitalRefusesAModelThatDiffersFromTheLedger) {
  // Model-inconsistency attack (Pasquini et al., CCS'22): the coordinator sends hospital 2 a
  // different model than the one it committed on the ledger.
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 2;
  cfg.min_contributors = 2;
  Federation fed(cfg, ones(3), std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0, 0});
  fed.transport().set_interceptor([](Message& m) {
    if (m.kind == MessageKind::kModel && m.to == 2 && m.round == 2) {
      auto model = internal::decode_model(m.payload).value();
      model.weights[1] += 0.5f;  // the victim's private model
      m.payload = internal::encode_model(model);
    }
  });
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  EXPECT_EQ(trainer(fed, 2).calls, 1);  // trained in round 1 only
  EXPECT_EQ(trainer(fed, 0).calls, 2);
  const auto& victim = party(rep->rounds[1], 2);
  EXPECT_EQ(victim.status, "refused");
  EXPECT_NE(victim.reason.find("model-inconsistency"), std::string::npos) << victim.reason;
  EXPECT_TRUE(rep->rounds[1].completed);  // the others still make the quorum
  EXPECT_EQ(rep->rounds[1].contributors, 2u);
  EXPECT_TRUE(rep->ledger_verified);
}

TEST(FederationSecurity, HospitalRefusesAStaleModelVersion) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 2;
  cfg.min_contributors = 2;
  Federation fed(cfg, ones(3), std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0, 0});
  const std::vector<float> v0 = fed.global_model();
  // In round 2 hospital 1 is sent model v0 — genuinely on the ledger, but no longer the latest.
  fed.transport().set_interceptor([&](Message& m) {
    if (m.kind == MessageKind::kModel && m.to == 1 && m.round == 2) m.payload = internal::encode_model({0, v0});
  });
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(trainer(fed, 1).calls, 1);
  EXPECT_NE(party(rep->rounds[1], 1).reason.find("not the latest"), std::string::npos);
}

TEST(FederationSecurity, UpdateAlteredInFlightIsRejected) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.min_contributors = 2;
  Federation fed(cfg, ones(3), std::make_unique<PlainAggregator>(party_set(3)), *ledger, {0, 0});
  fed.transport().set_interceptor([](Message& m) {
    if (m.kind == MessageKind::kUpdate && m.from == 0) {
      auto u = internal::decode_update(m.payload).value();
      u.contribution[u.contribution.size() - 1] ^= 0x40;  // change the (plain) contribution
      m.payload = internal::encode_update(u);
    }
  });
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(party(*r, 0).status, "rejected");
  EXPECT_TRUE(r->completed);
  EXPECT_EQ(r->contributors, 2u);
}

TEST(FederationSecurity, ForgedCommitmentIsRefusedByTheLedger) {
  // Hospital 1's update is re-labelled as hospital 0's: the commitment signature does not match.
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.min_contributors = 1;
  Federation fed(cfg, ones(2), std::make_unique<PlainAggregator>(party_set(2)), *ledger, {0, 0});
  fed.transport().set_interceptor([&](Message& m) {
    if (m.kind == MessageKind::kUpdate && m.from == 1) {
      auto u = internal::decode_update(m.payload).value();
      auto rec = ledger::decode_record(u.commitment.record).value();
      std::get<ledger::UpdateCommitment>(rec.body).num_samples = 1000;  // claim more weight
      u.commitment.record = ledger::encode_record(rec);
      u.num_samples = 1000;
      m.payload = internal::encode_update(u);
    }
  });
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(party(*r, 1).status, "rejected");
  EXPECT_NE(party(*r, 1).reason.find("differs from the one on the ledger"), std::string::npos) << party(*r, 1).reason;
  EXPECT_EQ(r->contributors, 1u);
}

TEST(FederationSecurity, KeyHoldersDecryptOnlyTheContributorSetOnTheLedger) {
  // Two-subsets attack: the ledger's contributor set names {0, 1, 2}, but the coordinator asks the
  // quorum to decrypt the aggregate of {0, 1} only (whose difference with the full set would be
  // hospital 2's update), or an aggregate other than the one the set names. No key holder answers.
  for (int variant = 0; variant < 2; ++variant) {
    auto ledger = memory_ledger();
    FederationConfig cfg;
    cfg.min_contributors = 2;
    auto agg = std::make_unique<FakeThresholdAggregator>(party_set(3), 2);
    auto* fake = agg.get();
    Federation fed(cfg, ones(3), std::move(agg), *ledger, {0, 0});
    fed.transport().set_interceptor([&](Message& m) {
      if (m.kind != MessageKind::kAggregate) return;
      auto a = internal::decode_aggregate(m.payload).value();
      if (variant == 0) {
        a.contributors = {0, 1};
      } else {
        a.aggregate.push_back(0);
      }
      m.payload = internal::encode_aggregate(a);
    });
    auto r = fed.run_round();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->completed) << "variant " << variant;
    EXPECT_EQ(fake->shares_made, 0) << "variant " << variant;
    // The key holders say why (their refusals travel as messages).
    EXPECT_NE(r->failure_reason.find("refused: the "), std::string::npos) << r->failure_reason;
    EXPECT_EQ(ledger->contributor_set(1)->contributions.size(), 3u);
  }
}

TEST(FederationSecurity, HospitalsDecryptOnlyQuorumAggregatesOncePerRound) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.min_contributors = 3;
  auto agg = std::make_unique<FakeThresholdAggregator>(party_set(3), 2);
  auto* fake = agg.get();
  Federation fed(cfg, ones(3), std::move(agg), *ledger, {0, 0});
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok() && r->completed) << r->failure_reason;
  const int honest_shares = fake->shares_made;
  EXPECT_EQ(honest_shares, 2);  // the quorum {0, 1}
  // A second decryption request in the same round (e.g. of one hospital's contribution) is ignored.
  InProcessTransport& t = fed.transport();
  ASSERT_TRUE(t.send({kCoordinatorId, 0, MessageKind::kAggregate, 1, internal::encode_aggregate({Bytes(8, 1), {0, 1, 2}, {0, 1}})}).ok());
  fed.hospital(0).step();
  EXPECT_EQ(fake->shares_made, honest_shares);
  // In a new round, an "aggregate" of fewer contributions than the quorum, or of contributions
  // never committed, is not decrypted either.
  ASSERT_TRUE(t.send({kCoordinatorId, 1, MessageKind::kAggregate, 7, internal::encode_aggregate({Bytes(8, 1), {0}, {1, 2}})}).ok());
  ASSERT_TRUE(t.send({kCoordinatorId, 1, MessageKind::kAggregate, 7, internal::encode_aggregate({Bytes(8, 1), {0, 1, 2}, {1, 2}})}).ok());
  fed.hospital(1).step();
  EXPECT_EQ(fake->shares_made, honest_shares);
  while (t.receive(kCoordinatorId)) {
  }
}

}  // namespace
}  // namespace heal::fl
