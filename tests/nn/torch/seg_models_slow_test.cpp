// SegCaps learning the synthetic textured-lesion task (about 40 s on one core: the grouped and
// transposed capsule convolutions are slow on CPU in libtorch; label slow).
#include <gtest/gtest.h>

#include "heal/nn/torch/trainer.h"
#include "seg_test_util.h"

namespace heal::nn::torch_backend {
namespace {

const bool kOneThread = (set_num_threads(1), true);

TEST(SegNetworksSlow, SegCapsLearnsTexturedLesions) { EXPECT_GT(train_and_score("segcaps", 60, 16), 0.7); }

}  // namespace
}  // namespace heal::nn::torch_backend
