// Single-image oracle: encrypted logits (plaintext and encrypted weights) match the reference
// forward pass on a small model with a small (insecure, test-only) ring.
#include "heal/he_infer/single_engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "heal/ckks/key_generator.h"
#include "heal/he_infer/cost_model.h"
#include "heal/core/rng.h"
#include "heal/nn/forward.h"
#include "test_models.h"

namespace heal::he_infer {
namespace {

struct Fixture {
  nn::ModelIr m = testing::tiny_cnn();
  Circuit c = compile(m);
  ckks::ContextPtr ctx = ckks::Context::create(
      plan_params(c.depth(), {.min_scale_bits = 25, .max_scale_bits = 30, .log_n = 11, .allow_insecure = true}).spec);
  ckks::KeyGenerator kg{ctx, std::make_unique<SeededRng>(seed_from_u64(1))};
};

double run(bool encrypted_weights, int threads) {
  Fixture f;
  SingleEngine eng(f.c, f.ctx, threads);
  const ckks::PublicKey pk = f.kg.create_public_key();
  ckks::Encryptor enc(f.ctx, pk);
  enc.set_rng(std::make_unique<SeededRng>(seed_from_u64(2)));
  ckks::Decryptor dec(f.ctx, f.kg.secret_key());
  const auto rk = f.kg.create_relin_key();
  const auto gk = f.kg.create_galois_keys(eng.rotation_steps());
  const WeightSet w = encrypted_weights ? eng.encrypt_weights(enc) : eng.plain_weights();
  const auto imgs = testing::random_images(3, f.m.input.size());
  const auto ref = nn::forward(f.m, imgs, 3);
  double max_err = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto img = std::span<const float>(imgs).subspan(i * f.m.input.size(), f.m.input.size());
    const auto out = eng.evaluate(eng.encrypt(img, enc), w, rk, gk, pk);
    EXPECT_EQ(out.level(), 1u);
    const auto got = eng.decrypt(out, dec);
    for (int k = 0; k < f.m.num_classes; ++k) max_err = std::max(max_err, std::fabs(got[k] - ref[i * f.m.num_classes + k]));
  }
  return max_err;
}

TEST(SingleEngine, PlanUsesGatherThenHybridThenDiagonal) {
  Fixture f;
  SingleEngine eng(f.c, f.ctx, 1);
  ASSERT_EQ(eng.plan().size(), 3u);
  EXPECT_EQ(eng.plan()[0].kind, StageKind::kGather);
  EXPECT_EQ(eng.plan()[1].kind, StageKind::kHybrid);
  EXPECT_EQ(eng.plan()[2].kind, StageKind::kDiagonal);
  EXPECT_FALSE(eng.rotation_steps().empty());
}

TEST(SingleEngine, PlainWeightsMatchReference) {
  const double e = run(false, 2);
  std::printf("max logit error (plain weights) %.3g\n", e);
  EXPECT_LT(e, 1e-3);
}

TEST(SingleEngine, EncryptedWeightsMatchReference) {
  const double e = run(true, 1);
  std::printf("max logit error (encrypted weights) %.3g\n", e);
  EXPECT_LT(e, 1e-3);
}

// The planner costs the smallest secure N and the next one and keeps the faster prediction.
TEST(SingleEngine, PlannerPicksTheCheapestPredictedRing) {
  const Circuit c = compile(testing::tiny_cnn());
  const PlanChoice choice = choose_single_plan(c, false, 1, 1);
  ASSERT_EQ(choice.candidates.size(), 2u);
  // The smallest secure N whose levels hold the circuit-privacy flood (privacy.h).
  int first = plan_params(c.depth()).spec.log_n;
  while (!single_flood_fits(c, plan_params(c.depth(), {.log_n = first}))) ++first;
  EXPECT_EQ(choice.candidates[0].log_n, first);
  EXPECT_EQ(choice.candidates[1].log_n, first + 1);
  const auto& best = choice.candidates[0].predicted_seconds <= choice.candidates[1].predicted_seconds ? choice.candidates[0]
                                                                                                      : choice.candidates[1];
  EXPECT_GT(best.predicted_seconds, 0.0);
  EXPECT_EQ(choice.plan.spec.log_n, best.log_n);
  EXPECT_EQ(choice.plan.depth, c.depth());
  EXPECT_EQ(choose_single_plan(c, false, 1, 0).candidates.size(), 1u);
}

}  // namespace
}  // namespace heal::he_infer
