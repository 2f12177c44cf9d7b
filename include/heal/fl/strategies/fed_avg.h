// FedAvg (McMahan et al., arXiv:1602.05629): x <- x + eta * mean_update, eta = 1 by default.
#pragma once

#include "heal/fl/strategy.h"

namespace heal::fl {

class FedAvg : public Strategy {
 public:
  explicit FedAvg(double server_lr = 1.0);
  std::string name() const override { return "fedavg"; }
  std::string describe() const override;
  void apply(std::span<float> global, std::span<const double> mean_update, std::uint64_t round) override;

 protected:
  double lr_;
};

}  // namespace heal::fl
