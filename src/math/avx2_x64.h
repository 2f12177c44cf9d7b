// AVX2 64-bit modular arithmetic on integer lanes for primes below 2^60 (internal): Shoup
// multiplication with the 64-bit products emulated by vpmuludq, giving the scalar code's words.
// Every function carries the AVX2 target attribute and may only be called from code that checked
// simd_level() >= kAvx2.
#pragma once

#include "heal/math/modulus.h"
#include "heal/math/simd.h"

#if HEAL_X86_KERNELS
#include <immintrin.h>

namespace heal::math::detail::avx2x64 {

#define K HEAL_TARGET_AVX2

using I = __m256i;

struct C64 {
  I q, two_q, qh, m32;
};
K static inline C64 make_c64(u64 qv) {
  C64 c;
  c.q = _mm256_set1_epi64x(static_cast<long long>(qv));
  c.two_q = _mm256_set1_epi64x(static_cast<long long>(2 * qv));
  c.qh = _mm256_set1_epi64x(static_cast<long long>(qv >> 32));
  c.m32 = _mm256_set1_epi64x(0xffffffffLL);
  return c;
}

K static inline I ld(const u64* p) { return _mm256_loadu_si256(reinterpret_cast<const I*>(p)); }
K static inline void st(u64* p, I v) { _mm256_storeu_si256(reinterpret_cast<I*>(p), v); }

// x - m if x >= m else x, for x < 2^63 and m < 2^63 (signed compares are exact there).
K static inline I reduce_once(I x, I m) {
  return _mm256_sub_epi64(x, _mm256_and_si256(_mm256_cmpgt_epi64(x, _mm256_sub_epi64(m, _mm256_set1_epi64x(1))), m));
}

// Twiddle w with its Shoup quotient wp, each also split into its high 32-bit half.
struct Tw {
  I w, wh, wp, wph;
};
K static inline Tw tw_vec(I w, I wp) { return {w, _mm256_srli_epi64(w, 32), wp, _mm256_srli_epi64(wp, 32)}; }
K static inline Tw tw_one(u64 w, u64 wp) {
  return {_mm256_set1_epi64x(static_cast<long long>(w)), _mm256_set1_epi64x(static_cast<long long>(w >> 32)),
          _mm256_set1_epi64x(static_cast<long long>(wp)), _mm256_set1_epi64x(static_cast<long long>(wp >> 32))};
}

// y w - floor(y wp / 2^64) q  (mod 2^64), in [0, 2q) for y < 2^62: the scalar mul_shoup_lazy.
K static inline I mul_shoup_lazy(I y, const Tw& t, const C64& c) {
  const I yh = _mm256_srli_epi64(y, 32);
  const I ll = _mm256_mul_epu32(y, t.wp), lh = _mm256_mul_epu32(y, t.wph);
  const I hl = _mm256_mul_epu32(yh, t.wp), hh = _mm256_mul_epu32(yh, t.wph);
  const I mid = _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(ll, 32), _mm256_and_si256(lh, c.m32)),
                                 _mm256_and_si256(hl, c.m32));
  const I qt = _mm256_add_epi64(_mm256_add_epi64(hh, _mm256_srli_epi64(lh, 32)),
                                _mm256_add_epi64(_mm256_srli_epi64(hl, 32), _mm256_srli_epi64(mid, 32)));
  // Low words: y w and qt q, each y_lo z_lo + (y_hi z_lo + y_lo z_hi) 2^32.
  const I yw = _mm256_add_epi64(_mm256_mul_epu32(y, t.w),
                                _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epu32(yh, t.w), _mm256_mul_epu32(y, t.wh)), 32));
  const I qq = _mm256_add_epi64(
      _mm256_mul_epu32(qt, c.q),
      _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(qt, 32), c.q), _mm256_mul_epu32(qt, c.qh)), 32));
  return _mm256_sub_epi64(yw, qq);
}

#undef K

}  // namespace heal::math::detail::avx2x64

#endif  // HEAL_X86_KERNELS
