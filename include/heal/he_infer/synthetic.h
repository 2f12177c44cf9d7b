// Synthetic HE-friendly CNNs with random weights (fixed seed), shaped like nn/torch's hecnn:
// conv(k x k, stride 2, pad 1) -> BN -> poly -> flatten -> dense -> BN -> poly -> dense.
// For tests and benchmarks that must run without a trained model file.
#pragma once

#include <cstdint>
#include <vector>

#include "heal/nn/model_ir.h"

namespace heal::he_infer {

/// Shape of a synthetic model.
struct SyntheticSpec {
  int side = 8, channels = 2, kernel = 3, hidden = 6, classes = 3;
  std::uint64_t seed = 7;
};

/// The model (with input normalisation metadata mean 0.5, std 0.25).
nn::ModelIr synthetic_cnn(const SyntheticSpec& s);
/// The PneumoniaMNIST hecnn shape: 28x28, conv 1->8 5x5, dense 1352->64->2.
inline nn::ModelIr synthetic_hecnn28() { return synthetic_cnn({.side = 28, .channels = 8, .kernel = 5, .hidden = 64, .classes = 2}); }
/// `count` random images in [0, 1] of `dim` values each.
std::vector<float> random_images(std::size_t count, std::size_t dim, std::uint64_t seed = 3);

}  // namespace heal::he_infer
