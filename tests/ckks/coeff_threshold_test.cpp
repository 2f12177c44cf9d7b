// The ckks operations the fl layer's HE aggregation uses (src/fl/he_*.cpp): coefficient encoding
// of real vectors into exact residues with centred CRT decoding, symmetric encryption under a
// given `a` seed, and combining threshold decryption shares. Oracle tests against exact integer
// arithmetic and against single-key decryption.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/core/rng.h"
#include "heal/math/sampler.h"

namespace heal::ckks {
namespace {

using math::u128;
using math::u64;

// Insecure small ring (tests only), two 60-bit primes like the fl configuration (Q < 2^128).
ContextPtr ring() {
  static ContextPtr ctx = [] {
    ParamsSpec s;
    s.log_n = 11;
    s.q_bits = {60, 60};
    s.p_bits = {60};
    s.default_scale = 1.0;
    s.allow_insecure = true;
    return Context::create(s);
  }();
  return ctx;
}

std::vector<double> random_values(std::size_t n, std::uint64_t seed, double mag) {
  SeededRng r(seed_from_u64(seed));
  std::vector<double> v(n);
  for (auto& x : v) x = mag * (2 * r.uniform_double() - 1);
  return v;
}

TEST(CoeffEncoding, RoundTripWithinRoundingBoundIncludingNegatives) {
  const auto ctx = ring();
  Encoder enc(ctx);
  const double scale = 0x1p40;
  std::vector<double> v = random_values(1000, 3, 1000.0);
  v[0] = -0.25;
  v[1] = -1000.0;
  const Plaintext pt = enc.encode_coeffs(v, scale, ctx->max_level());
  EXPECT_EQ(pt.slots(), 0u);
  EXPECT_EQ(pt.scale(), scale);
  const std::vector<double> d = enc.decode_coeffs(pt);
  ASSERT_EQ(d.size(), ctx->n());
  for (std::size_t i = 0; i < v.size(); ++i) {
    // round(v * scale) / scale: within half a unit of the scale (plus the double rounding of v * scale).
    EXPECT_LE(std::fabs(d[i] - v[i]), 0.5 / scale + std::fabs(v[i]) * 0x1p-52) << i;
    EXPECT_EQ(d[i], std::nearbyint(v[i] * scale) / scale) << i;
  }
  for (std::size_t i = v.size(); i < ctx->n(); ++i) EXPECT_EQ(d[i], 0.0) << i;
}

TEST(CoeffEncoding, ResiduesAreExactBeyondTwoToThe62) {
  const auto ctx = ring();
  Encoder enc(ctx);
  // |v * scale| ~ 2^80: the encoder reduces the exact 53-bit mantissa times a power of two.
  const double scale = 0x1p70;
  const std::vector<double> v{1000.125, -999.5, 3.0, -0.0};
  math::RnsPoly p = enc.encode_coeffs(v, scale, ctx->max_level()).poly();
  p.intt_inplace(ctx->q_basis());
  for (std::size_t k = 0; k < v.size(); ++k) {
    const double x = v[k] * scale;  // an exact integer in double
    int e = 0;
    const double m = std::frexp(std::fabs(x), &e);
    const u128 mag = x == 0 ? 0 : static_cast<u128>(static_cast<u64>(std::ldexp(m, 53))) << (e - 53);
    for (std::size_t i = 0; i < ctx->q_count(); ++i) {
      const u64 q = ctx->q(i).value();
      const u64 r = static_cast<u64>(mag % q);
      EXPECT_EQ(p.limb(i)[k], x < 0 && r != 0 ? q - r : r) << "coefficient " << k << " limb " << i;
    }
  }
  const std::vector<double> d = Encoder(ctx).decode_coeffs(enc.encode_coeffs(v, scale, ctx->max_level()));
  for (std::size_t k = 0; k < v.size(); ++k) EXPECT_EQ(d[k], v[k]) << k;  // exact: x is a double
}

TEST(CoeffEncoding, CentredCrtDecodingAtHalfQ) {
  const auto ctx = ring();
  Encoder enc(ctx);
  const u64 q0 = ctx->q(0).value(), q1 = ctx->q(1).value();
  const u128 big_q = static_cast<u128>(q0) * q1;
  const u128 half = big_q / 2;  // Q is odd: half = (Q - 1) / 2, the largest non-negative representative
  const u128 x[] = {half, half + 1, big_q - 1, 1, 0};
  math::RnsPoly p(ctx->n(), 2, false);
  for (std::size_t k = 0; k < 5; ++k) {
    p.limb(0)[k] = static_cast<u64>(x[k] % q0);
    p.limb(1)[k] = static_cast<u64>(x[k] % q1);
  }
  const std::vector<double> d = enc.decode_coeffs(Plaintext(p, 1.0, 0));
  EXPECT_EQ(d[0], static_cast<double>(half));    // (Q-1)/2 stays positive
  EXPECT_EQ(d[1], -static_cast<double>(half));   // (Q+1)/2 = -(Q-1)/2
  EXPECT_EQ(d[2], -1.0);
  EXPECT_EQ(d[3], 1.0);
  EXPECT_EQ(d[4], 0.0);
  // The same through the NTT form, divided by a power-of-two scale.
  math::RnsPoly pn = p;
  pn.ntt_inplace(ctx->q_basis());
  const std::vector<double> dn = enc.decode_coeffs(Plaintext(pn, 0x1p10, 0));
  EXPECT_EQ(dn[0], static_cast<double>(half) / 0x1p10);
  EXPECT_EQ(dn[1], -static_cast<double>(half) / 0x1p10);
}

TEST(SeededEncryption, GivenSeedIsUsedAndSumsDecryptUnderSumOfSecrets) {
  const auto ctx = ring();
  Encoder enc(ctx);
  SeededRng keys(seed_from_u64(21));
  const SecretKey s1 = sample_secret_key(*ctx, keys), s2 = sample_secret_key(*ctx, keys);
  const double scale = 0x1p40;
  const std::vector<double> m1 = random_values(500, 4, 10.0), m2 = random_values(500, 5, 10.0);
  const Seed a = seed_from_u64(77);
  Encryptor e1(ctx, s1), e2(ctx, s2);
  SeededRng n1(seed_from_u64(1)), n1b(seed_from_u64(1)), n2(seed_from_u64(2));
  const SeededCiphertext c1 = e1.encrypt_seeded(enc.encode_coeffs(m1, scale, ctx->max_level()), a, n1);
  const SeededCiphertext c1b = e1.encrypt_seeded(enc.encode_coeffs(m1, scale, ctx->max_level()), a, n1b);
  const SeededCiphertext c2 = e2.encrypt_seeded(enc.encode_coeffs(m2, scale, ctx->max_level()), a, n2);
  EXPECT_EQ(c1.seed(), a);
  EXPECT_TRUE(c1.c0() == c1b.c0());  // deterministic given the seed and the noise stream
  const Ciphertext full = c1.expand(*ctx);
  EXPECT_TRUE(full[1] == math::expand_uniform_poly(a, SeededCiphertext::kCiphertextStream, ctx->q_basis(),
                                                   ctx->q_count(), true));
  // Single decryption: m1 within the fresh noise (|e| <= 6 sigma, truncated Gaussian).
  const double noise = 6 * 3.2 + 0.5;
  const auto d1 = enc.decode_coeffs(Decryptor(ctx, s1).decrypt(full));
  for (std::size_t i = 0; i < m1.size(); ++i) EXPECT_LE(std::fabs(d1[i] - m1[i]), noise / scale) << i;
  // Sum of the c0 under one a: an encryption of m1 + m2 under s1 + s2.
  math::RnsPoly c0 = c1.c0();
  c0.add_inplace(c2.c0(), ctx->q_basis());
  SecretKey sum(s1.poly());
  sum.poly().add_inplace(s2.poly(), ctx->key_basis());
  const auto ds = enc.decode_coeffs(Decryptor(ctx, sum).decrypt(SeededCiphertext(a, c0, scale, 0).expand(*ctx)));
  for (std::size_t i = 0; i < m1.size(); ++i) EXPECT_LE(std::fabs(ds[i] - (m1[i] + m2[i])), 2 * noise / scale) << i;
  // Misuse: a public-key encryptor has no secret to encrypt under.
  KeyGenerator kg(ctx, std::make_unique<SeededRng>(seed_from_u64(8)));
  Encryptor pk_enc(ctx, kg.create_public_key());
  SeededRng n3(seed_from_u64(3));
  EXPECT_THROW(pk_enc.encrypt_seeded(enc.encode_coeffs(m1, scale, ctx->max_level()), a, n3), std::invalid_argument);
}

TEST(CombineDecryptionShares, SumUnderOneAThenThresholdQuorumEqualsSingleKeyDecryption) {
  using namespace multiparty;
  const auto ctx = ring();
  Encoder enc(ctx);
  const std::vector<PartyId> ids{1, 2, 3};
  SeededRng rng(seed_from_u64(31));
  std::vector<SecretKey> s;
  SecretKey sum(math::RnsPoly(ctx->n(), ctx->key_basis().size(), true));
  for (std::size_t i = 0; i < 3; ++i) {
    s.push_back(sample_secret_key(*ctx, rng));
    sum.poly().add_inplace(s.back().poly(), ctx->key_basis());
  }
  ThresholdKeyGen tkg(ctx, 2, ids);
  std::vector<std::vector<KeyShare>> inbox(3);
  for (std::size_t i = 0; i < 3; ++i) {
    auto out = tkg.gen_share(ids[i], s[i], rng);
    for (std::size_t j = 0; j < 3; ++j) inbox[j].push_back(std::move(out[j]));
  }
  std::vector<ThresholdSecret> ts;
  for (std::size_t j = 0; j < 3; ++j) ts.push_back(tkg.finalize(tkg.aggregate_shares(ids[j], inbox[j])));

  // Three parties encrypt under one a; the aggregate is the sum of their c0 (the fl pattern).
  const double scale = 0x1p50;
  const Seed a = seed_from_u64(5);
  std::vector<double> expect(300, 0.0);
  math::RnsPoly c0;
  std::vector<SeededCiphertext> cts;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto m = random_values(expect.size(), 40 + i, 50.0);
    for (std::size_t k = 0; k < m.size(); ++k) expect[k] += m[k];
    Encryptor e(ctx, s[i]);
    cts.push_back(e.encrypt_seeded(enc.encode_coeffs(m, scale, ctx->max_level()), a, rng));
    if (i == 0) {
      c0 = cts.back().c0();
    } else {
      c0.add_inplace(cts.back().c0(), ctx->q_basis());
    }
  }
  auto summed = sum_seeded_ciphertexts(*ctx, cts);
  ASSERT_TRUE(summed.ok()) << summed.status().to_string();
  EXPECT_TRUE(summed->c0() == c0);
  EXPECT_EQ(summed->seed(), a);
  EXPECT_EQ(summed->scale(), scale);
  const SeededCiphertext agg = std::move(*summed);
  // Outside bytes: an empty set, or a ciphertext under another a, is an error, not a throw.
  EXPECT_EQ(sum_seeded_ciphertexts(*ctx, {}).status().code(), StatusCode::kInvalidArgument);
  std::vector<SeededCiphertext> mixed{cts[0], SeededCiphertext(seed_from_u64(6), cts[1].c0(), scale, 0)};
  EXPECT_EQ(sum_seeded_ciphertexts(*ctx, mixed).status().code(), StatusCode::kCorruption);
  mixed[1] = SeededCiphertext(a, cts[1].c0(), 2 * scale, 0);
  EXPECT_EQ(sum_seeded_ciphertexts(*ctx, mixed).status().code(), StatusCode::kCorruption);
  const Ciphertext full = agg.expand(*ctx);

  FloodingParams f;
  f.fresh_kind = FreshEncryption::kSymmetric;
  f.fresh_encryptions = 3;
  f.secret_parties = 3;
  f.parties = 2;
  f.required_bits = 10;
  f.max_decryptions = 16;
  ThresholdDecryptor td(ctx, f);
  const std::vector<PartyId> quorum{1, 3};
  std::vector<DecryptionShare> shares{td.gen_share(ts[0], quorum, full, rng), td.gen_share(ts[2], quorum, full, rng)};

  auto pt = combine_decryption_shares(*ctx, agg, shares);
  ASSERT_TRUE(pt.ok()) << pt.status().to_string();
  EXPECT_EQ(pt->scale(), scale);
  // Identical to the member-function path on the expanded ciphertext.
  auto pt_full = combine_decryption_shares(*ctx, full, shares);
  ASSERT_TRUE(pt_full.ok());
  EXPECT_TRUE(pt->poly() == pt_full->poly());
  EXPECT_TRUE(pt->poly() == td.finalize(full, td.aggregate_shares(shares)).poly());
  // Equal to the single-key decryption under s = s1 + s2 + s3 up to the flooding noise.
  const auto d = enc.decode_coeffs(*pt);
  const auto ideal = enc.decode_coeffs(Decryptor(ctx, sum).decrypt(full));
  for (std::size_t k = 0; k < expect.size(); ++k) {
    EXPECT_LE(std::fabs(d[k] - ideal[k]), 0x1p-10) << k;
    EXPECT_LE(std::fabs(ideal[k] - expect[k]), 3 * (6 * 3.2 + 0.5) / scale) << k;
  }
  // A share of one quorum member alone decrypts to garbage.
  auto one = combine_decryption_shares(*ctx, agg, std::span<const DecryptionShare>(shares.data(), 1));
  ASSERT_TRUE(one.ok());
  EXPECT_GT(std::fabs(enc.decode_coeffs(*one)[0] - expect[0]), 1.0);

  // Outside bytes: errors, not throws.
  EXPECT_EQ(combine_decryption_shares(*ctx, agg, {}).status().code(), StatusCode::kInvalidArgument);
  std::vector<DecryptionShare> dup{shares[0], shares[0]};
  EXPECT_EQ(combine_decryption_shares(*ctx, agg, dup).status().code(), StatusCode::kInvalidArgument);
  std::vector<DecryptionShare> low{shares[0]};
  low[0].h = math::RnsPoly(ctx->n(), 1, true);
  EXPECT_EQ(combine_decryption_shares(*ctx, agg, low).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace heal::ckks
