// Batch-mode multiply-accumulate kernel (see kernels.h, sparse_mac).
//
// The linear stage is a GEMM per (limb, coefficient): out[r] = sum_k W[r,k] x[col(r,k)]. We block it
// like a GEMM (Goto & van de Geijn, ACM TOMS 34(3), 2008): each thread owns a range of 16-coefficient
// tiles; per tile it packs the inputs (optionally squared) into a contiguous buffer that stays in L2,
// then each row group runs a micro-kernel whose accumulators (R rows x P polys x 16 coefficients)
// live in registers across the whole row. With primes <= 2^26 the products of residues are < 2^52,
// so AVX-512 IFMA (vpmadd52luq, as used for NTTs by Intel HEXL, arXiv:2103.16400) adds them exactly
// into 64-bit lanes; one Barrett reduction per floor(2^64 / q^2) terms and per output word. With
// AVX2 (primes < 2^31), vpmuludq forms the 62-bit products exactly and the same chunked reduction
// applies. The kernel is chosen at run time (heal/math/simd.h); every kernel gives the same words.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "heal/math/simd.h"

#if HEAL_X86_KERNELS
#include <immintrin.h>
#endif

#include <sys/mman.h>

#include "heal/core/check.h"
#include "kernels.h"

namespace heal::he_infer::detail {

using math::u64;

namespace {

constexpr std::size_t kTile = 16;  // coefficients per tile (two 8-lane vectors)
constexpr std::size_t kRows = 4;   // rows per micro-kernel call

// Reduces accumulators in place (scalar Barrett; rare: once per `chunk` terms).
inline void reduce_words(u64* a, std::size_t n, const math::Modulus& q) {
  for (std::size_t i = 0; i < n; ++i) a[i] = q.reduce(a[i]);
}

// Portable micro-kernel: acc[r][p][t] += w[k, j0 + r] * buf[col(k)][p][t]; the output is acc mod q
// (Acc: (out + acc) mod q; the accumulators stay below 2^64 - q, see sparse_mac's `chunk`).
template <std::size_t P, std::size_t R, bool Acc>
void micro_scalar(const u64* buf, const std::int32_t* cols, std::size_t K, const u64* w, std::size_t G, std::size_t j0,
                  std::size_t chunk, const math::Modulus& q, u64* const* outp) {
  alignas(64) u64 acc[R][P][kTile] = {};
  std::size_t cnt = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const u64* xb = buf + static_cast<std::size_t>(cols[k]) * P * kTile;
    const u64* wk = w + k * G + j0;
    for (std::size_t r = 0; r < R; ++r) {
      const u64 we = wk[r];
      for (std::size_t p = 0; p < P; ++p)
        for (std::size_t t = 0; t < kTile; ++t) acc[r][p][t] += we * xb[p * kTile + t];
    }
    if (++cnt == chunk) {
      reduce_words(&acc[0][0][0], R * P * kTile, q);
      cnt = 0;
    }
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t p = 0; p < P; ++p) {
      u64* o = outp[r * P + p];
      for (std::size_t t = 0; t < kTile; ++t) o[t] = q.reduce(Acc ? acc[r][p][t] + o[t] : acc[r][p][t]);
    }
}

enum class Kernel { kScalar, kAvx2, kIfma };

#if HEAL_X86_KERNELS
#define KI HEAL_TARGET_IFMA
#define K2 HEAL_TARGET_AVX2
// GCC 12 flags the deliberately undefined source operand inside some AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Constants of the vector reduction x mod q for 64-bit x and q <= 2^26.
// (Built by a factory: constructors cannot carry the kernels' section attribute.)
struct VecMod {
  __m512i q, c52, m52;
  __m512d inv_q;
};
KI inline VecMod make_vecmod(const math::Modulus& m) {
  VecMod v;
  v.q = _mm512_set1_epi64(static_cast<long long>(m.value()));
  v.c52 = _mm512_set1_epi64(static_cast<long long>(m.reduce(u64{1} << 52)));
  v.m52 = _mm512_set1_epi64(static_cast<long long>((u64{1} << 52) - 1));
  v.inv_q = _mm512_set1_pd(1.0 / static_cast<double>(m.value()));
  return v;
}

// x mod q: y = (x mod 2^52) + (x >> 52) * (2^52 mod q) < 2^53 is exact in a double, so
// floor(y / q) is estimated in floating point (off by at most one) and corrected.
KI inline __m512i reduce_vec(__m512i x, const VecMod& m) {
  // (maskz form: GCC 12's header makes the unmasked _mm512_srli_epi64 trip -Wuninitialized)
  const __m512i hi = _mm512_maskz_srli_epi64(static_cast<__mmask8>(0xFF), x, 52);
  const __m512i y = _mm512_madd52lo_epu64(_mm512_and_si512(x, m.m52), hi, m.c52);
  const __m512i qe = _mm512_cvttpd_epu64(_mm512_mul_pd(_mm512_cvtepu64_pd(y), m.inv_q));
  __m512i r = _mm512_sub_epi64(y, _mm512_mullo_epi64(qe, m.q));
  r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, m.q);
  return _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, m.q), r, m.q);
}

// IFMA micro-kernel (all residues and weights < 2^26, so each 52-bit product is exact).
// The vector micro-kernels are templates, and GCC does not apply a section attribute to template
// instantiations: they are always inlined into the non-template wrappers below, which carry it.
template <std::size_t P, std::size_t R, bool Acc>
KI __attribute__((always_inline)) inline void micro_ifma(const u64* buf, const std::int32_t* cols, std::size_t K, const u64* w, std::size_t G, std::size_t j0,
                std::size_t chunk, const math::Modulus& q, u64* const* outp) {
  const VecMod vm = make_vecmod(q);
  __m512i acc[R][P][2];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p) acc[r][p][0] = acc[r][p][1] = _mm512_setzero_si512();
  std::size_t cnt = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const u64* xb = buf + static_cast<std::size_t>(cols[k]) * P * kTile;
    __m512i xv[P][2];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p) {
      xv[p][0] = _mm512_load_si512(xb + p * kTile);
      xv[p][1] = _mm512_load_si512(xb + p * kTile + 8);
    }
    const u64* wk = w + k * G + j0;
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const __m512i wv = _mm512_set1_epi64(static_cast<long long>(wk[r]));
#pragma GCC unroll 16
      for (std::size_t p = 0; p < P; ++p) {
        acc[r][p][0] = _mm512_madd52lo_epu64(acc[r][p][0], xv[p][0], wv);
        acc[r][p][1] = _mm512_madd52lo_epu64(acc[r][p][1], xv[p][1], wv);
      }
    }
    if (++cnt == chunk) {
#pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (std::size_t p = 0; p < P; ++p) {
          acc[r][p][0] = reduce_vec(acc[r][p][0], vm);
          acc[r][p][1] = reduce_vec(acc[r][p][1], vm);
        }
      cnt = 0;
    }
  }
  // Output words are written once: stream them (no read-for-ownership; limbs are 64-byte aligned).
  // Accumulating reads them, so those are plain stores.
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p) {
      u64* o = outp[r * P + p];
      if constexpr (Acc) {
        auto* o0 = reinterpret_cast<__m512i*>(o);
        auto* o1 = reinterpret_cast<__m512i*>(o + 8);
        _mm512_store_si512(o0, reduce_vec(_mm512_add_epi64(acc[r][p][0], _mm512_load_si512(o0)), vm));
        _mm512_store_si512(o1, reduce_vec(_mm512_add_epi64(acc[r][p][1], _mm512_load_si512(o1)), vm));
      } else {
        _mm512_stream_si512(reinterpret_cast<__m512i*>(o), reduce_vec(acc[r][p][0], vm));
        _mm512_stream_si512(reinterpret_cast<__m512i*>(o + 8), reduce_vec(acc[r][p][1], vm));
      }
    }
}

// Packs one squared tile with IFMA: (a^2, 2ac, c^2) mod q, all products exact (< 2^53).
KI inline void square_tile_ifma(const u64* x0, const u64* x1, u64* b, const VecMod& vm) {
  const __m512i z = _mm512_setzero_si512();
  for (std::size_t h = 0; h < kTile; h += 8) {
    const __m512i a = _mm512_load_si512(x0 + h), c = _mm512_load_si512(x1 + h);
    const __m512i ac = _mm512_madd52lo_epu64(z, a, c);
    _mm512_store_si512(b + h, reduce_vec(_mm512_madd52lo_epu64(z, a, a), vm));
    _mm512_store_si512(b + kTile + h, reduce_vec(_mm512_add_epi64(ac, ac), vm));
    _mm512_store_si512(b + 2 * kTile + h, reduce_vec(_mm512_madd52lo_epu64(z, c, c), vm));
  }
}

// AVX2 (q < 2^31): constants of x mod q for any 64-bit x. x is split into 32-bit halves, whose
// exact doubles give fl(x) with relative error <= 2^-53; floor(fl(x) / q) is then within one of
// floor(x / q) (x / q < 2^45 for q >= 2^19), and the remainder is formed exactly in integers.
struct VecMod2 {
  __m256i q, qm1, lo32, magic_bits;
  __m256d inv_q, two32, magic;
};
K2 inline VecMod2 make_vecmod2(const math::Modulus& m) {
  VecMod2 v;
  v.q = _mm256_set1_epi64x(static_cast<long long>(m.value()));
  v.qm1 = _mm256_set1_epi64x(static_cast<long long>(m.value() - 1));
  v.lo32 = _mm256_set1_epi64x(0xffffffffLL);
  v.magic = _mm256_set1_pd(4503599627370496.0);  // 2^52
  v.magic_bits = _mm256_castpd_si256(v.magic);
  v.inv_q = _mm256_set1_pd(1.0 / static_cast<double>(m.value()));
  v.two32 = _mm256_set1_pd(4294967296.0);
  return v;
}

K2 inline __m256d u32_to_pd(__m256i x, const VecMod2& m) {  // x < 2^52
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, m.magic_bits)), m.magic);
}

K2 inline __m256i reduce_vec2(__m256i x, const VecMod2& m) {
  const __m256d xd = _mm256_fmadd_pd(u32_to_pd(_mm256_srli_epi64(x, 32), m), m.two32, u32_to_pd(_mm256_and_si256(x, m.lo32), m));
  const __m256d e = _mm256_round_pd(_mm256_mul_pd(xd, m.inv_q), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m256i ei = _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(e, m.magic)), m.magic_bits);  // e < 2^52
  const __m256i eq = _mm256_add_epi64(_mm256_mul_epu32(ei, m.q), _mm256_slli_epi64(_mm256_mul_epu32(_mm256_srli_epi64(ei, 32), m.q), 32));
  __m256i r = _mm256_sub_epi64(x, eq);  // in [-q, 2q)
  r = _mm256_add_epi64(r, _mm256_and_si256(_mm256_cmpgt_epi64(_mm256_setzero_si256(), r), m.q));
  return _mm256_sub_epi64(r, _mm256_and_si256(_mm256_cmpgt_epi64(r, m.qm1), m.q));
}

// AVX2 micro-kernel: 16 YMM registers hold one row's P x 16 accumulators, so rows run one by one
// over the packed tile (which stays in L1/L2).
template <std::size_t P, std::size_t R, bool Acc>
K2 __attribute__((always_inline)) inline void micro_avx2(const u64* buf, const std::int32_t* cols, std::size_t K, const u64* w, std::size_t G, std::size_t j0,
                   std::size_t chunk, const math::Modulus& q, u64* const* outp) {
  const VecMod2 vm = make_vecmod2(q);
  for (std::size_t r = 0; r < R; ++r) {
    __m256i acc[P][4];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p)
#pragma GCC unroll 4
      for (std::size_t v = 0; v < 4; ++v) acc[p][v] = _mm256_setzero_si256();
    std::size_t cnt = 0;
    for (std::size_t k = 0; k < K; ++k) {
      const u64* xb = buf + static_cast<std::size_t>(cols[k]) * P * kTile;
      const __m256i wv = _mm256_set1_epi64x(static_cast<long long>(w[k * G + j0 + r]));
#pragma GCC unroll 16
      for (std::size_t p = 0; p < P; ++p)
#pragma GCC unroll 4
        for (std::size_t v = 0; v < 4; ++v)
          acc[p][v] = _mm256_add_epi64(
              acc[p][v], _mm256_mul_epu32(_mm256_load_si256(reinterpret_cast<const __m256i*>(xb + p * kTile + 4 * v)), wv));
      if (++cnt == chunk) {
#pragma GCC unroll 16
        for (std::size_t p = 0; p < P; ++p)
#pragma GCC unroll 4
          for (std::size_t v = 0; v < 4; ++v) acc[p][v] = reduce_vec2(acc[p][v], vm);
        cnt = 0;
      }
    }
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p) {
      auto* o = reinterpret_cast<__m256i*>(outp[r * P + p]);
#pragma GCC unroll 4
      for (std::size_t v = 0; v < 4; ++v) {
        const __m256i x = Acc ? _mm256_add_epi64(acc[p][v], _mm256_load_si256(o + v)) : acc[p][v];
        _mm256_store_si256(o + v, reduce_vec2(x, vm));
      }
    }
  }
}

// Packs one squared tile with AVX2: (a^2, 2ac, c^2) mod q, all products exact (< 2^63).
K2 inline void square_tile_avx2(const u64* x0, const u64* x1, u64* b, const VecMod2& vm) {
  for (std::size_t h = 0; h < kTile; h += 4) {
    const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(x0 + h));
    const __m256i c = _mm256_load_si256(reinterpret_cast<const __m256i*>(x1 + h));
    const __m256i ac = _mm256_mul_epu32(a, c);
    _mm256_store_si256(reinterpret_cast<__m256i*>(b + h), reduce_vec2(_mm256_mul_epu32(a, a), vm));
    _mm256_store_si256(reinterpret_cast<__m256i*>(b + kTile + h), reduce_vec2(_mm256_add_epi64(ac, ac), vm));
    _mm256_store_si256(reinterpret_cast<__m256i*>(b + 2 * kTile + h), reduce_vec2(_mm256_mul_epu32(c, c), vm));
  }
}

#pragma GCC diagnostic pop
#undef KI
#undef K2
#endif  // HEAL_X86_KERNELS


using MicroFn = void (*)(const u64*, const std::int32_t*, std::size_t, const u64*, std::size_t, std::size_t, std::size_t,
                         const math::Modulus&, u64* const*);

#if HEAL_X86_KERNELS
// Non-template entry points of the vector micro-kernels (P polys, R rows, accumulate or not).
#define HEAL_MICRO_ARGS                                                                                \
  const u64 *buf, const std::int32_t *cols, std::size_t K, const u64 *w, std::size_t G, std::size_t j0, \
      std::size_t chunk, const math::Modulus &q, u64 *const *outp
#define HEAL_MICRO_WRAP(ATTR, KER, P, R, ACC) \
  ATTR void KER##_##P##_##R##_##ACC(HEAL_MICRO_ARGS) { KER<P, R, ACC != 0>(buf, cols, K, w, G, j0, chunk, q, outp); }
#define HEAL_MICRO_ROWS(ATTR, KER, P, ACC) \
  HEAL_MICRO_WRAP(ATTR, KER, P, 1, ACC)    \
  HEAL_MICRO_WRAP(ATTR, KER, P, 2, ACC)    \
  HEAL_MICRO_WRAP(ATTR, KER, P, 3, ACC)    \
  HEAL_MICRO_WRAP(ATTR, KER, P, 4, ACC)
HEAL_MICRO_ROWS(HEAL_TARGET_IFMA, micro_ifma, 2, 0)
HEAL_MICRO_ROWS(HEAL_TARGET_IFMA, micro_ifma, 2, 1)
HEAL_MICRO_ROWS(HEAL_TARGET_IFMA, micro_ifma, 3, 0)
HEAL_MICRO_ROWS(HEAL_TARGET_IFMA, micro_ifma, 3, 1)
HEAL_MICRO_ROWS(HEAL_TARGET_AVX2, micro_avx2, 2, 0)
HEAL_MICRO_ROWS(HEAL_TARGET_AVX2, micro_avx2, 2, 1)
HEAL_MICRO_ROWS(HEAL_TARGET_AVX2, micro_avx2, 3, 0)
HEAL_MICRO_ROWS(HEAL_TARGET_AVX2, micro_avx2, 3, 1)
#undef HEAL_MICRO_ROWS
#undef HEAL_MICRO_WRAP
#undef HEAL_MICRO_ARGS

// [P - 2][Acc][R]
constexpr MicroFn kIfmaFns[2][2][kRows + 1] = {
    {{nullptr, micro_ifma_2_1_0, micro_ifma_2_2_0, micro_ifma_2_3_0, micro_ifma_2_4_0},
     {nullptr, micro_ifma_2_1_1, micro_ifma_2_2_1, micro_ifma_2_3_1, micro_ifma_2_4_1}},
    {{nullptr, micro_ifma_3_1_0, micro_ifma_3_2_0, micro_ifma_3_3_0, micro_ifma_3_4_0},
     {nullptr, micro_ifma_3_1_1, micro_ifma_3_2_1, micro_ifma_3_3_1, micro_ifma_3_4_1}}};
constexpr MicroFn kAvx2Fns[2][2][kRows + 1] = {
    {{nullptr, micro_avx2_2_1_0, micro_avx2_2_2_0, micro_avx2_2_3_0, micro_avx2_2_4_0},
     {nullptr, micro_avx2_2_1_1, micro_avx2_2_2_1, micro_avx2_2_3_1, micro_avx2_2_4_1}},
    {{nullptr, micro_avx2_3_1_0, micro_avx2_3_2_0, micro_avx2_3_3_0, micro_avx2_3_4_0},
     {nullptr, micro_avx2_3_1_1, micro_avx2_3_2_1, micro_avx2_3_3_1, micro_avx2_3_4_1}}};
#endif

template <std::size_t P, bool Acc>
std::array<MicroFn, kRows + 1> micro_table(Kernel kernel) {
#if HEAL_X86_KERNELS
  const MicroFn* fns = kernel == Kernel::kIfma ? kIfmaFns[P - 2][Acc] : kernel == Kernel::kAvx2 ? kAvx2Fns[P - 2][Acc] : nullptr;
  if (fns) return {nullptr, fns[1], fns[2], fns[3], fns[4]};
#else
  (void)kernel;
#endif
  return {nullptr, &micro_scalar<P, 1, Acc>, &micro_scalar<P, 2, Acc>, &micro_scalar<P, 3, Acc>, &micro_scalar<P, 4, Acc>};
}

#if HEAL_X86_KERNELS
HEAL_TARGET_IFMA void pack_squared_ifma(std::span<const ckks::Ciphertext> in, std::size_t l, std::size_t cb, std::size_t P,
                                        const math::Modulus& q, u64* buf) {
  const VecMod vm = make_vecmod(q);
  for (std::size_t k = 0; k < in.size(); ++k) square_tile_ifma(in[k][0].limb(l) + cb, in[k][1].limb(l) + cb, buf + k * P * kTile, vm);
}
HEAL_TARGET_AVX2 void pack_squared_avx2(std::span<const ckks::Ciphertext> in, std::size_t l, std::size_t cb, std::size_t P,
                                        const math::Modulus& q, u64* buf) {
  const VecMod2 vm = make_vecmod2(q);
  for (std::size_t k = 0; k < in.size(); ++k) square_tile_avx2(in[k][0].limb(l) + cb, in[k][1].limb(l) + cb, buf + k * P * kTile, vm);
}
#endif

// Packs tile [cb, cb + kTile) of limb l of every input into buf[k][p][t] (squared when P == 3 from 2 polys).
void pack_tile(std::span<const ckks::Ciphertext> in, std::size_t l, std::size_t cb, bool square, std::size_t P,
               const math::Modulus& q, Kernel kernel, u64* buf) {
#if HEAL_X86_KERNELS
  if (square && kernel == Kernel::kIfma) {
    pack_squared_ifma(in, l, cb, P, q, buf);
    return;
  }
  if (square && kernel == Kernel::kAvx2) {
    pack_squared_avx2(in, l, cb, P, q, buf);
    return;
  }
#else
  (void)kernel;
#endif
  for (std::size_t k = 0; k < in.size(); ++k) {
    u64* b = buf + k * P * kTile;
    if (square) {
      const u64 *x0 = in[k][0].limb(l) + cb, *x1 = in[k][1].limb(l) + cb;
      for (std::size_t t = 0; t < kTile; ++t) {
        const u64 a = x0[t], c = x1[t];  // < q < 2^31: products fit 62 bits, 2ac fits 63
        b[t] = q.reduce(a * a);
        b[kTile + t] = q.reduce(2 * a * c);
        b[2 * kTile + t] = q.reduce(c * c);
      }
    } else {
      for (std::size_t p = 0; p < P; ++p) std::copy_n(in[k][p].limb(l) + cb, kTile, b + p * kTile);
    }
  }
}

// Pre-faults the pages of freshly allocated output polynomials in one madvise call each
// (MADV_POPULATE_WRITE, Linux >= 5.14) instead of one page fault per 4 KiB page on first store:
// the conv stage writes > 1 GiB of new memory per batch and on this (paravirtualised) VM the
// page-fault path cost more than the arithmetic. Best effort: ignored where unsupported.
void prefault(std::vector<ckks::Ciphertext>& out, int threads) {
#if defined(MADV_POPULATE_WRITE)
  parallel_for(out.size(), threads, [&](std::size_t b, std::size_t e) {
    const auto page = static_cast<std::uintptr_t>(4096);
    for (std::size_t j = b; j < e; ++j)
      for (std::size_t p = 0; p < out[j].size(); ++p) {
        auto& poly = out[j][p];
        const auto lo = reinterpret_cast<std::uintptr_t>(poly.data());
        const auto hi = lo + poly.num_limbs() * poly.n() * sizeof(u64);
        const std::uintptr_t a = (lo + page - 1) & ~(page - 1), z = hi & ~(page - 1);
        if (z > a) (void)madvise(reinterpret_cast<void*>(a), z - a, MADV_POPULATE_WRITE);
      }
  });
#else
  (void)out;
  (void)threads;
#endif
}

// Checks the inputs of a MAC stage; returns the number of polynomials of its outputs.
std::size_t check_mac_inputs(const MacStage& st, std::span<const ckks::Ciphertext> in, bool square_inputs) {
  HEAL_REQUIRE(static_cast<int>(in.size()) == st.in_dim && !in.empty(),
               "sparse_mac: expected " << st.in_dim << " ciphertexts, got " << in.size());
  const std::size_t npi = in[0].size(), limbs = in[0].level() + 1, n = in[0].n();
  HEAL_REQUIRE(npi == 2 || (npi == 3 && !square_inputs),
               "sparse_mac: ciphertexts must have 2 polynomials (or 3 without square_inputs), got " << npi);
  HEAL_REQUIRE(st.level + 1 == limbs, "sparse_mac: weights encoded for level " << st.level << ", ciphertexts at level " << limbs - 1);
  for (const auto& c : in)
    HEAL_REQUIRE(c.size() == npi && c.level() + 1 == limbs, "sparse_mac: inputs must share level and size");
  HEAL_REQUIRE(n % kTile == 0, "sparse_mac: ring degree must be a multiple of " << kTile);
  return square_inputs ? 3 : npi;
}

// out[r] = (accumulate ? out[r] : 0) + sum_k w[r,k] in[col(r,k)] for the rows of st's groups; the
// inputs were checked by the caller (check_mac_inputs, which gave the P output polynomials).
void run_mac(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in, std::vector<ckks::Ciphertext>& out,
             int threads, bool square_inputs, bool accumulate, std::size_t P) {
  const std::size_t limbs = in[0].level() + 1, n = in[0].n();
  std::vector<std::size_t> chunk(limbs);
  // IFMA needs (q-1)^2 < 2^52; AVX2 needs q < 2^31 (32-bit multiplies, required below anyway) and
  // primes >= 2^19 (its reduction's quotient estimate).
  Kernel kernel = math::simd_ifma() ? Kernel::kIfma : math::simd_level() >= math::SimdLevel::kAvx2 ? Kernel::kAvx2 : Kernel::kScalar;
  for (std::size_t l = 0; l < limbs; ++l) {
    const u64 qv = ctx.q(l).value(), qm1 = qv - 1;
    HEAL_REQUIRE(qv < (u64{1} << 31), "sparse_mac: batch kernels need Q primes below 2^31 (plan with max_scale_bits <= 30)");
    chunk[l] = static_cast<std::size_t>((~u64{0} - qm1) / (qm1 * qm1));  // chunk*(q-1)^2 + (q-1) < 2^64
    if (kernel == Kernel::kIfma && qv > (u64{1} << 26)) kernel = Kernel::kAvx2;
    if (qv < (u64{1} << 19)) kernel = Kernel::kScalar;
  }
  const auto table = accumulate ? (P == 2 ? micro_table<2, true>(kernel) : micro_table<3, true>(kernel))
                                : (P == 2 ? micro_table<2, false>(kernel) : micro_table<3, false>(kernel));
  const std::size_t tiles = n / kTile;
  // S consecutive tiles are packed together (<= ~768 KiB, L2) so that each output row is written
  // S * 128 contiguous bytes per visit (fewer TLB misses on the thousands of output polynomials).
  const std::size_t tile_bytes = in.size() * P * kTile * sizeof(u64);
  std::size_t S = 1;
  while (S < 8 && 2 * S * tile_bytes <= (std::size_t{768} << 10)) S *= 2;
  parallel_for(tiles, threads, [&](std::size_t t0, std::size_t t1) {
    // 64-byte aligned packed tiles: S x in_dim x P x kTile words.
    std::vector<u64> storage(S * in.size() * P * kTile + 8);
    u64* buf = storage.data();
    while (reinterpret_cast<std::uintptr_t>(buf) % 64) ++buf;
    const std::size_t stride = in.size() * P * kTile;
    std::vector<u64*> outp(kRows * P);
    for (std::size_t l = 0; l < limbs; ++l) {
      const math::Modulus& q = ctx.q(l);
      for (std::size_t tile = t0; tile < t1; tile += S) {
        const std::size_t s_n = std::min(S, t1 - tile);
        for (std::size_t s = 0; s < s_n; ++s) pack_tile(in, l, (tile + s) * kTile, square_inputs, P, q, kernel, buf + s * stride);
        for (const auto& grp : st.groups) {
          const std::size_t G = grp.rows.size(), K = grp.cols.size();
          const u64* w = grp.w[l].data();
          for (std::size_t j0 = 0; j0 < G; j0 += kRows) {
            const std::size_t R = std::min(kRows, G - j0);
            for (std::size_t s = 0; s < s_n; ++s) {
              const std::size_t cb = (tile + s) * kTile;
              for (std::size_t r = 0; r < R; ++r)
                for (std::size_t p = 0; p < P; ++p) outp[r * P + p] = out[static_cast<std::size_t>(grp.rows[j0 + r])][p].limb(l) + cb;
              table[R](buf + s * stride, grp.cols.data(), K, w, G, j0, chunk[l], q, outp.data());
            }
          }
        }
      }
    }
#if HEAL_X86_KERNELS
    if (kernel == Kernel::kIfma) _mm_sfence();  // make the streamed output stores visible before the threads join
#endif
  });
}

// Scale of a stage's outputs: the inputs' (squared) scale times q_level (weights are round(w q_level)).
double output_scale(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in, bool square_inputs) {
  const double in_scale = square_inputs ? in[0].scale() * in[0].scale() : in[0].scale();
  return in_scale * static_cast<double>(ctx.q(st.level).value());
}

// An output ciphertext of the stage (P polynomials at the inputs' level, the products' scale),
// its words not yet written.
ckks::Ciphertext new_output(std::span<const ckks::Ciphertext> in, std::size_t P, double scale) {
  std::vector<math::RnsPoly> polys;
  for (std::size_t p = 0; p < P; ++p) polys.push_back(math::RnsPoly::uninitialized(in[0].n(), in[0].level() + 1, true));
  return ckks::Ciphertext(std::move(polys), scale, in[0].slots());
}

void set_zero(ckks::Ciphertext& c) {
  for (std::size_t p = 0; p < c.size(); ++p) c[p].set_zero();
}

// st.out_dim output ciphertexts, pre-faulted.
std::vector<ckks::Ciphertext> new_outputs(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in,
                                          std::size_t P, bool square_inputs, int threads) {
  const double scale = output_scale(ctx, st, in, square_inputs);
  std::vector<ckks::Ciphertext> out(static_cast<std::size_t>(st.out_dim));
  for (auto& o : out) o = new_output(in, P, scale);
  prefault(out, threads);
  return out;
}

}  // namespace

std::vector<ckks::Ciphertext> sparse_mac(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in, int threads,
                                         bool square_inputs) {
  const std::size_t P = check_mac_inputs(st, in, square_inputs);
  std::vector<ckks::Ciphertext> out = new_outputs(ctx, st, in, P, square_inputs, threads);
  run_mac(ctx, st, in, out, threads, square_inputs, /*accumulate=*/false, P);
  return out;
}

ckks::Ciphertext zero_accumulator(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in,
                                  bool square_inputs) {
  ckks::Ciphertext c = new_output(in, check_mac_inputs(st, in, square_inputs), output_scale(ctx, st, in, square_inputs));
  set_zero(c);
  return c;
}

void sparse_mac_accumulate(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in,
                           std::vector<ckks::Ciphertext>& out, int threads, bool square_inputs) {
  const std::size_t P = check_mac_inputs(st, in, square_inputs);
  if (out.empty()) out.resize(static_cast<std::size_t>(st.out_dim));
  HEAL_REQUIRE(out.size() == static_cast<std::size_t>(st.out_dim), "sparse_mac_accumulate: expected " << st.out_dim << " outputs");
  const double out_scale = output_scale(ctx, st, in, square_inputs);
  std::vector<std::int32_t> fresh;  // rows this call creates (zero)
  for (const auto& grp : st.groups) {
    for (const auto r : grp.rows) {
      auto& o = out[static_cast<std::size_t>(r)];
      if (o.size() == 0) {
        o = new_output(in, P, out_scale);
        fresh.push_back(r);
        continue;
      }
      HEAL_REQUIRE(o.size() == P && o.level() == st.level && o.n() == in[0].n(),
                   "sparse_mac_accumulate: output " << r << " has the wrong size or level");
      HEAL_REQUIRE(std::fabs(o.scale() / out_scale - 1.0) < 1e-9, "sparse_mac_accumulate: output " << r << " has another scale");
    }
  }
  // Zeroing in parallel also faults the new pages in.
  parallel_for(fresh.size(), threads, [&](std::size_t b, std::size_t e) {
    for (std::size_t j = b; j < e; ++j) set_zero(out[static_cast<std::size_t>(fresh[j])]);
  });
  run_mac(ctx, st, in, out, threads, square_inputs, /*accumulate=*/true, P);
}

}  // namespace heal::he_infer::detail
