// Small synthetic classification data for libtorch tests: label 1 when the left half of the image is
// brighter than the right half, plus uniform noise.
#pragma once

#include <algorithm>
#include <cstdint>

#include "heal/core/rng.h"
#include "heal/io/dataset.h"

namespace heal::nn::torch_backend::testing {

inline io::SplitData halves_data(std::size_t n, int side, std::uint64_t seed) {
  io::SplitData d;
  d.channels = 1;
  d.height = d.width = side;
  SeededRng rng(seed_from_u64(seed));
  for (std::size_t i = 0; i < n; ++i) {
    const int y = static_cast<int>(rng.uniform(2));
    d.labels.push_back(y);
    for (int r = 0; r < side; ++r) {
      for (int c = 0; c < side; ++c) {
        const bool left = c < side / 2;
        const double base = (left == (y == 1)) ? 0.65 : 0.35;
        d.images.push_back(static_cast<float>(std::clamp(base + 0.25 * (rng.uniform_double() - 0.5), 0.0, 1.0)));
      }
    }
  }
  return d;
}

}  // namespace heal::nn::torch_backend::testing
