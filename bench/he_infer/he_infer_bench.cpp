// he_infer benchmarks: end-to-end and per-stage, batch and single-image modes, on the
// PneumoniaMNIST hecnn shape (conv 1->8 5x5 s2, dense 1352->64->2) at 128-bit-secure parameters
// chosen by the planner (N = 2^13). Weights are random unless HEAL_INFER_MODEL names a .heal file
// (timings do not depend on weight values). Per-stage seconds are reported as counters.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "heal/ckks/key_generator.h"
#include "heal/he_infer/batch_engine.h"
#include "heal/he_infer/single_engine.h"
#include "heal/he_infer/synthetic.h"

namespace {

using namespace heal;
using namespace heal::he_infer;

struct Setup {
  nn::ModelIr model;
  Circuit circuit;
  ParamPlan plan;
  ckks::ContextPtr ctx;
  std::unique_ptr<ckks::KeyGenerator> kg;
  ckks::PublicKey pk;
  ckks::RelinKey rk;
  Setup() {
    const char* path = std::getenv("HEAL_INFER_MODEL");
    model = path ? nn::load_model(path).value() : synthetic_hecnn28();
    circuit = compile(model);
    plan = plan_params(circuit.depth());
    ctx = ckks::Context::create(plan.spec);
    kg = std::make_unique<ckks::KeyGenerator>(ctx);
    pk = kg->create_public_key();
    rk = kg->create_relin_key();
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

void report(benchmark::State& state, const StageTimes& st) {
  for (std::size_t i = 0; i < st.names.size(); ++i) state.counters[st.names[i]] = st.seconds[i];
}

void BM_BatchEndToEnd(benchmark::State& state) {
  auto& s = setup();
  const int threads = static_cast<int>(state.range(0));
  BatchEngine eng(s.circuit, s.ctx, threads);
  ckks::Encryptor enc(s.ctx, s.pk);
  const std::size_t n = eng.capacity();
  const auto imgs = random_images(n, s.circuit.input.size());
  StageTimes st;
  for (auto _ : state) {
    state.PauseTiming();
    auto cts = eng.encrypt(imgs, n, enc);
    st = {};
    state.ResumeTiming();
    auto out = eng.evaluate(std::move(cts), s.rk, s.pk, &st);
    benchmark::DoNotOptimize(out);
  }
  report(state, st);
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BatchEndToEnd)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

void BM_BatchEncrypt(benchmark::State& state) {
  auto& s = setup();
  BatchEngine eng(s.circuit, s.ctx, 1);
  ckks::Encryptor enc(s.ctx, s.pk);
  const std::size_t n = eng.capacity();
  const auto imgs = random_images(n, s.circuit.input.size());
  for (auto _ : state) benchmark::DoNotOptimize(eng.encrypt(imgs, n, enc));
}
BENCHMARK(BM_BatchEncrypt)->Unit(benchmark::kMillisecond)->Iterations(1);

void single(benchmark::State& state, bool encrypted_weights) {
  auto& s = setup();
  const int threads = static_cast<int>(state.range(0));
  SingleEngine eng(s.circuit, s.ctx, threads);
  const auto gk = s.kg->create_galois_keys(eng.rotation_steps());
  ckks::Encryptor enc(s.ctx, s.pk);
  const WeightSet w = encrypted_weights ? eng.encrypt_weights(enc) : eng.plain_weights();
  const auto img = random_images(1, s.circuit.input.size());
  StageTimes st;
  for (auto _ : state) {
    state.PauseTiming();
    auto cts = eng.encrypt(img, enc);
    st = {};
    state.ResumeTiming();
    auto out = eng.evaluate(std::move(cts), w, s.rk, gk, s.pk, &st);
    benchmark::DoNotOptimize(out);
  }
  report(state, st);
  state.counters["galois_keys"] = static_cast<double>(gk.size());
}
void BM_SingleEndToEnd(benchmark::State& state) { single(state, false); }
void BM_SingleEncryptedWeights(benchmark::State& state) { single(state, true); }
BENCHMARK(BM_SingleEndToEnd)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_SingleEncryptedWeights)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

void BM_SingleClientEncrypt(benchmark::State& state) {
  auto& s = setup();
  SingleEngine eng(s.circuit, s.ctx, 1);
  ckks::Encryptor enc(s.ctx, s.pk);
  const auto img = random_images(1, s.circuit.input.size());
  for (auto _ : state) benchmark::DoNotOptimize(eng.encrypt(img, enc));
}
BENCHMARK(BM_SingleClientEncrypt)->Unit(benchmark::kMillisecond);

}  // namespace
