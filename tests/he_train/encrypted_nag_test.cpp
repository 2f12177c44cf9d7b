// Encrypted NAG at the insecure "test-train" preset (N = 2^12, 32 slots, 10 levels after
// bootstrapping) against PlainNag with the same polynomial, schedule and batches.
#include "heal/he_train/encrypted_nag.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "he_train_test_util.h"

namespace heal::he_train {
namespace {

using testing::HeSetup;
using testing::max_abs_diff;
using testing::Toy;

const Packing kPacking(8, 32);  // d' = 16, 2 rows per ciphertext

HeSetup& setup() {
  static HeSetup s("test-train", kPacking);
  return s;
}

struct Run {
  std::vector<double> v, w;
  TrainResult res;
  std::vector<IterationInfo> infos;
};

TEST(DataPacker, EncryptDecryptRoundTrip) {
  auto& s = setup();
  const DataPacker packer(s.ctx, kPacking);
  const Toy toy(5, 8, 0.5, 20);
  const auto z = toy.z();
  const auto zc = packer.encrypt_z(*s.encryptor, z, 5, 10);
  ASSERT_EQ(zc.size(), 3u);
  EXPECT_EQ(zc[0].level(), 10u);
  const ckks::Encoder enc(s.ctx);
  for (std::size_t j = 0; j < zc.size(); ++j) {
    const auto vals = enc.decode_real(s.decryptor->decrypt(zc[j]));
    const auto want = kPacking.pack_rows(z, 5)[j];
    for (std::size_t i = 0; i < 32; ++i) EXPECT_NEAR(vals[i], want[i], 1e-6) << "ciphertext " << j << " slot " << i;
  }
  const std::vector<double> v = {1, -2, 3, 0.5, 0, 0, 0.25, -1, 2}, w = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, -3};
  const auto wc = packer.encrypt_weights(*s.encryptor, v, w, 10);
  for (std::size_t row = 0; row < 2; ++row) {
    std::vector<double> v2, w2;
    packer.decrypt_weights(*s.decryptor, wc, v2, w2, row);
    EXPECT_LT(max_abs_diff(v2, v), 1e-6);
    EXPECT_LT(max_abs_diff(w2, w), 1e-6);
  }
  // Margins are read from the first slot of every row: here z itself, so the bias entries y'_i.
  const auto m = packer.decrypt_margins(*s.decryptor, zc, 5);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(m[i], z[i * 9], 1e-6);
  // A refresh keeps the values (bound 8 > the largest |v + i w| here).
  const BootstrapRefresher refresher(*s.ev, *s.bs, s.rk, s.gk, 8.0);
  const auto fresh = refresher.refresh(s.ev->mod_switch_to(wc, 0));
  EXPECT_EQ(fresh.level(), refresher.output_level());
  EXPECT_DOUBLE_EQ(fresh.scale(), s.ctx->default_scale());
  std::vector<double> v3, w3;
  packer.decrypt_weights(*s.decryptor, fresh, v3, w3);
  std::printf("refresh of |values| <= 3 with bound 8: max error %.3g\n",
              std::max(max_abs_diff(v3, v), max_abs_diff(w3, w)));
  EXPECT_LT(max_abs_diff(v3, v), 1e-4);
  EXPECT_LT(max_abs_diff(w3, w), 1e-4);
}

TEST(EncryptedNag, MatchesPlainNagWithTwoBootstraps) {
  auto& s = setup();
  const Toy toy(64, 8, 0.5, 21);
  const auto z = toy.z();
  const auto poly = SigmoidPoly::fit(3);
  const Schedule sched{1.0, Schedule::Rate::kConstant, true};
  const BootstrapRefresher refresher(*s.ev, *s.bs, s.rk, s.gk, 8.0);
  const EncryptedNag nag(s.ctx, *s.ev, s.rk, s.gk, refresher, kPacking, poly, sched, 64, 32);
  EXPECT_EQ(nag.levels_per_iteration(), 5u);
  const DataPacker packer(s.ctx, kPacking);
  const auto zc = packer.encrypt_z(*s.encryptor, z, 64, refresher.output_level());
  ASSERT_EQ(zc.size(), 32u);
  const std::vector<double> zero(9, 0.0);
  TrainOptions opt;
  opt.iterations = 5;
  std::vector<IterationInfo> infos;
  opt.on_iteration = [&](const IterationInfo& i) { infos.push_back(i); };
  const auto res = nag.train(zc, packer.encrypt_weights(*s.encryptor, zero, zero, refresher.output_level()), opt);
  std::vector<double> v, w;
  packer.decrypt_weights(*s.decryptor, res.weights, v, w);

  PlainNag plain(z, 8, poly, sched, 32);
  plain.run(5);
  const double ew = max_abs_diff(w, plain.w()), ev = max_abs_diff(v, plain.v());
  double wmax = 0;
  for (double x : plain.w()) wmax = std::max(wmax, std::abs(x));
  std::printf(
      "encrypted vs plain after 5 iterations: max |w err| %.3g, max |v err| %.3g (max |w| %.3f), %zu refreshes, "
      "%.2f s (%.2f s refreshing)\n",
      ew, ev, wmax, res.refreshes, res.seconds, res.refresh_seconds);
  EXPECT_LT(ew, 1e-3);
  EXPECT_LT(ev, 1e-3);
  EXPECT_GT(wmax, 0.1);  // the weights moved
  EXPECT_EQ(res.iterations, 5u);
  EXPECT_EQ(res.refreshes, 2u);  // before iterations 2 and 4: two iterations per bootstrap
  ASSERT_EQ(infos.size(), 5u);
  EXPECT_FALSE(infos[0].refreshed);
  EXPECT_FALSE(infos[1].refreshed);
  EXPECT_TRUE(infos[2].refreshed);
  EXPECT_TRUE(infos[4].refreshed);
  EXPECT_EQ(infos[0].level, refresher.output_level() - 5);
  EXPECT_EQ(infos[1].level, refresher.output_level() - 10);
  EXPECT_EQ(infos[3].batch, 1u);
  EXPECT_EQ(infos[3].epoch, 1u);
  EXPECT_GT(infos[2].refresh_seconds, 0.0);
  // The other rows hold the same replicated weights.
  std::vector<double> v1, w1;
  packer.decrypt_weights(*s.decryptor, res.weights, v1, w1, 1);
  EXPECT_LT(max_abs_diff(w1, plain.w()), 1e-3);
}

TEST(EncryptedNag, EarlyStopOnEncryptedValidationMargins) {
  auto& s = setup();
  const Toy toy(16, 8, 0.5, 22), val(6, 8, 0.5, 23);
  const auto z = toy.z(), zv = val.z();
  const auto poly = SigmoidPoly::fit(3);
  const Schedule sched{1.0, Schedule::Rate::kConstant, true};
  const BootstrapRefresher refresher(*s.ev, *s.bs, s.rk, s.gk, 8.0);
  const EncryptedNag nag(s.ctx, *s.ev, s.rk, s.gk, refresher, kPacking, poly, sched, 16, 16);
  const DataPacker packer(s.ctx, kPacking);
  const auto zc = packer.encrypt_z(*s.encryptor, z, 16, refresher.output_level());
  const auto vc = packer.encrypt_z(*s.encryptor, zv, 6, refresher.output_level());
  const std::vector<double> zero(9, 0.0);

  // The data owner's side: decrypt the margins, compare with the plaintext run, stop at epoch 2.
  PlainNag plain(z, 8, poly, sched, 16);
  PlainNag plain_val(zv, 8, poly, sched, 6);
  std::vector<double> losses;
  double worst = 0;
  TrainOptions opt;
  opt.iterations = 10;
  opt.validation = &vc;
  opt.on_epoch = [&](std::size_t epoch, const std::vector<ckks::Ciphertext>& margins) {
    plain.step();  // one batch per epoch
    const auto m = packer.decrypt_margins(*s.decryptor, margins, 6);
    worst = std::max(worst, max_abs_diff(m, plain_val.margins(plain.w())));
    losses.push_back(mean_logistic_loss(m));
    return epoch == 2;
  };
  const auto res = nag.train(zc, packer.encrypt_weights(*s.encryptor, zero, zero, refresher.output_level()), opt);
  std::printf("validation margins: max error %.3g, losses", worst);
  for (double l : losses) std::printf(" %.4f", l);
  std::printf("\n");
  EXPECT_TRUE(res.stopped_early);
  EXPECT_EQ(res.iterations, 3u);
  EXPECT_EQ(res.epochs_checked, 3u);
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_LT(worst, 1e-3);
  EXPECT_LT(losses[2], losses[0]);
  // Without a callback it runs every iteration.
  TrainOptions all;
  all.iterations = 1;
  all.validation = &vc;
  EXPECT_FALSE(
      nag.train(zc, packer.encrypt_weights(*s.encryptor, zero, zero, refresher.output_level()), all).stopped_early);
}

TEST(EncryptedNag, Degree7OneIterationPerBootstrap) {
  auto& s = setup();
  const Toy toy(8, 8, 0.5, 24);
  const auto z = toy.z();
  const auto poly = SigmoidPoly::fit(7);
  const Schedule sched{2.0, Schedule::Rate::kInverseTime, true};
  const BootstrapRefresher refresher(*s.ev, *s.bs, s.rk, s.gk, 8.0);
  const EncryptedNag nag(s.ctx, *s.ev, s.rk, s.gk, refresher, kPacking, poly, sched, 8, 4);
  EXPECT_EQ(nag.levels_per_iteration(), 6u);
  const DataPacker packer(s.ctx, kPacking);
  const auto zc = packer.encrypt_z(*s.encryptor, z, 8, refresher.output_level());
  const std::vector<double> v0 = {0.1, -0.2, 0.3, 0, 0, 0.1, 0, 0, -0.1}, w0(9, 0.05);
  TrainOptions opt;
  opt.iterations = 2;
  const auto res = nag.train(zc, packer.encrypt_weights(*s.encryptor, v0, w0, refresher.output_level()), opt);
  PlainNag plain(z, 8, poly, sched, 4);
  plain.set_state(v0, w0);
  plain.run(2);
  std::vector<double> v, w;
  packer.decrypt_weights(*s.decryptor, res.weights, v, w);
  std::printf("degree 7: max |w err| %.3g, max |v err| %.3g\n", max_abs_diff(w, plain.w()), max_abs_diff(v, plain.v()));
  EXPECT_LT(max_abs_diff(w, plain.w()), 1e-3);
  EXPECT_LT(max_abs_diff(v, plain.v()), 1e-3);
  EXPECT_EQ(res.refreshes, 1u);
}

TEST(EncryptedNag, Misuse) {
  auto& s = setup();
  const auto poly = SigmoidPoly::fit(3);
  const BootstrapRefresher refresher(*s.ev, *s.bs, s.rk, s.gk, 8.0);
  EXPECT_THROW(BootstrapRefresher(*s.ev, *s.bs, s.rk, s.gk, 0.5), std::invalid_argument);
  // batch not a multiple of the rows per ciphertext; refresher on other slots; wrong context.
  EXPECT_THROW(EncryptedNag(s.ctx, *s.ev, s.rk, s.gk, refresher, kPacking, poly, Schedule{}, 16, 3),
               std::invalid_argument);
  EXPECT_THROW(EncryptedNag(s.ctx, *s.ev, s.rk, s.gk, refresher, Packing(8, 64), poly, Schedule{}, 16, 4),
               std::invalid_argument);
  EXPECT_THROW(EncryptedNag(nullptr, *s.ev, s.rk, s.gk, refresher, kPacking, poly, Schedule{}, 16, 4),
               std::invalid_argument);
  const EncryptedNag nag(s.ctx, *s.ev, s.rk, s.gk, refresher, kPacking, poly, Schedule{}, 4, 4);
  const DataPacker packer(s.ctx, kPacking);
  const Toy toy(4, 8, 0.5, 25);
  const auto zc = packer.encrypt_z(*s.encryptor, toy.z(), 4, refresher.output_level());
  const std::vector<double> zero(9, 0.0);
  const auto top = packer.encrypt_weights(*s.encryptor, zero, zero, refresher.output_level());
  // Too few levels left for an iteration, or for validation margins.
  EXPECT_THROW(nag.iterate(zc, s.ev->mod_switch_to(top, 4), 0), std::invalid_argument);
  EXPECT_THROW(nag.validation_margins(zc, s.ev->mod_switch_to(top, 1)), std::invalid_argument);
  // Wrong number of data ciphertexts; data below the state's level.
  EXPECT_THROW(nag.iterate({zc[0], zc[0], zc[0]}, top, 0), std::invalid_argument);
  const std::vector<ckks::Ciphertext> low = {s.ev->mod_switch_to(zc[0], 7), zc[1]};
  EXPECT_THROW(nag.iterate(low, top, 0), std::invalid_argument);
  // A state of another slot count; a 3-polynomial state.
  ckks::Ciphertext other = top;
  other.set_slots(16);
  EXPECT_THROW(nag.iterate(zc, other, 0), std::invalid_argument);
  EXPECT_THROW(refresher.refresh(other), std::invalid_argument);
  EXPECT_THROW(nag.iterate(zc, s.ev->mul(top, top), 0), std::invalid_argument);
  // Decrypting with the wrong row count.
  std::vector<double> v, w;
  EXPECT_THROW(packer.decrypt_weights(*s.decryptor, top, v, w, 2), std::invalid_argument);
  EXPECT_THROW(packer.decrypt_margins(*s.decryptor, zc, 5), std::invalid_argument);
}

}  // namespace
}  // namespace heal::he_train
