// libFuzzer target for the `.heal` ModelIr loader: any bytes must give a Status or a model that
// validates, serialises back to the same bytes and runs through the reference forward pass.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "heal/nn/forward.h"
#include "heal/nn/model_ir.h"
#include "heal/nn/passes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = heal::nn::deserialize_model(std::span<const std::uint8_t>(data, size));
  if (!r.ok()) return 0;
  const heal::nn::ModelIr& m = *r;
  if (!m.validate().ok()) std::abort();
  const heal::Bytes again = heal::nn::serialize_model(m);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  (void)heal::nn::depth_report(m);
  (void)heal::nn::fold_batch_norm(m);
  // Keep the forward pass cheap: only small models are run.
  std::size_t work = m.input.size();
  const auto shapes = m.infer_shapes();
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    work += l.weight.size() * 64;
    if (l.kind == heal::nn::OpKind::kSelfAttention || l.kind == heal::nn::OpKind::kTokenDense) {
      const std::size_t tokens = static_cast<std::size_t>((*shapes)[i].c);
      work += l.weight.size() * tokens;  // per-token projections
      if (l.kind == heal::nn::OpKind::kSelfAttention)
        work += tokens * tokens * static_cast<std::size_t>((*shapes)[i].w);
    }
  }
  if (work < (std::size_t{1} << 20)) {
    std::vector<float> img(m.input.size(), 0.5f);
    (void)heal::nn::forward(m, img, 1);
  }
  return 0;
}
