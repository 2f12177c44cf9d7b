// CKKS operations at the anchor parameter sets of ../shared/anchors/he-baseline.md
// (Q = 60 + L x 40 bits, one 60-bit special prime, scale 2^40; dnum = #Q like SEAL, and dnum = 3
// for key switching). Single thread. Names: BM_Relinearize/log_n:14/dnum:8.
// N = 2^16 key-switching cases need ~2 GB per key: they run only with HEAL_BENCH_N16_KS=1.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>

#include "heal/ckks/bootstrap.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"

namespace {

using namespace heal::ckks;
using Vec = std::vector<std::complex<double>>;

ParamsSpec anchor_spec(int log_n, std::size_t dnum) {
  ParamsSpec spec = anchor_params(log_n);
  spec.dnum = dnum;
  if (dnum != 0 && dnum < spec.q_bits.size()) {
    // Like OpenFHE: enough 60-bit special primes to cover the largest digit.
    const std::size_t alpha = (spec.q_bits.size() + dnum - 1) / dnum;
    const std::size_t digit_bits = 60 + 40 * (alpha - 1);
    spec.p_bits.assign((digit_bits + 59) / 60, 60);
    spec.allow_insecure = true;  // more P primes exceed the bound at fixed N (as in the anchors)
  }
  return spec;
}

struct Setup {
  Setup(int log_n, std::size_t dnum, bool with_keys, std::size_t rot_keys)
      : Setup(anchor_spec(log_n, dnum), with_keys, rot_keys, false) {}
  Setup(const ParamsSpec& spec, bool with_keys, std::size_t rot_keys, bool conjugate) {
    ctx = Context::create(spec);
    keygen = std::make_unique<KeyGenerator>(ctx, std::make_unique<heal::SeededRng>(heal::seed_from_u64(1)));
    encoder = std::make_unique<Encoder>(ctx);
    evaluator = std::make_unique<Evaluator>(ctx);
    pk = keygen->create_public_key();
    encryptor = std::make_unique<Encryptor>(ctx, pk);
    decryptor = std::make_unique<Decryptor>(ctx, keygen->secret_key());
    heal::SeededRng r(heal::seed_from_u64(2));
    values.resize(ctx->slots());
    for (auto& v : values) v = {2 * r.uniform_double() - 1, 2 * r.uniform_double() - 1};
    pt = encoder->encode(values);
    ct = encryptor->encrypt(pt);
    ct2 = encryptor->encrypt(encoder->encode(values));
    if (with_keys) {
      rk = keygen->create_relin_key();
      std::vector<long> steps;
      for (std::size_t s = 1; s <= rot_keys; ++s) steps.push_back(static_cast<long>(s));
      gk = keygen->create_galois_keys(steps, conjugate);
    }
  }
  ContextPtr ctx;
  std::unique_ptr<KeyGenerator> keygen;
  std::unique_ptr<Encoder> encoder;
  std::unique_ptr<Evaluator> evaluator;
  PublicKey pk;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> decryptor;
  RelinKey rk;
  GaloisKeys gk;
  Vec values;
  Plaintext pt;
  Ciphertext ct, ct2;
};

// One setup at a time (keys at 2^15/2^16 are large).
Setup& get(int log_n, std::size_t dnum, bool keys, std::size_t rot_keys = 1) {
  static std::unique_ptr<Setup> cur;
  static int cur_n = 0;
  static std::size_t cur_dnum = 0, cur_rot = 0;
  static bool cur_keys = false;
  if (!cur || cur_n != log_n || cur_dnum != dnum || (keys && !cur_keys) || rot_keys > cur_rot) {
    cur.reset();
    cur = std::make_unique<Setup>(log_n, dnum, keys, rot_keys);
    cur_n = log_n;
    cur_dnum = dnum;
    cur_keys = keys;
    cur_rot = keys ? rot_keys : 0;
  }
  return *cur;
}

int N(const benchmark::State& st) { return static_cast<int>(st.range(0)); }

void BM_Encode(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.encoder->encode(s.values));
}
void BM_Decode(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.encoder->decode(s.pt));
}
void BM_EncryptPk(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.encryptor->encrypt(s.pt));
}
void BM_Decrypt(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.decryptor->decrypt(s.ct));
}
void BM_DecryptDecodeFull(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.encoder->decode(s.decryptor->decrypt(s.ct)));
}
void BM_DecryptDecodeLast(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  const Ciphertext last = s.evaluator->mod_switch_to(s.ct, 0);
  for (auto _ : st) benchmark::DoNotOptimize(s.encoder->decode(s.decryptor->decrypt(last)));
}
void BM_Add(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.evaluator->add(s.ct, s.ct2));
}
void BM_MulNoRelin(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.evaluator->mul(s.ct, s.ct2));
}
void BM_MulPlain(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.evaluator->mul_plain(s.ct, s.pt));
}
void BM_Rescale(benchmark::State& st) {
  auto& s = get(N(st), 0, false);
  for (auto _ : st) benchmark::DoNotOptimize(s.evaluator->rescale(s.ct));
}
void BM_Relinearize(benchmark::State& st) {
  auto& s = get(N(st), static_cast<std::size_t>(st.range(1)), true);
  const Ciphertext m = s.evaluator->mul(s.ct, s.ct2);
  for (auto _ : st) benchmark::DoNotOptimize(s.evaluator->relinearize(m, s.rk));
}
void BM_Rotate(benchmark::State& st) {
  auto& s = get(N(st), static_cast<std::size_t>(st.range(1)), true);
  for (auto _ : st) benchmark::DoNotOptimize(s.evaluator->rotate(s.ct, 1, s.gk));
}
void BM_RotateHoisted8(benchmark::State& st) {
  auto& s = get(N(st), static_cast<std::size_t>(st.range(1)), true, 8);
  const std::vector<long> steps = {1, 2, 3, 4, 5, 6, 7, 8};
  for (auto _ : st) benchmark::DoNotOptimize(s.evaluator->rotate_hoisted(s.ct, steps, s.gk));
}
void BM_Rotate8Sequential(benchmark::State& st) {
  auto& s = get(N(st), static_cast<std::size_t>(st.range(1)), true, 8);
  for (auto _ : st) {
    for (long k = 1; k <= 8; ++k) benchmark::DoNotOptimize(s.evaluator->rotate(s.ct, k, s.gk));
  }
}

// The bootstrapping presets' user levels (he_train's iteration runs at levels <= 10 of "train"):
// one op on a ciphertext at `level`. Keys ~126 MiB each at N = 2^16 ("train": 23 Q + 7 P primes,
// 4 digits). Only with HEAL_BENCH_PRESETS=1. Names: BM_TrainOp/op:1/level:10 (op: 0 rotate,
// 1 relinearize, 2 conjugate, 3 ct x ct without relinearization, 4 ct x pt, 5 rescale).
void BM_TrainOp(benchmark::State& st) {
  static Setup s(bootstrap_preset("train").params, true, 1, true);
  const auto op = st.range(0);
  const auto level = static_cast<std::size_t>(st.range(1));
  const Ciphertext a = s.evaluator->mod_switch_to(s.ct, level);
  const Ciphertext sq = s.evaluator->mul(a, a);
  const Plaintext pt = s.encoder->encode(s.values, s.ctx->spec().default_scale, level);
  for (auto _ : st) {
    switch (op) {
      case 0: benchmark::DoNotOptimize(s.evaluator->rotate(a, 1, s.gk)); break;
      case 1: benchmark::DoNotOptimize(s.evaluator->relinearize(sq, s.rk)); break;
      case 2: benchmark::DoNotOptimize(s.evaluator->conjugate(a, s.gk)); break;
      case 3: benchmark::DoNotOptimize(s.evaluator->mul(a, a)); break;
      case 4: benchmark::DoNotOptimize(s.evaluator->mul_plain(a, pt)); break;
      default: benchmark::DoNotOptimize(s.evaluator->rescale(a)); break;
    }
  }
}
void train_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"op", "level"});
  if (std::getenv("HEAL_BENCH_PRESETS") == nullptr) return;
  for (int op = 0; op < 6; ++op) {
    for (int level : {10, 7, 5, 2}) b->Args({op, level});
  }
  b->Unit(benchmark::kMillisecond);
}

void plain_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"log_n"});
  for (int log_n : {13, 14, 15, 16}) b->Args({log_n});
  b->Unit(benchmark::kMicrosecond);
}
void ks_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"log_n", "dnum"});
  const bool big = std::getenv("HEAL_BENCH_N16_KS") != nullptr;
  const int q_count[] = {3, 8, 20, 41};
  for (int log_n : {13, 14, 15, 16}) {
    if (log_n == 16 && !big) continue;
    b->Args({log_n, q_count[log_n - 13]});
    if (log_n > 13) b->Args({log_n, 3});
  }
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_Encode)->Apply(plain_args);
BENCHMARK(BM_Decode)->Apply(plain_args);
BENCHMARK(BM_EncryptPk)->Apply(plain_args);
BENCHMARK(BM_Decrypt)->Apply(plain_args);
BENCHMARK(BM_DecryptDecodeFull)->Apply(plain_args);
BENCHMARK(BM_DecryptDecodeLast)->Apply(plain_args);
BENCHMARK(BM_Add)->Apply(plain_args);
BENCHMARK(BM_MulNoRelin)->Apply(plain_args);
BENCHMARK(BM_MulPlain)->Apply(plain_args);
BENCHMARK(BM_Rescale)->Apply(plain_args);
BENCHMARK(BM_Relinearize)->Apply(ks_args);
BENCHMARK(BM_Rotate)->Apply(ks_args);
BENCHMARK(BM_RotateHoisted8)->Apply(ks_args);
BENCHMARK(BM_Rotate8Sequential)->Apply(ks_args);
BENCHMARK(BM_TrainOp)->Apply(train_args);
