// Multiparty CKKS: collective keys, flooded n-of-n and t-of-n threshold decryption.
#include <gtest/gtest.h>

#include <cstdio>
#include <limits>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/math/sampler.h"

namespace heal::ckks::multiparty {
namespace {

using ckks::testing::precision_bits;
using ckks::testing::random_vec;
using ckks::testing::Vec;

constexpr std::size_t kParties = 3;

// Insecure small ring (tests only); a 55-bit scale leaves room for the flooding noise.
struct Mp {
  Mp() {
    ParamsSpec s;
    s.log_n = 11;
    s.q_bits = {60, 55, 55};
    s.p_bits = {60};
    s.default_scale = 0x1p55;
    s.allow_insecure = true;
    ctx = Context::create(s);
    SeededRng rng(seed_from_u64(7));
    sum = SecretKey(math::RnsPoly(ctx->n(), ctx->key_basis().size(), true));
    for (std::size_t i = 0; i < kParties; ++i) {
      secrets.push_back(sample_secret_key(*ctx, rng));
      sum.poly().add_inplace(secrets.back().poly(), ctx->key_basis());
    }
    const Seed crs = seed_from_u64(1234);
    CollectivePublicKeyGen ckg(ctx, crs);
    std::vector<KeyShare> shares;
    for (std::size_t i = 0; i < kParties; ++i) shares.push_back(ckg.gen_share(PartyId(i + 1), secrets[i], rng));
    pk = ckg.finalize(ckg.aggregate_shares(shares));
    encoder = std::make_unique<Encoder>(ctx);
    encryptor = std::make_unique<Encryptor>(ctx, pk);
    ideal = std::make_unique<Decryptor>(ctx, sum);
  }
  FloodingParams flooding(std::size_t cts = 1) const {
    FloodingParams f;
    f.ciphertext_noise_bound = static_cast<double>(cts) * fresh_noise_bound(*ctx, kParties);
    f.max_decryptions = 16;
    f.parties = kParties;
    f.secret_parties = kParties;
    f.fresh_encryptions = cts;
    f.required_bits = 10;
    return f;
  }
  ContextPtr ctx;
  std::vector<SecretKey> secrets;
  SecretKey sum;  // the ideal secret, assembled here only to check results
  PublicKey pk;
  std::unique_ptr<Encoder> encoder;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> ideal;
};

Mp& mp() {
  static Mp m;
  return m;
}

TEST(Multiparty, CollectivePublicKeyAndFloodedNofNDecryption) {
  auto& m = mp();
  const Vec v = random_vec(m.ctx->slots(), 1);
  const Ciphertext ct = m.encryptor->encrypt(m.encoder->encode(v));
  const Vec single = m.encoder->decode(m.ideal->decrypt(ct));
  EXPECT_GT(precision_bits(v, single), 40);

  ThresholdDecryptor td(m.ctx, m.flooding());
  SeededRng rng(seed_from_u64(8));
  std::vector<DecryptionShare> shares;
  for (std::size_t i = 0; i < kParties; ++i) shares.push_back(td.gen_share(PartyId(i + 1), ct, m.secrets[i], rng));
  const Vec out = m.encoder->decode(td.finalize(ct, td.aggregate_shares(shares)));
  const double stdev = flooded_slot_error_std(*m.ctx, m.flooding(), kParties, ct.scale());
  const double bits = precision_bits(single, out);
  std::printf("[ n-of-n ] sigma_flood = 2^%.1f, predicted slot std 2^%.1f, threshold vs single-key: %.1f bits, vs message "
              "%.1f bits (single-key decryption: %.1f bits)\n",
              std::log2(td.sigma()), std::log2(stdev), bits, precision_bits(v, out), precision_bits(v, single));
  // Within 8 predicted standard deviations of the single-key result, and the flooding is really there.
  EXPECT_GT(bits, -std::log2(8 * stdev));
  EXPECT_LT(bits, -std::log2(stdev / 64));
  EXPECT_GT(precision_bits(v, out), 10);
  EXPECT_TRUE(check_flooding_precision(*m.ctx, m.flooding(), kParties, ct.scale(), 10).ok());
  const Status too_much = check_flooding_precision(*m.ctx, m.flooding(), kParties, ct.scale(), 30);
  EXPECT_EQ(too_much.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(too_much.message().find("decrypt at scale"), std::string::npos);

  // n-1 of n parties: garbage.
  const auto partial = td.aggregate_shares(std::span<const DecryptionShare>(shares.data(), kParties - 1));
  const Vec bad = m.encoder->decode(td.finalize(ct, partial));
  std::printf("[ n-of-n ] %zu of %zu parties: %.1f bits (garbage)\n", kParties - 1, kParties, precision_bits(v, bad));
  EXPECT_LT(precision_bits(v, bad), -20);
  // A duplicated share is refused.
  std::vector<DecryptionShare> dup{shares[0], shares[0]};
  EXPECT_THROW(td.aggregate_shares(dup), std::invalid_argument);
}

TEST(Multiparty, FloodingParametersAndDecryptionBudget) {
  auto& m = mp();
  FloodingParams f = m.flooding();
  f.security_bits = 30;
  EXPECT_THROW(ThresholdDecryptor(m.ctx, f), std::invalid_argument);
  f = m.flooding();
  f.ciphertext_noise_bound = 0;
  f.fresh_encryptions = 0;  // no bound at all: neither derived nor vouched for
  EXPECT_THROW(ThresholdDecryptor(m.ctx, f), std::invalid_argument);
  f = m.flooding();
  f.max_decryptions = 2;
  ThresholdDecryptor td(m.ctx, f);
  // sigma = 2^(lambda/2) sqrt(N D) B
  EXPECT_NEAR(td.sigma(), std::exp2(20.0) * std::sqrt(2048.0 * 2) * f.ciphertext_noise_bound, 1e-6 * td.sigma());
  const Ciphertext ct = m.encryptor->encrypt_zero(m.ctx->max_level(), m.ctx->default_scale());
  SeededRng rng(seed_from_u64(9));
  (void)td.gen_share(1, ct, m.secrets[0], rng);
  (void)td.gen_share(1, ct, m.secrets[0], rng);
  EXPECT_THROW(td.gen_share(1, ct, m.secrets[0], rng), std::invalid_argument);
}

// The party bounds B_ct itself: a caller's B_ct below the bound of a sum of the stated fresh
// encryptions is refused, as is a decryptor with no bound it can check (unless explicitly vouched).
TEST(Multiparty, DecryptorRefusesUnderstatedNoiseBound) {
  auto& m = mp();
  FloodingParams f = m.flooding(3);
  const double derived = derived_noise_bound(*m.ctx, f);
  EXPECT_DOUBLE_EQ(derived, 3 * fresh_noise_bound(*m.ctx, kParties));
  f.ciphertext_noise_bound = derived / 2;  // understated
  try {
    ThresholdDecryptor td(m.ctx, f);
    ADD_FAILURE() << "an understated B_ct was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("understates"), std::string::npos) << e.what();
  }
  // B_ct = 0: the derived bound is used, the flooding is the same as with the exact claim.
  f.ciphertext_noise_bound = 0;
  const ThresholdDecryptor derived_td(m.ctx, f);
  f.ciphertext_noise_bound = derived;
  EXPECT_DOUBLE_EQ(derived_td.sigma(), ThresholdDecryptor(m.ctx, f).sigma());
  // A larger claim only floods more.
  f.ciphertext_noise_bound = 2 * derived;
  EXPECT_GT(ThresholdDecryptor(m.ctx, f).sigma(), derived_td.sigma());
  // Symmetric fresh encryptions: 6 sigma each.
  f.fresh_kind = FreshEncryption::kSymmetric;
  f.ciphertext_noise_bound = 0;
  EXPECT_DOUBLE_EQ(derived_noise_bound(*m.ctx, f), 3 * 6 * math::kDefaultSigma);
  // Other circuits: only with the explicit opt-in and a positive B_ct.
  f = m.flooding();
  f.fresh_encryptions = 0;
  EXPECT_THROW(ThresholdDecryptor(m.ctx, f), std::invalid_argument);
  f.caller_vouches_for_noise_bound = true;
  EXPECT_NO_THROW(ThresholdDecryptor(m.ctx, f));
  f.ciphertext_noise_bound = 0;
  EXPECT_THROW(ThresholdDecryptor(m.ctx, f), std::invalid_argument);
  // The party count and the precision need must be stated.
  f = m.flooding();
  f.parties = 0;
  EXPECT_THROW(ThresholdDecryptor(m.ctx, f), std::invalid_argument);
  f = m.flooding();
  f.required_bits = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(ThresholdDecryptor(m.ctx, f), std::invalid_argument);
}

// check_flooding_precision runs before every share: a decryption the flood would swamp at the
// requested precision gets no share at all (n-of-n and t-of-n), and the budget is not consumed.
TEST(Multiparty, DecryptorRefusesShareThatFloodingWouldSwamp) {
  auto& m = mp();
  const Ciphertext ct = m.encryptor->encrypt(m.encoder->encode(random_vec(m.ctx->slots(), 13)));
  FloodingParams f = m.flooding();
  ASSERT_TRUE(check_flooding_precision(*m.ctx, f, kParties, ct.scale(), 10).ok());
  ASSERT_FALSE(check_flooding_precision(*m.ctx, f, kParties, ct.scale(), 30).ok());
  f.required_bits = 30;
  ThresholdDecryptor td(m.ctx, f);  // the scale is only known per ciphertext
  const Status st = td.check_share(ct, kParties);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("refusing to produce a share"), std::string::npos) << st.message();
  SeededRng rng(seed_from_u64(14));
  EXPECT_THROW(td.gen_share(1, ct, m.secrets[0], rng), std::invalid_argument);
  ThresholdSecret ts;
  ts.party = 1;
  ts.threshold = 1;
  ts.share = m.secrets[0];
  const std::vector<PartyId> quorum{1};
  EXPECT_THROW(td.gen_share(ts, quorum, ct, rng), std::invalid_argument);
  EXPECT_EQ(td.shares_generated(), 0u);
  // A lower scale fails even the 10 bits the default test parameters meet at 2^55.
  f.required_bits = 10;
  ThresholdDecryptor td10(m.ctx, f);
  EXPECT_TRUE(td10.check_share(ct, kParties).ok());
  Ciphertext low = ct;
  low.set_scale(0x1p40);
  EXPECT_FALSE(td10.check_share(low, kParties).ok());
  // More shares combined than stated: the larger count is checked.
  const double bits3 = -std::log2(8 * flooded_slot_error_std(*m.ctx, f, kParties, ct.scale()));
  f.required_bits = bits3 - 0.01;
  ThresholdDecryptor tight(m.ctx, f);
  EXPECT_TRUE(tight.check_share(ct, kParties).ok());
  EXPECT_FALSE(tight.check_share(ct, 64 * kParties).ok());
  // Coefficient encoding (slots == 0) has no decoding FFT: sqrt(N) less error.
  EXPECT_NEAR(flooded_slot_error_std(*m.ctx, f, kParties, ct.scale()) /
                  flooded_coeff_error_std(*m.ctx, f, kParties, ct.scale()),
              std::sqrt(static_cast<double>(m.ctx->n())), 1e-9);
}

TEST(Multiparty, CollectiveRelinKeyMultiplies) {
  auto& m = mp();
  SeededRng rng(seed_from_u64(10));
  CollectiveRelinKeyGen rkg(m.ctx, seed_from_u64(77));
  std::vector<RelinKeyGenState> states(kParties);
  std::vector<KeyShare> r1, r2;
  for (std::size_t i = 0; i < kParties; ++i) r1.push_back(rkg.gen_share(PartyId(i + 1), m.secrets[i], states[i], rng));
  const KeyShare agg1 = rkg.aggregate_shares(r1);
  for (std::size_t i = 0; i < kParties; ++i)
    r2.push_back(rkg.gen_share_round2(PartyId(i + 1), m.secrets[i], states[i], agg1, rng));
  EXPECT_FALSE(states[0].ready());  // ephemeral secret wiped after round 2
  const RelinKey rk = rkg.finalize(agg1, rkg.aggregate_shares(r2));

  Evaluator ev(m.ctx);
  const Vec a = random_vec(m.ctx->slots(), 2), b = random_vec(m.ctx->slots(), 3);
  Vec ab(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) ab[i] = a[i] * b[i];
  Ciphertext c = ev.rescale(ev.mul_relin(m.encryptor->encrypt(m.encoder->encode(a)),
                                         m.encryptor->encrypt(m.encoder->encode(b)), rk));
  ASSERT_EQ(c.size(), 2u);
  const double bits = precision_bits(ab, m.encoder->decode(m.ideal->decrypt(c)));
  std::printf("[ relin ] collective relinearization key: product precision %.1f bits\n", bits);
  EXPECT_GT(bits, 25);

  // Threshold-decrypt the product too. Its noise is larger than a fresh ciphertext's: measure
  // ||e||_inf in the coefficient domain against the ideal decryption and flood for 4x that.
  Plaintext diff = m.ideal->decrypt(c);
  diff.poly().sub_inplace(m.encoder->encode(ab, c.scale(), c.level()).poly(), m.ctx->q_basis());
  double noise = 0;
  for (double x : m.encoder->decode_coeffs(diff)) noise = std::max(noise, std::fabs(x) * c.scale());
  FloodingParams f = m.flooding();
  f.fresh_encryptions = 0;  // a product: the party cannot bound it, the test vouches for its measurement
  f.caller_vouches_for_noise_bound = true;
  f.ciphertext_noise_bound = 4 * noise;
  f.required_bits = 5;
  ThresholdDecryptor td(m.ctx, f);
  std::vector<DecryptionShare> shares;
  for (std::size_t i = 0; i < kParties; ++i) shares.push_back(td.gen_share(PartyId(i + 1), c, m.secrets[i], rng));
  const double tb = precision_bits(ab, m.encoder->decode(td.finalize(c, td.aggregate_shares(shares))));
  std::printf("[ relin ] product noise 2^%.1f; threshold decryption with B_ct = 2^%.1f: %.1f bits\n", std::log2(noise),
              std::log2(f.ciphertext_noise_bound), tb);
  EXPECT_GT(tb, 5);
}

TEST(Multiparty, CollectiveGaloisKeysRotate) {
  auto& m = mp();
  SeededRng rng(seed_from_u64(11));
  CollectiveGaloisKeyGen gkg(m.ctx, seed_from_u64(55));
  GaloisKeys gk;
  for (long step : {1L, -3L}) {
    const std::uint64_t g = m.ctx->galois_elt_for_step(step);
    std::vector<KeyShare> sh;
    for (std::size_t i = 0; i < kParties; ++i) sh.push_back(gkg.gen_share(PartyId(i + 1), m.secrets[i], g, rng));
    gkg.finalize(gkg.aggregate_shares(sh), gk);
  }
  EXPECT_EQ(gk.size(), 2u);
  Evaluator ev(m.ctx);
  const Vec v = random_vec(m.ctx->slots(), 4);
  const Ciphertext ct = m.encryptor->encrypt(m.encoder->encode(v));
  const std::size_t n = v.size();
  for (long step : {1L, -3L}) {
    Vec want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = v[(i + n + static_cast<std::size_t>(step + 3) - 3) % n];
    const double bits = precision_bits(want, m.encoder->decode(m.ideal->decrypt(ev.rotate(ct, step, gk))));
    std::printf("[ galois ] collective rotation key, step %ld: %.1f bits\n", step, bits);
    EXPECT_GT(bits, 30);
  }
}

TEST(Multiparty, ThresholdTofNAnySubsetDecryptsSmallerCannot) {
  auto& m = mp();
  const std::vector<PartyId> ids{1, 2, 3, 4, 5};
  const std::size_t t = 3;
  SeededRng rng(seed_from_u64(12));
  // Five additive secrets and their collective public key.
  std::vector<SecretKey> s;
  for (std::size_t i = 0; i < ids.size(); ++i) s.push_back(sample_secret_key(*m.ctx, rng));
  CollectivePublicKeyGen ckg(m.ctx, seed_from_u64(99));
  std::vector<KeyShare> pks;
  for (std::size_t i = 0; i < ids.size(); ++i) pks.push_back(ckg.gen_share(ids[i], s[i], rng));
  Encryptor enc(m.ctx, ckg.finalize(ckg.aggregate_shares(pks)));

  ThresholdKeyGen tkg(m.ctx, t, ids);
  std::vector<std::vector<KeyShare>> inbox(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto out = tkg.gen_share(ids[i], s[i], rng);
    for (std::size_t j = 0; j < ids.size(); ++j) inbox[j].push_back(std::move(out[j]));
  }
  std::vector<ThresholdSecret> ts;
  for (std::size_t j = 0; j < ids.size(); ++j) ts.push_back(tkg.finalize(tkg.aggregate_shares(ids[j], inbox[j])));

  const Vec v = random_vec(m.ctx->slots(), 5);
  const Ciphertext ct = enc.encrypt(m.encoder->encode(v));
  FloodingParams f;
  f.fresh_encryptions = 1;  // B_ct derived: fresh_noise_bound(ctx, 5)
  f.secret_parties = ids.size();
  f.parties = t;
  f.required_bits = 10;
  f.max_decryptions = 64;
  ThresholdDecryptor td(m.ctx, f);
  double worst = 1e9;
  int subsets = 0;
  for (std::size_t a = 0; a < 5; ++a)
    for (std::size_t b = a + 1; b < 5; ++b)
      for (std::size_t c = b + 1; c < 5; ++c) {
        const std::vector<PartyId> quorum{ids[a], ids[b], ids[c]};
        std::vector<DecryptionShare> shares;
        for (std::size_t k : {a, b, c}) shares.push_back(td.gen_share(ts[k], quorum, ct, rng));
        worst = std::min(worst, precision_bits(v, m.encoder->decode(td.finalize(ct, td.aggregate_shares(shares)))));
        ++subsets;
      }
  std::printf("[ t-of-n ] 3-of-5: all %d quorums decrypt, worst precision %.1f bits\n", subsets, worst);
  EXPECT_EQ(subsets, 10);
  EXPECT_GT(worst, 10);

  // t-1 parties: the threshold API refuses, and combining their Lagrange-weighted shares for
  // the 2-set gives garbage.
  const std::vector<PartyId> two{ids[0], ids[3]};
  EXPECT_THROW(td.gen_share(ts[0], two, ct, rng), std::invalid_argument);
  ThresholdSecret lowered0 = ts[0], lowered3 = ts[3];
  lowered0.threshold = lowered3.threshold = 2;
  std::vector<DecryptionShare> shares{td.gen_share(lowered0, two, ct, rng), td.gen_share(lowered3, two, ct, rng)};
  const double bad = precision_bits(v, m.encoder->decode(td.finalize(ct, td.aggregate_shares(shares))));
  std::printf("[ t-of-n ] 2 of a 3-of-5 sharing: %.1f bits (garbage)\n", bad);
  EXPECT_LT(bad, -20);
  // A single party's Shamir share is not the additive secret of anyone.
  EXPECT_FALSE(ts[0].share.poly() == s[0].poly());
}

}  // namespace
}  // namespace heal::ckks::multiparty
