// One-prime negacyclic NTT, forward and inverse, single thread (compare with
// ../shared/anchors/he-baseline.md §5.1). Names: BM_NttForward/log_n:14/bits:40.
#include <benchmark/benchmark.h>

#include "heal/core/rng.h"
#include "heal/math/ntt.h"
#include "heal/math/rns_poly.h"
#include "heal/math/sampler.h"

namespace {

using heal::math::u64;

struct NttSetup {
  explicit NttSetup(int log_n, int bits)
      : basis(log_n, heal::math::generate_ntt_primes(bits, 1, std::size_t{1} << log_n)) {
    heal::SeededRng rng(heal::seed_from_u64(1));
    poly = heal::math::sample_uniform_poly(rng, basis, 1, false);
  }
  heal::math::RnsBasis basis;
  heal::math::RnsPoly poly;
};

void BM_NttForward(benchmark::State& st) {
  NttSetup s(static_cast<int>(st.range(0)), static_cast<int>(st.range(1)));
  for (auto _ : st) {
    heal::math::ntt_forward(s.poly.limb(0), s.basis.ntt(0));
    benchmark::ClobberMemory();
  }
  st.counters["ns_per_butterfly"] = benchmark::Counter(
      static_cast<double>(st.iterations()) * static_cast<double>(s.basis.n() / 2 * static_cast<std::size_t>(st.range(0))),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_NttInverse(benchmark::State& st) {
  NttSetup s(static_cast<int>(st.range(0)), static_cast<int>(st.range(1)));
  for (auto _ : st) {
    heal::math::ntt_inverse(s.poly.limb(0), s.basis.ntt(0));
    benchmark::ClobberMemory();
  }
}


void ntt_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"log_n", "bits"});
  for (int log_n : {12, 13, 14, 15, 16}) {
    for (int bits : {40, 50, 60}) b->Args({log_n, bits});
  }
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_NttForward)->Apply(ntt_args);
BENCHMARK(BM_NttInverse)->Apply(ntt_args);
