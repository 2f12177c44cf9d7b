// Collective bootstrapping at N = 2^14 (Q = 60 + 4 x 58 bits, P = 60: 352 bits, within the
// 128-bit bound): time per party share and precision of a 3-of-3 refresh from level 1 to level 4.
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

namespace heal::ckks::multiparty {
namespace {

using ckks::testing::precision_bits;
using ckks::testing::random_vec;
using ckks::testing::Vec;

TEST(CollectiveBootstrapLarge, N14ThreePartiesTimeAndPrecision) {
  ParamsSpec s;
  s.log_n = 14;
  s.q_bits = {60, 58, 58, 58, 58};
  s.p_bits = {60};
  s.default_scale = 0x1p58;
  const auto ctx = Context::create(s);
  constexpr std::size_t kParties = 3;
  SeededRng rng(seed_from_u64(14));
  std::vector<SecretKey> secrets;
  SecretKey sum(math::RnsPoly(ctx->n(), ctx->key_basis().size(), true));
  CollectivePublicKeyGen ckg(ctx, seed_from_u64(140));
  std::vector<KeyShare> pks;
  for (std::size_t i = 0; i < kParties; ++i) {
    secrets.push_back(sample_secret_key(*ctx, rng));
    sum.poly().add_inplace(secrets.back().poly(), ctx->key_basis());
    pks.push_back(ckg.gen_share(PartyId(i + 1), secrets.back(), rng));
  }
  Encoder enc(ctx);
  Encryptor e(ctx, ckg.finalize(ckg.aggregate_shares(pks)));
  Decryptor ideal(ctx, sum);
  Evaluator ev(ctx);
  const Vec v = random_vec(ctx->slots(), 1);
  const Ciphertext ct = ev.mod_switch_to(e.encrypt(enc.encode(v)), 1);

  RefreshParams p;
  p.flooding.fresh_encryptions = 1;  // B_ct derived by the party: one fresh public-key encryption
  p.flooding.secret_parties = kParties;
  p.flooding.parties = kParties;
  p.flooding.max_decryptions = 16;
  p.flooding.required_bits = 8;
  p.message_bound = 2;
  std::vector<std::unique_ptr<CollectiveBootstrapper>> boots;
  for (std::size_t i = 0; i < kParties; ++i)
    boots.push_back(std::make_unique<CollectiveBootstrapper>(ctx, seed_from_u64(141), p));
  std::vector<RefreshShare> shares;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < kParties; ++i)
    shares.push_back(boots[i]->gen_share(PartyId(i + 1), ct, 1, secrets[i], rng));
  const auto t1 = std::chrono::steady_clock::now();
  const RefreshShare agg = boots[0]->aggregate_shares(shares);
  const auto t2 = std::chrono::steady_clock::now();
  const Ciphertext out = boots[0]->finalize(ct, agg);
  const auto t3 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  ASSERT_EQ(out.level(), ctx->max_level());
  const double stdev = flooded_slot_error_std(*ctx, p.flooding, kParties, ct.scale());
  const double bits = precision_bits(v, enc.decode(ideal.decrypt(out)));
  std::printf(
      "[ refresh N=2^14 ] level 1 -> %zu: %.1f ms per party share, aggregate %.1f ms, finalize %.1f ms; "
      "mask 2^%d, combined 2^%.1f of Q_1 2^%.1f; sigma_flood 2^%.1f, predicted slot std 2^%.1f; "
      "precision %.1f bits\n",
      out.level(), ms(t0, t1) / kParties, ms(t1, t2), ms(t2, t3), boots[0]->mask_bits(ct),
      boots[0]->combined_bound_bits(ct, kParties), ctx->q_basis().slice(0, 2).log2_product(),
      std::log2(boots[0]->sigma()), std::log2(stdev), bits);
  EXPECT_GT(bits, -std::log2(8 * stdev));
}

}  // namespace
}  // namespace heal::ckks::multiparty
