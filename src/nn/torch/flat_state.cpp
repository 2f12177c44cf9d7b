// Flat model state (see flat_state.h).
#include "flat_state.h"

#include "heal/core/check.h"

namespace heal::nn::torch_backend {

std::vector<::torch::Tensor> module_state(const ::torch::nn::Module& m) {
  std::vector<::torch::Tensor> s = m.parameters();
  for (const auto& kv : m.named_buffers()) {
    const std::string& k = kv.key();
    if (k.ends_with("running_mean") || k.ends_with("running_var")) s.push_back(kv.value());
  }
  return s;
}

std::size_t state_size(const std::vector<::torch::Tensor>& state) {
  std::size_t n = 0;
  for (const auto& t : state) n += static_cast<std::size_t>(t.numel());
  return n;
}

std::vector<float> flatten_state(const std::vector<::torch::Tensor>& state) {
  std::vector<float> w;
  w.reserve(state_size(state));
  for (const auto& t : state) {
    const ::torch::Tensor c = t.detach().contiguous();
    const float* p = c.data_ptr<float>();
    w.insert(w.end(), p, p + c.numel());
  }
  return w;
}

void load_state(const std::vector<::torch::Tensor>& state, std::span<const float> values) {
  const std::size_t n = state_size(state);
  HEAL_REQUIRE(values.size() == n, "set_weights: expected " << n << " values, got " << values.size());
  ::torch::NoGradGuard ng;
  std::size_t off = 0;
  for (const auto& t : state) {
    auto dst = t;  // a handle to the module's tensor
    dst.copy_(::torch::from_blob(const_cast<float*>(values.data() + off), t.sizes(), ::torch::kFloat));
    off += static_cast<std::size_t>(t.numel());
  }
}

}  // namespace heal::nn::torch_backend
