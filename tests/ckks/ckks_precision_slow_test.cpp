// 128-bit parameters (anchor set N = 2^14, Q = 60 + 7 x 40 bits, P = 60 bits, scale 2^40):
// bits of precision against plaintext complex arithmetic.
#include <gtest/gtest.h>

#include <cstdio>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"

namespace heal::ckks {
namespace {

using testing::precision_bits;
using testing::random_vec;
using testing::Vec;

struct Setup {
  // Seeded key generation so the reported precision is reproducible run to run.
  Setup()
      : ctx(Context::create(anchor_params(14))),
        keygen(ctx, std::make_unique<SeededRng>(seed_from_u64(2026))),
        encoder(ctx),
        evaluator(ctx) {
    pk = keygen.create_public_key();
    rk = keygen.create_relin_key();
    gk = keygen.create_galois_keys({1, -1, 7, 1000}, true);
  }
  ContextPtr ctx;
  KeyGenerator keygen;
  Encoder encoder;
  Evaluator evaluator;
  PublicKey pk;
  RelinKey rk;
  GaloisKeys gk;
};

Setup& setup() {
  static Setup s;
  return s;
}

void report(const char* what, double bits) { std::printf("  [precision] %-40s %.1f bits\n", what, bits); }

TEST(CkksPrecision, EncryptDecryptN14) {
  auto& s = setup();
  const Vec v = random_vec(s.ctx->slots(), 1);
  Encryptor pk_enc(s.ctx, s.pk);
  Encryptor sk_enc(s.ctx, s.keygen.secret_key());
  Decryptor dec(s.ctx, s.keygen.secret_key());
  const double b_pk = precision_bits(v, s.encoder.decode(dec.decrypt(pk_enc.encrypt(s.encoder.encode(v)))));
  const double b_sk = precision_bits(v, s.encoder.decode(dec.decrypt(sk_enc.encrypt(s.encoder.encode(v)))));
  const double b_seed =
      precision_bits(v, s.encoder.decode(dec.decrypt(sk_enc.encrypt_seeded(s.encoder.encode(v)).expand(*s.ctx))));
  report("encode/encrypt(pk)/decrypt/decode", b_pk);
  report("encode/encrypt(sk)/decrypt/decode", b_sk);
  report("seeded encrypt/expand/decrypt/decode", b_seed);
  EXPECT_GE(b_pk, 25);
  EXPECT_GE(b_sk, 25);
  EXPECT_GE(b_seed, 25);
}

TEST(CkksPrecision, MultiplyRelinRescaleAndDepthN14) {
  auto& s = setup();
  Encryptor enc(s.ctx, s.pk);
  Decryptor dec(s.ctx, s.keygen.secret_key());
  const Vec a = random_vec(s.ctx->slots(), 2), b = random_vec(s.ctx->slots(), 3);
  Vec ab(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) ab[i] = a[i] * b[i];
  const Ciphertext ca = enc.encrypt(s.encoder.encode(a)), cb = enc.encrypt(s.encoder.encode(b));
  const Ciphertext m = s.evaluator.rescale(s.evaluator.mul_relin(ca, cb, s.rk));
  const double bits = precision_bits(ab, s.encoder.decode(dec.decrypt(m)));
  report("multiply/relinearize/rescale", bits);
  EXPECT_GE(bits, 20);
  // Square repeatedly down to level 0 (values on the unit circle keep magnitude 1).
  Vec u(s.ctx->slots());
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = std::polar(1.0, 0.001 * static_cast<double>(i));
  Ciphertext c = enc.encrypt(s.encoder.encode(u));
  Vec want = u;
  while (c.level() > 0) {
    c = s.evaluator.rescale(s.evaluator.relinearize(s.evaluator.square(c), s.rk));
    for (auto& x : want) x *= x;
  }
  const double deep = precision_bits(want, s.encoder.decode(dec.decrypt(c)));
  report("7 squarings down to level 0", deep);
  EXPECT_GE(deep, 12);
}

TEST(CkksPrecision, RotationsN14) {
  auto& s = setup();
  Encryptor enc(s.ctx, s.pk);
  Decryptor dec(s.ctx, s.keygen.secret_key());
  const std::size_t slots = s.ctx->slots();
  const Vec a = random_vec(slots, 4);
  const Ciphertext ca = enc.encrypt(s.encoder.encode(a));
  const auto hoisted = s.evaluator.rotate_hoisted(ca, {1, -1, 7, 1000}, s.gk);
  std::size_t h = 0;
  for (long step : {1L, -1L, 7L, 1000L}) {
    Vec want(slots);
    for (std::size_t i = 0; i < slots; ++i) want[i] = a[(i + slots + static_cast<std::size_t>(step + static_cast<long>(slots))) % slots];
    const double bits = precision_bits(want, s.encoder.decode(dec.decrypt(s.evaluator.rotate(ca, step, s.gk))));
    const double hb = precision_bits(want, s.encoder.decode(dec.decrypt(hoisted[h++])));
    report(("rotate " + std::to_string(step) + " (plain / hoisted)").c_str(), std::min(bits, hb));
    EXPECT_GE(bits, 20);
    EXPECT_GE(hb, 20);
  }
  Vec conj(slots);
  for (std::size_t i = 0; i < slots; ++i) conj[i] = std::conj(a[i]);
  const double cb = precision_bits(conj, s.encoder.decode(dec.decrypt(s.evaluator.conjugate(ca, s.gk))));
  report("conjugate", cb);
  EXPECT_GE(cb, 20);
}

}  // namespace
}  // namespace heal::ckks
