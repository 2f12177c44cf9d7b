// Encrypted NAG at the insecure "test-train" preset (N = 2^12: data in all 2048 slots, weights in
// the bootstrapper's 32 sparse slots, 10 levels after bootstrapping) against PlainNag with the same
// polynomial, schedule and batches.
#include "heal/he_train/encrypted_nag.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>

#include "he_train_test_util.h"

namespace heal::he_train {
namespace {

using testing::HeSetup;
using testing::max_abs_diff;
using testing::Toy;

const Packing kPacking(8, 2048, 32);  // d' = 16: 128 rows per data ciphertext, 2 weight rows

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
  const Toy toy(133, 8, 0.5, 20);
  const auto z = toy.z();
  const auto zc = packer.encrypt_z(*s.encryptor, z, 133, 10);
  ASSERT_EQ(zc.size(), 2u);
  EXPECT_EQ(zc[0].level(), 10u);
  EXPECT_EQ(zc[0].slots(), 2048u);
  const ckks::Encoder enc(s.ctx);
  for (std::size_t j = 0; j < zc.size(); ++j) {
    const auto vals = enc.decode_real(s.decryptor->decrypt(zc[j]));
    const auto want = kPacking.pack_rows(z, 133)[j];
    ASSERT_EQ(vals.size(), 2048u);
    double err = 0;
    for (std::size_t i = 0; i < 2048; ++i) err = std::max(err, std::abs(vals[i] - want[i]));
    EXPECT_LT(err, 1e-6) << "ciphertext " << j;
  }
  const std::vector<double> v = {1, -2, 3, 0.5, 0, 0, 0.25, -1, 2}, w = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, -3};
  const auto wc = packer.encrypt_weights(*s.encryptor, v, w, 10);
  EXPECT_EQ(wc.slots(), 32u);
  for (std::size_t row = 0; row < 2; ++row) {
    std::vector<double> v2, w2;
    packer.decrypt_weights(*s.decryptor, wc, v2, w2, row);
    EXPECT_LT(max_abs_diff(v2, v), 1e-6);
    EXPECT_LT(max_abs_diff(w2, w), 1e-6);
  }
  // Margins are read from the first slot of every row: here z itself, so the bias entries y'_i.
  const auto m = packer.decrypt_margins(*s.decryptor, zc, 133);
  for (std::size_t i = 0; i < 133; ++i) EXPECT_NEAR(m[i], z[i * 9], 1e-6);
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

// An S-slot ciphertext read with N/2 slots holds its slot vector repeated; an N/2-slot ciphertext
// whose slot vector has period S reads as S slots, and the sparse bootstrapper refreshes it.
TEST(Packing, WidenNarrowAndRefreshNarrowed) {
  auto& s = setup();
  const ckks::Encoder enc(s.ctx);
  std::vector<std::complex<double>> u(32);
  for (std::size_t i = 0; i < 32; ++i) u[i] = {0.1 * double(i % 7) - 0.3, 0.05 * double(i % 5)};
  const auto sparse = s.encryptor->encrypt(enc.encode(u, s.ctx->default_scale(), 10));
  ASSERT_EQ(sparse.slots(), 32u);
  const auto wide = widen_slots(sparse, 2048);
  const auto wv = enc.decode(s.decryptor->decrypt(wide));
  ASSERT_EQ(wv.size(), 2048u);
  double err = 0;
  for (std::size_t i = 0; i < 2048; ++i) err = std::max(err, std::abs(wv[i] - u[i % 32]));
  EXPECT_LT(err, 1e-6);
  // A computed full-slot ciphertext: rows of 16 values spread over 2048 slots, zero but in row 3,
  // summed over all rows by rotations 16, 32, .., 1024 (every row then holds row 3: period 16).
  std::vector<std::complex<double>> full(2048, 0.0);
  for (std::size_t c = 0; c < 16; ++c) full[3 * 16 + c] = {0.2 * double(c) - 1.5, 0.1 * double(c % 3)};
  ckks::Ciphertext sum = s.encryptor->encrypt(enc.encode(full, s.ctx->default_scale(), 10));
  for (std::size_t st = 16; st < 2048; st <<= 1) s.ev->add_inplace(sum, s.ev->rotate(sum, long(st), s.gk));
  const auto narrow = narrow_slots(sum, 32);
  const auto nv = enc.decode(s.decryptor->decrypt(narrow));
  ASSERT_EQ(nv.size(), 32u);
  err = 0;
  for (std::size_t i = 0; i < 32; ++i) err = std::max(err, std::abs(nv[i] - full[3 * 16 + i % 16]));
  EXPECT_LT(err, 1e-5);
  // Refresh of the narrowed ciphertext from level 0: the subring trace drops the full-ring part.
  const BootstrapRefresher refresher(*s.ev, *s.bs, s.rk, s.gk, 8.0);
  const auto fresh = refresher.refresh(s.ev->mod_switch_to(narrow, 0));
  EXPECT_EQ(fresh.slots(), 32u);
  const auto fv = enc.decode(s.decryptor->decrypt(fresh));
  err = 0;
  for (std::size_t i = 0; i < 32; ++i) err = std::max(err, std::abs(fv[i] - full[3 * 16 + i % 16]));
  std::printf("refresh of a narrowed full-slot ciphertext: max error %.3g\n", err);
  EXPECT_LT(err, 1e-4);
  // And it widens back to the same periodic full-slot vector.
  const auto back = enc.decode(s.decryptor->decrypt(widen_slots(fresh, 2048)));
  err = 0;
  for (std::size_t i = 0; i < 2048; ++i) err = std::max(err, std::abs(back[i] - full[3 * 16 + i % 16]));
  EXPECT_LT(err, 1e-4);
  EXPECT_THROW(widen_slots(sparse, 16), std::invalid_argument);
  EXPECT_THROW(widen_slots(sparse, 48), std::invalid_argument);
  EXPECT_THROW(narrow_slots(sparse, 64), std::invalid_argument);
  EXPECT_THROW(narrow_slots(sparse, 0), std::invalid_argument);
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
  ASSERT_EQ(zc.size(), 1u);  // both batches of 32 rows share one data ciphertext (masked rows)
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

// Several data ciphertexts per batch, batches not aligned to them (384 = 3 x 128 rows per
// ciphertext, batches of 160: rows 0..159, 160..319, 320..383), processed on two threads.
TEST(EncryptedNag, TwoThreadsUnalignedBatchesMatchPlainNag) {
  auto& s = setup();
  const Toy toy(384, 8, 0.5, 26);
  const auto z = toy.z();
  const auto poly = SigmoidPoly::fit(3);
  const Schedule sched{2.0, Schedule::Rate::kConstant, true};
  const BootstrapRefresher refresher(*s.ev, *s.bs, s.rk, s.gk, 8.0);
  EncryptedNag nag(s.ctx, *s.ev, s.rk, s.gk, refresher, kPacking, poly, sched, 384, 160);
  nag.set_threads(2);
  EXPECT_EQ(nag.threads(), 2);
  EXPECT_THROW(nag.set_threads(0), std::invalid_argument);
  const DataPacker packer(s.ctx, kPacking);
  const auto zc = packer.encrypt_z(*s.encryptor, z, 384, refresher.output_level());
  ASSERT_EQ(zc.size(), 3u);
  const std::vector<double> zero(9, 0.0);
  TrainOptions opt;
  opt.iterations = 3;
  const auto res = nag.train(zc, packer.encrypt_weights(*s.encryptor, zero, zero, refresher.output_level()), opt);
  std::vector<double> v, w;
  packer.decrypt_weights(*s.decryptor, res.weights, v, w);
  PlainNag plain(z, 8, poly, sched, 160);
  plain.run(3);
  double wmax = 0;
  for (double x : plain.w()) wmax = std::max(wmax, std::abs(x));
  std::printf("two threads, unaligned batches: max |w err| %.3g, max |v err| %.3g (max |w| %.3f)\n",
              max_abs_diff(w, plain.w()), max_abs_diff(v, plain.v()), wmax);
  EXPECT_LT(max_abs_diff(w, plain.w()), 1e-3);
  EXPECT_LT(max_abs_diff(v, plain.v()), 1e-3);
  EXPECT_GT(wmax, 0.1);
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
  // Refresher on other slots; more data slots than the context; wrong context.
  EXPECT_THROW(EncryptedNag(s.ctx, *s.ev, s.rk, s.gk, refresher, Packing(8, 2048, 64), poly, Schedule{}, 16, 4),
               std::invalid_argument);
  EXPECT_THROW(EncryptedNag(s.ctx, *s.ev, s.rk, s.gk, refresher, Packing(8, 4096, 32), poly, Schedule{}, 16, 4),
               std::invalid_argument);
  EXPECT_THROW(DataPacker(s.ctx, Packing(8, 4096, 32)), std::invalid_argument);
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
  const std::vector<ckks::Ciphertext> low = {s.ev->mod_switch_to(zc[0], 7)};
  EXPECT_THROW(nag.iterate(low, top, 0), std::invalid_argument);
  // Data packed in the weights' 32 slots instead of the data slots.
  const std::vector<ckks::Ciphertext> sparse_data = {narrow_slots(zc[0], 32)};
  EXPECT_THROW(nag.iterate(sparse_data, top, 0), std::invalid_argument);
  EXPECT_THROW(nag.validation_margins(sparse_data, top), std::invalid_argument);
  // A state of another slot count; a 3-polynomial state.
  ckks::Ciphertext other = top;
  other.set_slots(16);
  EXPECT_THROW(nag.iterate(zc, other, 0), std::invalid_argument);
  EXPECT_THROW(refresher.refresh(other), std::invalid_argument);
  EXPECT_THROW(nag.iterate(zc, s.ev->mul(top, top), 0), std::invalid_argument);
  // Decrypting with the wrong row count.
  std::vector<double> v, w;
  EXPECT_THROW(packer.decrypt_weights(*s.decryptor, top, v, w, 2), std::invalid_argument);
  EXPECT_THROW(packer.decrypt_margins(*s.decryptor, zc, 129), std::invalid_argument);  // 2 ciphertexts expected
  EXPECT_THROW(packer.decrypt_margins(*s.decryptor, sparse_data, 4), std::invalid_argument);
  EXPECT_THROW(packer.decrypt_weights(*s.decryptor, widen_slots(top, 2048), v, w), std::invalid_argument);
}

}  // namespace
}  // namespace heal::he_train
