// The members' learning rate per federated round (heal/apps/round_schedule.h).
#include "heal/apps/round_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace heal::apps {
namespace {

TEST(RoundSchedule, ConstantKeepsTheBaseRate) {
  const RoundSchedule s = parse_round_schedule("constant", 10).value();
  for (std::uint64_t r : {1, 5, 10, 11}) EXPECT_DOUBLE_EQ(round_learning_rate(1e-3, s, r), 1e-3);
}

TEST(RoundSchedule, CosineStartsAtTheBaseRateAndDecaysMonotonically) {
  const RoundSchedule s = parse_round_schedule("cosine", 4).value();
  EXPECT_DOUBLE_EQ(round_learning_rate(2e-3, s, 1), 2e-3);
  EXPECT_NEAR(round_learning_rate(2e-3, s, 2), 2e-3 * 0.5 * (1 + std::cos(std::numbers::pi / 4)), 1e-15);
  EXPECT_NEAR(round_learning_rate(2e-3, s, 3), 1e-3, 1e-15);  // half way
  EXPECT_NEAR(round_learning_rate(2e-3, s, 4), 2e-3 * 0.5 * (1 + std::cos(3 * std::numbers::pi / 4)), 1e-15);
  EXPECT_GT(round_learning_rate(2e-3, s, 4), 0);  // the last round still trains
  double prev = 1;
  for (std::uint64_t r = 1; r <= 4; ++r) {
    const double lr = round_learning_rate(2e-3, s, r);
    EXPECT_LT(lr, prev);
    prev = lr;
  }
  // Rounds past the planned ones (a node run that goes on) keep the last rate; round 0 is round 1.
  EXPECT_DOUBLE_EQ(round_learning_rate(2e-3, s, 9), round_learning_rate(2e-3, s, 4));
  EXPECT_DOUBLE_EQ(round_learning_rate(2e-3, s, 0), 2e-3);
}

TEST(RoundSchedule, UnknownNamesAndZeroRoundsAreRefused) {
  EXPECT_FALSE(parse_round_schedule("linear", 4).ok());
  EXPECT_FALSE(parse_round_schedule("", 4).ok());
  EXPECT_FALSE(parse_round_schedule("cosine", 0).ok());
}

}  // namespace
}  // namespace heal::apps
