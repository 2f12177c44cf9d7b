// FedYogi (Reddi et al., arXiv:2003.00295, Algorithm 2, Yogi variant of Zaheer et al. 2018):
// FedAdam with the additive second-moment rule
//   v <- v - (1 - beta2) Delta^2 sign(v - Delta^2),
// which grows v no faster than Adam when updates are large and keeps it from collapsing.
#pragma once

#include "heal/fl/strategies/fed_adam.h"

namespace heal::fl {

class FedYogi final : public FedAdam {
 public:
  FedYogi(double lr, double beta1, double beta2, double tau);
  std::string name() const override { return "fedyogi"; }
  std::string describe() const override;

 protected:
  double next_v(double v, double delta_sq) const override;
};

}  // namespace heal::fl
