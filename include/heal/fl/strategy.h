// Server-side aggregation rules. A strategy sees only the sample-weighted mean of the clients'
// (clipped) updates, which is all a secure aggregator reveals, and turns it into the next global
// model. One strategy per file in src/fl/strategies/.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace heal::fl {

/// Parameters of every built-in strategy (unused ones are ignored).
struct StrategyConfig {
  std::string name = "fedavg";  // fedavg | fedprox | fedadam | fedyogi
  double server_lr = 1.0;       // eta: FedAvg/FedProx server step; FedAdam/FedYogi learning rate
  double proximal_mu = 0.01;    // FedProx mu (passed to local trainers)
  double beta1 = 0.9;           // FedAdam/FedYogi first-moment decay
  double beta2 = 0.99;          // FedAdam/FedYogi second-moment decay
  double tau = 1e-3;            // FedAdam/FedYogi adaptivity (epsilon); v starts at tau^2
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  /// Short name ("fedavg").
  virtual std::string name() const = 0;
  /// Name with parameters, recorded on the ledger ("fedadam(lr=0.01,beta1=0.9,...)").
  virtual std::string describe() const = 0;
  /// FedProx mu the local trainers must apply (0 for strategies without a proximal term).
  virtual double proximal_mu() const { return 0; }
  /// Updates `global` in place from the sample-weighted mean update of round `round`.
  virtual void apply(std::span<float> global, std::span<const double> mean_update, std::uint64_t round) = 0;
};

/// Builds a strategy from its config; throws std::invalid_argument for an unknown name or
/// parameters out of range (lr <= 0, beta not in [0,1), tau <= 0, mu < 0).
std::unique_ptr<Strategy> make_strategy(const StrategyConfig& config);

}  // namespace heal::fl
