// Reference forward pass of a ModelIr in plain C++: the oracle for encrypted inference.
// All arithmetic is done in double precision (inputs and parameters are widened from float,
// activations are stored and accumulated as double).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "heal/nn/model_ir.h"

namespace heal::nn {

/// Logits (n x num_classes, row-major) for n images of m.input.size() floats each, laid out
/// image-major as io::SplitData::images. The metadata normalisation is applied first.
/// @throws std::invalid_argument if the model does not validate or images.size() != n * input.
std::vector<double> forward(const ModelIr& m, std::span<const float> images, std::size_t n);

/// The output of layer `layer` (flattened, channel-major) for n images: n x shapes[layer].size(),
/// row-major. Only layers 0..layer run. The metadata normalisation is applied first.
/// @throws std::invalid_argument if the model does not validate, `layer` is out of range or
/// images.size() != n * input.
std::vector<double> forward_to(const ModelIr& m, std::size_t layer, std::span<const float> images, std::size_t n);

/// The output of every layer for one image (index i = output of layer i), for debugging
/// encrypted inference layer by layer. Element 0 of the result is layer 0's output.
std::vector<std::vector<double>> forward_trace(const ModelIr& m, std::span<const float> image);

/// Runs n images and stores in each layer the min/max of its input over them (overwriting any
/// previous range). For kPolyAct layers this is the pre-activation range.
void record_ranges(ModelIr& m, std::span<const float> images, std::size_t n);

}  // namespace heal::nn
