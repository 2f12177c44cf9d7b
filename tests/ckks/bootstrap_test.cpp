// CKKS bootstrapping at small, insecure parameters (presets "test" and "test-sparse", N = 2^12):
// each step against its plaintext meaning, then the whole refresh, complex slots, repeated use,
// and misuse. The 128-bit presets run in bootstrap_slow_test.cpp.
#include "heal/ckks/bootstrap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <numeric>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/refresh.h"
#include "heal/math/sampler.h"

namespace heal::ckks {
namespace {

using testing::precision_bits;
using testing::Vec;

struct Boot {
  explicit Boot(const std::string& preset) : p(bootstrap_preset(preset)) {
    ctx = Context::create(p.params);
    keygen = std::make_unique<KeyGenerator>(ctx, std::make_unique<SeededRng>(seed_from_u64(77)));
    encryptor = std::make_unique<Encryptor>(ctx, keygen->create_public_key());
    decryptor = std::make_unique<Decryptor>(ctx, keygen->secret_key());
    rk = keygen->create_relin_key();
    bs = std::make_unique<Bootstrapper>(ctx, p.config);
    gk = bs->create_galois_keys(*keygen);
  }
  Ciphertext encrypt(const Vec& v, std::size_t level = 0) const {
    Encoder enc(ctx);
    return encryptor->encrypt(enc.encode(v, ctx->default_scale(), level));
  }
  Vec decrypt(const Ciphertext& ct) const {
    Encoder enc(ctx);
    Vec v = enc.decode(decryptor->decrypt(ct));
    v.resize(ct.slots());
    return v;
  }
  BootstrapPreset p;
  ContextPtr ctx;
  std::unique_ptr<KeyGenerator> keygen;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> decryptor;
  RelinKey rk;
  std::unique_ptr<Bootstrapper> bs;
  GaloisKeys gk;
};

Boot& full() {
  static Boot b("test");
  return b;
}
Boot& sparse() {
  static Boot b("test-sparse");
  return b;
}

std::size_t bit_reverse(std::size_t x, std::size_t bits) {
  std::size_t r = 0;
  for (std::size_t i = 0; i < bits; ++i) r |= ((x >> i) & 1) << (bits - 1 - i);
  return r;
}

Vec real_vec(std::size_t n, std::uint64_t seed) {
  Vec v = testing::random_vec(n, seed);
  for (auto& x : v) x = x.real();
  return v;
}

// CoeffsToSlots must leave (t_k / q_0 - 1/4) / K in bit-reversed slot order, t = the raised
// ciphertext's decryption (coefficients at multiples of N/(2n); real half then imaginary half).
void check_coeffs_to_slots(Boot& b) {
  const std::size_t n = b.p.config.slots, big_n = b.ctx->n();
  const Ciphertext ct = b.encrypt(testing::random_vec(n, 5));
  Evaluator ev(b.ctx);
  Ciphertext raised = mod_raise(*b.ctx, ct);
  ASSERT_EQ(raised.level(), b.ctx->max_level());
  Ciphertext probe = raised;
  probe.set_scale(static_cast<double>(b.ctx->q(0).value()));
  Encoder enc(b.ctx);
  const std::vector<double> t = enc.decode_coeffs(b.decryptor->decrypt(probe));  // t_k / q_0
  // ModRaise adds q_0 I with I != 0 somewhere (else the test would not exercise EvalMod).
  const double max_i = std::accumulate(t.begin(), t.end(), 0.0, [](double m, double x) { return std::max(m, std::fabs(x)); });
  EXPECT_GT(max_i, 2.0);
  EXPECT_LT(max_i, b.p.config.k_bound - 0.25);
  const auto parts = b.bs->coeffs_to_slots(ev, raised, b.gk);
  const std::size_t bits = static_cast<std::size_t>(std::countr_zero(n)), gap = big_n / (2 * n);
  const double k = b.p.config.k_bound;
  auto want = [&](std::size_t j, bool imag) { return (t[bit_reverse(j, bits) * gap + (imag ? big_n / 2 : 0)] - 0.25) / k; };
  double worst = 0;
  if (parts.size() == 2) {
    for (std::size_t part = 0; part < 2; ++part) {
      const Vec got = b.decrypt(parts[part]);
      for (std::size_t j = 0; j < n; ++j) worst = std::max(worst, std::abs(got[j] - want(j, part == 1)));
    }
  } else {
    ASSERT_EQ(parts.size(), 1u);
    const Vec got = b.decrypt(parts[0]);
    ASSERT_EQ(got.size(), 2 * n);
    for (std::size_t j = 0; j < 2 * n; ++j) worst = std::max(worst, std::abs(got[j] - want(j % n, j >= n)));
  }
  std::printf("[ boot ] %zu slots: CoeffsToSlots error 2^%.1f (values up to %.1f / K)\n", n, std::log2(worst), max_i);
  EXPECT_LT(worst, 0x1p-30);
}

TEST(Bootstrap, CoeffsToSlotsFullSlots) { check_coeffs_to_slots(full()); }
TEST(Bootstrap, CoeffsToSlotsSparse) { check_coeffs_to_slots(sparse()); }

double bootstrap_bits(Boot& b, const Vec& x, double* mean_bits = nullptr) {
  Evaluator ev(b.ctx);
  const Ciphertext ct = b.encrypt(x);
  const Ciphertext out = ev.bootstrap(ct, *b.bs, b.rk, b.gk);
  EXPECT_EQ(out.level(), b.bs->output_level());
  EXPECT_NEAR(out.scale(), ct.scale(), 1e-9 * ct.scale());
  EXPECT_EQ(out.slots(), ct.slots());
  const Vec got = b.decrypt(out);
  if (mean_bits) {
    double s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) s += -std::log2(std::max(std::abs(got[i] - x[i]), 0x1p-60));
    *mean_bits = s / static_cast<double>(x.size());
  }
  return precision_bits(x, got);
}

TEST(Bootstrap, FullSlotsRealAndComplex) {
  auto& b = full();
  double mean_r = 0, mean_c = 0;
  const double real = bootstrap_bits(b, real_vec(b.p.config.slots, 11), &mean_r);
  const double cplx = bootstrap_bits(b, testing::random_vec(b.p.config.slots, 12), &mean_c);
  std::printf("[ boot ] %s: real slots worst %.1f / mean %.1f bits, complex worst %.1f / mean %.1f bits\n",
              b.bs->describe().c_str(), real, mean_r, cplx, mean_c);
  EXPECT_GT(mean_r, 20);
  EXPECT_GT(mean_c, 20);
  EXPECT_GT(real, 15);
  EXPECT_GT(cplx, 15);
}

// Two threads (split DFT rotations and giant steps, the two EvalMods in parallel) compute the same
// circuit: same precision.
TEST(Bootstrap, TwoThreads) {
  auto& b = full();
  b.bs->set_threads(2);
  double mean = 0;
  const double worst = bootstrap_bits(b, testing::random_vec(b.p.config.slots, 14), &mean);
  b.bs->set_threads(1);
  std::printf("[ boot ] 2 threads: worst %.1f / mean %.1f bits\n", worst, mean);
  EXPECT_GT(mean, 20);
  EXPECT_GT(worst, 15);
  EXPECT_THROW(b.bs->set_threads(0), std::invalid_argument);
}

TEST(Bootstrap, SparseSlots) {
  auto& b = sparse();
  double mean = 0;
  const double worst = bootstrap_bits(b, testing::random_vec(b.p.config.slots, 13), &mean);
  std::printf("[ boot ] %s: worst %.1f / mean %.1f bits\n", b.bs->describe().c_str(), worst, mean);
  EXPECT_GT(mean, 24);
  EXPECT_GT(worst, 18);
}

// 20 rounds of bootstrap -> multiply -> rescale stay within 2^-15 of the same computation in the
// clear (each round multiplies by unit-modulus complex values, so magnitudes stay near 1). The
// 32-slot preset keeps it fast (ModRaise, CoeffsToSlots, EvalMod and SlotsToCoeffs as at 2^15 slots,
// plus the subring trace).
TEST(Bootstrap, TwentyCyclesTrackThePlaintext) {
  auto& b = sparse();
  const std::size_t n = b.p.config.slots;
  Evaluator ev(b.ctx);
  Vec x = testing::random_vec(n, 21), u(n);
  SeededRng r(seed_from_u64(22));
  for (auto& v : u) v = std::polar(1.0, 2 * std::numbers::pi * r.uniform_double());
  Ciphertext ct = b.encrypt(x);
  Encoder enc(b.ctx);
  double worst = 0;
  for (int round = 0; round < 20; ++round) {
    ct = ev.bootstrap(ct, *b.bs, b.rk, b.gk);
    const Ciphertext uc = b.encryptor->encrypt(enc.encode(u, ct.scale(), ct.level()));
    ct = ev.relinearize(ev.mul(ct, uc), b.rk);
    ev.rescale_inplace(ct);
    for (std::size_t i = 0; i < n; ++i) x[i] *= u[i];
    worst = -precision_bits(x, b.decrypt(ct));
  }
  std::printf("[ boot ] 20 bootstrap-multiply-rescale cycles: error 2^%.1f\n", worst);
  EXPECT_LT(worst, -15);
}

// Collective bootstrapping (ckks/multiparty/refresh.h) of a ciphertext under the same secret,
// split additively over 3 parties (s = s_1 + s_2 + s_3, s_2 and s_3 uniform), gives the
// single-key bootstrap's result within the flooding noise it adds, without any of the parties
// holding s. (Fewer than t parties: tests/ckks/collective_bootstrap_test.cpp.)
TEST(Bootstrap, CollectiveRefreshMatchesSingleKeyBootstrap) {
  using namespace multiparty;
  auto& b = full();
  const auto& kb = b.ctx->key_basis();
  std::vector<SecretKey> parts;
  SecretKey rest = b.keygen->secret_key();
  for (std::uint64_t i = 0; i < 2; ++i) {
    math::RnsPoly r = math::expand_uniform_poly(seed_from_u64(900 + i), 1, kb, kb.size(), true);
    rest.poly().sub_inplace(r, kb);
    parts.emplace_back(std::move(r));
  }
  parts.insert(parts.begin(), rest);
  // Scale q_0 / 2^12 (the largest bootstrap() takes) at level 2, where 3 masks fit.
  const double scale = std::ldexp(static_cast<double>(b.ctx->q(0).value()), -12);
  const Vec x = testing::random_vec(b.p.config.slots, 31);
  Encoder enc(b.ctx);
  const Ciphertext ct = b.encryptor->encrypt(enc.encode(x, scale, 2));
  Evaluator ev(b.ctx);
  const Vec single = b.decrypt(ev.bootstrap(ct, *b.bs, b.rk, b.gk));
  RefreshParams rp;
  rp.flooding.fresh_encryptions = 1;
  rp.flooding.max_decryptions = 4;
  rp.flooding.parties = 3;
  rp.flooding.secret_parties = 1;
  rp.flooding.required_bits = 4;
  rp.message_bound = 2;
  std::vector<RefreshShare> shares;
  SeededRng rng(seed_from_u64(91));
  std::vector<std::unique_ptr<CollectiveBootstrapper>> party;
  for (std::size_t i = 0; i < 3; ++i) {
    party.push_back(std::make_unique<CollectiveBootstrapper>(b.ctx, seed_from_u64(92), rp));
    shares.push_back(party[i]->gen_share(PartyId(i + 1), ct, 1, parts[i], rng));
  }
  const Ciphertext refreshed = party[0]->finalize(ct, party[0]->aggregate_shares(shares));
  EXPECT_EQ(refreshed.level(), b.ctx->max_level());
  const Vec collective = b.decrypt(refreshed);
  // Slot standard deviation of the flooding: sqrt(3 N (sigma^2 + 3.2^2)) / scale.
  const double sd = std::sqrt(3.0 * static_cast<double>(b.ctx->n()) *
                              (party[0]->sigma() * party[0]->sigma() + math::kDefaultSigma * math::kDefaultSigma)) / scale;
  const double diff = -precision_bits(single, collective), boot_err = -precision_bits(x, single);
  std::printf("[ boot ] collective refresh vs single-key bootstrap: differ by 2^%.1f; flooding slot std 2^%.1f, "
              "bootstrap error 2^%.1f\n", diff, std::log2(sd), boot_err);
  EXPECT_LT(std::exp2(diff), 8 * sd + std::exp2(boot_err));
  EXPECT_GT(std::exp2(diff), sd / 64);  // the flooding is really there
}

TEST(Bootstrap, KeysAreExactlyWhatItUses) {
  auto& b = sparse();
  // Drop one Galois key: bootstrapping must refuse, not produce garbage.
  GaloisKeys partial;
  for (const auto& [g, k] : b.gk.all()) {
    if (g != b.bs->galois_elements().front()) partial.set(g, k);
  }
  Evaluator ev(b.ctx);
  const Ciphertext ct = b.encrypt(testing::random_vec(b.p.config.slots, 3));
  EXPECT_THROW(ev.bootstrap(ct, *b.bs, b.rk, partial), std::invalid_argument);
  EXPECT_EQ(b.gk.size(), b.bs->galois_elements().size());
}

TEST(Bootstrap, Misuse) {
  auto& b = sparse();
  Evaluator ev(b.ctx);
  Encoder enc(b.ctx);
  // Wrong slot count.
  const Ciphertext wide = b.encryptor->encrypt(enc.encode(testing::random_vec(64, 1), b.ctx->default_scale(), 0));
  EXPECT_THROW(ev.bootstrap(wide, *b.bs, b.rk, b.gk), std::invalid_argument);
  // Scale too close to q_0: the sine is no longer linear there.
  const Ciphertext big = b.encryptor->encrypt(enc.encode(testing::random_vec(32, 1), 0x1p55, 0));
  EXPECT_THROW(ev.bootstrap(big, *b.bs, b.rk, b.gk), std::invalid_argument);
  // A bootstrapper of another context.
  EXPECT_THROW(Evaluator(full().ctx).bootstrap(b.encrypt(testing::random_vec(32, 2)), *b.bs, b.rk, b.gk),
               std::invalid_argument);
  // Too deep for the chain.
  BootstrapConfig deep = b.p.config;
  deep.double_angle = 8;
  EXPECT_THROW(Bootstrapper(b.ctx, deep), std::invalid_argument);
  EXPECT_THROW(bootstrap_preset("nope"), std::invalid_argument);
}

TEST(Bootstrap, ModBoundFailureProbability) {
  // Weight 256: sigma of t / q_0 = sqrt(257 / 12) = 4.6; K = 32 is 6.9 sigma, so one ModRaise
  // over 2^16 coefficients fails with probability about 2^-20; K = 16 would fail often.
  auto p = bootstrap_preset("full");
  p.params.allow_insecure = true;
  p.params.q_bits = {60, 40};
  p.params.p_bits = {60};
  p.params.dnum = 0;
  const auto ctx = Context::create(p.params);
  const double k32 = mod_bound_failure_log2(*ctx, 32), k16 = mod_bound_failure_log2(*ctx, 16);
  std::printf("[ boot ] ModRaise |I| > K - 1/4: K=32: 2^%.1f, K=16: 2^%.1f per bootstrap (N = 2^16, h = 256)\n", k32, k16);
  EXPECT_LT(k32, -20);
  EXPECT_GT(k16, -5);
}

TEST(Bootstrap, TrainPresetsLeaveTenLevelsAndTrainIsSecure) {
  // "train" is "sparse" plus one user level: it must still pass Context's 128-bit check (log QP =
  // 1624 <= 1637 for Hamming weight 256), unlike one level more.
  auto train = bootstrap_preset("train");
  EXPECT_FALSE(train.params.allow_insecure);
  const auto ctx = Context::create(train.params);
  EXPECT_EQ(ctx->max_level() + 1, train.params.q_bits.size());
  EXPECT_EQ(std::count(train.params.q_bits.begin(), train.params.q_bits.end(), 40), 10);
  auto deeper = train;
  deeper.params.q_bits.insert(deeper.params.q_bits.begin() + 1, 40);
  EXPECT_THROW(Context::create(deeper.params), std::invalid_argument);
  // The insecure twin has the same depth budget: 10 levels after bootstrapping.
  auto tt = bootstrap_preset("test-train");
  EXPECT_TRUE(tt.params.allow_insecure);
  const Bootstrapper bs(Context::create(tt.params), tt.config);
  EXPECT_EQ(bs.output_level(), 10u);
  EXPECT_EQ(bs.config().slots, 32u);
}

}  // namespace
}  // namespace heal::ckks
