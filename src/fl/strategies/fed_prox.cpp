#include "heal/fl/strategies/fed_prox.h"

#include <sstream>

#include "heal/core/check.h"

namespace heal::fl {

FedProx::FedProx(double mu, double server_lr) : FedAvg(server_lr), mu_(mu) {
  HEAL_REQUIRE(mu >= 0, "FedProx mu must be >= 0");
}

std::string FedProx::describe() const {
  std::ostringstream os;
  os << "fedprox(mu=" << mu_ << ",lr=" << lr_ << ")";
  return os.str();
}

}  // namespace heal::fl
