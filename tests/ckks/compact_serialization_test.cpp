// The lossy compact forms (save_compact / load_compact_*): round-trip error bounds, exactness at
// k = 0, sizes, the Q < 2^126 limit, and refusal of malformed or truncated bytes.
#include <gtest/gtest.h>

#include <cmath>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/serialization.h"
#include "heal/math/sampler.h"

namespace heal::ckks {
namespace {

ContextPtr make_ctx(std::vector<int> q) {
  ParamsSpec s;
  s.log_n = 10;
  s.q_bits = std::move(q);
  s.p_bits = {60};
  s.allow_insecure = true;
  return Context::create(s);
}

// Signed error of coefficient t between two coefficient-form polynomials, checked to be the same
// integer in every limb (|e| < q_i / 2): the CRT error of the compact round trip.
std::int64_t limb_error(const Context& ctx, const math::RnsPoly& a, const math::RnsPoly& b, std::size_t t) {
  std::int64_t e0 = 0;
  for (std::size_t i = 0; i < a.num_limbs(); ++i) {
    const u64 q = ctx.q(i).value();
    const u64 d = (b.limb(i)[t] + q - a.limb(i)[t]) % q;
    const std::int64_t e = d > q / 2 ? -static_cast<std::int64_t>(q - d) : static_cast<std::int64_t>(d);
    if (i == 0) e0 = e;
    EXPECT_EQ(e, e0) << "limb " << i << " disagrees at coefficient " << t;
  }
  return e0;
}

multiparty::DecryptionShare random_share(const Context& ctx, std::size_t limbs, std::uint64_t seed) {
  multiparty::DecryptionShare s;
  s.party = 2;
  s.parties = {1, 2};
  s.h = math::expand_uniform_poly(seed_from_u64(seed), 0, ctx.q_basis(), limbs, true);
  return s;
}

TEST(CompactSerialization, RoundTripErrorIsAtMostHalfTheDroppedUnit) {
  const auto ctx = make_ctx({50, 40, 40});  // Q_1 ~ 2^90, Q_2 ~ 2^130 (unsupported)
  for (std::size_t limbs : {std::size_t{1}, std::size_t{2}}) {
    for (int k : {0, 1, 7, 20, 38}) {
      for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        const auto share = random_share(*ctx, limbs, seed * 100 + static_cast<std::uint64_t>(k));
        const Bytes b = save_compact(*ctx, share, k);
        int stored = -1;
        auto back = load_compact_decryption_share(*ctx, b, &stored);
        ASSERT_TRUE(back.ok()) << back.status().to_string();
        EXPECT_EQ(stored, k);
        EXPECT_EQ(back->party, share.party);
        EXPECT_EQ(back->parties, share.parties);
        ASSERT_TRUE(back->h.is_ntt());
        ASSERT_EQ(back->h.num_limbs(), limbs);
        math::RnsPoly x = share.h, y = back->h;
        x.intt_inplace(ctx->q_basis());
        y.intt_inplace(ctx->q_basis());
        std::int64_t max_err = 0;
        for (std::size_t t = 0; t < ctx->n(); ++t) max_err = std::max(max_err, std::abs(limb_error(*ctx, x, y, t)));
        if (k == 0) {
          EXPECT_EQ(x, y) << "k = 0 must be exact";
        } else {
          EXPECT_LE(max_err, std::int64_t{1} << (k - 1)) << "k = " << k;
          // Rounding, not truncation: over 1024 uniform coefficients the error reaches above 2^(k-2).
          if (k >= 3) {
            EXPECT_GT(max_err, std::int64_t{1} << (k - 2)) << "k = " << k;
          }
        }
        // Size: header + hash + party fields + ceil(N * bits / 8) for bits = ceil(log2 Q) - k (or + 1).
        auto bits = compact_coefficient_bits(*ctx, limbs - 1, k);
        ASSERT_TRUE(bits.ok());
        const int qbits = limbs == 1 ? 50 : 90;
        EXPECT_GE(*bits, qbits - k);
        EXPECT_LE(*bits, qbits - k + 1);
        EXPECT_EQ(b.size(),
                  kHeaderSize + 32 + 4 + 4 + 8 + 4 + 1 + (ctx->n() * static_cast<std::size_t>(*bits) + 7) / 8);
      }
    }
  }
}

TEST(CompactSerialization, LargestDropAndUnsupportedModulus) {
  const auto ctx = make_ctx({50, 40, 40});
  // k = ceil(log2 Q) - 1 keeps one or two bits; still loads.
  const auto share = random_share(*ctx, 2, 7);
  auto top = compact_coefficient_bits(*ctx, 1, 89);
  ASSERT_TRUE(top.ok());
  EXPECT_LE(*top, 2);
  EXPECT_TRUE(load_compact_decryption_share(*ctx, save_compact(*ctx, share, 89)).ok());
  EXPECT_FALSE(compact_coefficient_bits(*ctx, 1, 90).ok());
  EXPECT_FALSE(compact_coefficient_bits(*ctx, 1, -1).ok());
  EXPECT_THROW((void)save_compact(*ctx, share, 90), std::invalid_argument);
  // Three limbs: Q ~ 2^130 >= 2^126 is refused with a clear error.
  auto big = compact_coefficient_bits(*ctx, 2, 10);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("2^126"), std::string::npos) << big.status().message();
  EXPECT_THROW((void)save_compact(*ctx, random_share(*ctx, 3, 8), 10), std::invalid_argument);
}

TEST(CompactSerialization, SeededCiphertextDecryptsWithinTheRoundingError) {
  const auto ctx = make_ctx({50, 40});
  KeyGenerator kg(ctx, std::make_unique<SeededRng>(seed_from_u64(4)));
  Encryptor enc(ctx, kg.secret_key());
  Decryptor dec(ctx, kg.secret_key());
  Encoder encoder(ctx);
  const auto v = testing::random_vec(ctx->slots(), 9);
  const Plaintext pt = encoder.encode(v, std::exp2(40), ctx->max_level());
  SeededRng noise(seed_from_u64(5));
  const SeededCiphertext ct = enc.encrypt_seeded(pt, seed_from_u64(6), noise);
  for (int k : {0, 20}) {
    const Bytes b = save_compact(*ctx, ct, k);
    int stored = -1;
    auto back = load_compact_seeded_ciphertext(*ctx, b, &stored);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(stored, k);
    EXPECT_EQ(back->seed(), ct.seed());
    EXPECT_EQ(back->scale(), ct.scale());
    EXPECT_EQ(back->level(), ct.level());
    // An error of <= 2^19 per coefficient on a scale of 2^40: still ~ 20 bits of precision.
    EXPECT_GT(testing::precision_bits(encoder.decode(dec.decrypt(back->expand(*ctx))), v), 15.0) << "k = " << k;
    if (k == 0) {
      EXPECT_EQ(back->c0(), ct.c0());
    }
    auto info = inspect(b);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(info->type, ObjectType::kCkksCompactSeededCiphertext);
    EXPECT_NE(info->description.find("without its " + std::to_string(k) + " low bits"), std::string::npos)
        << info->description;
    // k = 0: ceil(log2 Q) bits against sum ceil(log2 q_i), plus the k byte; k = 20: 20 bits less.
    EXPECT_EQ(b.size() + static_cast<std::size_t>(k) * ctx->n() / 8, save(*ctx, ct).size() + 1);
  }
}

TEST(CompactSerialization, MalformedAndTruncatedBytesAreRefused) {
  const auto ctx = make_ctx({50, 40});
  const auto share = random_share(*ctx, 2, 11);
  const int k = 13;
  const Bytes good = save_compact(*ctx, share, k);
  ASSERT_TRUE(load_compact_decryption_share(*ctx, good).ok());
  for (std::size_t len = 0; len < good.size(); len += 37) {
    EXPECT_FALSE(load_compact_decryption_share(*ctx, std::span(good.data(), len)).ok()) << len;
  }
  EXPECT_FALSE(load_compact_decryption_share(*ctx, std::span(good.data(), good.size() - 1)).ok());
  // The exact form is another object type, in both directions.
  EXPECT_FALSE(load_decryption_share(*ctx, good).ok());
  EXPECT_FALSE(load_compact_decryption_share(*ctx, save(*ctx, share)).ok());
  // Dropped-bit byte: sits right before the packed polynomial.
  const std::size_t packed = (ctx->n() * static_cast<std::size_t>(*compact_coefficient_bits(*ctx, 1, k)) + 7) / 8;
  const std::size_t kpos = good.size() - packed - 1;
  ASSERT_EQ(good[kpos], k);
  for (std::uint8_t bad_k : {std::uint8_t{90}, std::uint8_t{200}}) {
    Bytes b = good;
    b[kpos] = bad_k;
    EXPECT_FALSE(load_compact_decryption_share(*ctx, b).ok()) << int{bad_k};
  }
  {
    Bytes b = good;
    b[kpos] = k + 1;  // another k: the packed size no longer matches
    EXPECT_FALSE(load_compact_decryption_share(*ctx, b).ok());
  }
  {
    // All-ones coefficients exceed the largest rounded value floor((Q - 1 + 2^(k-1)) / 2^k).
    Bytes b = good;
    std::fill(b.end() - static_cast<std::ptrdiff_t>(packed), b.end(), std::uint8_t{0xff});
    auto r = load_compact_decryption_share(*ctx, b);
    EXPECT_FALSE(r.ok());
  }
  // Random single-byte flips never crash (they may still load: a flipped coefficient is valid).
  SeededRng rng(seed_from_u64(12));
  for (int i = 0; i < 200; ++i) {
    Bytes b = good;
    b[static_cast<std::size_t>(rng.uniform(b.size()))] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
    (void)load_compact_decryption_share(*ctx, b);
  }
  // Truncated compact seeded ciphertexts, too.
  KeyGenerator kg(ctx, std::make_unique<SeededRng>(seed_from_u64(4)));
  Encryptor enc(ctx, kg.secret_key());
  Encoder encoder(ctx);
  const Plaintext pt = encoder.encode(testing::random_vec(ctx->slots(), 3), std::exp2(30), ctx->max_level());
  const Bytes ct = save_compact(*ctx, enc.encrypt_seeded(pt), 9);
  ASSERT_TRUE(load_compact_seeded_ciphertext(*ctx, ct).ok());
  for (std::size_t len = 0; len < ct.size(); len += 53) {
    EXPECT_FALSE(load_compact_seeded_ciphertext(*ctx, std::span(ct.data(), len)).ok()) << len;
  }
  EXPECT_FALSE(load_seeded_ciphertext(*ctx, ct).ok());
}

}  // namespace
}  // namespace heal::ckks
