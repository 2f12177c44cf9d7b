// Fast base conversion (the ModUp / ModDown core of key switching), one destination limb at a
// time, single thread. Names: BM_BaseConvert/src:4/bits:60: 4 source primes of 60 bits (or 40)
// into 4 destination primes of 59 bits (41 from 40), N = 2^14. Run with HEAL_SIMD=avx2 / scalar to compare the
// kernels of one binary side by side.
#include <benchmark/benchmark.h>

#include "heal/core/rng.h"
#include "heal/math/base_converter.h"
#include "heal/math/rns_poly.h"
#include "heal/math/sampler.h"

namespace {

using heal::math::u64;

void BM_BaseConvert(benchmark::State& st) {
  const std::size_t n = std::size_t{1} << 14, k = static_cast<std::size_t>(st.range(0));
  const int bits = static_cast<int>(st.range(1));
  std::vector<heal::math::Modulus> src, dst;
  for (u64 q : heal::math::generate_ntt_primes(bits, k, n)) src.emplace_back(q);
  for (u64 q : heal::math::generate_ntt_primes(bits == 60 ? 59 : 41, 4, n)) dst.emplace_back(q);
  const heal::math::BaseConverter conv(src, dst);
  std::vector<u64> in(n * k), out(n * dst.size()), scratch(n * k);
  heal::SeededRng rng(heal::seed_from_u64(3));
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < n; ++j) in[i * n + j] = rng.next_u64() % src[i].value();
  for (auto _ : st) {
    conv.convert(in.data(), out.data(), n, scratch.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * n * k * dst.size()));
}
BENCHMARK(BM_BaseConvert)->ArgNames({"src", "bits"})->ArgsProduct({{2, 4, 8}, {40, 60}});

}  // namespace
