// Collective bootstrapping (interactive refresh, ePrint 2020/304 Sec. IV-D): n-of-n and t-of-n
// refresh of a low-level ciphertext to the top level, refusal of too-low levels, of quorums below
// the threshold and of shares mixed across ciphertexts.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/refresh.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/ckks/serialization.h"
#include "heal/math/sampler.h"

namespace heal::ckks::multiparty {
namespace {

using ckks::testing::precision_bits;
using ckks::testing::random_vec;
using ckks::testing::Vec;

constexpr std::size_t kParties = 3;
constexpr double kMag = 0.8;  // |re|, |im| <= 0.8: |a b| < 1.3, so message_bound = 2 holds

// Insecure small ring (tests only): levels 0..3, a product of two fresh ciphertexts and a square
// bring a ciphertext to level 1, which is refreshed to level 3.
struct Cb {
  Cb() {
    ParamsSpec s;
    s.log_n = 11;
    s.q_bits = {60, 55, 55, 55};
    s.p_bits = {60};
    s.default_scale = 0x1p55;
    s.allow_insecure = true;
    ctx = Context::create(s);
    SeededRng rng(seed_from_u64(21));
    sum = SecretKey(math::RnsPoly(ctx->n(), ctx->key_basis().size(), true));
    for (std::size_t i = 0; i < kParties; ++i) {
      secrets.push_back(sample_secret_key(*ctx, rng));
      sum.poly().add_inplace(secrets.back().poly(), ctx->key_basis());
    }
    CollectivePublicKeyGen ckg(ctx, seed_from_u64(31));
    std::vector<KeyShare> pks;
    for (std::size_t i = 0; i < kParties; ++i) pks.push_back(ckg.gen_share(PartyId(i + 1), secrets[i], rng));
    pk = ckg.finalize(ckg.aggregate_shares(pks));
    CollectiveRelinKeyGen rkg(ctx, seed_from_u64(32));
    std::vector<RelinKeyGenState> st(kParties);
    std::vector<KeyShare> r1, r2;
    for (std::size_t i = 0; i < kParties; ++i) r1.push_back(rkg.gen_share(PartyId(i + 1), secrets[i], st[i], rng));
    const KeyShare agg1 = rkg.aggregate_shares(r1);
    for (std::size_t i = 0; i < kParties; ++i)
      r2.push_back(rkg.gen_share_round2(PartyId(i + 1), secrets[i], st[i], agg1, rng));
    rk = rkg.finalize(agg1, rkg.aggregate_shares(r2));
    encoder = std::make_unique<Encoder>(ctx);
    encryptor = std::make_unique<Encryptor>(ctx, pk);
    ideal = std::make_unique<Decryptor>(ctx, sum);
    ev = std::make_unique<Evaluator>(ctx);

    // The input: (a b)^2 at level 1; its noise measured against the ideal decryption.
    a = random_vec(ctx->slots(), 1, kMag);
    b = random_vec(ctx->slots(), 2, kMag);
    want.resize(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) want[i] = a[i] * b[i] * a[i] * b[i];
    const Ciphertext ab =
        ev->rescale(ev->mul_relin(encryptor->encrypt(encoder->encode(a)), encryptor->encrypt(encoder->encode(b)), rk));
    input = ev->rescale(ev->mul_relin(ab, ab, rk));
    Plaintext diff = ideal->decrypt(input);
    diff.poly().sub_inplace(encoder->encode(want, input.scale(), input.level()).poly(), ctx->q_basis());
    for (double x : encoder->decode_coeffs(diff)) noise = std::max(noise, std::fabs(x) * input.scale());
  }
  // The input is a product: the party cannot bound its noise, the test vouches for 4x its measurement.
  RefreshParams params(std::size_t parties) const {
    RefreshParams p;
    p.flooding.caller_vouches_for_noise_bound = true;
    p.flooding.ciphertext_noise_bound = 4 * noise;
    p.flooding.max_decryptions = 16;
    p.flooding.parties = parties;
    p.flooding.secret_parties = kParties;
    p.flooding.required_bits = 8;
    p.message_bound = 2;
    return p;
  }
  // Standard deviation of the slot error a refresh with `parties` shares adds: sum of the
  // flooding e0_i and the fresh e1_i, through the decoding FFT (as flooded_slot_error_std).
  double refresh_slot_std(const CollectiveBootstrapper& cb, std::size_t parties, double scale) const {
    const double var = cb.sigma() * cb.sigma() + math::kDefaultSigma * math::kDefaultSigma;
    return std::sqrt(var * static_cast<double>(parties) * static_cast<double>(ctx->n())) / scale;
  }
  ContextPtr ctx;
  std::vector<SecretKey> secrets;
  SecretKey sum;  // the ideal secret, assembled here only to check results
  PublicKey pk;
  RelinKey rk;
  std::unique_ptr<Encoder> encoder;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> ideal;
  std::unique_ptr<Evaluator> ev;
  Vec a, b, want;
  Ciphertext input;
  double noise = 0;
};

Cb& cb() {
  static Cb m;
  return m;
}

// One CollectiveBootstrapper per party (each keeps its own used-seed set and budget).
std::vector<std::unique_ptr<CollectiveBootstrapper>> bootstrappers(const Cb& m, std::size_t count,
                                                                   std::size_t parties) {
  std::vector<std::unique_ptr<CollectiveBootstrapper>> out;
  for (std::size_t i = 0; i < count; ++i)
    out.push_back(std::make_unique<CollectiveBootstrapper>(m.ctx, seed_from_u64(41), m.params(parties)));
  return out;
}

// Refreshed ciphertext: top level, input's scale; its ideal decryption is the input's within the
// predicted flooding error (and not closer than the flooding makes it); two more squarings work.
void check_refreshed(const Cb& m, const CollectiveBootstrapper& boot, const Ciphertext& out, std::size_t parties,
                     const char* what) {
  ASSERT_EQ(out.level(), m.ctx->max_level());
  EXPECT_EQ(out.scale(), m.input.scale());
  EXPECT_EQ(out.slots(), m.input.slots());
  const Vec before = m.encoder->decode(m.ideal->decrypt(m.input));
  const Vec after = m.encoder->decode(m.ideal->decrypt(out));
  const double stdev = m.refresh_slot_std(boot, parties, out.scale());
  const double bound_bits = -std::log2(8 * stdev);
  const double vs_input = precision_bits(before, after);
  const double vs_message = precision_bits(m.want, after);
  std::printf(
      "[ refresh %s ] level %zu -> %zu, sigma_flood 2^%.1f, predicted slot std 2^%.1f (8 std: %.1f bits); "
      "refreshed vs input %.1f bits, vs message %.1f bits (input vs message %.1f bits)\n",
      what, m.input.level(), out.level(), std::log2(boot.sigma()), std::log2(stdev), bound_bits, vs_input, vs_message,
      precision_bits(m.want, before));
  EXPECT_GT(vs_input, bound_bits);
  EXPECT_LT(vs_input, -std::log2(stdev / 64));  // the flooding is really there
  EXPECT_GT(vs_message, bound_bits - 0.5);      // the input's own error is far below the flooding

  // Further multiplications at the refreshed levels: x -> x^2 -> x^4 down to level 1.
  Ciphertext x2 = m.ev->rescale(m.ev->mul_relin(out, out, m.rk));
  Ciphertext x4 = m.ev->rescale(m.ev->mul_relin(x2, x2, m.rk));
  ASSERT_EQ(x4.level(), m.ctx->max_level() - 2);
  Vec want4(m.want.size());
  for (std::size_t i = 0; i < want4.size(); ++i) want4[i] = m.want[i] * m.want[i] * m.want[i] * m.want[i];
  const double bits4 = precision_bits(want4, m.encoder->decode(m.ideal->decrypt(x4)));
  std::printf("[ refresh %s ] x^4 after the refresh (2 more levels): %.1f bits\n", what, bits4);
  // d(x^4) = 4 x^3 dx with |x| < 1.7: at most 5 bits lost to the amplification.
  EXPECT_GT(bits4, bound_bits - 5);
}

TEST(CollectiveBootstrap, ThreeOfThreeRefreshesLevelOneToTop) {
  auto& m = cb();
  ASSERT_EQ(m.input.level(), 1u);
  auto boots = bootstrappers(m, kParties, kParties);
  SeededRng rng(seed_from_u64(50));
  std::vector<RefreshShare> shares;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < kParties; ++i)
    shares.push_back(boots[i]->gen_share(PartyId(i + 1), m.input, 7, m.secrets[i], rng));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / kParties;
  std::printf(
      "[ refresh 3-of-3 ] N = %zu, level %zu -> %zu: %.2f ms per party share, mask 2^%d, combined 2^%.1f of "
      "Q_l 2^%.1f\n",
      m.ctx->n(), m.input.level(), m.ctx->max_level(), ms, boots[0]->mask_bits(m.input),
      boots[0]->combined_bound_bits(m.input, kParties), m.ctx->q_basis().slice(0, 2).log2_product());
  EXPECT_EQ(shares[0].h0.num_limbs(), 2u);
  EXPECT_EQ(shares[0].h1.num_limbs(), m.ctx->q_count());
  EXPECT_EQ(boots[0]->shares_generated(), 1u);
  const Ciphertext out = boots[0]->finalize(m.input, boots[0]->aggregate_shares(shares));
  check_refreshed(m, *boots[0], out, kParties, "3-of-3");
  // What the aggregator sees, c0 + sum h0 = m + e + sum M_i + sum e0_i, is masked: nothing like the message.
  math::RnsPoly masked = m.input[0];
  for (const auto& s : shares) masked.add_inplace(s.h0, m.ctx->q_basis());
  EXPECT_LT(precision_bits(m.want, m.encoder->decode(Plaintext(std::move(masked), m.input.scale(), m.input.slots()))),
            -20);
  // n-1 shares: refused by finalize; forced through (a bootstrapper expecting 2), garbage.
  const RefreshShare two = boots[0]->aggregate_shares(std::span<const RefreshShare>(shares.data(), 2));
  EXPECT_THROW(boots[0]->finalize(m.input, two), std::invalid_argument);
  const CollectiveBootstrapper lax(m.ctx, seed_from_u64(41), m.params(2));
  const double bad = precision_bits(m.want, m.encoder->decode(m.ideal->decrypt(lax.finalize(m.input, two))));
  std::printf("[ refresh 3-of-3 ] 2 of 3 shares: %.1f bits (garbage)\n", bad);
  EXPECT_LT(bad, -20);
}

TEST(CollectiveBootstrap, TwoOfThreeThresholdRefreshAndQuorumBelowThreshold) {
  auto& m = cb();
  const std::vector<PartyId> ids{1, 2, 3};
  const std::size_t t = 2;
  SeededRng rng(seed_from_u64(60));
  ThresholdKeyGen tkg(m.ctx, t, ids);
  std::vector<std::vector<KeyShare>> inbox(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto out = tkg.gen_share(ids[i], m.secrets[i], rng);
    for (std::size_t j = 0; j < ids.size(); ++j) inbox[j].push_back(std::move(out[j]));
  }
  std::vector<ThresholdSecret> ts;
  for (std::size_t j = 0; j < ids.size(); ++j) ts.push_back(tkg.finalize(tkg.aggregate_shares(ids[j], inbox[j])));

  auto boots = bootstrappers(m, ids.size(), t);
  const std::vector<PartyId> quorum{1, 3};
  std::vector<RefreshShare> shares{boots[0]->gen_share(ts[0], quorum, m.input, 1, rng),
                                   boots[2]->gen_share(ts[2], quorum, m.input, 1, rng)};
  const Ciphertext out = boots[1]->finalize(m.input, boots[1]->aggregate_shares(shares));
  check_refreshed(m, *boots[0], out, t, "2-of-3");

  // t-1 parties: the API refuses a quorum below the threshold, and finalize an aggregate that
  // misses a quorum member.
  const std::vector<PartyId> one{2};
  EXPECT_THROW(boots[1]->gen_share(ts[1], one, m.input, 1, rng), std::invalid_argument);
  EXPECT_EQ(boots[1]->shares_generated(), 0u);
  EXPECT_THROW(boots[0]->finalize(m.input, boots[0]->aggregate_shares(std::span<const RefreshShare>(shares.data(), 1))),
               std::invalid_argument);
  // Forced through with a lowered threshold: a single Shamir share is no additive secret -> garbage.
  ThresholdSecret lowered = ts[1];
  lowered.threshold = 1;
  CollectiveBootstrapper lax(m.ctx, seed_from_u64(41), m.params(1));
  const RefreshShare alone = lax.gen_share(lowered, one, m.input, 1, rng);
  const double bad = precision_bits(m.want, m.encoder->decode(m.ideal->decrypt(lax.finalize(m.input, alone))));
  std::printf("[ refresh 2-of-3 ] 1 of a 2-of-3 sharing: %.1f bits (garbage)\n", bad);
  EXPECT_LT(bad, -20);
}

TEST(CollectiveBootstrap, RefusesLevelWhereMasksWouldWrap) {
  auto& m = cb();
  auto boots = bootstrappers(m, 1, kParties);
  SeededRng rng(seed_from_u64(70));
  // Level 0 (Q_0 = 2^60) cannot hold 3 masks of 2^(40 + 11 + 55).
  const Ciphertext low = m.ev->mod_switch_to(m.input, 0);
  const Status st = boots[0]->check_share(low, kParties);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("masks would wrap"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("refresh at level >= 1"), std::string::npos) << st.message();
  try {
    (void)boots[0]->gen_share(1, low, 1, m.secrets[0], rng);
    ADD_FAILURE() << "a share at level 0 was produced";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("masks would wrap"), std::string::npos) << e.what();
  }
  EXPECT_EQ(boots[0]->shares_generated(), 0u);
  EXPECT_TRUE(boots[0]->check_share(m.input, kParties).ok());
  // The bound counts the parties and the message: at level 1, 2^7 more message or 2^7 more
  // parties do not fit (115-bit Q_1, 2-bit margin, masks of 2^106..107).
  EXPECT_FALSE(boots[0]->check_share(m.input, kParties << 7).ok());
  RefreshParams big = m.params(kParties);
  big.message_bound = 2 * 0x1p7;
  const CollectiveBootstrapper wide(m.ctx, seed_from_u64(41), big);
  const Status st2 = wide.check_share(m.input, kParties);
  EXPECT_EQ(st2.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st2.message().find("refresh at level >= 2"), std::string::npos) << st2.message();
  // Precision: flooding that would swamp the required bits is refused too.
  RefreshParams strict = m.params(kParties);
  strict.flooding.required_bits = 40;
  EXPECT_FALSE(CollectiveBootstrapper(m.ctx, seed_from_u64(41), strict).check_share(m.input, kParties).ok());
  // The message bound must be stated.
  RefreshParams none = m.params(kParties);
  none.message_bound = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(CollectiveBootstrapper(m.ctx, seed_from_u64(41), none), std::invalid_argument);
}

TEST(CollectiveBootstrap, SharesCannotBeMixedAcrossCiphertextsOrSessions) {
  auto& m = cb();
  auto boots = bootstrappers(m, kParties, kParties);
  SeededRng rng(seed_from_u64(80));
  const Ciphertext other =
      m.ev->mod_switch_to(m.encryptor->encrypt(m.encoder->encode(random_vec(m.ctx->slots(), 3, kMag))), 1);
  // Party 1 refreshes `other`, parties 2 and 3 the input, all in session 5: the a' seeds differ.
  std::vector<RefreshShare> mixed{boots[0]->gen_share(1, other, 5, m.secrets[0], rng),
                                  boots[1]->gen_share(2, m.input, 5, m.secrets[1], rng),
                                  boots[2]->gen_share(3, m.input, 5, m.secrets[2], rng)};
  EXPECT_THROW(boots[0]->aggregate_shares(mixed), std::invalid_argument);
  // Same ciphertext, other session: refused as well.
  mixed[0] = boots[0]->gen_share(1, m.input, 6, m.secrets[0], rng);
  EXPECT_THROW(boots[0]->aggregate_shares(mixed), std::invalid_argument);
  // A complete aggregate for the input does not finalize another ciphertext.
  mixed[0] = boots[0]->gen_share(1, m.input, 5, m.secrets[0], rng);
  const RefreshShare agg = boots[0]->aggregate_shares(mixed);
  EXPECT_THROW(boots[0]->finalize(other, agg), std::invalid_argument);
  EXPECT_NO_THROW(boots[0]->finalize(m.input, agg));
  // A party never produces two shares for one a' (same ciphertext and session).
  EXPECT_THROW(boots[0]->gen_share(1, m.input, 5, m.secrets[0], rng), std::invalid_argument);
  // Relabelled (a share for `other` claiming the input's seed): accepted, decrypts to garbage.
  RefreshShare forged = boots[0]->gen_share(1, other, 9, m.secrets[0], rng);
  forged.seed = mixed[1].seed;
  forged.session = mixed[1].session;
  forged.h1 = mixed[0].h1;  // even with the right h1, h0 answers another c1
  mixed[0] = forged;
  const double bad = precision_bits(
      m.want, m.encoder->decode(m.ideal->decrypt(boots[0]->finalize(m.input, boots[0]->aggregate_shares(mixed)))));
  std::printf("[ refresh mixed ] share of another ciphertext relabelled: %.1f bits (garbage)\n", bad);
  EXPECT_LT(bad, -20);
}

// Shares travel as kCkksRefreshShare objects; the loader validates every field.
TEST(CollectiveBootstrap, RefreshShareSerializationRoundTripAndValidation) {
  auto& m = cb();
  auto boots = bootstrappers(m, kParties, kParties);
  SeededRng rng(seed_from_u64(90));
  std::vector<RefreshShare> shares, loaded;
  for (std::size_t i = 0; i < kParties; ++i) {
    shares.push_back(boots[i]->gen_share(PartyId(i + 1), m.input, 11, m.secrets[i], rng));
    auto r = load_refresh_share(*m.ctx, save(*m.ctx, shares.back()));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    loaded.push_back(std::move(*r));
  }
  EXPECT_EQ(loaded[1].parties, std::vector<PartyId>{2});
  EXPECT_EQ(loaded[1].session, 11u);
  EXPECT_EQ(loaded[1].seed, shares[1].seed);
  EXPECT_TRUE(loaded[1].h0 == shares[1].h0);
  EXPECT_TRUE(loaded[1].h1 == shares[1].h1);
  const Ciphertext a = boots[0]->finalize(m.input, boots[0]->aggregate_shares(shares));
  const Ciphertext b = boots[0]->finalize(m.input, boots[0]->aggregate_shares(loaded));
  EXPECT_TRUE(a[0] == b[0] && a[1] == b[1]);
  // A t-of-n aggregate keeps its quorum.
  RefreshShare q = boots[0]->aggregate_shares(shares);
  q.quorum = {1, 2, 3};
  const Bytes qb = save(*m.ctx, q);
  auto q2 = load_refresh_share(*m.ctx, qb);
  ASSERT_TRUE(q2.ok());
  EXPECT_EQ(q2->quorum, q.quorum);
  EXPECT_EQ(q2->parties, q.parties);
  auto info = inspect(qb);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_NE(info->description.find("collective bootstrapping share covering 3 parties"), std::string::npos)
      << info->description;
  // Unsorted quorum, truncation, wrong type: clear errors, no crash.
  q.quorum = {2, 1, 3};
  auto bad = load_refresh_share(*m.ctx, save(*m.ctx, q));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("quorum must be sorted"), std::string::npos) << bad.status().message();
  // Every truncation in the header and id lists, then every 1/64 of the polynomials, and one byte more.
  for (std::size_t len = 0; len < qb.size(); len += len < 256 ? 1 : qb.size() / 64) {
    EXPECT_FALSE(load_refresh_share(*m.ctx, std::span<const std::uint8_t>(qb.data(), len)).ok()) << "length " << len;
  }
  Bytes longer = qb;
  longer.push_back(0);
  EXPECT_FALSE(load_refresh_share(*m.ctx, longer).ok());
  // Random byte flips: an error or a share whose residues are all in range.
  SeededRng flips(seed_from_u64(91));
  for (int trial = 0; trial < 200; ++trial) {
    Bytes c = qb;
    c[flips.uniform(c.size())] ^= static_cast<std::uint8_t>(1 + flips.uniform(255));
    auto r = load_refresh_share(*m.ctx, c);
    if (!r.ok()) continue;
    for (const auto* p : {&r->h0, &r->h1})
      for (std::size_t i = 0; i < p->num_limbs(); ++i)
        for (std::size_t t = 0; t < p->n(); ++t) ASSERT_LT(p->limb(i)[t], m.ctx->q(i).value());
  }
  EXPECT_FALSE(load_decryption_share(*m.ctx, qb).ok());
  EXPECT_FALSE(load_refresh_share(*m.ctx, save(*m.ctx, m.input)).ok());
}

}  // namespace
}  // namespace heal::ckks::multiparty
