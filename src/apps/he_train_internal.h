// Pieces the single-owner (encrypted_training.cpp) and multi-hospital (multi_hospital_training.cpp)
// pipelines share.
#pragma once

#include <chrono>
#include <span>

#include "heal/apps/encrypted_training.h"
#include "heal/he_train/nag.h"

namespace heal::apps::he_train::internal {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

heal::he_train::Schedule schedule(double alpha, bool inverse_time, bool nesterov);

struct Metrics {
  double acc = 0, auc = 0;
};
/// Binary test metrics of the weights w (d + 1 values, bias first) on normalised rows.
Metrics evaluate(const FeatureSplit& s, std::span<const double> w);

}  // namespace heal::apps::he_train::internal
