#include "heal/ckks/evaluator.h"

#include <gtest/gtest.h>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"

namespace heal::ckks {
namespace {

using testing::precision_bits;
using testing::random_vec;
using testing::Vec;

// Small insecure parameters: the point of these tests is correctness, not security.
struct Fixture {
  explicit Fixture(std::size_t dnum = 0, std::vector<int> p_bits = {60}, int log_n = 11) {
    ParamsSpec s;
    s.log_n = log_n;
    s.q_bits = {60, 40, 40, 40};
    s.p_bits = std::move(p_bits);
    s.dnum = dnum;
    s.allow_insecure = true;
    ctx = Context::create(s);
    keygen = std::make_unique<KeyGenerator>(ctx, std::make_unique<SeededRng>(seed_from_u64(99)));
    pk = keygen->create_public_key();
    rk = keygen->create_relin_key();
    encoder = std::make_unique<Encoder>(ctx);
    encryptor = std::make_unique<Encryptor>(ctx, pk);
    decryptor = std::make_unique<Decryptor>(ctx, keygen->secret_key());
    eval = std::make_unique<Evaluator>(ctx);
  }
  Ciphertext enc(const Vec& v) { return encryptor->encrypt(encoder->encode(v)); }
  Vec dec(const Ciphertext& c) { return encoder->decode(decryptor->decrypt(c)); }
  ContextPtr ctx;
  std::unique_ptr<KeyGenerator> keygen;
  PublicKey pk;
  RelinKey rk;
  std::unique_ptr<Encoder> encoder;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> decryptor;
  std::unique_ptr<Evaluator> eval;
};

Fixture& fx() {
  static Fixture f;
  return f;
}

// Ciphertext blocks go back to the pool unwiped (their words are public); a decrypted plaintext's
// block, and a copy of a ciphertext polynomial taken out of it, are wiped.
TEST(Encryption, OnlyCiphertextBlocksSkipTheWipe) {
  auto& f = fx();
  const Vec v = random_vec(f.ctx->slots(), 7);
  const std::size_t bytes = f.ctx->n() * f.ctx->q_count() * sizeof(math::u64);
  auto zero_bytes = [](const void* p, std::size_t n) {
    const volatile std::uint8_t* b = static_cast<const volatile std::uint8_t*>(p);
    std::size_t z = 0;
    for (std::size_t i = 0; i < n; ++i) z += b[i] == 0;
    return z;
  };
  Ciphertext ct = f.enc(v);
  const void* pt_block = nullptr;
  {
    const Plaintext pt = f.decryptor->decrypt(ct);
    pt_block = pt.poly().data();
  }
  void* again = math::pool::allocate(bytes);
  ASSERT_EQ(again, pt_block);
  EXPECT_EQ(zero_bytes(again, bytes), bytes) << "the decrypted plaintext's block was recycled with its words";
  math::pool::release(again, bytes);
  {
    math::RnsPoly c1 = ct[1];  // a copy out of a ciphertext starts out secret
    pt_block = c1.data();
  }
  again = math::pool::allocate(bytes);
  ASSERT_EQ(again, pt_block);
  EXPECT_EQ(zero_bytes(again, bytes), bytes);
  math::pool::release(again, bytes);
  const void* ct_blocks[2] = {ct[0].data(), ct[1].data()};
  ct = Ciphertext();  // the old polynomials are public: no wipe
  void* a = math::pool::allocate(bytes);
  void* b = math::pool::allocate(bytes);
  EXPECT_TRUE((a == ct_blocks[0] && b == ct_blocks[1]) || (a == ct_blocks[1] && b == ct_blocks[0]));
  EXPECT_LT(zero_bytes(a, bytes), bytes);
  EXPECT_LT(zero_bytes(b, bytes), bytes);
  math::pool::release(a, bytes);
  math::pool::release(b, bytes);
}

TEST(Encryption, PublicKeySymmetricAndSeeded) {
  auto& f = fx();
  const Vec v = random_vec(f.ctx->slots(), 1);
  EXPECT_GT(precision_bits(v, f.dec(f.enc(v))), 25);
  Encryptor sym(f.ctx, f.keygen->secret_key());
  const Ciphertext c = sym.encrypt(f.encoder->encode(v));
  EXPECT_GT(precision_bits(v, f.dec(c)), 25);
  const SeededCiphertext sc = sym.encrypt_seeded(f.encoder->encode(v, 0x1p40, 1));
  EXPECT_EQ(sc.level(), 1u);
  const Ciphertext ex = sc.expand(*f.ctx);
  EXPECT_GT(precision_bits(v, f.dec(ex)), 25);
  EXPECT_TRUE(sc.expand(*f.ctx)[1] == ex[1]);  // c1 regenerates deterministically from the seed
  EXPECT_THROW(f.encryptor->encrypt_seeded(f.encoder->encode(v)), std::invalid_argument);
  // A wrong secret key does not decrypt.
  KeyGenerator other(f.ctx, std::make_unique<SeededRng>(seed_from_u64(5)));
  Decryptor bad(f.ctx, other.secret_key());
  EXPECT_LT(precision_bits(v, f.encoder->decode(bad.decrypt(f.enc(v)))), 0);
}

TEST(Evaluator, AddSubNegatePlainAndConstants) {
  auto& f = fx();
  const Vec a = random_vec(f.ctx->slots(), 2), b = random_vec(f.ctx->slots(), 3);
  const Ciphertext ca = f.enc(a), cb = f.enc(b);
  Vec sum(a.size()), diff(a.size()), neg(a.size()), addc(a.size()), prodp(a.size());
  const std::complex<double> k(0.5, -1.25);
  for (std::size_t i = 0; i < a.size(); ++i) {
    sum[i] = a[i] + b[i];
    diff[i] = a[i] - b[i];
    neg[i] = -a[i];
    addc[i] = a[i] + k;
    prodp[i] = a[i] * b[i];
  }
  EXPECT_GT(precision_bits(sum, f.dec(f.eval->add(ca, cb))), 24);
  EXPECT_GT(precision_bits(diff, f.dec(f.eval->sub(ca, cb))), 24);
  EXPECT_GT(precision_bits(neg, f.dec(f.eval->negate(ca))), 24);
  EXPECT_GT(precision_bits(sum, f.dec(f.eval->add_plain(ca, f.encoder->encode(b)))), 24);
  EXPECT_GT(precision_bits(diff, f.dec(f.eval->sub_plain(ca, f.encoder->encode(b)))), 24);
  EXPECT_GT(precision_bits(addc, f.dec(f.eval->add_const(ca, k))), 24);
  Vec addr(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) addr[i] = a[i] + 3.5;
  EXPECT_GT(precision_bits(addr, f.dec(f.eval->add_const(ca, 3.5))), 24);
  Ciphertext mp = f.eval->rescale(f.eval->mul_plain(ca, f.encoder->encode(b)));
  EXPECT_EQ(mp.level(), f.ctx->max_level() - 1);
  EXPECT_GT(precision_bits(prodp, f.dec(mp)), 20);
  // Constant multiplication at the default const_scale keeps the scale through a rescale.
  Vec ak(a.size()), a3(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ak[i] = a[i] * k;
    a3[i] = a[i] * -3.0;
  }
  Ciphertext mc = f.eval->rescale(f.eval->mul_const(ca, k));
  EXPECT_NEAR(mc.scale(), ca.scale(), 1e-6 * ca.scale());
  EXPECT_GT(precision_bits(ak, f.dec(mc)), 20);
  EXPECT_GT(precision_bits(a3, f.dec(f.eval->mul_integer(ca, -3))), 22);
  Vec ar(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) ar[i] = a[i] * 0.75;
  EXPECT_GT(precision_bits(ar, f.dec(f.eval->rescale(f.eval->mul_const(ca, 0.75)))), 20);
}

TEST(Evaluator, MultiplyRelinearizeRescaleAndSquare) {
  auto& f = fx();
  const Vec a = random_vec(f.ctx->slots(), 4), b = random_vec(f.ctx->slots(), 5);
  Vec ab(a.size()), aa(a.size()), abb(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab[i] = a[i] * b[i];
    aa[i] = a[i] * a[i];
    abb[i] = a[i] * b[i] * b[i];
  }
  const Ciphertext ca = f.enc(a), cb = f.enc(b);
  Ciphertext m3 = f.eval->mul(ca, cb);
  EXPECT_EQ(m3.size(), 3u);
  EXPECT_GT(precision_bits(ab, f.encoder->decode(f.decryptor->decrypt(f.eval->rescale(m3)))), 20);  // 3-part decrypt
  Ciphertext m = f.eval->rescale(f.eval->relinearize(m3, f.rk));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.level(), f.ctx->max_level() - 1);
  EXPECT_GT(precision_bits(ab, f.dec(m)), 20);
  EXPECT_GT(precision_bits(aa, f.dec(f.eval->rescale(f.eval->relinearize(f.eval->square(ca), f.rk)))), 20);
  // Depth 2 at a lower level: (a*b) * b.
  Ciphertext b1 = f.eval->mod_switch_to(cb, m.level());
  b1.set_scale(m.scale());  // same prime chain: m.scale ~ 2^40 (relative error ~1e-6 re-labelled)
  Ciphertext m2 = f.eval->rescale(f.eval->mul_relin(m, b1, f.rk));
  EXPECT_EQ(m2.level(), f.ctx->max_level() - 2);
  EXPECT_GT(precision_bits(abb, f.dec(m2)), 14);
}

TEST(Evaluator, RotationsConjugationHoistingAndSums) {
  auto& f = fx();
  const std::size_t slots = f.ctx->slots();
  const std::vector<long> steps = {1, 2, 5, -1, -3, static_cast<long>(slots) - 1};
  GaloisKeys gk = f.keygen->create_galois_keys(steps, true);
  for (long s : KeyGenerator::power_of_two_steps(slots)) f.keygen->add_galois_key(gk, f.ctx->galois_elt_for_step(s));
  const Vec a = random_vec(slots, 6);
  const Ciphertext ca = f.enc(a);
  for (long s : steps) {
    Vec want(slots);
    for (std::size_t i = 0; i < slots; ++i) {
      want[i] = a[(i + static_cast<std::size_t>((s % static_cast<long>(slots) + static_cast<long>(slots)))) % slots];
    }
    EXPECT_GT(precision_bits(want, f.dec(f.eval->rotate(ca, s, gk))), 22) << "step " << s;
  }
  Vec conj(slots);
  for (std::size_t i = 0; i < slots; ++i) conj[i] = std::conj(a[i]);
  EXPECT_GT(precision_bits(conj, f.dec(f.eval->conjugate(ca, gk))), 22);
  auto hoisted = f.eval->rotate_hoisted(ca, {0, 1, 5, -3}, gk);
  ASSERT_EQ(hoisted.size(), 4u);
  EXPECT_GT(precision_bits(a, f.dec(hoisted[0])), 22);
  EXPECT_GT(precision_bits(f.dec(f.eval->rotate(ca, 1, gk)), f.dec(hoisted[1])), 22);
  EXPECT_GT(precision_bits(f.dec(f.eval->rotate(ca, 5, gk)), f.dec(hoisted[2])), 22);
  EXPECT_GT(precision_bits(f.dec(f.eval->rotate(ca, -3, gk)), f.dec(hoisted[3])), 22);
  // Sum of all slots, and of a window of 8.
  std::complex<double> total = 0;
  for (auto x : a) total += x;
  EXPECT_GT(precision_bits(Vec(slots, total), f.dec(f.eval->sum_slots(ca, gk))), 15);
  Vec win(slots);
  for (std::size_t i = 0; i < slots; ++i) {
    for (std::size_t k = 0; k < 8; ++k) win[i] += a[(i + k) % slots];
  }
  EXPECT_GT(precision_bits(win, f.dec(f.eval->rotate_and_sum(ca, 8, gk))), 18);
  // Rotation at a lower level.
  Ciphertext low = f.eval->mod_switch_to(ca, 1);
  Vec want1(slots);
  for (std::size_t i = 0; i < slots; ++i) want1[i] = a[(i + 1) % slots];
  EXPECT_GT(precision_bits(want1, f.dec(f.eval->rotate(low, 1, gk))), 22);
  EXPECT_THROW(f.eval->rotate(ca, 3, gk), std::invalid_argument);  // no key for step 3
}

TEST(Evaluator, SparseSlotsRotateWithinTheirPeriod) {
  auto& f = fx();
  GaloisKeys gk = f.keygen->create_galois_keys({1});
  const Vec a = random_vec(8, 7);
  Ciphertext c = f.encryptor->encrypt(f.encoder->encode(a));
  EXPECT_EQ(c.slots(), 8u);
  Vec want(8);
  for (std::size_t i = 0; i < 8; ++i) want[i] = a[(i + 1) % 8];
  EXPECT_GT(precision_bits(want, f.dec(f.eval->rotate(c, 1, gk))), 22);
}

TEST(Evaluator, HybridKeySwitchingWithFewerDigits) {
  Fixture f(2, {60, 60});
  EXPECT_EQ(f.ctx->dnum(), 2u);
  GaloisKeys gk = f.keygen->create_galois_keys({1, -2});
  const Vec a = random_vec(f.ctx->slots(), 8), b = random_vec(f.ctx->slots(), 9);
  Vec ab(a.size()), rot(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab[i] = a[i] * b[i];
    rot[i] = a[(i + a.size() - 2) % a.size()];
  }
  const Ciphertext ca = f.enc(a), cb = f.enc(b);
  EXPECT_GT(precision_bits(ab, f.dec(f.eval->rescale(f.eval->mul_relin(ca, cb, f.rk)))), 20);
  EXPECT_GT(precision_bits(rot, f.dec(f.eval->rotate(ca, -2, gk))), 22);
  EXPECT_GT(precision_bits(rot, f.dec(f.eval->rotate_hoisted(ca, {-2}, gk)[0])), 22);
  // At level 1 only the first digit is active.
  Ciphertext low = f.eval->mod_switch_to(ca, 1);
  EXPECT_GT(precision_bits(rot, f.dec(f.eval->rotate(low, -2, gk))), 22);
}

TEST(Evaluator, MisuseThrows) {
  auto& f = fx();
  const Vec a = random_vec(16, 10);
  const Ciphertext ca = f.enc(a);
  const Ciphertext low = f.eval->mod_switch_to(ca, 1);
  EXPECT_THROW(f.eval->add(ca, low), std::invalid_argument);            // level mismatch
  EXPECT_THROW(f.eval->mul(ca, low), std::invalid_argument);
  Ciphertext sq = f.eval->mul(ca, ca);
  EXPECT_THROW(f.eval->add(ca, sq.scale() > 0 ? f.eval->rescale(sq) : sq), std::invalid_argument);
  EXPECT_THROW(f.eval->add(sq, ca), std::invalid_argument);              // scale mismatch (2^80 vs 2^40)
  EXPECT_THROW(f.eval->mul(sq, ca), std::invalid_argument);              // 3 polynomials
  EXPECT_THROW(f.eval->rotate(sq, 1, GaloisKeys{}), std::invalid_argument);
  EXPECT_THROW(f.eval->rotate(ca, 1, GaloisKeys{}), std::invalid_argument);  // missing key
  EXPECT_THROW(f.eval->relinearize(sq, RelinKey{}), std::invalid_argument);
  Ciphertext l0 = f.eval->mod_switch_to(ca, 0);
  EXPECT_THROW(f.eval->rescale(l0), std::invalid_argument);
  EXPECT_THROW(f.eval->mod_switch_to(l0, 1), std::invalid_argument);
  EXPECT_THROW(f.eval->add_plain(ca, f.encoder->encode(a, 0x1p40, 1)), std::invalid_argument);
  EXPECT_THROW(f.eval->add_plain(ca, f.encoder->encode(a, 0x1p30)), std::invalid_argument);
  EXPECT_THROW(f.eval->rotate_and_sum(ca, 3, GaloisKeys{}), std::invalid_argument);
  // Keys from a context with different dnum are refused.
  Fixture g(2, {60, 60});
  EXPECT_THROW(f.eval->relinearize(sq, g.rk), std::invalid_argument);
}

}  // namespace
}  // namespace heal::ckks

namespace heal::ckks {
namespace {

TEST(KeyGeneration, FixedHammingWeightSecretWorksEndToEnd) {
  ParamsSpec s;
  s.log_n = 10;
  s.q_bits = {60, 40};
  s.p_bits = {60};
  s.secret = SecretDistribution::kTernaryHamming;
  s.hamming_weight = 64;
  s.allow_insecure = true;
  auto ctx = Context::create(s);
  SeededRng rng(seed_from_u64(3));
  SecretKey sk = sample_secret_key(*ctx, rng);
  math::RnsPoly coef = sk.poly();
  coef.intt_inplace(ctx->key_basis());
  std::size_t weight = 0;
  for (std::size_t j = 0; j < ctx->n(); ++j) weight += coef.limb(0)[j] != 0;
  EXPECT_EQ(weight, 64u);
  KeyGenerator kg(ctx, sk);
  Encoder enc(ctx);
  Encryptor e(ctx, kg.create_public_key());
  Decryptor d(ctx, kg.secret_key());
  Evaluator ev(ctx);
  const auto v = testing::random_vec(ctx->slots(), 11);
  const RelinKey rk = kg.create_relin_key();
  const Ciphertext c = e.encrypt(enc.encode(v));
  testing::Vec sq(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) sq[i] = v[i] * v[i];
  EXPECT_GT(testing::precision_bits(sq, enc.decode(d.decrypt(ev.rescale(ev.mul_relin(c, c, rk))))), 20);
}

}  // namespace
}  // namespace heal::ckks

namespace heal::ckks {
namespace {

TEST(Encryption, CustomRngMakesEncryptionReproducibleAndDefaultIsFresh) {
  auto& f = fx();
  const Plaintext pt = f.encoder->encode(testing::random_vec(8, 12));
  Encryptor e1(f.ctx, f.pk), e2(f.ctx, f.pk);
  e1.set_rng(std::make_unique<SeededRng>(seed_from_u64(7)));
  e2.set_rng(std::make_unique<SeededRng>(seed_from_u64(7)));
  const Ciphertext a = e1.encrypt(pt), b = e2.encrypt(pt);
  EXPECT_TRUE(a[0] == b[0] && a[1] == b[1]);
  Encryptor e3(f.ctx, f.pk);
  const Ciphertext c = e3.encrypt(pt), d = e3.encrypt(pt);
  EXPECT_FALSE(c[0] == d[0]);
}

}  // namespace
}  // namespace heal::ckks
