#include "heal/fl/strategies/fed_adam.h"

#include <cmath>
#include <sstream>

#include "heal/core/check.h"

namespace heal::fl {

FedAdam::FedAdam(double lr, double beta1, double beta2, double tau) : lr_(lr), beta1_(beta1), beta2_(beta2), tau_(tau) {
  HEAL_REQUIRE(lr > 0, "server learning rate must be > 0");
  HEAL_REQUIRE(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1)");
  HEAL_REQUIRE(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1)");
  HEAL_REQUIRE(tau > 0, "tau must be > 0");
}

std::string FedAdam::describe() const {
  std::ostringstream os;
  os << name() << "(lr=" << lr_ << ",beta1=" << beta1_ << ",beta2=" << beta2_ << ",tau=" << tau_ << ")";
  return os.str();
}

double FedAdam::next_v(double v, double delta_sq) const { return beta2_ * v + (1 - beta2_) * delta_sq; }

void FedAdam::apply(std::span<float> global, std::span<const double> mean_update, std::uint64_t) {
  HEAL_REQUIRE(global.size() == mean_update.size(), "update has " << mean_update.size() << " values, model " << global.size());
  if (m_.size() != global.size()) {
    m_.assign(global.size(), 0.0);
    v_.assign(global.size(), tau_ * tau_);  // v_{-1} = tau^2 (Reddi et al., Algorithm 2)
  }
  for (std::size_t i = 0; i < global.size(); ++i) {
    const double d = mean_update[i];
    m_[i] = beta1_ * m_[i] + (1 - beta1_) * d;
    v_[i] = next_v(v_[i], d * d);
    global[i] = static_cast<float>(static_cast<double>(global[i]) + lr_ * m_[i] / (std::sqrt(v_[i]) + tau_));
  }
}

}  // namespace heal::fl
