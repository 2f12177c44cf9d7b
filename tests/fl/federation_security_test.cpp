// Attacks on the round protocol that the ledger and the hospitals' checks must stop.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "fl/fl_fixture.h"
#include "fl/he_internal.h"
#include "fl/messages.h"
#include "heal/ckks/serialization.h"
#include "heal/fl/he_aggregator.h"
#include "heal/math/sampler.h"

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
  ASSERT_TRUE(t.send({kCoordinatorId, 0, MessageKind::kAggregate, 1, internal::encode_aggregate({Bytes(8, 1), {0, 1, 2}, {0, 1}, {}})}).ok());
  fed.hospital(0).step();
  EXPECT_EQ(fake->shares_made, honest_shares);
  // In a new round, an "aggregate" of fewer contributions than the quorum, or of contributions
  // never committed, is not decrypted either.
  ASSERT_TRUE(t.send({kCoordinatorId, 1, MessageKind::kAggregate, 7, internal::encode_aggregate({Bytes(8, 1), {0}, {1, 2}, {}})}).ok());
  ASSERT_TRUE(t.send({kCoordinatorId, 1, MessageKind::kAggregate, 7, internal::encode_aggregate({Bytes(8, 1), {0, 1, 2}, {1, 2}, {}})}).ok());
  fed.hospital(1).step();
  EXPECT_EQ(fake->shares_made, honest_shares);
  while (t.receive(kCoordinatorId)) {
  }
}

// ---- Threshold rules, sender binding and the range check (issue 16) ----

HeAggregatorConfig he_config(std::uint32_t t) {
  HeAggregatorConfig c;
  c.threshold = t;
  c.max_total_weight = 4096;
  return c;
}

std::vector<float> distinct_update(PartyId p, std::size_t n) {
  std::vector<float> u(n);
  for (std::size_t k = 0; k < n; ++k) u[k] = 0.01f * static_cast<float>((p + 1) * (k + 3) % 17) - 0.05f;
  return u;
}

struct TwoSetsAttack {
  bool first_decrypted = false;
  bool second_decrypted = false;
  std::string refusal;
  std::vector<double> difference;  // sum over all four minus sum over {0, 1, 2}
};

// The two-disjoint-quorums attack on 4 hospitals: in round 1 quorum q1 decrypts the sum of all four
// contributions and quorum q2 the sum of {0, 1, 2}; the difference is hospital 3's update.
TwoSetsAttack two_sets_attack(HeAggregator& agg, std::vector<PartyId> q1, std::vector<PartyId> q2, std::size_t n) {
  std::vector<std::unique_ptr<AggregationParty>> parties;
  for (PartyId p = 0; p < 4; ++p) parties.push_back(std::move(agg.party(p)).value());
  std::vector<Bytes> c;
  for (PartyId p = 0; p < 4; ++p) {
    SeededRng rng(seed_from_u64(10 + p));
    c.push_back(parties[p]->contribute(distinct_update(p, n), 1, 1, rng).value());
  }
  const Bytes all = agg.aggregate(c, n, 1).value();
  const Bytes three = agg.aggregate(std::span<const Bytes>(c.data(), 3), n, 1).value();
  TwoSetsAttack out;
  auto decrypt = [&](const Bytes& a, const std::vector<PartyId>& q, const std::vector<PartyId>& set,
                     std::vector<double>* sum) {
    std::vector<DecryptionShare> shares;
    for (PartyId m : q) {
      SeededRng rng(seed_from_u64(40 + m));
      auto s = parties[m]->decryption_share(a, q, set, 1, rng);
      if (!s.ok()) {
        out.refusal = s.status().message();
        continue;
      }
      shares.push_back({m, *s});
    }
    if (shares.size() != q.size()) return false;
    auto d = agg.finalize(a, shares, n, 1);
    if (!d.ok()) return false;
    *sum = *d;
    return true;
  };
  std::vector<double> s_all, s_three;
  out.first_decrypted = decrypt(all, q1, {0, 1, 2, 3}, &s_all);
  out.second_decrypted = decrypt(three, q2, {0, 1, 2}, &s_three);
  if (out.first_decrypted && out.second_decrypted) {
    for (std::size_t k = 0; k < n; ++k) out.difference.push_back(s_all[k] - s_three[k]);
  }
  return out;
}

TEST(FederationSecurity, TwoDisjointQuorumsIsolateAnUpdateOnlyUnderTheNonMajorityOptIn) {
  const std::size_t n = 16;
  const std::vector<float> victim = distinct_update(3, n);
  {
    // t = 2 of 4 (n >= 2t) is refused unless opted in ...
    EXPECT_THROW(HeAggregator(he_config(2), 4), std::invalid_argument);
    // ... and with the opt-in the attack works: {0, 1} and {2, 3} share no member, each decrypts
    // one contributor set, and the difference is hospital 3's update.
    HeAggregatorConfig weak = he_config(2);
    weak.allow_non_majority_threshold = true;
    HeAggregator agg(weak, 4);
    const TwoSetsAttack a = two_sets_attack(agg, {0, 1}, {2, 3}, n);
    ASSERT_TRUE(a.first_decrypted && a.second_decrypted) << a.refusal;
    for (std::size_t k = 0; k < n; ++k) EXPECT_NEAR(a.difference[k], victim[k], 1e-3) << k;
  }
  {
    // The default t = 3 of 4: any two quorums share a member, which refuses the second set. (The
    // colluder bound is lowered to 1 so that a sum over 3 would otherwise be decryptable: the
    // refusal comes from the intersecting member, not from the contributor floor.)
    HeAggregatorConfig def = he_config(0);
    def.colluders_tolerated = 1;
    HeAggregator agg(def, 4);
    ASSERT_EQ(agg.threshold(), 3u);
    const TwoSetsAttack a = two_sets_attack(agg, {0, 1, 2}, {1, 2, 3}, n);
    EXPECT_TRUE(a.first_decrypted) << a.refusal;
    EXPECT_FALSE(a.second_decrypted);
    EXPECT_NE(a.refusal.find("a different contributor set was already decrypted this round"), std::string::npos)
        << a.refusal;
  }
  {
    // Fully default (colluders tolerated t - 1 = 2): a sum over 3 of 4 is refused outright.
    HeAggregator agg(he_config(0), 4);
    EXPECT_EQ(agg.min_aggregate_parties(), 4u);
    const TwoSetsAttack a = two_sets_attack(agg, {0, 1, 2}, {1, 2, 3}, n);
    EXPECT_TRUE(a.first_decrypted) << a.refusal;
    EXPECT_FALSE(a.second_decrypted);
  }
}

/// The coordinator's public side, turned malicious: it aggregates every contribution except one
/// hospital's, while the contributor set it posts on the ledger lists them all.
class DroppingAggregator final : public SecureAggregator {
 public:
  DroppingAggregator(std::unique_ptr<HeAggregator> inner, PartyId dropped)
      : inner_(std::move(inner)), dropped_(dropped) {}
  AggregatorSetupInfo setup_info() const override { return inner_->setup_info(); }
  Result<std::unique_ptr<AggregationParty>> party(PartyId p) override { return inner_->party(p); }
  Result<std::optional<PartyId>> contributor(std::span<const std::uint8_t> c, std::size_t n,
                                             std::uint64_t r) const override {
    return inner_->contributor(c, n, r);
  }
  double sum_bound(double w) const override { return inner_->sum_bound(w); }
  Result<Bytes> aggregate(std::span<const Bytes> contributions, std::size_t n, std::uint64_t round) override {
    std::vector<Bytes> kept;
    for (const Bytes& c : contributions) {
      if (inner_->contributor(c, n, round).value() != dropped_) kept.push_back(c);
    }
    return inner_->aggregate(kept, n, round);
  }
  Result<std::vector<double>> finalize(std::span<const std::uint8_t> a, std::span<const DecryptionShare> s,
                                       std::size_t n, std::uint64_t round) override {
    return inner_->finalize(a, s, n, round);
  }

 private:
  std::unique_ptr<HeAggregator> inner_;
  PartyId dropped_;
};

TEST(FederationSecurity, KeyHoldersRefuseAnAggregateThatHoldsFewerContributorsThanTheLedgerLists) {
  // The coordinator lists {0, 1, 2, 3} on the ledger (with the hash of its aggregate), but the
  // aggregate holds {0, 1, 2} only (the subset trick: with one colluding hospital's help
  // the coordinator subtracts its way to an honest hospital's update). Every key holder builds its
  // share from the ids inside the aggregate bytes, so it compares them with the ledger's set first.
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.min_contributors = 3;
  HeAggregatorConfig hc = he_config(3);
  hc.colluders_tolerated = 1;  // sums over 3 are legal: the refusal must come from the mismatch
  Federation fed(cfg, ones(4), std::make_unique<DroppingAggregator>(std::make_unique<HeAggregator>(hc, 4), 3), *ledger,
                 {0, 0});
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->completed);
  EXPECT_NE(r->failure_reason.find("the aggregate's contributors differ from the round's contributor set"),
            std::string::npos)
      << r->failure_reason;
  EXPECT_EQ(ledger->contributor_set(1)->contributions.size(), 4u);
  for (const auto& p : r->parties) EXPECT_FALSE(p.decrypted) << p.party;
  EXPECT_EQ(fed.model_version(), 0u);
}

/// A hospital's party object that labels its contributions as another hospital's (it then commits
/// to those bytes on the ledger itself, so the commitment matches).
class RelabellingParty final : public AggregationParty {
 public:
  RelabellingParty(std::unique_ptr<AggregationParty> inner, PartyId as) : inner_(std::move(inner)), as_(as) {}
  PartyId party() const override { return inner_->party(); }
  Result<Bytes> contribute(std::span<const float> u, double w, std::uint64_t round, Rng& rng) override {
    HEAL_ASSIGN_OR_RETURN(Bytes b, inner_->contribute(u, w, round, rng));
    // he wire: ... u8 kind (3) | u64 round | 32-byte parameter hash | u32 count (1) | u32 id ...
    for (std::size_t i = 0; i + 49 <= b.size() && i < 64; ++i) {
      std::uint64_t r = 0;
      for (int k = 0; k < 8; ++k) r |= std::uint64_t{b[i + 1 + static_cast<std::size_t>(k)]} << (8 * k);
      if (b[i] != he::kContribution || r != round) continue;
      for (int k = 0; k < 4; ++k) b[i + 45 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(as_ >> (8 * k));
      return b;
    }
    return Status::internal("relabelling: header not found");
  }
  Result<Bytes> decryption_share(std::span<const std::uint8_t> a, std::span<const PartyId> q,
                                 std::span<const PartyId> c, std::uint64_t round, Rng& rng) override {
    return inner_->decryption_share(a, q, c, round, rng);
  }

 private:
  std::unique_ptr<AggregationParty> inner_;
  PartyId as_;
};

TEST(FederationSecurity, ContributionLabelledAsAnotherHospitalIsRejected) {
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.min_contributors = 3;
  HeAggregatorConfig hc = he_config(3);
  hc.colluders_tolerated = 1;
  auto agg = std::make_unique<HeAggregator>(hc, 4);
  HeAggregator* he = agg.get();
  Federation fed(cfg, ones(4), std::move(agg), *ledger, {0, 0});
  fed.hospital(1).set_aggregation_party(std::make_unique<RelabellingParty>(std::move(he->party(1)).value(), 0));
  auto r = fed.run_round();
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(party(*r, 1).status, "rejected");
  EXPECT_NE(party(*r, 1).reason.find("labelled as hospital 0, not its sender"), std::string::npos)
      << party(*r, 1).reason;
  EXPECT_TRUE(r->completed) << r->failure_reason;  // 0, 2 and 3 still make the quorum
  EXPECT_EQ(r->contributors, 3u);
}

std::vector<ledger::RoundResult> round_results(const ledger::Ledger& l) {
  std::vector<ledger::RoundResult> out;
  EXPECT_TRUE(l.for_each([&](const ledger::Block& b) -> Status {
                 HEAL_ASSIGN_OR_RETURN(ledger::Record r, ledger::decode_record(b.record));
                 if (const auto* x = std::get_if<ledger::RoundResult>(&r.body)) out.push_back(*x);
                 return {};
               }).ok());
  return out;
}

TEST(FederationSecurity, GarbageDecryptionShareFailsTheRoundCleanlyAndTheNextRoundRuns) {
  // Hospital 0 answers round 1's decryption request with a share of the right shape whose
  // polynomials are uniformly random: the combined "sum" is spread over the whole modulus. The
  // range check |x| <= W * U (+ noise) catches it; the round is recorded as failed and the model
  // stays; round 2 completes.
  auto ledger = memory_ledger();
  FederationConfig cfg;
  cfg.rounds = 2;
  std::vector<std::unique_ptr<LocalTrainer>> t;
  for (int i = 0; i < 3; ++i) t.push_back(std::make_unique<FixedUpdateTrainer>(std::vector<float>{0.5f, -0.25f}, 4));
  auto agg = std::make_unique<HeAggregator>(he_config(2), 3);
  he::Shared sh;  // the public parameters, to re-encode the share
  sh.ctx = agg->context();
  sh.parties = 3;
  sh.params_hash = ckks::params_hash(*sh.ctx);
  sh.drop_bits = agg->budget().drop_bits;  // the compact shares' k
  Federation fed(cfg, std::move(t), std::move(agg), *ledger, {0, 0});
  int tampered = 0;
  SeededRng garbage(seed_from_u64(99));
  fed.transport().set_interceptor([&](Message& m) {
    if (m.kind != MessageKind::kDecryptionShare || m.from != 0 || m.round != 1) return;
    auto msg = internal::decode_share(m.payload).value();
    auto parsed = he::read_message(sh, msg.share, he::kShare, 1, 2).value();
    std::vector<Bytes> chunks;
    for (auto chunk : parsed.chunks) {
      auto share = he::load_share_chunk(sh, chunk).value();
      for (std::size_t i = 0; i < share.h.num_limbs(); ++i) {
        for (auto& x : share.h.limb_span(i)) x = math::sample_uniform_mod(garbage, sh.ctx->q(i));
      }
      chunks.push_back(ckks::save_compact(*sh.ctx, share, sh.drop_bits));  // a well-formed (compact) share
    }
    msg.share = he::write_message(sh, he::kShare, 1, parsed.ids, parsed.length, chunks);
    m.payload = internal::encode_share(msg);
    ++tampered;
  });
  auto rep = fed.run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  EXPECT_EQ(tampered, 1);
  ASSERT_EQ(rep->rounds.size(), 2u);
  EXPECT_FALSE(rep->rounds[0].completed);
  EXPECT_EQ(rep->rounds[0].failure_reason,
            "decrypted aggregate out of range: a decryption share or contribution is corrupt");
  EXPECT_EQ(rep->rounds[0].model_version, 0u);
  EXPECT_TRUE(rep->rounds[1].completed) << rep->rounds[1].failure_reason;
  EXPECT_EQ(fed.model_version(), 1u);
  // The ledger records round 1 as failed, with the reason, and verifies.
  const auto results = round_results(*ledger);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, ledger::RoundStatus::kFailed);
  EXPECT_EQ(results[0].failure_reason, rep->rounds[0].failure_reason);
  EXPECT_EQ(results[1].status, ledger::RoundStatus::kCompleted);
  EXPECT_TRUE(rep->ledger_verified);
  // The honest round's model: FedAvg of the three identical updates.
  EXPECT_NEAR(fed.global_model()[0], 0.5f, 1e-3);
}

}  // namespace
}  // namespace heal::fl
