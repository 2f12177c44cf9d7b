// io::Image: one decoded medical image as normalised floats, whatever file it came from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace heal::io {

/// Pixels in [0, 1] (after any modality-specific windowing), planar channel-major layout:
/// pixels[c * height * width + y * width + x].
struct Image {
  int width = 0;
  int height = 0;
  int channels = 1;
  int original_width = 0;   // size in the source file, before any resize
  int original_height = 0;
  std::vector<float> pixels;

  float at(int c, int y, int x) const { return pixels[(static_cast<std::size_t>(c) * height + y) * width + x]; }
  std::size_t size() const { return pixels.size(); }
};

}  // namespace heal::io
