// Round trips, compactness, corruption and wrong-context handling of the CKKS serializers.
#include "heal/ckks/serialization.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/threshold.h"

namespace heal::ckks {
namespace {

using testing::precision_bits;
using testing::random_vec;
using testing::Vec;

ContextPtr make_ctx(int log_n, std::vector<int> q) {
  ParamsSpec s;
  s.log_n = log_n;
  s.q_bits = std::move(q);
  s.p_bits = {60};
  s.allow_insecure = true;
  return Context::create(s);
}

struct Ser {
  Ser() : ctx(make_ctx(11, {60, 40, 40})), keygen(ctx, std::make_unique<SeededRng>(seed_from_u64(3))), encoder(ctx) {
    pk = keygen.create_public_key();
    enc = std::make_unique<Encryptor>(ctx, pk);
    dec = std::make_unique<Decryptor>(ctx, keygen.secret_key());
  }
  Vec roundtrip_dec(const Ciphertext& c) { return encoder.decode(dec->decrypt(c)); }
  ContextPtr ctx;
  KeyGenerator keygen;
  Encoder encoder;
  PublicKey pk;
  std::unique_ptr<Encryptor> enc;
  std::unique_ptr<Decryptor> dec;
};

Ser& sx() {
  static Ser s;
  return s;
}

TEST(Serialization, ParamsRoundTripAndHash) {
  auto& s = sx();
  const Bytes b = save_params(*s.ctx);
  auto ctx2 = load_params(b, {.allow_insecure = true});  // N = 2^11 test parameters: explicit opt-in
  ASSERT_TRUE(ctx2.ok()) << ctx2.status().to_string();
  EXPECT_EQ(params_hash(**ctx2), params_hash(*s.ctx));
  EXPECT_EQ(params_id(**ctx2), params_id(*s.ctx));
  EXPECT_NE(params_hash(*make_ctx(11, {60, 40})), params_hash(*s.ctx));
  auto spec = load_params_spec(b);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->q_bits, s.ctx->spec().q_bits);
  Bytes tampered = b;
  tampered[tampered.size() - 40] ^= 1;  // a stored prime
  EXPECT_FALSE(load_params(tampered, {.allow_insecure = true}).ok());
}

// Offset of the stored "insecure" marker byte (docs/formats/ckks.md, tag 1).
std::size_t marker_offset(const ParamsSpec& s) {
  return kHeaderSize + 1 + 1 + s.q_bits.size() + 1 + s.p_bits.size() + 8 + 1 + 4 + 4;
}

// Issue 14: the file used to carry an honoured allow_insecure flag outside the params hash. Now
// only the calling code can opt in: the N = 2^11 test set is refused by default (marked or not),
// and a secure set loads without any opt-in.
TEST(Serialization, ParamsFileCannotSwitchOffTheSecurityCheck) {
  auto& s = sx();
  Bytes b = save_params(*s.ctx);
  const std::size_t at = marker_offset(s.ctx->spec());
  EXPECT_EQ(b[at], 1) << "insecure parameters are marked";
  auto marked = load_params(b);
  ASSERT_FALSE(marked.ok());
  EXPECT_NE(marked.status().message().find("marked insecure"), std::string::npos) << marked.status().to_string();
  b[at] = 0;  // a tampered file claiming to be fine
  auto cleared = load_params(b);
  ASSERT_FALSE(cleared.ok());
  EXPECT_NE(cleared.status().message().find("log_n must be in [12, 16]"), std::string::npos)
      << cleared.status().to_string();
  auto spec = load_params_spec(b);
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->allow_insecure);

  ParamsSpec secure;
  secure.log_n = 12;
  secure.q_bits = {40, 30};
  secure.p_bits = {30};
  const auto sctx = Context::create(secure);
  EXPECT_TRUE(sctx->meets_security_bound());
  const Bytes sb = save_params(*sctx);
  EXPECT_EQ(sb[marker_offset(secure)], 0);
  auto loaded = load_params(sb);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(params_hash(**loaded), params_hash(*sctx));
  EXPECT_FALSE((*loaded)->spec().allow_insecure);
}

TEST(Serialization, CiphertextPlaintextRoundTripCompact) {
  auto& s = sx();
  const Vec v = random_vec(s.ctx->slots(), 1);
  const Ciphertext ct = s.enc->encrypt(s.encoder.encode(v));
  const Bytes b = save(*s.ctx, ct);
  // 2 polys x N x (60 + 40 + 40) bits + header, hash and metadata.
  const std::size_t packed = 2 * 2048 * 140 / 8;
  EXPECT_LT(b.size(), packed + 100);
  std::printf("[ ser ] ciphertext N=2^11, 3 primes: %zu bytes (64-bit words would be %zu)\n", b.size(), std::size_t{2 * 2048 * 3 * 8});
  auto ct2 = load_ciphertext(*s.ctx, b);
  ASSERT_TRUE(ct2.ok()) << ct2.status().to_string();
  EXPECT_EQ(ct2->scale(), ct.scale());
  EXPECT_EQ(ct2->slots(), ct.slots());
  EXPECT_TRUE((*ct2)[0] == ct[0] && (*ct2)[1] == ct[1]);
  EXPECT_EQ(s.roundtrip_dec(*ct2), s.roundtrip_dec(ct));

  const Plaintext pt = s.encoder.encode(v, 0x1p40, 1);
  auto pt2 = load_plaintext(*s.ctx, save(*s.ctx, pt));
  ASSERT_TRUE(pt2.ok());
  EXPECT_TRUE(pt2->poly() == pt.poly());
  EXPECT_EQ(pt2->level(), 1u);

  Encryptor sym(s.ctx, s.keygen.secret_key());
  const SeededCiphertext sc = sym.encrypt_seeded(s.encoder.encode(v));
  const Bytes sb = save(*s.ctx, sc);
  EXPECT_LT(sb.size(), b.size() / 2 + 100);  // seed + one polynomial
  auto sc2 = load_seeded_ciphertext(*s.ctx, sb);
  ASSERT_TRUE(sc2.ok());
  EXPECT_EQ(s.roundtrip_dec(sc2->expand(*s.ctx)), s.roundtrip_dec(sc.expand(*s.ctx)));
}

TEST(Serialization, KeysRoundTrip) {
  auto& s = sx();
  auto sk = load_secret_key(*s.ctx, save(*s.ctx, s.keygen.secret_key()));
  ASSERT_TRUE(sk.ok());
  EXPECT_TRUE(sk->poly() == s.keygen.secret_key().poly());

  const Bytes pkb = save(*s.ctx, s.pk);
  auto pk = load_public_key(*s.ctx, pkb);
  ASSERT_TRUE(pk.ok());
  EXPECT_TRUE(pk->b() == s.pk.b() && pk->a() == s.pk.a());

  const RelinKey rk = s.keygen.create_relin_key();
  auto rk2 = load_relin_key(*s.ctx, save(*s.ctx, rk));
  ASSERT_TRUE(rk2.ok());
  const GaloisKeys gk = s.keygen.create_galois_keys({1, -2}, true);
  const Bytes gkb = save(*s.ctx, gk);
  auto gk2 = load_galois_keys(*s.ctx, gkb);
  ASSERT_TRUE(gk2.ok()) << gk2.status().to_string();
  EXPECT_EQ(gk2->size(), 3u);
  std::printf("[ ser ] seeded public key %zu bytes, relin key %zu bytes, 3 Galois keys %zu bytes\n", pkb.size(),
              save(*s.ctx, rk).size(), gkb.size());

  // Loaded keys work: multiply, relinearize, rotate.
  Evaluator ev(s.ctx);
  Encryptor enc2(s.ctx, *pk);
  Decryptor dec2(s.ctx, *sk);
  const Vec a = random_vec(s.ctx->slots(), 2);
  const Ciphertext ca = enc2.encrypt(s.encoder.encode(a));
  const Ciphertext sq = ev.rescale(ev.mul_relin(ca, ca, *rk2));
  const Ciphertext rot = ev.rotate(ca, 1, *gk2);
  Vec want_sq(a.size()), want_rot(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    want_sq[i] = a[i] * a[i];
    want_rot[i] = a[(i + 1) % a.size()];
  }
  EXPECT_GT(precision_bits(want_sq, s.encoder.decode(dec2.decrypt(sq))), 20);
  EXPECT_GT(precision_bits(want_rot, s.encoder.decode(dec2.decrypt(rot))), 20);
}

TEST(Serialization, MultipartySharesRoundTrip) {
  auto& s = sx();
  SeededRng rng(seed_from_u64(4));
  multiparty::CollectivePublicKeyGen ckg(s.ctx, seed_from_u64(5));
  const auto share = ckg.gen_share(7, s.keygen.secret_key(), rng);
  auto share2 = load_key_share(*s.ctx, save(*s.ctx, share));
  ASSERT_TRUE(share2.ok());
  EXPECT_EQ(share2->party, 7u);
  EXPECT_TRUE(share2->polys[0] == share.polys[0]);

  multiparty::FloodingParams f;
  f.fresh_encryptions = 1;
  f.secret_parties = 1;
  f.parties = 1;
  f.required_bits = -1000;  // only the share's bytes are checked here, not the decryption
  multiparty::ThresholdDecryptor td(s.ctx, f);
  const Ciphertext ct = s.enc->encrypt(s.encoder.encode(random_vec(8, 6)));
  const auto ds = td.gen_share(3, ct, s.keygen.secret_key(), rng);
  auto ds2 = load_decryption_share(*s.ctx, save(*s.ctx, ds));
  ASSERT_TRUE(ds2.ok()) << ds2.status().to_string();
  EXPECT_EQ(ds2->parties, std::vector<multiparty::PartyId>{3});
  EXPECT_TRUE(ds2->h == ds.h);
}

TEST(Serialization, WrongContextAndWrongTypeFailClearly) {
  auto& s = sx();
  const Ciphertext ct = s.enc->encrypt(s.encoder.encode(random_vec(8, 7)));
  const Bytes b = save(*s.ctx, ct);
  const ContextPtr other = make_ctx(11, {60, 40, 40, 40});
  auto r = load_ciphertext(*other, b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("another CKKS parameter set"), std::string::npos) << r.status().message();
  auto r2 = load_public_key(*s.ctx, b);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("wrong object type"), std::string::npos);
  auto info = inspect(b);
  ASSERT_TRUE(info.ok());
  EXPECT_NE(info->description.find("2 polynomials"), std::string::npos) << info->description;
}

// A small ciphertext for exhaustive corruption tests.
Bytes small_ciphertext(ContextPtr& ctx) {
  ctx = make_ctx(4, {30, 25});
  KeyGenerator kg(ctx, std::make_unique<SeededRng>(seed_from_u64(8)));
  Encryptor enc(ctx, kg.create_public_key());
  Encoder encoder(ctx);
  return save(*ctx, enc.encrypt(encoder.encode(random_vec(4, 9))));
}

TEST(Serialization, EveryTruncationFails) {
  ContextPtr ctx;
  const Bytes b = small_ciphertext(ctx);
  ASSERT_TRUE(load_ciphertext(*ctx, b).ok());
  for (std::size_t len = 0; len < b.size(); ++len) {
    auto r = load_ciphertext(*ctx, std::span<const std::uint8_t>(b.data(), len));
    EXPECT_FALSE(r.ok()) << "length " << len;
  }
  Bytes longer = b;
  longer.push_back(0);
  EXPECT_FALSE(load_ciphertext(*ctx, longer).ok());
}

TEST(Serialization, RandomByteFlipsNeverCrash) {
  ContextPtr ctx;
  const Bytes b = small_ciphertext(ctx);
  SeededRng rng(seed_from_u64(10));
  int ok = 0, err = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    Bytes m = b;
    const int flips = 1 + static_cast<int>(rng.uniform(4));
    for (int f = 0; f < flips; ++f) m[rng.uniform(m.size())] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
    auto r = load_ciphertext(*ctx, m);
    if (r.ok()) {
      ++ok;  // a valid object: every residue is in range and the metadata is sane
      for (const auto& p : r->polys())
        for (std::size_t i = 0; i < p.num_limbs(); ++i)
          for (std::size_t t = 0; t < p.n(); ++t) ASSERT_LT(p.limb(i)[t], ctx->q(i).value());
    } else {
      ++err;
    }
  }
  std::printf("[ ser ] 3000 corrupted ciphertexts: %d rejected, %d still valid objects\n", err, ok);
  EXPECT_GT(err, 0);
}

}  // namespace
}  // namespace heal::ckks
