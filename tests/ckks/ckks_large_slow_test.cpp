// Large anchor parameter sets: N = 2^15 (Q = 60 + 19 x 40 bits) end to end with keys, and
// N = 2^16 (41 primes) encode / symmetric encrypt / decrypt / decode at the top and last level.
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

TEST(CkksLarge, N15MultiplyRotateRescale) {
  auto ctx = Context::create(anchor_params(15));
  KeyGenerator kg(ctx, std::make_unique<SeededRng>(seed_from_u64(15)));
  Encoder enc(ctx);
  Encryptor e(ctx, kg.create_public_key());
  Decryptor d(ctx, kg.secret_key());
  Evaluator ev(ctx);
  const RelinKey rk = kg.create_relin_key();
  const GaloisKeys gk = kg.create_galois_keys({3});
  const Vec a = random_vec(ctx->slots(), 1), b = random_vec(ctx->slots(), 2);
  Vec want(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) want[i] = a[(i + 3) % a.size()] * b[(i + 3) % a.size()];
  Ciphertext c = ev.rescale(ev.mul_relin(e.encrypt(enc.encode(a)), e.encrypt(enc.encode(b)), rk));
  c = ev.rotate(c, 3, gk);
  const double bits = precision_bits(want, enc.decode(d.decrypt(c)));
  std::printf("  [precision] N=2^15 multiply/relin/rescale/rotate: %.1f bits\n", bits);
  EXPECT_GE(bits, 20);
}

TEST(CkksLarge, N16EncryptDecryptTopAndLastLevel) {
  auto ctx = Context::create(anchor_params(16));
  EXPECT_EQ(ctx->q_count(), 41u);
  SeededRng rng(seed_from_u64(16));
  const SecretKey sk = sample_secret_key(*ctx, rng);
  Encoder enc(ctx);
  Encryptor e(ctx, sk);
  Decryptor d(ctx, sk);
  Evaluator ev(ctx);
  const Vec a = random_vec(ctx->slots(), 3);
  const Ciphertext c = e.encrypt(enc.encode(a));
  const double top = precision_bits(a, enc.decode(d.decrypt(c)));
  const double last = precision_bits(a, enc.decode(d.decrypt(ev.mod_switch_to(c, 0))));
  std::printf("  [precision] N=2^16 sk encrypt/decrypt top level %.1f bits, level 0 %.1f bits\n", top, last);
  EXPECT_GE(top, 25);
  EXPECT_GE(last, 25);
}

}  // namespace
}  // namespace heal::ckks
