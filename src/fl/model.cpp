#include "heal/fl/model.h"

#include <cmath>
#include <cstring>

#include "heal/core/bytes.h"

namespace heal::fl {

Digest model_hash(std::span<const float> weights) {
  Blake2b h;
  h.update("HEAL-fl-model-v1");
  ByteWriter w;
  w.put<std::uint64_t>(weights.size());
  h.update(w.bytes());
  // float32 little-endian, the host layout (ByteWriter assumes a little-endian host too).
  h.update({reinterpret_cast<const std::uint8_t*>(weights.data()), weights.size_bytes()});
  return h.finish();
}

double l2_norm(std::span<const float> v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * static_cast<double>(x);
  return std::sqrt(s);
}

ClipResult clip_l2(std::span<float> update, double max_norm) {
  ClipResult r;
  r.norm_before = l2_norm(update);
  if (max_norm <= 0 || r.norm_before <= max_norm) return r;
  r.scale = max_norm / r.norm_before;
  r.clipped = true;
  for (float& x : update) x = static_cast<float>(static_cast<double>(x) * r.scale);
  return r;
}

}  // namespace heal::fl
