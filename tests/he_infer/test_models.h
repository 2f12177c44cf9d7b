// Small random HE-friendly models for he_infer tests (thin wrappers over he_infer/synthetic.h).
#pragma once

#include "heal/he_infer/synthetic.h"

namespace heal::he_infer::testing {

/// conv(1 -> 2, 3x3, stride 2, pad 1) on 8x8 -> BN -> poly -> dense(6) -> BN -> poly -> dense(3).
inline nn::ModelIr tiny_cnn() { return synthetic_cnn({}); }
using he_infer::random_images;

}  // namespace heal::he_infer::testing
