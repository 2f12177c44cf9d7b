#include "heal/fl/strategies/fed_avg.h"

#include <sstream>

#include "heal/core/check.h"

namespace heal::fl {

FedAvg::FedAvg(double server_lr) : lr_(server_lr) { HEAL_REQUIRE(server_lr > 0, "FedAvg server lr must be > 0"); }

std::string FedAvg::describe() const {
  std::ostringstream os;
  os << "fedavg(lr=" << lr_ << ")";
  return os.str();
}

void FedAvg::apply(std::span<float> global, std::span<const double> mean_update, std::uint64_t) {
  HEAL_REQUIRE(global.size() == mean_update.size(), "update has " << mean_update.size() << " values, model " << global.size());
  for (std::size_t i = 0; i < global.size(); ++i) {
    global[i] = static_cast<float>(static_cast<double>(global[i]) + lr_ * mean_update[i]);
  }
}

}  // namespace heal::fl
