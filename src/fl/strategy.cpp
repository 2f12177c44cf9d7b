#include "heal/fl/strategy.h"

#include "heal/core/check.h"
#include "heal/fl/strategies/fed_adam.h"
#include "heal/fl/strategies/fed_avg.h"
#include "heal/fl/strategies/fed_prox.h"
#include "heal/fl/strategies/fed_yogi.h"

namespace heal::fl {

std::unique_ptr<Strategy> make_strategy(const StrategyConfig& c) {
  if (c.name == "fedavg") return std::make_unique<FedAvg>(c.server_lr);
  if (c.name == "fedprox") return std::make_unique<FedProx>(c.proximal_mu, c.server_lr);
  if (c.name == "fedadam") return std::make_unique<FedAdam>(c.server_lr, c.beta1, c.beta2, c.tau);
  if (c.name == "fedyogi") return std::make_unique<FedYogi>(c.server_lr, c.beta1, c.beta2, c.tau);
  HEAL_REQUIRE(false, "unknown strategy '" << c.name << "' (expected fedavg, fedprox, fedadam or fedyogi)");
  return nullptr;
}

}  // namespace heal::fl
