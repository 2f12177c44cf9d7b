// FedAdam (Reddi et al., "Adaptive Federated Optimization", arXiv:2003.00295, Algorithm 2):
// with Delta the mean client update,
//   m <- beta1 m + (1 - beta1) Delta
//   v <- beta2 v + (1 - beta2) Delta^2
//   x <- x + eta m / (sqrt(v) + tau)
// m starts at 0 and v at tau^2 (the paper's v_{-1} >= tau^2); no bias correction, as in the paper.
#pragma once

#include <vector>

#include "heal/fl/strategy.h"

namespace heal::fl {

class FedAdam : public Strategy {
 public:
  FedAdam(double lr, double beta1, double beta2, double tau);
  std::string name() const override { return "fedadam"; }
  std::string describe() const override;
  void apply(std::span<float> global, std::span<const double> mean_update, std::uint64_t round) override;

  /// Optimizer state (for tests and checkpoints).
  const std::vector<double>& first_moment() const { return m_; }
  const std::vector<double>& second_moment() const { return v_; }

 protected:
  /// Second-moment rule: Adam's exponential average (FedYogi overrides it).
  virtual double next_v(double v, double delta_sq) const;
  double lr_, beta1_, beta2_, tau_;

 private:
  std::vector<double> m_, v_;
};

}  // namespace heal::fl
