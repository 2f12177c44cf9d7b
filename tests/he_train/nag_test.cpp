// Plaintext parts of he_train: schedule, sigmoid polynomial, PlainNag, packing, misuse.
#include "heal/he_train/nag.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "he_train_test_util.h"
#include "heal/he_train/packing.h"

namespace heal::he_train {
namespace {

TEST(Schedule, LambdaAndGammaFollowNesterov) {
  EXPECT_EQ(Schedule::lambda(0), 0.0);
  EXPECT_DOUBLE_EQ(Schedule::lambda(1), 1.0);
  EXPECT_NEAR(Schedule::lambda(2), (1 + std::sqrt(5.0)) / 2, 1e-15);
  const double l3 = (1 + std::sqrt(1 + 4 * Schedule::lambda(2) * Schedule::lambda(2))) / 2;
  EXPECT_NEAR(Schedule::lambda(3), l3, 1e-15);
  Schedule s;
  // The first step is a plain gradient step; then gamma_t = (1 - lambda_{t+1}) / lambda_{t+2}.
  EXPECT_EQ(s.gamma(0), 0.0);
  EXPECT_NEAR(s.gamma(1), (1 - Schedule::lambda(2)) / l3, 1e-15);
  EXPECT_NEAR(s.gamma(1), -0.2818, 1e-4);
  for (std::size_t t = 1; t < 50; ++t) {
    EXPECT_LT(s.gamma(t), 0.0);
    EXPECT_LT(s.gamma(t + 1), s.gamma(t));  // more momentum as t grows
    EXPECT_GT(s.gamma(t), -1.0);
  }
  s.nesterov = false;
  EXPECT_EQ(s.gamma(7), 0.0);
  Schedule inv{10.0, Schedule::Rate::kInverseTime, true};
  EXPECT_DOUBLE_EQ(inv.alpha(0), 10.0);
  EXPECT_DOUBLE_EQ(inv.alpha(4), 2.0);
  EXPECT_DOUBLE_EQ(Schedule{}.alpha(9), 1.0);
}

TEST(SigmoidPoly, LeastSquaresErrorOnMinus8To8) {
  // Measured max errors on [-8, 8]: about 0.11 / 0.06 / 0.03 for degrees 3 / 5 / 7.
  const double expect[] = {0.11, 0.06, 0.03};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto p = SigmoidPoly::fit(3 + 2 * i, 8.0);
    const double e = p.max_error();
    std::printf("degree %zu: max error %.4f\n", p.degree(), e);
    EXPECT_NEAR(e, expect[i], 0.3 * expect[i]) << "degree " << p.degree();
    EXPECT_DOUBLE_EQ(p(0.0), 0.5);
    EXPECT_NEAR(p(2.0) + p(-2.0), 1.0, 1e-12);  // sigma(x) + sigma(-x) = 1
  }
  EXPECT_LT(SigmoidPoly::fit(7).max_error(), SigmoidPoly::fit(5).max_error());
  EXPECT_LT(SigmoidPoly::fit(5).max_error(), SigmoidPoly::fit(3).max_error());
  // Degree 3 against Kim et al.'s published fit on [-8, 8]: 0.5 + 0.15012 x - 0.0015930 x^3.
  const auto p3 = SigmoidPoly::fit(3, 8.0);
  EXPECT_NEAR(p3.coeffs()[1] / 8, 0.15012, 1e-4);
  EXPECT_NEAR(p3.coeffs()[3] / 512, -0.001593, 1e-6);
}

TEST(SigmoidPoly, RejectsBadDegreeAndBound) {
  EXPECT_THROW(SigmoidPoly::fit(4), std::invalid_argument);
  EXPECT_THROW(SigmoidPoly::fit(17), std::invalid_argument);
  EXPECT_THROW(SigmoidPoly::fit(3, 0.0), std::invalid_argument);
  EXPECT_THROW(SigmoidPoly::fit(3, -1.0), std::invalid_argument);
}

TEST(PlainNag, ConvergesOnSeparableToySet) {
  // Features in [-0.5, 0.5]: after 30 iterations every margin is still inside [-8, 8], where the
  // degree-3 polynomial follows sigma. (On separable data the weights keep growing; once margins
  // leave [-B, B] the cubic's wrong sign makes the polynomial run diverge: the data-scaling contract
  // of src/he_train/README.md.)
  const testing::Toy toy(256, 8, 0.5, 11);
  for (bool exact : {false, true}) {
    PlainNag nag(toy.z(), toy.d, SigmoidPoly::fit(3), Schedule{1.0, Schedule::Rate::kConstant, true}, 64, exact);
    const double loss0 = mean_logistic_loss(nag.margins(nag.w()));
    nag.run(30);
    const auto m = nag.margins(nag.w());
    std::size_t correct = 0;
    double max_margin = 0;
    for (double x : m) {
      correct += x > 0;
      max_margin = std::max(max_margin, std::abs(x));
    }
    const double loss = mean_logistic_loss(m);
    std::printf("exact=%d: loss %.4f -> %.4f, accuracy %.3f, max |margin| %.2f\n", exact, loss0, loss,
                double(correct) / 256, max_margin);
    EXPECT_NEAR(loss0, std::log(2.0), 1e-12);
    EXPECT_LT(loss, 0.25);
    EXPECT_GE(correct, 240u);  // >= 93.75 %
    if (!exact) {
      EXPECT_LT(max_margin, 8.0);
    }
  }
}

TEST(PlainNag, NesterovBeatsPlainGradientAscent) {
  const testing::Toy toy(256, 8, 1.0, 12);
  PlainNag nag(toy.z(), toy.d, SigmoidPoly::fit(5), Schedule{1.0, Schedule::Rate::kConstant, true}, 256);
  PlainNag gd(toy.z(), toy.d, SigmoidPoly::fit(5), Schedule{1.0, Schedule::Rate::kConstant, false}, 256);
  nag.run(30);
  gd.run(30);
  EXPECT_LT(mean_logistic_loss(nag.margins(nag.w())), mean_logistic_loss(gd.margins(gd.w())));
}

TEST(PlainNag, GradientMatchesFiniteDifferences) {
  const testing::Toy toy(40, 5, 1.0, 13);
  PlainNag nag(toy.z(), toy.d, SigmoidPoly::fit(3), Schedule{}, 16, /*exact_sigmoid=*/true);
  const std::vector<double> beta = {0.3, -0.7, 1.1, 0.2, -0.4, 0.9};
  for (std::size_t b = 0; b < nag.plan().batches(); ++b) {  // batches of 16, 16 and 8 rows
    const auto g = nag.ascent_direction(b, beta);
    for (std::size_t j = 0; j < beta.size(); ++j) {
      auto hi = beta, lo = beta;
      const double h = 1e-5;
      hi[j] += h;
      lo[j] -= h;
      const double fd = (nag.log_likelihood(b, hi) - nag.log_likelihood(b, lo)) / (2 * h);
      EXPECT_NEAR(g[j], fd, 1e-8) << "batch " << b << " coordinate " << j;
    }
  }
  EXPECT_EQ(nag.plan().rows_in(2), 8u);
}

TEST(PlainNag, OneStepIsTheFormula) {
  const testing::Toy toy(10, 3, 1.0, 14);
  const auto poly = SigmoidPoly::fit(3);
  const Schedule s{0.5, Schedule::Rate::kConstant, true};
  PlainNag nag(toy.z(), toy.d, poly, s, 4);
  nag.set_state({0.1, 0.2, -0.3, 0.4}, {0.0, 0.1, 0.1, 0.2});
  nag.step();  // t = 0: gamma 0, batch 0 (rows 0..3)
  nag.step();  // t = 1: gamma < 0, batch 1 (rows 4..7)
  const auto v1 = nag.v(), w1 = nag.w();
  nag.step();  // t = 2, batch 2: rows 8, 9 only
  const auto z = toy.z();
  std::vector<double> g(4, 0.0);
  for (std::size_t i = 8; i < 10; ++i) {
    double m = 0;
    for (std::size_t j = 0; j < 4; ++j) m += z[i * 4 + j] * v1[j];
    for (std::size_t j = 0; j < 4; ++j) g[j] += poly(-m) * z[i * 4 + j] / 2;
  }
  const double gamma = s.gamma(2);
  for (std::size_t j = 0; j < 4; ++j) {
    const double w2 = v1[j] + 0.5 * g[j];
    EXPECT_NEAR(nag.w()[j], w2, 1e-15);
    EXPECT_NEAR(nag.v()[j], (1 - gamma) * w2 + gamma * w1[j], 1e-15);
  }
}

TEST(Packing, LayoutAndMisuse) {
  const Packing p(8, 32);  // d + 1 = 9 -> d' = 16, 2 rows per ciphertext
  EXPECT_EQ(p.row_width(), 16u);
  EXPECT_EQ(p.rows_per_ct(), 2u);
  EXPECT_EQ(p.ciphertexts(5), 3u);
  std::vector<double> z(5 * 9);
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = double(i) + 1;
  const auto packed = p.pack_rows(z, 5);
  ASSERT_EQ(packed.size(), 3u);
  EXPECT_EQ(packed[0][0], 1.0);
  EXPECT_EQ(packed[0][8], 9.0);
  EXPECT_EQ(packed[0][9], 0.0);    // padding slots
  EXPECT_EQ(packed[0][16], 10.0);  // row 1
  EXPECT_EQ(packed[2][0], 37.0);   // row 4
  EXPECT_EQ(packed[2][16], 0.0);   // padded row
  const auto mask = p.row_start_mask();
  EXPECT_EQ(mask[0] + mask[16], 2.0);
  EXPECT_EQ(std::accumulate(mask.begin(), mask.end(), 0.0), 2.0);
  EXPECT_THROW(Packing(0, 32), std::invalid_argument);
  EXPECT_THROW(Packing(32, 32), std::invalid_argument);  // 33 -> 64 slots per row
  EXPECT_THROW(Packing(3, 24), std::invalid_argument);
  EXPECT_EQ(p.data_slots(), 32u);
  EXPECT_EQ(p.weight_slots(), 32u);
  EXPECT_EQ(p.weight_rows(), 2u);
  // Data in 128 slots (8 rows per ciphertext), weights in 32 (2 replicated rows).
  const Packing q(8, 128, 32);
  EXPECT_EQ(q.rows_per_ct(), 8u);
  EXPECT_EQ(q.weight_rows(), 2u);
  EXPECT_EQ(q.ciphertexts(9), 2u);
  const auto qp = q.pack_rows(z, 5);
  ASSERT_EQ(qp.size(), 1u);
  ASSERT_EQ(qp[0].size(), 128u);
  EXPECT_EQ(qp[0][2 * 16], 19.0);  // row 2
  EXPECT_EQ(qp[0][4 * 16], 37.0);  // row 4
  EXPECT_EQ(qp[0][5 * 16], 0.0);   // padded row
  const auto qm = q.row_start_mask();
  ASSERT_EQ(qm.size(), 128u);
  EXPECT_EQ(std::accumulate(qm.begin(), qm.end(), 0.0), 8.0);
  EXPECT_EQ(qm[7 * 16], 1.0);
  const auto qw = q.pack_weights(std::vector<double>(9, 1.0), std::vector<double>(9, 2.0));
  ASSERT_EQ(qw.size(), 32u);
  EXPECT_EQ(qw[16 + 8], std::complex<double>(1.0, 2.0));
  EXPECT_EQ(qw[16 + 9], std::complex<double>(0.0, 0.0));
  EXPECT_THROW(Packing(8, 16, 32), std::invalid_argument);  // data slots below the weight slots
  EXPECT_THROW(Packing(8, 96, 32), std::invalid_argument);
  EXPECT_THROW(Packing(8, 128, 8), std::invalid_argument);  // a row does not fit the weights
  EXPECT_THROW(p.pack_rows(z, 4), std::invalid_argument);
  EXPECT_THROW(p.pack_weights(std::vector<double>(9), std::vector<double>(8)), std::invalid_argument);
}

TEST(MakeZ, SignsAndMisuse) {
  const std::vector<double> x = {1, 2, 3, 4};
  const auto z = make_z(x, std::vector<int>{1, 0}, 2);
  EXPECT_EQ(z, (std::vector<double>{1, 1, 2, -1, -3, -4}));
  EXPECT_THROW(make_z(x, std::vector<int>{1, 2}, 2), std::invalid_argument);
  EXPECT_THROW(make_z(x, std::vector<int>{1}, 2), std::invalid_argument);
  EXPECT_THROW(BatchPlan(0, 4), std::invalid_argument);
  EXPECT_THROW(BatchPlan(4, 0), std::invalid_argument);
  EXPECT_THROW(PlainNag(std::vector<double>(7), 2, SigmoidPoly::fit(3), Schedule{}, 2), std::invalid_argument);
  EXPECT_THROW(mean_logistic_loss(std::vector<double>{}), std::invalid_argument);
}

}  // namespace
}  // namespace heal::he_train
