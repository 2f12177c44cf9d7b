// AVX2 modular arithmetic on residues held exactly in doubles, for primes q < 2^50 (internal).
// See ntt_avx2.cpp for the error analysis of mul_mod. Every function carries the AVX2 target
// attribute and may only be called from code that checked simd_level() >= kAvx2.
#pragma once

#include "heal/math/modulus.h"
#include "heal/math/simd.h"

#if HEAL_X86_KERNELS
#include <immintrin.h>

namespace heal::math::detail::avx2fp {

#define K HEAL_TARGET_AVX2

using D = __m256d;
using I = __m256i;

/// Broadcast constants of one prime.
/// (Built by make_fp: constructors cannot carry the kernels' section attribute.)
struct Fp {
  D q, inv_q, magic;
  I qi, two_qi, magic_bits;
};

K static inline Fp make_fp(u64 qv) {
  Fp c;
  c.q = _mm256_set1_pd(static_cast<double>(qv));
  c.inv_q = _mm256_set1_pd(1.0 / static_cast<double>(qv));
  c.magic = _mm256_set1_pd(4503599627370496.0);  // 2^52
  c.qi = _mm256_set1_epi64x(static_cast<long long>(qv));
  c.two_qi = _mm256_set1_epi64x(static_cast<long long>(2 * qv));
  c.magic_bits = _mm256_castpd_si256(c.magic);
  return c;
}

// x in [0, 4q) (< 2^52) as an integer -> x mod q as a double. 2^52 + x has the bits of 2^52 with
// x in the mantissa, so or-ing x into 2^52 and subtracting 2^52 converts exactly.
K static inline D to_fp(I x, const Fp& c) {
  // Signed compares are safe: every value is below 2^52.
  x = _mm256_sub_epi64(x, _mm256_and_si256(_mm256_cmpgt_epi64(x, _mm256_sub_epi64(c.two_qi, _mm256_set1_epi64x(1))), c.two_qi));
  x = _mm256_sub_epi64(x, _mm256_and_si256(_mm256_cmpgt_epi64(x, _mm256_sub_epi64(c.qi, _mm256_set1_epi64x(1))), c.qi));
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, c.magic_bits)), c.magic);
}

// An integer-valued double in [0, 2^52) -> the integer.
K static inline I to_int_(D x, const Fp& c) {
  return _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(x, c.magic)), c.magic_bits);
}

// x mod q in [0, q) for an integer-valued double 0 <= x < 2^52 (q >= 2^19): e = round(fl(x / q))
// is within 1/2 + 2^-30 of x / q, so x - e q lies in (-q, q) and one fused multiply-add forms it
// exactly; a negative remainder gets q added.
K static inline D reduce_fp(D x, const Fp& c) {
  const D e = _mm256_round_pd(_mm256_mul_pd(x, c.inv_q), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const D r = _mm256_fnmadd_pd(e, c.q, x);
  return _mm256_blendv_pd(r, _mm256_add_pd(r, c.q), r);  // sign-bit select
}

// y * w mod q in [0, q) for y, w in [0, q) (see the top of the file).
K static inline D mul_mod(D y, D w, const Fp& c) {
  const D h = _mm256_mul_pd(y, w);
  const D l = _mm256_fmsub_pd(y, w, h);
  const D e = _mm256_round_pd(_mm256_mul_pd(h, c.inv_q), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const D r = _mm256_add_pd(_mm256_fnmadd_pd(e, c.q, h), l);  // in (-q, q), exact
  return _mm256_blendv_pd(r, _mm256_add_pd(r, c.q), r);        // r < 0: + q  (sign-bit select)
}

// (x + y) mod q and (x - y) mod q for x, y in [0, q).
K static inline D add_mod(D x, D y, const Fp& c) {
  const D s = _mm256_add_pd(x, y);
  const D d = _mm256_sub_pd(s, c.q);
  return _mm256_blendv_pd(d, s, d);
}
K static inline D sub_mod(D x, D y, const Fp& c) {
  const D d = _mm256_sub_pd(x, y);
  return _mm256_blendv_pd(d, _mm256_add_pd(d, c.q), d);
}

#undef K

}  // namespace heal::math::detail::avx2fp

#endif  // HEAL_X86_KERNELS
