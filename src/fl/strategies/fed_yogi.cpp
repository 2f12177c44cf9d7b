#include "heal/fl/strategies/fed_yogi.h"

namespace heal::fl {

FedYogi::FedYogi(double lr, double beta1, double beta2, double tau) : FedAdam(lr, beta1, beta2, tau) {}

std::string FedYogi::describe() const { return FedAdam::describe(); }

double FedYogi::next_v(double v, double delta_sq) const {
  const double diff = v - delta_sq;
  const double sign = diff > 0 ? 1.0 : (diff < 0 ? -1.0 : 0.0);
  return v - (1 - beta2_) * delta_sq * sign;
}

}  // namespace heal::fl
