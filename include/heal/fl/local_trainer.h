// The seam between federated rounds and actual training: a hospital's trainer works on flat float
// weight spans, so fl builds and tests without libtorch (nn/torch implements this for real models).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"

namespace heal::fl {

/// Named scalar metrics ("loss", "accuracy", "auc", ...).
using Metrics = std::map<std::string, double>;

/// What the federation asks of one local training run.
struct TrainConfig {
  std::uint64_t round = 0;
  double proximal_mu = 0;  // FedProx: add (mu/2)||w - w_global||^2 to the local loss (0 = off)
  std::uint64_t seed = 0;  // per round and hospital, for reproducible shuffling
};

/// The outcome of local training.
struct TrainResult {
  std::vector<float> update;     // local weights minus the global weights received
  std::uint64_t num_samples = 0; // training examples used (the FedAvg weight)
  Metrics metrics;               // e.g. {"loss": 0.31}
};

class LocalTrainer {
 public:
  virtual ~LocalTrainer() = default;
  /// Number of weights the trainer expects.
  virtual std::size_t num_parameters() const = 0;
  /// Trains starting from `global`; returns the update. A non-ok Status means the hospital failed
  /// this round (the federation treats it as a dropout).
  virtual Result<TrainResult> train(std::span<const float> global, const TrainConfig& config) = 0;
  /// Evaluates `weights` on the hospital's validation data.
  virtual Result<Metrics> evaluate(std::span<const float> weights) = 0;
};

}  // namespace heal::fl
