// FedProx (Li et al., arXiv:1812.06127): the server step is FedAvg's; the proximal term
// (mu/2)||w - w_global||^2 is added by each local trainer, which gets mu from proximal_mu().
#pragma once

#include "heal/fl/strategies/fed_avg.h"

namespace heal::fl {

class FedProx final : public FedAvg {
 public:
  FedProx(double mu, double server_lr = 1.0);
  std::string name() const override { return "fedprox"; }
  std::string describe() const override;
  double proximal_mu() const override { return mu_; }

 private:
  double mu_;
};

}  // namespace heal::fl
