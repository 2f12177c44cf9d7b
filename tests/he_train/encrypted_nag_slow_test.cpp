// Encrypted NAG at a realistic row count (n = 4708) on the insecure "test-train" preset: data in all
// 2048 slots (d = 7 features, d' = 8, 256 rows per ciphertext: 19 ciphertexts, 4 per batch of
// 1024), weights in the bootstrapper's 32 sparse slots (4 replicated rows). d = 32 would need
// 64-slot rows, more than test-train's 32 weight slots.
#include <gtest/gtest.h>

#include <cstdio>

#include "he_train_test_util.h"
#include "heal/he_train/encrypted_nag.h"

namespace heal::he_train {
namespace {

TEST(EncryptedNagSlow, N4708MatchesPlainNag) {
  const Packing packing(7, 2048, 32);
  testing::HeSetup s("test-train", packing);
  const testing::Toy toy(4708, 7, 0.4, 31);
  const auto z = toy.z();
  const auto poly = SigmoidPoly::fit(3);
  const Schedule sched{8.0, Schedule::Rate::kConstant, true};
  const BootstrapRefresher refresher(*s.ev, *s.bs, s.rk, s.gk, 8.0);
  const EncryptedNag nag(s.ctx, *s.ev, s.rk, s.gk, refresher, packing, poly, sched, 4708, 1024);
  const DataPacker packer(s.ctx, packing);
  const auto zc = packer.encrypt_z(*s.encryptor, z, 4708, refresher.output_level());
  const std::vector<double> zero(8, 0.0);
  TrainOptions opt;
  opt.iterations = 6;  // batches of 1024, 1024, 1024, 1024, 612 rows, then batch 0 again
  opt.on_iteration = [](const IterationInfo& i) {
    std::printf("iteration %zu: %.2f s%s\n", i.iteration, i.seconds, i.refreshed ? " (after a refresh)" : "");
  };
  const auto res = nag.train(zc, packer.encrypt_weights(*s.encryptor, zero, zero, refresher.output_level()), opt);
  std::vector<double> v, w;
  packer.decrypt_weights(*s.decryptor, res.weights, v, w);
  PlainNag plain(z, 7, poly, sched, 1024);
  plain.run(6);
  const double err = testing::max_abs_diff(w, plain.w());
  const auto m = plain.margins(w);
  std::size_t correct = 0;
  for (double x : m) correct += x > 0;
  // The same schedule with the exact sigmoid in plaintext (the "plaintext baseline").
  PlainNag exact(z, 7, poly, sched, 1024, true);
  exact.run(6);
  std::size_t correct_exact = 0;
  for (double x : exact.margins(exact.w())) correct_exact += x > 0;
  std::printf(
      "n=4708: max |w err| %.3g, %zu refreshes, %.1f s (%.1f s refreshing), training accuracy %.3f "
      "(exact sigmoid in plaintext: %.3f), loss %.4f\n",
      err, res.refreshes, res.seconds, res.refresh_seconds, double(correct) / 4708, double(correct_exact) / 4708,
      mean_logistic_loss(m));
  EXPECT_LT(err, 1e-3);
  EXPECT_LT(testing::max_abs_diff(v, plain.v()), 1e-3);
  EXPECT_EQ(res.refreshes, 2u);
  EXPECT_GT(double(correct) / 4708, 0.85);
  EXPECT_LT(mean_logistic_loss(m), 0.45);
}

}  // namespace
}  // namespace heal::he_train
