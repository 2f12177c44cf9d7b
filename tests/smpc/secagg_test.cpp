#include "heal/smpc/secagg.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "heal/smpc/additive.h"
#include "heal/smpc/fixed_point.h"
#include "secagg_harness.h"

namespace heal::smpc {
namespace {

using test_support::SecAggNet;

std::vector<std::vector<double>> random_inputs(std::size_t n, std::size_t len, std::uint64_t seed) {
  SeededRng rng(seed_from_u64(seed));
  std::vector<std::vector<double>> x(n, std::vector<double>(len));
  for (auto& v : x)
    for (auto& e : v) e = 200.0 * rng.uniform_double() - 100.0;
  return x;
}

std::vector<std::vector<std::uint64_t>> encode_all(const std::vector<std::vector<double>>& x) {
  std::vector<std::vector<std::uint64_t>> out;
  for (const auto& v : x) out.push_back(fixed_encode(v));
  return out;
}

// Decoded secure sum vs the plaintext sum of the clients in `members` (1-based ids).
void expect_sum(const std::vector<std::uint64_t>& sum, const std::vector<std::vector<double>>& x,
                const std::vector<std::uint32_t>& members) {
  const double tol = static_cast<double>(members.size()) * std::ldexp(1.0, -(kDefaultFracBits + 1)) + 1e-9;
  const auto dec = fixed_decode(sum);
  double worst = 0;
  for (std::size_t i = 0; i < dec.size(); ++i) {
    double plain = 0;
    for (auto u : members) plain += x[u - 1][i];
    worst = std::max(worst, std::fabs(dec[i] - plain));
  }
  EXPECT_LE(worst, tol);
}

TEST(SecAgg, SumEqualsPlaintextSumWithoutDropouts) {
  for (std::uint32_t n : {4u, 5u}) {
    const std::uint32_t t = n / 2 + 1;
    SecAggNet net(n, t, 1000, 100 + n);
    const auto x = random_inputs(n, 1000, n);
    auto sum = net.run(encode_all(x), std::vector<int>(n, 5));
    ASSERT_TRUE(sum.ok()) << sum.status().to_string();
    std::vector<std::uint32_t> all;
    for (std::uint32_t u = 1; u <= n; ++u) all.push_back(u);
    EXPECT_EQ(net.server->aggregated_clients(), all);
    expect_sum(*sum, x, all);
    // The sum is not one client's input and the masked inputs are not the inputs.
    EXPECT_NE(*sum, encode_all(x)[0]);
  }
}

TEST(SecAgg, WeightedMeanThroughIntegerWeights) {
  // Each hospital scales its encoded update by its sample count before masking; the mean is the
  // decoded sum divided by the (public) total count.
  const std::vector<std::uint64_t> counts{120, 45, 300, 7, 64};
  SecAggNet net(5, 3, 200, 25);
  const auto x = random_inputs(5, 200, 26);
  auto enc = encode_all(x);
  for (std::size_t u = 0; u < 5; ++u) scale_in_place(enc[u], counts[u]);
  auto sum = net.run(enc, std::vector<int>(5, 5));
  ASSERT_TRUE(sum.ok());
  const double total = 536.0;
  const auto dec = fixed_decode(*sum);
  for (std::size_t i = 0; i < dec.size(); ++i) {
    double plain = 0;
    for (std::size_t u = 0; u < 5; ++u) plain += static_cast<double>(counts[u]) * x[u][i];
    EXPECT_NEAR(dec[i] / total, plain / total, std::ldexp(1.0, -(kDefaultFracBits + 1)));
  }
}

TEST(SecAgg, PackedWordsSumExactlyWithADropoutAndShrinkTheMaskedInput) {
  // 3-byte words: inputs in [-4, 4] at f = 16 fraction bits; five of them sum to at most 20 in
  // magnitude, 20 * 2^16 < 2^21, which a signed 24-bit word holds.
  const std::size_t n = 5, len = 500;
  SeededRng rng(seed_from_u64(31));
  std::vector<std::vector<double>> x(n, std::vector<double>(len));
  for (auto& v : x)
    for (auto& e : v) e = 8.0 * rng.uniform_double() - 4.0;
  SecAggNet packed(5, 3, len, 32, /*word_bytes=*/3);
  auto sum = packed.run(encode_all(x), {5, 2, 5, 3, 5});  // client 2 drops before its masked input
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ(packed.server->aggregated_clients(), (std::vector<std::uint32_t>{1, 3, 4, 5}));
  expect_sum(*sum, x, {1, 3, 4, 5});
  // The masked input carries 3 bytes per word instead of 8 (same header, id and signature).
  SecAggNet wide(5, 3, len, 32);
  ASSERT_TRUE(wide.run(encode_all(x), {5, 2, 5, 3, 5}).ok());
  ASSERT_FALSE(packed.rec.masked.empty());
  EXPECT_EQ(wide.rec.masked[0].size() - packed.rec.masked[0].size(), len * 5 - 1);  // 8-3 per word, +1 size byte
  // The packed masked words still look uniform over 2^24 (top byte of each word), and every word
  // fits in 24 bits.
  auto m = decode_masked_input(packed.rec.masked[0]);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->word_bytes, 3);
  std::array<double, 256> hist{};
  for (std::uint64_t v : m->y) {
    EXPECT_EQ(v >> 24, 0u);
    hist[(v >> 16) & 0xff] += 1;
  }
  double chi2 = 0;
  const double expected = static_cast<double>(len) / 256.0;
  for (double h : hist) chi2 += (h - expected) * (h - expected) / expected;
  EXPECT_LT(chi2, 400.0);  // 255 degrees of freedom: mean 255, sd 22.6
}

TEST(SecAgg, PackedWordsRefuseInputsOutOfRangeAndAnotherWordSize) {
  SecAggNet net(4, 3, 8, 33, /*word_bytes=*/2);
  // 1.0 at f = 16 is 2^16: does not fit a signed 16-bit word.
  std::vector<std::vector<std::uint64_t>> big(4, fixed_encode(std::vector<double>(8, 1.0)));
  auto r = net.run(big, std::vector<int>(4, 5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("does not fit"), std::string::npos);
  // A server expecting 8-byte words refuses a 2-byte one, and the reverse.
  SecAggNet small(4, 3, 8, 34, 2), wide(4, 3, 8, 34, 8);
  std::vector<std::vector<std::uint64_t>> tiny(4, fixed_encode(std::vector<double>(8, 0.01)));
  ASSERT_TRUE(small.run(tiny, std::vector<int>(4, 5)).ok());
  ASSERT_TRUE(wide.run(tiny, std::vector<int>(4, 5)).ok());
  auto m = decode_masked_input(small.rec.masked[0]);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->y.size(), 8u);
  SecAggConfig c2 = wide.cfg;
  c2.word_bytes = 2;
  EXPECT_NE(wide.cfg.word_bytes, c2.word_bytes);
  // Replaying the same session's traffic into a server of the other word size fails at round 2.
  SecAggServer s2(c2, wide.verify_keys);
  for (const auto& a : wide.rec.adverts) ASSERT_TRUE(s2.receive_advertise(a).ok());
  ASSERT_TRUE(s2.key_list().ok());
  for (const auto& sk : wide.rec.share_keys) ASSERT_TRUE(s2.receive_shares(sk).ok());
  ASSERT_TRUE(s2.route_shares().ok());
  const Status st = s2.receive_masked_input(wide.rec.masked[0]);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("8-byte words"), std::string::npos) << st.to_string();
}

TEST(SecAgg, SurvivesOneDropBeforeAndOneAfterTheMaskedInput) {
  // n = 5, t = 3. Client 2 shares its keys (round 1) but never sends its masked input: its pairwise
  // masks are removed with its reconstructed masking key. Client 4 sends its masked input and then
  // vanishes (no signature, no unmasking): its input counts, its self-mask is rebuilt from shares.
  // Unmasking is done by exactly t = 3 clients.
  SecAggNet net(5, 3, 1000, 7);
  const auto x = random_inputs(5, 1000, 8);
  auto sum = net.run(encode_all(x), {5, 2, 5, 3, 5});
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ(net.server->aggregated_clients(), (std::vector<std::uint32_t>{1, 3, 4, 5}));
  expect_sum(*sum, x, {1, 3, 4, 5});
  EXPECT_EQ(net.rec.unmasks.size(), 3u);
}

TEST(SecAgg, SurvivesDropsInRoundsZeroAndOne) {
  // Client 1 never advertises keys; client 5 advertises but sends no shares.
  SecAggNet net(5, 3, 1000, 9);
  const auto x = random_inputs(5, 1000, 10);
  auto sum = net.run(encode_all(x), {0, 5, 5, 5, 1});
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  expect_sum(*sum, x, {2, 3, 4});
}

TEST(SecAgg, FewerThanThresholdIsACleanError) {
  const auto x = encode_all(random_inputs(5, 100, 11));
  {
    SecAggNet net(5, 3, 100, 12);
    auto r = net.run(x, {5, 2, 2, 2, 5});  // only 2 masked inputs
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  }
  {
    SecAggNet net(5, 3, 100, 13);
    auto r = net.run(x, {5, 5, 5, 4, 4});  // 5 signers, only 3 unmask: exactly t, fine
    ASSERT_TRUE(r.ok());
  }
  {
    SecAggNet net(5, 3, 100, 14);
    auto r = net.run(x, {5, 5, 4, 4, 4});  // only 2 clients answer the unmasking round
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  }
  {
    SecAggNet net(5, 3, 100, 15);
    auto r = net.run(x, {0, 0, 0, 5, 5});  // only 2 advertisements
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_THROW(SecAggNet(4, 2, 10, 1), std::invalid_argument);  // t must exceed n/2
}

// min_inputs = 3 with n = 3, t = 2: a sum of two inputs is never unmasked. When the sum is published
// to its contributors (the ensemble's consensus), a sum of two would give each the other's input.
// The server cannot close round 2 with two masked inputs, and a client refuses to sign a survivor
// set of two that a dishonest server sends anyway. Without min_inputs (the control) the same set is
// signed: t alone allows it.
TEST(SecAgg, ASumOfFewerThanMinInputsIsNeverUnmasked) {
  const auto plain = random_inputs(3, 40, 31);
  const auto x = encode_all(plain);
  for (const std::uint32_t min_inputs : {3u, 0u}) {
    SecAggNet net(3, 2, 40, 32, 8, min_inputs);
    EXPECT_EQ(required_inputs(net.cfg), min_inputs == 3 ? 3u : 2u);
    auto sum = net.run(x, {5, 5, 2});  // client 3 shares its keys, then sends no masked input
    if (min_inputs == 0) {
      ASSERT_TRUE(sum.ok()) << sum.status().to_string();  // the sum of clients 1 and 2
      expect_sum(*sum, plain, {1, 2});
      continue;
    }
    ASSERT_FALSE(sum.ok());
    EXPECT_EQ(sum.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(sum.status().message().find("at least 3 inputs"), std::string::npos) << sum.status().to_string();
    // A dishonest server sends the survivor set {1, 2} anyway: client 1 refuses to sign it.
    auto r = net.clients[0]->sign_survivors(encode(SurvivorsMsg{net.cfg.session, {1, 2}}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("at least 3 inputs"), std::string::npos) << r.status().to_string();
  }
  // Sums of more inputs than there are clients cannot be asked for.
  EXPECT_THROW(SecAggNet(3, 2, 10, 1, 8, 4), std::invalid_argument);
}

TEST(SecAgg, ClientRefusesToRevealBothSecretsOfOnePeer) {
  // Client 5 drops after round 1, so U2 = {1..5}, U3 = {1, 2, 3, 4}.
  SecAggNet net(5, 3, 50, 16);
  const auto x = encode_all(random_inputs(5, 50, 17));
  auto sum = net.run(x, {5, 5, 5, 5, 2});
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  auto& c1 = *net.clients[0];
  // Asked again with the same request: same answer (the shares are deterministic).
  auto again = c1.unmask(net.rec.unmask_request);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, net.rec.unmasks[0]);
  // A server now claims client 4 dropped and client 5 survived: client 1 already revealed its
  // share of b_4 and of s_5^SK, so this would hand out s_4^SK and b_5 too. Refused.
  auto req = decode_unmask_request(net.rec.unmask_request);
  ASSERT_TRUE(req.ok());
  UnmaskRequestMsg forged = *req;
  forged.survivors = {1, 2, 3, 5};
  auto r = c1.unmask(encode(forged));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("both"), std::string::npos) << r.status().to_string();
  // A client signs one survivor set only.
  SurvivorsMsg other{net.cfg.session, {1, 2, 3, 5}};
  EXPECT_FALSE(net.clients[1]->sign_survivors(encode(other)).ok());
}

TEST(SecAgg, ClientChecksTheSurvivorSetAndItsSignatures) {
  // Client 5 drops after round 1 (U3 = {1, 2, 3, 4}); client 4 signs U3 but does not unmask.
  SecAggNet net(5, 3, 20, 18);
  const auto x = encode_all(random_inputs(5, 20, 19));
  auto sum = net.run(x, {5, 5, 5, 4, 2});
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ(net.rec.unmasks.size(), 3u);
  auto req = decode_unmask_request(net.rec.unmask_request);
  ASSERT_TRUE(req.ok());
  auto& c4 = *net.clients[3];
  // Another survivor set than the one client 4 signed (nothing revealed yet): refused.
  UnmaskRequestMsg other = *req;
  other.survivors = {1, 2, 3};
  auto r = c4.unmask(encode(other));
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("differs"), std::string::npos) << r.status().to_string();
  // One altered signature: refused.
  UnmaskRequestMsg bad = *req;
  bad.sigs[1].sig[5] ^= 1;
  EXPECT_EQ(c4.unmask(encode(bad)).status().code(), StatusCode::kCorruption);
  // Fewer than t signatures: refused.
  bad = *req;
  bad.sigs.resize(2);
  EXPECT_EQ(c4.unmask(encode(bad)).status().code(), StatusCode::kFailedPrecondition);
  // The genuine request is still answered.
  EXPECT_TRUE(c4.unmask(net.rec.unmask_request).ok());
}

// A malicious client that signed U3 answers the unmasking round with one altered share: the server
// gets exactly t answers, so the Shamir consistency check cannot help, but the reconstructed seed
// fails its commitment (self-mask seed) or the advertised public key (masking key): an error, not a
// wrong sum.
TEST(SecAgg, AWrongUnmaskingShareIsDetectedWithExactlyTAnswers) {
  for (ShareKind kind : {ShareKind::kSelfMaskSeed, ShareKind::kMaskingKey}) {
    // Client 5 drops after round 1 (its masking key is rebuilt); clients 3 and 4 sign but stay silent.
    SecAggNet net(5, 3, 30, 23);
    const auto x = encode_all(random_inputs(5, 30, 24));
    auto first = net.run(x, {5, 5, 4, 4, 2});
    ASSERT_FALSE(first.ok());  // 2 < t answers so far
    EXPECT_EQ(first.status().code(), StatusCode::kFailedPrecondition);
    auto genuine = net.clients[2]->unmask(net.rec.unmask_request);
    ASSERT_TRUE(genuine.ok());
    auto m = decode_unmask_response(*genuine);
    ASSERT_TRUE(m.ok());
    const std::uint32_t owner = kind == ShareKind::kSelfMaskSeed ? 1 : 5;
    auto& share = m->shares[owner - 1];
    ASSERT_EQ(share.kind, kind);
    share.limbs[2] = (share.limbs[2] + 1) % kShamirPrime;
    Bytes forged = encode(*m);
    crypto_sign_detached(forged.data() + forged.size() - 64, nullptr, forged.data(), forged.size() - 64,
                         net.sign_keys[2].data());
    ASSERT_TRUE(net.server->receive_unmask(forged).ok());  // well-formed and signed by client 3
    auto sum = net.server->finish();
    ASSERT_FALSE(sum.ok());
    EXPECT_EQ(sum.status().code(), StatusCode::kCorruption) << sum.status().to_string();
  }
}

// Every single-byte change of a signed client message is rejected by the server, every strict
// prefix of every message by its decoder; server-to-client messages: no crash, and (except the
// survivor list, whose ids can mutate into another valid list) an error.
TEST(SecAgg, MutatedAndTruncatedMessagesGiveErrors) {
  SecAggNet ref(5, 3, 64, 20);
  const auto x = encode_all(random_inputs(5, 64, 21));
  ASSERT_TRUE(ref.run(x, std::vector<int>(5, 5)).ok());
  const auto& rec = ref.rec;
  SeededRng rng(seed_from_u64(22));
  auto mutate = [&](const Bytes& b) {
    Bytes m = b;
    const int kind = static_cast<int>(rng.uniform(4));
    if (kind == 0 && m.size() > 1) {
      m.resize(rng.uniform(m.size()));
    } else if (kind == 1) {
      m.push_back(static_cast<std::uint8_t>(rng.next_u32()));
    } else {
      const std::size_t flips = 1 + rng.uniform(kind == 2 ? 1 : 4);
      for (std::size_t f = 0; f < flips; ++f)
        m[rng.uniform(m.size())] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
    }
    return m;
  };
  constexpr int kTrials = 300;

  // A fresh network replays the recorded run, offering mutants before each genuine message.
  SecAggNet net(5, 3, 64, 20);  // same seed: same identities and session as `ref`
  std::size_t rejected = 0, offered = 0;
  auto offer = [&](const std::vector<Bytes>& genuine, auto deliver) {
    for (const auto& g : genuine) {
      for (int i = 0; i < kTrials; ++i) {
        Bytes m = mutate(g);
        if (m == g) continue;
        ++offered;
        const Status s = deliver(std::span<const std::uint8_t>(m));
        EXPECT_FALSE(s.ok()) << "mutant accepted";
        rejected += !s.ok();
      }
      ASSERT_TRUE(deliver(std::span<const std::uint8_t>(g)).ok());
    }
  };
  // The replayed clients must produce the same messages, so drive them, not only the server.
  for (auto& c : net.clients) (void)c->advertise_keys();
  offer(rec.adverts, [&](auto b) { return net.server->receive_advertise(b); });
  ASSERT_EQ(*net.server->key_list(), rec.key_list);
  for (int i = 0; i < kTrials; ++i) {  // mutated key lists: every client must refuse them
    Bytes m = mutate(rec.key_list);
    if (m == rec.key_list) continue;
    ++offered;
    EXPECT_FALSE(net.clients[0]->share_keys(m).ok());
    ++rejected;
  }
  std::vector<Bytes> shares;
  for (auto& c : net.clients) shares.push_back(*c->share_keys(rec.key_list));
  offer(shares, [&](auto b) { return net.server->receive_shares(b); });
  auto routed = *net.server->route_shares();
  for (int i = 0; i < kTrials; ++i) {
    Bytes m = mutate(routed[0].second);
    if (m == routed[0].second) continue;
    ++offered;
    EXPECT_FALSE(net.clients[0]->masked_input(m, x[0]).ok());
    ++rejected;
  }
  std::vector<Bytes> masked;
  for (auto& [v, b] : routed) masked.push_back(*net.clients[v - 1]->masked_input(b, x[v - 1]));
  offer(masked, [&](auto b) { return net.server->receive_masked_input(b); });
  const Bytes surv = *net.server->survivors();
  for (int i = 0; i < kTrials; ++i) {  // may decode to another valid list; must not crash
    auto d = decode_survivors(mutate(surv));
    if (d.ok()) {
      EXPECT_NE(encode(*d), surv);
    }
  }
  std::vector<Bytes> sigs;
  for (auto& c : net.clients) sigs.push_back(*c->sign_survivors(surv));
  offer(sigs, [&](auto b) { return net.server->receive_survivor_signature(b); });
  const Bytes req = *net.server->unmask_request();
  for (int i = 0; i < kTrials; ++i) {
    Bytes m = mutate(req);
    if (m == req) continue;
    ++offered;
    EXPECT_FALSE(net.clients[0]->unmask(m).ok());
    ++rejected;
  }
  std::vector<Bytes> unmasks;
  for (auto& c : net.clients) unmasks.push_back(*c->unmask(req));
  offer(unmasks, [&](auto b) { return net.server->receive_unmask(b); });
  auto sum = net.server->finish();
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  std::vector<std::uint64_t> plain(64, 0);
  for (const auto& v : x) add_in_place(plain, v);
  EXPECT_EQ(*sum, plain);
  EXPECT_EQ(rejected, offered);
  EXPECT_GT(offered, 20u * kTrials);

  // Every strict prefix of every recorded message is refused by its decoder.
  auto prefixes = [](const Bytes& b, auto decode) {
    for (std::size_t len = 0; len < b.size(); ++len) EXPECT_FALSE(decode(std::span(b.data(), len)).ok()) << len;
    EXPECT_TRUE(decode(std::span<const std::uint8_t>(b)).ok());
  };
  prefixes(rec.adverts[0], [](auto s) { return decode_advertise(s); });
  prefixes(rec.key_list, [](auto s) { return decode_key_list(s); });
  prefixes(rec.share_keys[0], [](auto s) { return decode_share_keys(s); });
  prefixes(rec.routed[0], [](auto s) { return decode_shares_for_client(s); });
  prefixes(rec.masked[0], [](auto s) { return decode_masked_input(s); });
  prefixes(rec.survivors, [](auto s) { return decode_survivors(s); });
  prefixes(rec.sigs[0], [](auto s) { return decode_survivor_sig(s); });
  prefixes(rec.unmask_request, [](auto s) { return decode_unmask_request(s); });
  prefixes(rec.unmasks[0], [](auto s) { return decode_unmask_response(s); });
  // Each decoder refuses the other message types.
  EXPECT_FALSE(decode_key_list(rec.adverts[0]).ok());
  EXPECT_FALSE(decode_unmask_response(rec.sigs[0]).ok());
  EXPECT_FALSE(peek_type(Bytes(10, 0)).ok());
}

TEST(SecAgg, MessagesOfAnotherSessionAreRefused) {
  SecAggNet a(3, 2, 8, 30), b(3, 2, 8, 31);
  const Bytes adv = a.clients[0]->advertise_keys();
  EXPECT_FALSE(b.server->receive_advertise(adv).ok());
  EXPECT_TRUE(a.server->receive_advertise(adv).ok());
  EXPECT_FALSE(a.server->receive_advertise(adv).ok());  // replay
}

// Cost for n = 5 hospitals and 10^5 values (reported, loosely bounded).
TEST(SecAgg, CostForFiveClientsAndOneHundredThousandValues) {
  const std::size_t len = 100000;
  SecAggNet net(5, 3, len, 40);
  const auto x = random_inputs(5, len, 41);
  const auto enc = encode_all(x);
  const auto t0 = std::chrono::steady_clock::now();
  auto sum = net.run(enc, {5, 5, 5, 5, 2});  // one dropout: the server's expensive path
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(sum.ok());
  expect_sum(*sum, x, {1, 2, 3, 4});
  std::printf("secagg n=5 t=3 len=%zu (client 5 drops after round 1): %.3f s total (all roles, one thread)\n", len,
              secs);
  std::printf("  all clients: %.3f s (%.3f s per client), server: %.3f s\n", net.client_secs, net.client_secs / 5,
              net.server_secs);
  for (std::size_t u = 0; u < 5; ++u)
    std::printf("  client %zu: sent %zu bytes, received %zu bytes\n", u + 1, net.up[u], net.down[u]);
  EXPECT_LT(net.up[0], 8 * len + 4096);  // the masked input dominates: ~8 bytes per value
  EXPECT_LT(secs, 20.0);
}

}  // namespace
}  // namespace heal::smpc
