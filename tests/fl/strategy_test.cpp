#include "heal/fl/strategy.h"

#include <gtest/gtest.h>

#include "heal/fl/strategies/fed_adam.h"
#include "heal/fl/strategies/fed_avg.h"
#include "heal/fl/strategies/fed_prox.h"
#include "heal/fl/strategies/fed_yogi.h"

namespace heal::fl {
namespace {

TEST(Strategy, FedAvgAddsTheMeanUpdateTimesTheServerRate) {
  std::vector<float> x{1.0f, -2.0f};
  const std::vector<double> d{0.5, 0.25};
  FedAvg(1.0).apply(x, d, 1);
  EXPECT_EQ(x, (std::vector<float>{1.5f, -1.75f}));
  FedAvg(2.0).apply(x, d, 2);
  EXPECT_EQ(x, (std::vector<float>{2.5f, -1.25f}));
  EXPECT_EQ(FedAvg(1.0).proximal_mu(), 0.0);
}

TEST(Strategy, FedProxPassesMuAndStepsLikeFedAvg) {
  FedProx p(0.05);
  EXPECT_EQ(p.proximal_mu(), 0.05);
  EXPECT_EQ(p.name(), "fedprox");
  std::vector<float> x{1.0f};
  const std::vector<double> d{0.5};
  p.apply(x, d, 1);
  EXPECT_EQ(x[0], 1.5f);
}

// Expected values computed by hand (Python, double precision) from Reddi et al. Algorithm 2 with
// lr 0.1, beta1 0.9, beta2 0.99, tau 0.01, x0 = (1, 1), Delta_1 = (0.5, -2), Delta_2 = (0.25, 1).
TEST(Strategy, FedAdamMatchesHandComputation) {
  FedAdam a(0.1, 0.9, 0.99, 0.01);
  std::vector<float> x{1.0f, 1.0f};
  a.apply(x, std::vector<double>{0.5, -2.0}, 1);
  EXPECT_NEAR(a.first_moment()[0], 0.05, 1e-15);
  EXPECT_NEAR(a.first_moment()[1], -0.2, 1e-15);
  EXPECT_NEAR(a.second_moment()[0], 0.002599, 1e-15);
  EXPECT_NEAR(a.second_moment()[1], 0.040099, 1e-15);
  EXPECT_NEAR(x[0], 1.0819935742019278, 1e-6);
  EXPECT_NEAR(x[1], 0.9048739483244113, 1e-6);
  a.apply(x, std::vector<double>{0.25, 1.0}, 2);
  EXPECT_NEAR(a.first_moment()[0], 0.07, 1e-15);
  EXPECT_NEAR(a.first_moment()[1], -0.08, 1e-15);
  EXPECT_NEAR(a.second_moment()[0], 0.00319801, 1e-15);
  EXPECT_NEAR(a.second_moment()[1], 0.04969801, 1e-15);
  EXPECT_NEAR(x[0], 1.1871761440929718, 1e-6);
  EXPECT_NEAR(x[1], 0.8705289405522967, 1e-6);
}

TEST(Strategy, FedYogiMatchesHandComputationInBothSignCases) {
  FedYogi y(0.1, 0.9, 0.99, 0.01);
  std::vector<float> x{1.0f, 1.0f};
  // v < Delta^2: v grows by (1 - beta2) Delta^2.
  y.apply(x, std::vector<double>{0.5, -2.0}, 1);
  EXPECT_NEAR(y.second_moment()[0], 0.0026, 1e-15);
  EXPECT_NEAR(y.second_moment()[1], 0.0401, 1e-15);
  EXPECT_NEAR(x[0], 1.0819803902718557, 1e-6);
  EXPECT_NEAR(x[1], 0.9048750780274961, 1e-6);
  y.apply(x, std::vector<double>{0.25, 1.0}, 2);
  EXPECT_NEAR(y.second_moment()[0], 0.003225, 1e-15);
  EXPECT_NEAR(y.second_moment()[1], 0.0501, 1e-15);
  EXPECT_NEAR(x[0], 1.1867879372177816, 1e-6);
  EXPECT_NEAR(x[1], 0.8706622311705371, 1e-6);
  // v > Delta^2: v shrinks by (1 - beta2) Delta^2 (Adam would decay it by beta2 instead).
  y.apply(x, std::vector<double>{0.01, 0.01}, 3);
  EXPECT_NEAR(y.second_moment()[0], 0.003224, 1e-15);
  EXPECT_NEAR(y.second_moment()[1], 0.050099, 1e-15);
}

TEST(Strategy, FactoryBuildsEveryStrategyAndRejectsBadConfigs) {
  for (const char* n : {"fedavg", "fedprox", "fedadam", "fedyogi"}) {
    StrategyConfig c;
    c.name = n;
    auto s = make_strategy(c);
    EXPECT_EQ(s->name(), n);
    EXPECT_EQ(s->describe().rfind(n, 0), 0u) << s->describe();
  }
  StrategyConfig c;
  c.name = "krum";
  EXPECT_THROW(make_strategy(c), std::invalid_argument);
  c.name = "fedadam";
  c.beta1 = 1.0;
  EXPECT_THROW(make_strategy(c), std::invalid_argument);
  c = {};
  c.name = "fedprox";
  c.proximal_mu = -1;
  EXPECT_THROW(make_strategy(c), std::invalid_argument);
  c = {};
  c.server_lr = 0;
  EXPECT_THROW(make_strategy(c), std::invalid_argument);
}

}  // namespace
}  // namespace heal::fl
