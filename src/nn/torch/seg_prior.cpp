// Segmentation prior channel (see heal/nn/torch/seg_prior.h).
#include "heal/nn/torch/seg_prior.h"

#include <chrono>
#include <stdexcept>

namespace heal::nn::torch_backend {

SegPriorStats append_segmentation_channel(const SegTrainer& seg, io::SplitData& split) {
  const auto t0 = std::chrono::steady_clock::now();
  if (split.height <= 0 || split.width <= 0 || split.channels <= 0) {
    throw std::invalid_argument("append_segmentation_channel: images have no shape");
  }
  const std::size_t plane = static_cast<std::size_t>(split.height) * split.width;
  const std::size_t in = split.image_size(), out = in + plane;
  std::vector<float> images(split.size() * out);
  SegPriorStats st;
  st.images = split.size();
  for (std::size_t i = 0; i < split.size(); ++i) {
    const float* src = split.image(i);
    io::Image g;
    g.width = g.original_width = split.width;
    g.height = g.original_height = split.height;
    g.channels = 1;
    g.pixels.assign(src, src + plane);
    const std::vector<float> p = seg.predict(g);
    if (p.size() != plane) throw std::logic_error("append_segmentation_channel: map size differs from the image's");
    float* dst = images.data() + i * out;
    std::copy(src, src + in, dst);
    std::size_t fg = 0;
    for (std::size_t j = 0; j < plane; ++j) {
      dst[in + j] = p[j];
      fg += p[j] > 0.5f ? 1 : 0;
    }
    st.mean_foreground += static_cast<double>(fg) / static_cast<double>(plane) / static_cast<double>(split.size());
  }
  split.images = std::move(images);
  split.channels += 1;
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

SegPriorStats append_segmentation_channel(const SegTrainer& seg, io::Dataset& ds) {
  SegPriorStats all;
  double fg = 0;
  for (io::SplitData* s : {&ds.train, &ds.val, &ds.test}) {
    if (s->size() == 0) {
      s->channels += 1;  // keeps the splits' shapes consistent
      continue;
    }
    const auto st = append_segmentation_channel(seg, *s);
    all.images += st.images;
    all.seconds += st.seconds;
    fg += st.mean_foreground * static_cast<double>(st.images);
  }
  all.mean_foreground = all.images ? fg / static_cast<double>(all.images) : 0.0;
  return all;
}

}  // namespace heal::nn::torch_backend
