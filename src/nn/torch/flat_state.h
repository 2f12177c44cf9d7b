// The weights FL and model files exchange, as one flat float vector (private to nn/torch): every
// trainable parameter, then the batch-norm running means and variances, in module order. Shared by
// Trainer and SegTrainer.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <span>
#include <vector>

namespace heal::nn::torch_backend {

/// The tensors of the flat state of `m` (views: writing into them changes the module).
std::vector<::torch::Tensor> module_state(const ::torch::nn::Module& m);
/// Total number of values of the state.
std::size_t state_size(const std::vector<::torch::Tensor>& state);
/// The state as one vector.
std::vector<float> flatten_state(const std::vector<::torch::Tensor>& state);
/// Copies `values` into the state. @throws std::invalid_argument (HEAL_REQUIRE) on a size mismatch.
void load_state(const std::vector<::torch::Tensor>& state, std::span<const float> values);

}  // namespace heal::nn::torch_backend
