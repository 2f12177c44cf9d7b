// Batch (SIMD across images) encrypted inference (see batch_engine.h).
#include "heal/he_infer/batch_engine.h"

#include <chrono>

#include "heal/ckks/evaluator.h"
#include "heal/core/check.h"
#include "kernels.h"

namespace heal::he_infer {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

double StageTimes::total() const {
  double s = 0;
  for (double v : seconds) s += v;
  return s;
}

BatchEngine::BatchEngine(Circuit circuit, ckks::ContextPtr ctx, int threads)
    : circuit_(std::move(circuit)), ctx_(std::move(ctx)), encoder_(ctx_), threads_(std::max(1, threads)) {
  const std::size_t top = ctx_->max_level();
  HEAL_REQUIRE(static_cast<std::size_t>(circuit_.depth()) + 1 <= top,
               "BatchEngine: circuit depth " << circuit_.depth() << " needs " << circuit_.depth() + 2 << " Q primes, context has " << top + 1);
  for (std::size_t i = 0; i < circuit_.linears.size(); ++i) {
    const std::size_t lvl = i == 0 ? top : top + 1 - 2 * i;
    level_.push_back(lvl);
    mac_.push_back(detail::make_mac_stage(circuit_.linears[i], *ctx_, lvl));
  }
}

BatchEngine::~BatchEngine() = default;

std::vector<ckks::Ciphertext> BatchEngine::encrypt(std::span<const float> images, std::size_t count, ckks::Encryptor& enc) const {
  const std::size_t dim = circuit_.input.size();
  HEAL_REQUIRE(count >= 1 && count <= capacity(), "BatchEngine::encrypt: count must be in [1, " << capacity() << "], got " << count);
  HEAL_REQUIRE(images.size() == count * dim, "BatchEngine::encrypt: expected " << count * dim << " floats, got " << images.size());
  std::vector<ckks::Ciphertext> cts(dim);
  std::vector<double> v(capacity(), 0.0);
  for (std::size_t j = 0; j < dim; ++j) {
    for (std::size_t s = 0; s < count; ++s) v[s] = images[s * dim + j];
    cts[j] = enc.encrypt(encoder_.encode(std::span<const double>(v), ctx_->default_scale(), ctx_->max_level()));
  }
  return cts;
}

std::vector<ckks::Ciphertext> BatchEngine::evaluate(std::vector<ckks::Ciphertext> x, const ckks::RelinKey& rk, StageTimes* times) const {
  HEAL_REQUIRE(x.size() == circuit_.input.size(), "BatchEngine::evaluate: expected " << circuit_.input.size() << " ciphertexts");
  const ckks::Evaluator ev(ctx_);
  for (std::size_t i = 0; i < circuit_.linears.size(); ++i) {
    const SparseLinear& lin = circuit_.linears[i];
    double t0 = now_s();
    HEAL_REQUIRE(x[0].level() == level_[i], "BatchEngine: stage " << i << " expected level " << level_[i] << ", got " << x[0].level());
    // Stages after the first read the squares of the previous outputs (lazy: no relinearization, no
    // rescale); the kernel squares each packed input tile on the fly instead of materialising them.
    std::vector<ckks::Ciphertext> y = detail::sparse_mac(*ctx_, mac_[i], x, threads_, /*square_inputs=*/i > 0);
    x.clear();
    x.shrink_to_fit();
    const double prod_scale = y[0].scale();
    const std::size_t limbs = level_[i] + 1;
    for (int r = 0; r < lin.out_dim; ++r) {
      if (lin.bias[r] == 0.0) continue;
      const auto c = detail::real_to_residues(lin.bias[r] * prod_scale, *ctx_, limbs);
      y[r][0].add_scalar_ntt_inplace(c, ctx_->q_basis());
    }
    const double t_mac = now_s() - t0;
    t0 = now_s();
    detail::parallel_for(y.size(), threads_, [&](std::size_t b, std::size_t e) {
      for (std::size_t j = b; j < e; ++j) {
        ev.relinearize_inplace(y[j], rk);
        ev.rescale_inplace(y[j]);
        if (i > 0) ev.rescale_inplace(y[j]);
      }
    });
    if (times) {
      times->add("linear " + std::to_string(i) + (i > 0 ? " square+mac" : " mac"), t_mac);
      times->add("linear " + std::to_string(i) + (i > 0 ? " relin+rescale" : " rescale"), now_s() - t0);
    }
    x = std::move(y);
  }
  return x;
}

std::vector<double> BatchEngine::decrypt(const std::vector<ckks::Ciphertext>& logits, std::size_t count, const ckks::Decryptor& dec) const {
  const int k = circuit_.num_classes;
  HEAL_REQUIRE(static_cast<int>(logits.size()) == k, "BatchEngine::decrypt: expected " << k << " ciphertexts");
  HEAL_REQUIRE(count <= capacity(), "BatchEngine::decrypt: count above capacity");
  std::vector<double> out(count * k);
  for (int c = 0; c < k; ++c) {
    const auto v = encoder_.decode_real(dec.decrypt(logits[c]));
    for (std::size_t s = 0; s < count; ++s) out[s * k + c] = v[s];
  }
  return out;
}

}  // namespace heal::he_infer
