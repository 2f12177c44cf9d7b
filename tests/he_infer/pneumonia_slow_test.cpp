// Slow: encrypted inference on real PneumoniaMNIST test images at the planner's 128-bit-secure
// parameters (batch: N = 2^13; single: the first N that holds the output flood), batch and
// single-image mode, against the reference forward pass. Uses the
// trained model at $HEAL_INFER_MODEL or build/nn/models/pneumonia_hecnn.heal when present, else a
// random model of the same shape (the oracle comparison is meaningful either way).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "heal/ckks/key_generator.h"
#include "heal/he_infer/batch_engine.h"
#include "heal/he_infer/cost_model.h"
#include "heal/he_infer/single_engine.h"
#include "heal/he_infer/synthetic.h"
#include "heal/io/dataset.h"
#include "heal/nn/forward.h"
#include "testing/shared_data.h"

namespace heal::he_infer {
namespace {

nn::ModelIr load_or_synthetic() {
  std::string path;
  if (const char* p = std::getenv("HEAL_INFER_MODEL")) path = p;
  else path = "build/nn/models/pneumonia_hecnn.heal";
  if (std::filesystem::exists(path)) {
    auto m = nn::load_model(path);
    if (m.ok()) return std::move(m).value();
  }
  return synthetic_hecnn28();
}

struct Agreement {
  std::size_t agree = 0, n = 0;
  double max_err = 0;
};

Agreement compare(const std::vector<double>& ref, const std::vector<double>& got, int k) {
  Agreement a;
  a.n = ref.size() / static_cast<std::size_t>(k);
  for (std::size_t i = 0; i < a.n; ++i) {
    const auto r = ref.begin() + static_cast<long>(i * k), g = got.begin() + static_cast<long>(i * k);
    a.agree += (std::max_element(r, r + k) - r) == (std::max_element(g, g + k) - g);
    for (int j = 0; j < k; ++j) a.max_err = std::max(a.max_err, std::fabs(r[j] - g[j]));
  }
  return a;
}

TEST(PneumoniaSlow, BatchAndSingleMatchReference) {
  HEAL_REQUIRE_SHARED_DATA(path, "pneumoniamnist.npz");
  auto ds = io::load_dataset(path);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  const auto& test = ds->test;
  const nn::ModelIr m = load_or_synthetic();
  const Circuit c = compile(m);
  const ParamPlan plan = plan_params(c.depth());
  EXPECT_FALSE(plan.spec.allow_insecure);
  auto ctx = ckks::Context::create(plan.spec);
  ckks::KeyGenerator kg(ctx);
  const ckks::PublicKey pk = kg.create_public_key();
  ckks::Encryptor enc(ctx, pk);
  ckks::Decryptor dec(ctx, kg.secret_key());
  const auto rk = kg.create_relin_key();
  const std::size_t dim = test.image_size();

  const std::size_t nb = 128;
  const std::span<const float> imgs(test.images.data(), nb * dim);
  const auto ref = nn::forward(m, imgs, nb);
  BatchEngine be(c, ctx, 2);
  const auto got = be.decrypt(be.evaluate(be.encrypt(imgs, nb, enc), rk, pk), nb, dec);
  const Agreement ab = compare(ref, got, m.num_classes);
  EXPECT_EQ(ab.agree, nb);
  EXPECT_LT(ab.max_err, 1e-2);

  // Single mode at the smallest secure N whose levels hold the circuit-privacy flood (privacy.h):
  // N = 2^14 for this depth-5 circuit (2^13's 26-bit primes leave no room for it).
  const std::size_t ns = 6;
  ParamPlan splan = plan;
  while (!single_flood_fits(c, splan)) splan = plan_params(c.depth(), {.log_n = splan.spec.log_n + 1});
  auto sctx = ckks::Context::create(splan.spec);
  ckks::KeyGenerator skg(sctx);
  const ckks::PublicKey spk = skg.create_public_key();
  ckks::Encryptor senc(sctx, spk);
  ckks::Decryptor sdec(sctx, skg.secret_key());
  const auto srk = skg.create_relin_key();
  SingleEngine se(c, sctx, 2);
  const auto gk = skg.create_galois_keys(se.rotation_steps());
  const WeightSet w = se.plain_weights();
  std::vector<double> got_s;
  for (std::size_t i = 0; i < ns; ++i) {
    const auto l = se.decrypt(se.evaluate(se.encrypt(imgs.subspan(i * dim, dim), senc), w, srk, gk, spk), sdec);
    got_s.insert(got_s.end(), l.begin(), l.end());
  }
  const Agreement as = compare(std::vector<double>(ref.begin(), ref.begin() + static_cast<long>(ns * m.num_classes)), got_s, m.num_classes);
  EXPECT_EQ(as.agree, ns);
  EXPECT_LT(as.max_err, 1e-2);
}

}  // namespace
}  // namespace heal::he_infer
