// Batch mode oracle: encrypted logits match the reference forward pass (small insecure ring).
#include "heal/he_infer/batch_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "heal/ckks/key_generator.h"
#include "heal/core/rng.h"
#include "heal/nn/forward.h"
#include "test_models.h"

namespace heal::he_infer {
namespace {

TEST(BatchEngine, MatchesReferenceForward) {
  const nn::ModelIr m = testing::tiny_cnn();
  Circuit c = compile(m);
  const ParamPlan plan = plan_params(c.depth(), {.min_scale_bits = 25, .max_scale_bits = 30, .log_n = 11, .allow_insecure = true});
  auto ctx = ckks::Context::create(plan.spec);
  ckks::KeyGenerator kg(ctx, std::make_unique<SeededRng>(seed_from_u64(1)));
  const ckks::PublicKey pk = kg.create_public_key();
  ckks::Encryptor enc(ctx, pk);
  enc.set_rng(std::make_unique<SeededRng>(seed_from_u64(2)));
  ckks::Decryptor dec(ctx, kg.secret_key());
  const auto rk = kg.create_relin_key();
  BatchEngine eng(c, ctx, 2);
  const std::size_t count = 37;
  const auto imgs = testing::random_images(count, m.input.size());
  const auto ref = nn::forward(m, imgs, count);
  auto out = eng.evaluate(eng.encrypt(imgs, count, enc), rk, pk);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].level(), 1u);
  const auto got = eng.decrypt(out, count, dec);
  double max_err = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) max_err = std::max(max_err, std::fabs(got[i] - ref[i]));
  // Stated bound: 30-bit scale, depth 5: errors ~1e-5 relative; logits are O(1).
  EXPECT_LT(max_err, 1e-3) << "max logit error " << max_err;
  RecordProperty("max_logit_error", std::to_string(max_err));
  std::printf("max logit error %.3g\n", max_err);
}

// The entries of row r removed (its bias kept): an output no input reaches.
void clear_row(SparseLinear& l, int r) {
  const auto b = l.row_ptr[static_cast<std::size_t>(r)], e = l.row_ptr[static_cast<std::size_t>(r) + 1];
  l.cols.erase(l.cols.begin() + b, l.cols.begin() + e);
  l.vals.erase(l.vals.begin() + b, l.vals.begin() + e);
  for (std::size_t i = static_cast<std::size_t>(r) + 1; i < l.row_ptr.size(); ++i) l.row_ptr[i] -= e - b;
}

// Streaming the first two stages (blocks of first-stage outputs accumulated into the second stage
// in place, each row completed after the last block reaching it) must give exactly
// the ciphertexts of stage-by-stage evaluation: the sums are exact mod q. Block sizes from one
// output to more than the whole stage; later stages run by blocks of their inputs, which are freed
// as they go. Also with rows that no block reaches (the first, a middle and the last row of L_1,
// one with a bias; a logit that is only a bias).
TEST(BatchEngine, StreamedFirstStagesEqualStageByStage) {
  const nn::ModelIr m = testing::tiny_cnn();
  const Circuit full = compile(m);
  ASSERT_GE(full.linears.size(), 2u);
  Circuit holes = full;
  SparseLinear& l1 = holes.linears[1];
  for (const int r : {0, l1.out_dim / 2, l1.out_dim - 1}) clear_row(l1, r);
  l1.bias[static_cast<std::size_t>(l1.out_dim / 2)] = 0.25;
  ASSERT_EQ(l1.row_ptr.back(), static_cast<std::int32_t>(l1.cols.size()));
  ASSERT_GE(full.linears.size(), 3u);  // a stage after the fused pair runs by column blocks too
  SparseLinear& last = holes.linears.back();
  clear_row(last, 1);
  last.bias[1] = -0.5;
  const ParamPlan plan = plan_params(full.depth(), {.min_scale_bits = 25, .max_scale_bits = 30, .log_n = 11, .allow_insecure = true});
  auto ctx = ckks::Context::create(plan.spec);
  ckks::KeyGenerator kg(ctx, std::make_unique<SeededRng>(seed_from_u64(1)));
  const ckks::PublicKey pk = kg.create_public_key();
  ckks::Encryptor enc(ctx, pk);
  enc.set_rng(std::make_unique<SeededRng>(seed_from_u64(2)));
  const auto rk = kg.create_relin_key();
  const std::size_t count = 19;
  const auto imgs = testing::random_images(count, m.input.size());
  for (const Circuit* c : std::initializer_list<const Circuit*>{&full, &holes}) {
    const BatchEngine plain(*c, ctx, 2, /*stream_rows=*/0);
    const auto in = plain.encrypt(imgs, count, enc);
    const Seed flood_seed = seed_from_u64(3);  // the same flood for both (it is random otherwise)
    const auto want = plain.evaluate(in, rk, pk, nullptr, &flood_seed);
    for (const std::size_t rows : {std::size_t{1}, std::size_t{7}, std::size_t{64}, static_cast<std::size_t>(c->linears[0].out_dim) + 1}) {
      const BatchEngine streamed(*c, ctx, 2, rows);
      StageTimes times;
      const auto got = streamed.evaluate(in, rk, pk, &times, &flood_seed);
      ASSERT_EQ(got.size(), want.size());
      EXPECT_NE(times.names[0].find("streamed"), std::string::npos) << times.names[0];
      for (std::size_t j = 0; j < got.size(); ++j) {
        ASSERT_EQ(got[j].size(), want[j].size());
        EXPECT_EQ(got[j].level(), want[j].level());
        EXPECT_EQ(got[j].scale(), want[j].scale());
        for (std::size_t p = 0; p < got[j].size(); ++p) {
          const auto& a = got[j][p];
          const auto& b = want[j][p];
          ASSERT_TRUE(std::equal(a.data(), a.data() + a.num_limbs() * a.n(), b.data()))
              << (c == &full ? "" : "with empty rows, ") << "stream_rows " << rows << ": output " << j << " polynomial " << p << " differs";
        }
      }
    }
  }
}

}  // namespace
}  // namespace heal::he_infer
