// Encrypted NAG training: one iteration (BM_Iteration) and one refresh of the weights
// (BM_Refresh, single-key bootstrapping).
//   HEAL_TRAIN_PRESET  bootstrap preset (default "test-train"; "train" is the 128-bit one)
//   HEAL_TRAIN_D       features d (default 8; rows of bit_ceil(d + 1) slots)
//   HEAL_TRAIN_BATCH   rows per mini-batch (default 32); n = one batch
//   HEAL_TRAIN_THREADS threads for the data ciphertexts of a batch (default 1; 1 or 2)
// Data ciphertexts use all N/2 slots, the weights the bootstrapper's (sparse) slots.
// Keys come from a seeded RNG (a benchmark, not a deployment).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "heal/ckks/bootstrap.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/core/rng.h"
#include "heal/he_train/encrypted_nag.h"

namespace {

using namespace heal;
using namespace heal::he_train;

std::string env_or(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v && *v ? v : def;
}

struct Setup {
  Setup()
      : preset(ckks::bootstrap_preset(env_or("HEAL_TRAIN_PRESET", "test-train"))),
        d(std::stoul(env_or("HEAL_TRAIN_D", "8"))),
        batch(std::stoul(env_or("HEAL_TRAIN_BATCH", "32"))),
        threads(std::stoi(env_or("HEAL_TRAIN_THREADS", "1"))),
        packing(d, std::size_t{1} << (preset.params.log_n - 1), preset.config.slots) {
    ctx = ckks::Context::create(preset.params);
    keygen = std::make_unique<ckks::KeyGenerator>(ctx, std::make_unique<SeededRng>(seed_from_u64(3)));
    encryptor = std::make_unique<ckks::Encryptor>(ctx, keygen->create_public_key());
    ev = std::make_unique<ckks::Evaluator>(ctx);
    rk = keygen->create_relin_key();
    bs = std::make_unique<ckks::Bootstrapper>(ctx, preset.config);
    gk = keygen->create_galois_keys(EncryptedNag::rotation_steps(packing), true);
    for (auto g : bs->galois_elements())
      if (!gk.has(g)) keygen->add_galois_key(gk, g);
    refresher = std::make_unique<BootstrapRefresher>(*ev, *bs, rk, gk, 8.0);
    nag = std::make_unique<EncryptedNag>(ctx, *ev, rk, gk, *refresher, packing, SigmoidPoly::fit(3), Schedule{}, batch,
                                         batch);
    nag->set_threads(threads);
    SeededRng rng(seed_from_u64(4));
    std::vector<double> z(batch * (d + 1));
    for (auto& x : z) x = 0.2 * (2 * rng.uniform_double() - 1);
    const DataPacker packer(ctx, packing);
    zc = packer.encrypt_z(*encryptor, z, batch, refresher->output_level());
    std::vector<double> w0(d + 1, 0.05);
    state = packer.encrypt_weights(*encryptor, w0, w0, refresher->output_level());
  }
  ckks::BootstrapPreset preset;
  std::size_t d, batch;
  int threads;
  Packing packing;
  ckks::ContextPtr ctx;
  std::unique_ptr<ckks::KeyGenerator> keygen;
  std::unique_ptr<ckks::Encryptor> encryptor;
  std::unique_ptr<ckks::Evaluator> ev;
  ckks::RelinKey rk;
  std::unique_ptr<ckks::Bootstrapper> bs;
  ckks::GaloisKeys gk;
  std::unique_ptr<BootstrapRefresher> refresher;
  std::unique_ptr<EncryptedNag> nag;
  std::vector<ckks::Ciphertext> zc;
  ckks::Ciphertext state;
};

Setup& setup() {
  static Setup s;
  return s;
}

void label(benchmark::State& st, const Setup& s) {
  st.SetLabel(s.preset.name + " d=" + std::to_string(s.d) + " d'=" + std::to_string(s.packing.row_width()) +
              " batch=" + std::to_string(s.batch) + " cts/batch=" + std::to_string(s.zc.size()) +
              " threads=" + std::to_string(s.threads));
}

void BM_Iteration(benchmark::State& st) {
  auto& s = setup();
  for (auto _ : st) benchmark::DoNotOptimize(s.nag->iterate(s.zc, s.state, 1));
  label(st, s);
  st.counters["levels"] = static_cast<double>(s.nag->levels_per_iteration());
  st.counters["iterations_per_refresh"] =
      static_cast<double>(s.refresher->output_level() / s.nag->levels_per_iteration());
}
BENCHMARK(BM_Iteration)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Refresh(benchmark::State& st) {
  auto& s = setup();
  const auto low = s.ev->mod_switch_to(s.state, 0);
  for (auto _ : st) benchmark::DoNotOptimize(s.refresher->refresh(low));
  label(st, s);
}
BENCHMARK(BM_Refresh)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
