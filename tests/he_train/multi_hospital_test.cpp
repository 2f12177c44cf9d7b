// Multi-hospital encrypted training (INSECURE small ring, tests only): three hospitals hold
// additive secrets s_1, s_2, s_3 and 2-of-3 Shamir shares of s = s_1 + s_2 + s_3; the collective
// public, relinearization and Galois keys come from the multiparty protocols of ePrint 2020/304.
// Each hospital encrypts only its own rows; the server trains EncryptedNag on the union with the
// CollectiveRefresher (shares from a 2-of-3 quorum); a quorum threshold-decrypts only the weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "he_train_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/refresh.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/he_train/collective_refresher.h"

namespace heal::he_train {
namespace {

using namespace ckks::multiparty;
using testing::max_abs_diff;
using testing::Toy;

constexpr std::size_t kHospitals = 3, kThreshold = 2, kRows = 64;  // 64 rows = one data ciphertext each
const Packing kPacking(8, 1024, 32);                               // d' = 16: 64 rows per data ciphertext
const Seed kRefreshCrs = seed_from_u64(77);

// Refresh flooding (ePrint 2020/304 with the flooding of ckks/multiparty/flooding.h): the weights
// are a computed ciphertext, so the test vouches for B_ct = 2^10 (rescale rounding of a sum of three
// ternary secrets at N = 2^11 is about 2^7 at 6 sigma; key switching with P = 2^120 adds far less).
RefreshParams refresh_params() {
  RefreshParams p;
  p.flooding.caller_vouches_for_noise_bound = true;
  p.flooding.ciphertext_noise_bound = 0x1p10;
  p.flooding.max_decryptions = 8;
  p.flooding.parties = kThreshold;
  p.flooding.secret_parties = kHospitals;
  p.flooding.required_bits = 8;
  p.message_bound = 8;
  return p;
}

struct Hospital {
  PartyId id = 0;
  ckks::SecretKey s;  // additive secret: never leaves the hospital
  ThresholdSecret ts;
  std::unique_ptr<CollectiveBootstrapper> cb;
  std::unique_ptr<SeededRng> rng;
};

struct Federation {
  Federation() {
    ckks::ParamsSpec s;
    s.log_n = 11;
    s.q_bits = {60, 55, 55, 55, 55, 55, 55, 55};  // levels 0..7: one iteration (5 levels) per refresh
    s.p_bits = {60, 60};
    s.default_scale = 0x1p55;
    s.allow_insecure = true;
    ctx = ckks::Context::create(s);
    for (std::size_t i = 0; i < kHospitals; ++i) {
      Hospital h;
      h.id = PartyId(i + 1);
      h.rng = std::make_unique<SeededRng>(seed_from_u64(100 + i));
      h.s = ckks::sample_secret_key(*ctx, *h.rng);
      hospitals.push_back(std::move(h));
    }
    CollectivePublicKeyGen ckg(ctx, seed_from_u64(31));
    std::vector<KeyShare> pks;
    for (auto& h : hospitals) pks.push_back(ckg.gen_share(h.id, h.s, *h.rng));
    pk = ckg.finalize(ckg.aggregate_shares(pks));
    CollectiveRelinKeyGen rkg(ctx, seed_from_u64(32));
    std::vector<RelinKeyGenState> st(kHospitals);
    std::vector<KeyShare> r1, r2;
    for (std::size_t i = 0; i < kHospitals; ++i)
      r1.push_back(rkg.gen_share(hospitals[i].id, hospitals[i].s, st[i], *hospitals[i].rng));
    const KeyShare agg1 = rkg.aggregate_shares(r1);
    for (std::size_t i = 0; i < kHospitals; ++i)
      r2.push_back(rkg.gen_share_round2(hospitals[i].id, hospitals[i].s, st[i], agg1, *hospitals[i].rng));
    rk = rkg.finalize(agg1, rkg.aggregate_shares(r2));
    CollectiveGaloisKeyGen gkg(ctx, seed_from_u64(33));
    std::vector<std::uint64_t> elts;
    for (long step : EncryptedNag::rotation_steps(kPacking)) elts.push_back(ctx->galois_elt_for_step(step));
    elts.push_back(2 * ctx->n() - 1);  // conjugation
    for (std::uint64_t g : elts) {
      if (gk.has(g)) continue;
      std::vector<KeyShare> sh;
      for (auto& h : hospitals) sh.push_back(gkg.gen_share(h.id, h.s, g, *h.rng));
      gkg.finalize(gkg.aggregate_shares(sh), gk);
    }
    // 2-of-3 threshold secrets: one Shamir round (each share sent privately to its recipient).
    ThresholdKeyGen tkg(ctx, kThreshold, {1, 2, 3});
    std::vector<std::vector<KeyShare>> inbox(kHospitals);
    for (auto& h : hospitals)
      for (auto& share : tkg.gen_share(h.id, h.s, *h.rng)) inbox[share.recipient - 1].push_back(share);
    for (std::size_t i = 0; i < kHospitals; ++i) {
      hospitals[i].ts = tkg.finalize(tkg.aggregate_shares(hospitals[i].id, inbox[i]));
      hospitals[i].cb = std::make_unique<CollectiveBootstrapper>(ctx, kRefreshCrs, refresh_params());
    }
    encryptor = std::make_unique<ckks::Encryptor>(ctx, pk);
    ev = std::make_unique<ckks::Evaluator>(ctx);
    encoder = std::make_unique<ckks::Encoder>(ctx);
  }
  // Quorum threshold decryption of `ct` (the caller vouches for its noise bound).
  ckks::Plaintext threshold_decrypt(const ckks::Ciphertext& ct, const std::vector<PartyId>& quorum) {
    FloodingParams f;
    f.caller_vouches_for_noise_bound = true;
    f.ciphertext_noise_bound = 0x1p10;
    f.max_decryptions = 8;
    f.parties = quorum.size();
    f.secret_parties = kHospitals;
    f.required_bits = 8;
    std::vector<DecryptionShare> shares;
    for (PartyId p : quorum) {
      ThresholdDecryptor td(ctx, f);
      shares.push_back(td.gen_share(hospitals[p - 1].ts, quorum, ct, *hospitals[p - 1].rng));
    }
    ThresholdDecryptor server(ctx, f);
    return server.finalize(ct, server.aggregate_shares(shares));
  }
  ckks::ContextPtr ctx;
  std::vector<Hospital> hospitals;
  ckks::PublicKey pk;
  ckks::RelinKey rk;
  ckks::GaloisKeys gk;
  std::unique_ptr<ckks::Encryptor> encryptor;
  std::unique_ptr<ckks::Evaluator> ev;
  std::unique_ptr<ckks::Encoder> encoder;
};

Federation& fed() {
  static Federation f;
  return f;
}

// The hospitals' side of the refresh: quorum {1, 2}, each makes its own share with its own secret.
class QuorumSource final : public RefreshShareSource {
 public:
  QuorumSource(Federation& f, std::vector<PartyId> quorum) : f_(f), quorum_(std::move(quorum)) {}
  std::vector<RefreshShare> refresh_shares(const ckks::Ciphertext& ct, std::uint64_t session) override {
    std::vector<RefreshShare> out;
    for (PartyId p : quorum_) {
      Hospital& h = f_.hospitals[p - 1];
      out.push_back(h.cb->gen_share(h.ts, quorum_, ct, session, *h.rng));
    }
    ++calls;
    return out;
  }
  std::size_t calls = 0;

 private:
  Federation& f_;
  std::vector<PartyId> quorum_;
};

TEST(MultiHospital, TrainsOnTheUnionUnderTheThresholdKey) {
  auto& f = fed();
  const Toy toy(kHospitals * kRows, 8, 0.5, 31);
  const auto z = toy.z();  // (d + 1) values per row
  const std::size_t zw = 9;
  // Each hospital encrypts only its own 64 rows (one data ciphertext, no padding rows).
  const DataPacker packer(f.ctx, kPacking);
  std::vector<ckks::Ciphertext> zc;
  for (std::size_t i = 0; i < kHospitals; ++i) {
    const std::vector<double> mine(z.begin() + long(i * kRows * zw), z.begin() + long((i + 1) * kRows * zw));
    auto c = packer.encrypt_z(*f.encryptor, mine, kRows, f.ctx->max_level());
    ASSERT_EQ(c.size(), 1u);
    zc.push_back(std::move(c[0]));
  }
  QuorumSource source(f, {1, 2});
  const CollectiveRefresher refresher(f.ctx, kRefreshCrs, refresh_params(), source, kPacking.weight_slots());
  EXPECT_EQ(refresher.output_level(), 7u);
  const auto poly = SigmoidPoly::fit(3);
  const Schedule sched{1.0, Schedule::Rate::kConstant, true};
  const std::size_t batch = kHospitals * kRows;
  const EncryptedNag nag(f.ctx, *f.ev, f.rk, f.gk, refresher, kPacking, poly, sched, batch, batch);
  const std::vector<double> zero(9, 0.0);
  TrainOptions opt;
  opt.iterations = 3;
  const auto res = nag.train(zc, packer.encrypt_weights(*f.encryptor, zero, zero, f.ctx->max_level()), opt);
  EXPECT_EQ(res.refreshes, 2u);  // one iteration per refresh: 7 -> 2, refresh, 7 -> 2, refresh, 7 -> 2
  EXPECT_EQ(source.calls, 2u);

  // A 2-of-3 quorum (hospitals 2 and 3 here) decrypts only the final weights.
  const ckks::Plaintext pt = f.threshold_decrypt(res.weights, {2, 3});
  const auto vals = f.encoder->decode(pt);
  std::vector<double> v(9), w(9);
  for (std::size_t j = 0; j < 9; ++j) {
    v[j] = vals[j].real();
    w[j] = vals[j].imag();
  }
  PlainNag plain(z, 8, poly, sched, batch);
  plain.run(3);
  const double ew = max_abs_diff(w, plain.w()), evv = max_abs_diff(v, plain.v());
  double wmax = 0;
  for (double x : plain.w()) wmax = std::max(wmax, std::abs(x));
  std::printf(
      "3 hospitals, 2-of-3 collective refresh: %zu iterations, %zu refreshes, max |w err| %.3g, max |v err| %.3g "
      "(max |w| %.3f), %.3f s (%.1f ms refreshing, shares included)\n",
      res.iterations, res.refreshes, ew, evv, wmax, res.seconds, 1e3 * res.refresh_seconds);
  EXPECT_LT(ew, 1e-3);
  EXPECT_LT(evv, 1e-3);
  EXPECT_GT(wmax, 0.05);
  // Accuracy of the encrypted model equals the plaintext one on the union.
  std::size_t agree = 0;
  for (std::size_t i = 0; i < toy.n; ++i) {
    double me = w[0], mp = plain.w()[0];
    for (std::size_t j = 0; j < 8; ++j) {
      me += w[j + 1] * toy.x[i * 8 + j];
      mp += plain.w()[j + 1] * toy.x[i * 8 + j];
    }
    agree += (me > 0) == (mp > 0);
  }
  EXPECT_GE(agree + 2, toy.n);  // within 1 point of accuracy (192 rows)

  // The single-owner encrypted run (one secret key, BootstrapRefresher, "test-train" preset) on the
  // same rows, batches and iterations: the label accuracies agree within 1 point.
  const Packing single_packing(8, 2048, 32);
  testing::HeSetup one("test-train", single_packing);
  const BootstrapRefresher bsr(*one.ev, *one.bs, one.rk, one.gk, 8.0);
  const EncryptedNag nag1(one.ctx, *one.ev, one.rk, one.gk, bsr, single_packing, poly, sched, batch, batch);
  const DataPacker packer1(one.ctx, single_packing);
  const auto res1 = nag1.train(packer1.encrypt_z(*one.encryptor, z, batch, bsr.output_level()),
                               packer1.encrypt_weights(*one.encryptor, zero, zero, bsr.output_level()), opt);
  std::vector<double> v1, w1;
  packer1.decrypt_weights(*one.decryptor, res1.weights, v1, w1);
  auto accuracy = [&](const std::vector<double>& wt) {
    std::size_t ok = 0;
    for (std::size_t i = 0; i < toy.n; ++i) {
      double m = wt[0];
      for (std::size_t j = 0; j < 8; ++j) m += wt[j + 1] * toy.x[i * 8 + j];
      ok += (m > 0 ? 1 : 0) == toy.y[i];
    }
    return 100.0 * double(ok) / double(toy.n);
  };
  const double acc_multi = accuracy(w), acc_single = accuracy(w1), acc_plain = accuracy(plain.w());
  std::printf(
      "accuracy on the union: 3 hospitals %.2f %%, single-owner encrypted %.2f %%, plaintext %.2f %%; "
      "|w_multi - w_single| max %.3g\n",
      acc_multi, acc_single, acc_plain, max_abs_diff(w, w1));
  EXPECT_LE(std::abs(acc_multi - acc_single), 1.0);
  EXPECT_GT(acc_multi, 80.0);  // it learned something (separable toy set)
}

// No single hospital (t - 1 = 1 Shamir share, or its own additive secret) decrypts a feature
// ciphertext; a 2-of-3 quorum does.
TEST(MultiHospital, NoSingleHospitalDecryptsFeatures) {
  auto& f = fed();
  const Toy toy(kRows, 8, 0.5, 32);
  const DataPacker packer(f.ctx, kPacking);
  const auto zc = packer.encrypt_z(*f.encryptor, toy.z(), kRows, 1);
  const auto want = kPacking.pack_rows(toy.z(), kRows)[0];
  const ckks::Plaintext full = f.threshold_decrypt(zc[0], {1, 3});
  EXPECT_LT(max_abs_diff(f.encoder->decode_real(full), want), 1e-3);
  for (auto& h : f.hospitals) {
    for (const ckks::SecretKey* key : {&h.s, &h.ts.share}) {
      const ckks::Decryptor alone(f.ctx, *key);
      const auto got = f.encoder->decode_real(alone.decrypt(zc[0]));
      double err = 0;
      for (std::size_t i = 0; i < got.size(); ++i) err = std::max(err, std::abs(got[i] - want[i]));
      EXPECT_GT(err, 1e3) << "hospital " << h.id;  // |values| <= 4.5: a failed decryption is uniform garbage
    }
  }
}

// A party refuses a second refresh share for the same ciphertext and session (one a' per refresh).
TEST(MultiHospital, RefreshShareReuseRefused) {
  auto& f = fed();
  const DataPacker packer(f.ctx, kPacking);
  const std::vector<double> v(9, 0.25), w(9, -0.5);
  const auto ct = f.ev->mod_switch_to(packer.encrypt_weights(*f.encryptor, v, w, f.ctx->max_level()), 2);
  CollectiveBootstrapper party(f.ctx, kRefreshCrs, refresh_params());
  // Lowest level a refresh accepts: log2 Q_l must exceed the masked sum's bound by 2 bits.
  const auto ct1 = f.ev->mod_switch_to(ct, 1);
  std::printf("refresh: mask %d bits, combined bound %.1f bits; log2 Q_1 = 115, log2 Q_2 = 170; sigma_flood 2^%.1f\n",
              party.mask_bits(ct), party.combined_bound_bits(ct, kThreshold), std::log2(party.sigma()));
  EXPECT_TRUE(party.check_share(ct, kThreshold).ok());
  EXPECT_EQ(party.check_share(ct1, kThreshold).ok(), party.combined_bound_bits(ct1, kThreshold) < 113);
  const std::vector<PartyId> q = {1, 2};
  party.gen_share(f.hospitals[0].ts, q, ct, 900, *f.hospitals[0].rng);
  EXPECT_THROW(party.gen_share(f.hospitals[0].ts, q, ct, 900, *f.hospitals[0].rng), std::invalid_argument);
  // A quorum of one (below the threshold) is refused.
  const std::vector<PartyId> q1 = {1};
  EXPECT_THROW(party.gen_share(f.hospitals[0].ts, q1, ct, 901, *f.hospitals[0].rng), std::invalid_argument);
}

// One refresh on its own: level 2 -> 7, same scale and values (within the flooding); a source
// answering with shares of another session, or too few quorum members, is refused.
TEST(MultiHospital, CollectiveRefresherRoundTripAndMisuse) {
  auto& f = fed();
  const DataPacker packer(f.ctx, kPacking);
  const std::vector<double> v = {1, -2, 3, 0.5, 0, 0, 0.25, -1, 2}, w = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, -3};
  const auto ct = f.ev->mod_switch_to(packer.encrypt_weights(*f.encryptor, v, w, f.ctx->max_level()), 2);
  QuorumSource source(f, {1, 3});
  const CollectiveRefresher refresher(f.ctx, kRefreshCrs, refresh_params(), source, kPacking.weight_slots(), 500);
  const auto fresh = refresher.refresh(ct);
  EXPECT_EQ(fresh.level(), 7u);
  EXPECT_EQ(fresh.scale(), ct.scale());
  EXPECT_EQ(refresher.next_session(), 501u);
  const auto vals = f.encoder->decode(f.threshold_decrypt(fresh, {1, 2}));
  double err = 0;
  for (std::size_t j = 0; j < 9; ++j)
    err = std::max({err, std::abs(vals[j].real() - v[j]), std::abs(vals[j].imag() - w[j])});
  std::printf("one collective refresh (2-of-3) + 2-of-3 decryption: max error %.3g\n", err);
  EXPECT_LT(err, 1e-3);

  struct WrongSession final : RefreshShareSource {
    QuorumSource& inner;
    explicit WrongSession(QuorumSource& q) : inner(q) {}
    std::vector<RefreshShare> refresh_shares(const ckks::Ciphertext& c, std::uint64_t session) override {
      return inner.refresh_shares(c, session + 1000);
    }
  } wrong(source);
  const CollectiveRefresher bad(f.ctx, kRefreshCrs, refresh_params(), wrong, kPacking.weight_slots(), 600);
  EXPECT_THROW(bad.refresh(ct), std::invalid_argument);
  struct OneParty final : RefreshShareSource {
    Federation& fd;
    explicit OneParty(Federation& x) : fd(x) {}
    std::vector<RefreshShare> refresh_shares(const ckks::Ciphertext& c, std::uint64_t session) override {
      const std::vector<PartyId> q = {1, 2};
      Hospital& h = fd.hospitals[0];
      return {h.cb->gen_share(h.ts, q, c, session, *h.rng)};  // hospital 2 never answers
    }
  } lone(f);
  const CollectiveRefresher short_quorum(f.ctx, kRefreshCrs, refresh_params(), lone, kPacking.weight_slots(), 700);
  EXPECT_THROW(short_quorum.refresh(ct), std::invalid_argument);
  EXPECT_THROW(refresher.refresh(f.ev->rescale(f.ev->mul_relin(ct, ct, f.rk))), std::invalid_argument);  // scale
}

// Why the single-key bootstrapping circuit is not used under the collective key: EvalMod is
// accurate for |I| < K - 1/4, and I's standard deviation is sqrt((||s||^2 + 1) / 12). The ideal
// secret s = s_1 + s_2 + s_3 of three Hamming-weight-256 secrets has E||s||^2 = 768, three times
// one party's (the same as a weight-768 ternary secret); with uniform ternary secrets (the
// multiparty default) E||s||^2 = 2N. The failure probability of the "train" preset's K grows from
// 2^-21 to above 1 (union bound): a failure in about every bootstrap.
TEST(MultiHospital, SingleKeyBootstrapBoundFailsForTheCollectiveSecret) {
  ckks::BootstrapPreset p = ckks::bootstrap_preset("train");
  const double k = p.config.k_bound;
  const auto one = ckks::Context::create(p.params);
  p.params.hamming_weight = 3 * 256;
  const auto sparse3 = ckks::Context::create(p.params);
  p.params.secret = ckks::SecretDistribution::kTernary;
  const auto ternary = ckks::Context::create(p.params);
  const double f1 = ckks::mod_bound_failure_log2(*one, k), f3 = ckks::mod_bound_failure_log2(*sparse3, k),
               ft = ckks::mod_bound_failure_log2(*ternary, k);
  std::printf(
      "EvalMod K = %.0f, log2 P(failure) per bootstrap: one key (h 256) %.1f, sum of 3 (h 768) %.1f, "
      "sum of 3 uniform ternary %.1f\n",
      k, f1, f3, ft);
  EXPECT_LT(f1, -20);  // the preset's own bound for one key
  EXPECT_GT(f3, -1);   // union bound above 1/2: a failure in about every bootstrap
  EXPECT_GT(ft, f3);
}

}  // namespace
}  // namespace heal::he_train
