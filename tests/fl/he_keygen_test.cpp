// Dealer-free key setup of secure mode "he" (heal/fl/he_keygen.h): every party runs from its own
// rng and sees only serialized bytes of the others; the result aggregates and decrypts like the
// simulated HeAggregator, t-1 shares reveal nothing usable, tampered or misrouted shares are refused.
#include "heal/fl/he_keygen.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cmath>
#include <cstring>
#include <string>

#include "heal/ckks/params.h"
#include "heal/math/shamir.h"

namespace heal::fl {
namespace {

HeAggregatorConfig config_for(std::uint32_t t) {
  HeAggregatorConfig c;
  c.threshold = t;
  return c;
}

Bytes fed(std::string_view s) { return Bytes(s.begin(), s.end()); }

// A setup whose messages exist only as bytes: round-1 outputs and each party's round-2 result.
struct KeySetup {
  std::vector<std::unique_ptr<HeKeyGenParty>> parties;
  std::vector<BoxPublicKey> box_keys;
  std::vector<Bytes> public_shares;
  std::vector<std::vector<Bytes>> sealed;  // [sender][recipient]
  std::vector<HeKeyMaterial> material;

  // What party j receives: the sealed shares addressed to it, by sender.
  std::vector<Bytes> inbox(std::size_t j) const {
    std::vector<Bytes> in(sealed.size());
    for (std::size_t i = 0; i < sealed.size(); ++i) in[i] = sealed[i][j];
    return in;
  }
};

// Party i draws its secret and box key from `secret_seeds[i]`, its round-1 randomness from another seed.
KeySetup run_round1(const HeAggregatorConfig& c, const Bytes& federation,
                    const std::vector<std::uint64_t>& secret_seeds) {
  KeySetup s;
  const std::size_t n = secret_seeds.size();
  for (std::size_t i = 0; i < n; ++i) {
    SeededRng rng(seed_from_u64(secret_seeds[i]));
    s.parties.push_back(std::make_unique<HeKeyGenParty>(c, n, static_cast<PartyId>(i), federation, rng));
    s.box_keys.push_back(s.parties.back()->box_public_key());
  }
  for (std::size_t i = 0; i < n; ++i) {
    SeededRng rng(seed_from_u64(1000 + secret_seeds[i]));
    auto r1 = s.parties[i]->round1(s.box_keys, rng);
    EXPECT_TRUE(r1.ok()) << r1.status().to_string();
    s.public_shares.push_back(r1->public_share);
    s.sealed.push_back(r1->sealed);
  }
  return s;
}

std::vector<std::uint64_t> seeds(std::size_t n, std::uint64_t base) {
  std::vector<std::uint64_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = base + i;
  return v;
}

KeySetup run_round1(const HeAggregatorConfig& c, std::size_t n, const Bytes& federation, std::uint64_t seed_base) {
  return run_round1(c, federation, seeds(n, seed_base));
}

void run_round2(KeySetup& s) {
  for (std::size_t j = 0; j < s.parties.size(); ++j) {
    auto m = s.parties[j]->round2(s.public_shares, s.inbox(j));
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    if (m.ok()) s.material.push_back(std::move(*m));
  }
}

KeySetup run_setup(const HeAggregatorConfig& c, std::size_t n, const Bytes& federation, std::uint64_t seed_base) {
  KeySetup s = run_round1(c, n, federation, seed_base);
  run_round2(s);
  return s;
}

std::vector<float> update_of(std::size_t n, std::uint64_t seed) {
  SeededRng rng(seed_from_u64(seed));
  std::vector<float> u(n);
  for (auto& x : u) x = static_cast<float>((rng.uniform_double() - 0.5) * 0.2);
  return u;
}

// Lagrange combination at 0 of the given parties' threshold shares (flattened Q limbs, NTT form).
std::vector<std::uint64_t> combine(const ckks::Context& ctx, const KeySetup& s, const std::vector<std::size_t>& who) {
  std::vector<std::uint64_t> xs;
  for (std::size_t p : who) xs.push_back(p + 1);
  std::vector<std::uint64_t> out(ctx.q_count() * ctx.n(), 0);
  for (std::size_t k = 0; k < who.size(); ++k) {
    const auto share = s.material[who[k]].shamir_share_for_testing();
    for (std::size_t l = 0; l < ctx.q_count(); ++l) {
      const auto& q = ctx.q(l);
      const std::uint64_t lambda = math::lagrange_at_zero(xs, k, q);
      for (std::size_t c = 0; c < ctx.n(); ++c) {
        const std::size_t at = l * ctx.n() + c;
        out[at] = (out[at] + q.mul(lambda, share[at])) % q.value();
      }
    }
  }
  return out;
}

void distributed_round_trip(std::size_t n, std::uint32_t t) {
  const auto c = config_for(t);
  const Bytes federation = fed("genesis-hash-of-federation-" + std::to_string(n));
  KeySetup s = run_setup(c, n, federation, 10 * n);
  ASSERT_EQ(s.material.size(), n);

  // Everyone, and the secret-free public side, derive the same collective public key.
  auto pub = he_public_setup(c, n, federation, s.public_shares);
  ASSERT_TRUE(pub.ok()) << pub.status().to_string();
  EXPECT_EQ(pub->crs, he_crs_from_federation(federation));
  for (const auto& m : s.material) {
    EXPECT_EQ(m.collective_public_key_hash(), pub->cpk_hash);
    EXPECT_EQ(m.public_setup().crs, pub->crs);
    EXPECT_EQ(blake2b_256(m.collective_public_key()), pub->cpk_hash);
  }
  HeAggregator agg(*pub);
  EXPECT_EQ(agg.setup_info().collective_public_key_hash, pub->cpk_hash);
  EXPECT_FALSE(agg.party(0).ok());  // the public side holds no keys

  // Contributions of parties built from their own material aggregate and a t-quorum decrypts.
  const std::size_t len = 5000;  // two ciphertexts
  std::vector<std::unique_ptr<AggregationParty>> ps;
  for (const auto& m : s.material) ps.push_back(m.make_party());
  std::vector<Bytes> contributions;
  std::vector<double> plain(len, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto u = update_of(len, 77 + i);
    const double w = 100.0 * static_cast<double>(i + 1);
    SeededRng rng(seed_from_u64(500 + i));
    auto ct = ps[i]->contribute(u, w, 1, rng);
    ASSERT_TRUE(ct.ok()) << ct.status().to_string();
    EXPECT_EQ(ct->size(), agg.contribution_bytes(len));
    contributions.push_back(*ct);
    for (std::size_t k = 0; k < len; ++k) plain[k] += w * static_cast<double>(u[k]);
  }
  auto sum = agg.aggregate(contributions, len, 1);
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  // Two different quorums: the first t and the last t parties. Every party contributed: the
  // contributor set on the ledger is all of them.
  std::vector<PartyId> everyone;
  for (std::size_t i = 0; i < n; ++i) everyone.push_back(static_cast<PartyId>(i));
  for (std::size_t first : {std::size_t{0}, n - t}) {
    std::vector<PartyId> quorum;
    for (std::size_t k = 0; k < t; ++k) quorum.push_back(static_cast<PartyId>(first + k));
    std::vector<DecryptionShare> shares;
    for (PartyId q : quorum) {
      SeededRng rng(seed_from_u64(900 + q + 10 * first));
      auto sh = ps[q]->decryption_share(*sum, quorum, everyone, 1, rng);
      ASSERT_TRUE(sh.ok()) << sh.status().to_string();
      shares.push_back({q, *sh});
    }
    auto dec = agg.finalize(*sum, shares, len, 1);
    ASSERT_TRUE(dec.ok()) << dec.status().to_string();
    double max_err = 0;
    for (std::size_t k = 0; k < len; ++k) max_err = std::max(max_err, std::fabs((*dec)[k] - plain[k]));
    // 8 predicted standard deviations (the flooding budget of the configuration).
    EXPECT_LT(max_err, 8 * agg.budget().abs_error_std) << "quorum from " << first;
    if (t < n) {
      std::vector<DecryptionShare> fewer(shares.begin(), shares.end() - 1);
      EXPECT_FALSE(agg.finalize(*sum, fewer, len, 1).ok());
    }
  }

  // The threshold shares are shares of s = sum_i s_i: any t reconstruct it exactly, t - 1 do not,
  // and decrypting the aggregate (chunk 0) with a t - 1 combination gives garbage.
  const auto& ctx = *agg.context();
  std::vector<std::uint64_t> s_sum(ctx.q_count() * ctx.n(), 0);
  for (const auto& m : s.material) {
    const auto si = m.secret_for_testing();
    for (std::size_t l = 0; l < ctx.q_count(); ++l) {
      for (std::size_t c2 = 0; c2 < ctx.n(); ++c2) {
        const std::size_t at = l * ctx.n() + c2;
        s_sum[at] = (s_sum[at] + si[at]) % ctx.q(l).value();
      }
    }
  }
  double max_plain = 0;
  for (std::size_t k = 0; k < ctx.n(); ++k) max_plain = std::max(max_plain, std::fabs(plain[k]));
  // Every subset of t parties reconstructs s and decrypts; every subset of t - 1 does neither.
  for (std::uint32_t mask = 1; mask < (1u << n); ++mask) {
    std::vector<std::size_t> who;
    for (std::size_t p = 0; p < n; ++p) {
      if (mask & (1u << p)) who.push_back(p);
    }
    if (who.size() != t && who.size() + 1 != t) continue;
    if (who.empty()) continue;  // t = 1 has no t - 1 parties to test
    const auto combined = combine(ctx, s, who);
    auto dec = agg.decrypt_with_for_testing(*sum, 1, len, 0, combined);
    ASSERT_TRUE(dec.ok()) << dec.status().to_string();
    double err = 0;
    for (std::size_t k = 0; k < ctx.n(); ++k) err = std::max(err, std::fabs((*dec)[k] - plain[k]));
    if (who.size() == t) {
      EXPECT_EQ(combined, s_sum) << "subset mask " << mask;
      EXPECT_LT(err, 1e-6 * max_plain) << "subset mask " << mask;
    } else {
      EXPECT_NE(combined, s_sum) << "subset mask " << mask;
      EXPECT_GT(err, 1000 * max_plain) << "t-1 shares must not decrypt (subset mask " << mask << ")";
    }
  }
}

// (2 parties are refused by the threshold rules: a sum needs >= 3 contributions with HE.)
TEST(HeKeyGen, FourPartiesThreeOfFour) { distributed_round_trip(4, 3); }
TEST(HeKeyGen, ThreePartiesTwoOfThree) { distributed_round_trip(3, 2); }
TEST(HeKeyGen, FivePartiesThreeOfFive) { distributed_round_trip(5, 3); }

TEST(HeKeyGen, NoDealerSecretsDependOnlyOnOwnRng) {
  const auto c = config_for(2);
  // Party 0 uses the same rng seed in two setups with different federations and other parties.
  KeySetup a = run_round1(c, fed("federation A"), {40, 41, 42});
  KeySetup b = run_round1(c, fed("federation B"), {40, 7001, 7002});
  run_round2(a);
  run_round2(b);
  ASSERT_EQ(a.material.size(), 3u);
  ASSERT_EQ(b.material.size(), 3u);
  EXPECT_EQ(a.material[0].secret_for_testing(), b.material[0].secret_for_testing());
  for (std::size_t i = 1; i < 3; ++i) EXPECT_NE(a.material[i].secret_for_testing(), b.material[i].secret_for_testing());
  // Within a setup, no two parties hold the same secret, and no threshold share equals a secret.
  for (const KeySetup* s : {&a, &b}) {
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t j = 0; j < 3; ++j) {
        if (i != j) {
          EXPECT_NE(s->material[i].secret_for_testing(), s->material[j].secret_for_testing());
        }
        EXPECT_NE(s->material[i].shamir_share_for_testing(), s->material[j].secret_for_testing());
      }
    }
  }
  // The CRS and hence the collective key depend on the federation id.
  EXPECT_NE(a.material[0].public_setup().crs, b.material[0].public_setup().crs);
  EXPECT_NE(a.material[0].collective_public_key_hash(), b.material[0].collective_public_key_hash());
}

// Expects round 2 of party j to refuse `inbox`, with `what` in the message.
void expect_refused(KeySetup& s, std::size_t j, const std::vector<Bytes>& inbox, const std::string& what) {
  auto m = s.parties[j]->round2(s.public_shares, inbox);
  ASSERT_FALSE(m.ok()) << "expected refusal: " << what;
  EXPECT_NE(m.status().message().find(what), std::string::npos) << m.status().to_string();
}

TEST(HeKeyGen, RefusesMisroutedReplayedAndTamperedShares) {
  const auto c = config_for(2);
  const Bytes federation = fed("federation R");
  KeySetup s = run_round1(c, 3, federation, 60);

  // Party 2 is handed the share party 0 sealed for party 1.
  auto in2 = s.inbox(2);
  in2[0] = s.sealed[0][1];
  expect_refused(s, 2, in2, "addressed to party 1");

  // Re-addressed: the envelope edited to name party 2; the box does not open with 2's key.
  in2 = s.inbox(2);
  in2[0] = s.sealed[0][1];
  auto env = he_parse_sealed_share(in2[0]);
  ASSERT_TRUE(env.ok());
  const std::size_t recipient_at = static_cast<std::size_t>(env->box.data() - in2[0].data()) - 12;
  in2[0][recipient_at] = 2;
  ASSERT_TRUE(he_parse_sealed_share(in2[0]).ok());
  ASSERT_EQ(he_parse_sealed_share(in2[0])->recipient, 2u);
  expect_refused(s, 2, in2, "does not open");

  // Slot mix-up: party 1's share placed in party 0's slot.
  auto in1 = s.inbox(1);
  in1[0] = s.sealed[2][1];
  expect_refused(s, 1, in1, "claims sender 2");

  // Replayed into another setup (another federation): refused by the setup digest.
  KeySetup other = run_round1(c, 3, fed("federation S"), 60);
  in1 = s.inbox(1);
  in1[0] = other.sealed[0][1];
  expect_refused(s, 1, in1, "another setup");

  // A share re-sealed to another recipient by someone holding only public keys (sealed boxes do
  // not authenticate senders): inside, it stays bound to its original recipient or setup.
  auto reseal = [&](const Digest& setup, std::uint32_t in_sender, std::uint32_t in_recipient, std::size_t to) {
    Bytes plain(20 + 32 + 8 + 16, 0x5a);
    std::memcpy(plain.data(), "HEAL-fl-he-shamir-v1", 20);
    std::memcpy(plain.data() + 20, setup.data(), 32);
    for (int b = 0; b < 4; ++b) {
      plain[52 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(in_sender >> (8 * b));
      plain[56 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(in_recipient >> (8 * b));
    }
    Bytes box(plain.size() + crypto_box_SEALBYTES);
    EXPECT_EQ(crypto_box_seal(box.data(), plain.data(), plain.size(), s.box_keys[to].data()), 0);
    Bytes msg = s.sealed[0][to];  // same envelope header, new box
    const auto e = he_parse_sealed_share(msg);
    const std::size_t box_at = static_cast<std::size_t>(e->box.data() - msg.data());
    msg.resize(box_at);
    for (int b = 0; b < 8; ++b) {
      msg[box_at - 8 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(std::uint64_t{box.size()} >> (8 * b));
    }
    msg.insert(msg.end(), box.begin(), box.end());
    const std::uint64_t payload = msg.size() - 16;
    for (int b = 0; b < 8; ++b) msg[8 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(payload >> (8 * b));
    return msg;
  };
  const Digest setup_digest = he_parse_sealed_share(s.sealed[0][2])->setup;
  in2 = s.inbox(2);
  in2[0] = reseal(setup_digest, 0, 1, 2);
  expect_refused(s, 2, in2, "re-addressed or replayed");
  in2[0] = reseal(he_parse_sealed_share(other.sealed[0][2])->setup, 0, 2, 2);
  expect_refused(s, 2, in2, "bound to another setup");
  in2[0] = reseal(setup_digest, 0, 2, 2);  // well bound, but the body is no Shamir share
  expect_refused(s, 2, in2, "sealed share");

  // Truncated and bit-flipped envelopes: always a Status, never a crash or an accepted share.
  const Bytes good = s.sealed[0][2];
  for (std::size_t cut : {std::size_t{0}, std::size_t{10}, std::size_t{40}, good.size() / 2, good.size() - 1}) {
    in2 = s.inbox(2);
    in2[0].assign(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(s.parties[2]->round2(s.public_shares, in2).ok()) << "cut " << cut;
  }
  for (std::size_t pos = 0; pos < good.size(); pos += 997) {
    in2 = s.inbox(2);
    in2[0][pos] ^= 0x10;
    EXPECT_FALSE(s.parties[2]->round2(s.public_shares, in2).ok()) << "flip at " << pos;
  }
  in2 = s.inbox(2);
  in2[0].back() ^= 1;
  expect_refused(s, 2, in2, "does not open");

  // Tampered public shares are refused too (and a party's own share must be its own).
  auto honest = he_public_setup(c, 3, federation, s.public_shares);
  ASSERT_TRUE(honest.ok());
  auto pubs = s.public_shares;
  pubs[1].back() ^= 1;  // still a polynomial, perhaps: then the key hash differs from the ledger's
  auto flipped = he_public_setup(c, 3, federation, pubs);
  EXPECT_TRUE(!flipped.ok() || flipped->cpk_hash != honest->cpk_hash);
  pubs = s.public_shares;
  pubs[1].pop_back();
  EXPECT_FALSE(he_public_setup(c, 3, federation, pubs).ok());
  auto swapped = s.public_shares;
  std::swap(swapped[0], swapped[1]);
  EXPECT_FALSE(he_public_setup(c, 3, federation, swapped).ok());
  EXPECT_FALSE(he_public_setup(c, 3, fed("federation S"), s.public_shares).ok());
  auto r = s.parties[2]->round2(swapped, s.inbox(2));
  EXPECT_FALSE(r.ok());

  // Finally the untouched messages still work (refusals left no state behind).
  for (std::size_t j = 0; j < 3; ++j) {
    auto m = s.parties[j]->round2(s.public_shares, s.inbox(j));
    EXPECT_TRUE(m.ok()) << m.status().to_string();
  }
}

TEST(HeKeyGen, RoundOrderAndArguments) {
  const auto c = config_for(2);
  SeededRng rng(seed_from_u64(1));
  HeKeyGenParty p(c, 3, 0, fed("f"), rng);
  EXPECT_FALSE(p.round2({}, {}).ok());  // before round 1
  std::vector<BoxPublicKey> keys(3);
  std::array<std::uint8_t, crypto_box_SECRETKEYBYTES> sk{};
  for (auto& k : keys) ASSERT_EQ(crypto_box_keypair(k.data(), sk.data()), 0);
  EXPECT_FALSE(p.round1(keys, rng).ok());  // its own key missing
  keys[0] = p.box_public_key();
  EXPECT_FALSE(p.round1(std::span(keys).first(2), rng).ok());
  EXPECT_TRUE(p.round1(keys, rng).ok());
  EXPECT_FALSE(p.round1(keys, rng).ok());  // once per setup
  EXPECT_THROW({ HeKeyGenParty bad(c, 3, 3, fed("f"), rng); }, std::invalid_argument);
  EXPECT_THROW({ HeKeyGenParty bad(c, 3, 0, Bytes{}, rng); }, std::invalid_argument);
}

}  // namespace
}  // namespace heal::fl
