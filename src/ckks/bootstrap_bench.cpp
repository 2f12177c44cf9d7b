// run_bootstrap_bench: the measurement behind `heal ckks bootstrap-bench` and the comparison with
// OpenFHE (scripts/bootstrap_vs_openfhe.sh).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "heal/ckks/bootstrap.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/core/check.h"

namespace heal::ckks {

namespace {
double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

BootstrapBenchResult run_bootstrap_bench(const BootstrapPreset& preset, const BootstrapBenchOptions& opt,
                                         const std::function<void(const std::string&, std::size_t, std::size_t)>& progress) {
  HEAL_REQUIRE(opt.inputs >= 1, "run_bootstrap_bench: at least one input");
  HEAL_REQUIRE(opt.threads >= 1, "run_bootstrap_bench: at least one thread");
  auto note = [&](const std::string& stage, std::size_t done, std::size_t total) {
    if (progress) progress(stage, done, total);
  };
  BootstrapBenchResult r;
  r.preset = preset.name;
  r.description = preset.description;
  const auto ctx = Context::create(preset.params);
  r.log_n = ctx->log_n();
  r.slots = preset.config.slots;
  r.log_qp = ctx->log_qp();
  r.secure = ctx->meets_security_bound();
  r.secret = preset.params.secret == SecretDistribution::kTernaryHamming ? "ternary-hamming" : "ternary";
  r.hamming_weight = preset.params.secret == SecretDistribution::kTernaryHamming ? preset.params.hamming_weight : 0;
  r.failure_log2 = mod_bound_failure_log2(*ctx, preset.config.k_bound);

  note("setup", 0, 1);
  auto t0 = std::chrono::steady_clock::now();
  Bootstrapper bs(ctx, preset.config);
  bs.set_threads(opt.threads);
  r.setup_seconds = since(t0);
  r.circuit = bs.describe();
  r.depth = bs.depth();
  r.levels_after = bs.output_level();
  r.plaintext_bytes = bs.plaintext_bytes();
  note("setup", 1, 1);

  note("keygen", 0, 1);
  t0 = std::chrono::steady_clock::now();
  KeyGenerator keygen(ctx, std::make_unique<SeededRng>(seed_from_u64(opt.seed)));
  const RelinKey rk = keygen.create_relin_key();
  const GaloisKeys gk = bs.create_galois_keys(keygen);
  r.keygen_seconds = since(t0);
  r.galois_keys = gk.size();
  r.key_bytes = rk.key().memory_bytes();
  for (const auto& [g, k] : gk.all()) r.key_bytes += k.memory_bytes();
  note("keygen", 1, 1);

  Encryptor encryptor(ctx, keygen.create_public_key());
  Decryptor decryptor(ctx, keygen.secret_key());
  Encoder enc(ctx);
  Evaluator ev(ctx);
  SeededRng rng(seed_from_u64(opt.seed + 1));
  std::vector<double> bits;
  double err_sum = 0;
  for (std::size_t i = 0; i < opt.inputs; ++i) {
    note("bootstrap", i, opt.inputs);
    std::vector<std::complex<double>> x(r.slots);
    for (auto& v : x) {
      const double re = 2 * rng.uniform_double() - 1;
      v = opt.complex_values ? std::complex<double>(re, 2 * rng.uniform_double() - 1) : std::complex<double>(re, 0);
    }
    const Ciphertext ct = encryptor.encrypt(enc.encode(x, ctx->default_scale(), 0));
    t0 = std::chrono::steady_clock::now();
    const Ciphertext out = bs.bootstrap(ev, ct, rk, gk, 0, &r.steps);
    r.seconds.push_back(since(t0));
    std::vector<std::complex<double>> y = enc.decode(decryptor.decrypt(out));
    for (std::size_t k = 0; k < r.slots; ++k) {
      const double e = std::max(std::abs(y[k] - x[k]), 0x1p-60);
      bits.push_back(-std::log2(e));
      err_sum += e;
    }
  }
  note("bootstrap", opt.inputs, opt.inputs);
  r.inputs = opt.inputs;
  r.values = bits.size();
  std::sort(bits.begin(), bits.end());
  r.bits_min = bits.front();
  r.bits_max = bits.back();
  r.bits_median = bits[bits.size() / 2];
  r.bits_mean = std::accumulate(bits.begin(), bits.end(), 0.0) / static_cast<double>(bits.size());
  r.bits_of_mean_error = -std::log2(err_sum / static_cast<double>(bits.size()));
  auto s = r.seconds;
  std::sort(s.begin(), s.end());
  r.seconds_min = s.front();
  r.seconds_median = s[s.size() / 2];
  return r;
}

}  // namespace heal::ckks
