// AVX2 negacyclic NTT for primes 2^50 <= q < 2^60 (see ntt_simd.h), 4 lanes of 64-bit integers.
// The scalar algorithm exactly (Harvey's lazy butterflies, arXiv:1205.2926, with 64-bit Shoup
// quotients), so every intermediate word equals the scalar code's. AVX2 has no 64-bit multiply:
// the Shoup quotient floor(y w' / 2^64) is formed exactly from four 32x32-bit products (vpmuludq)
// with the carries of the middle terms, and the low words y w and Q q from three each.
#include "ntt_simd.h"

#if HEAL_X86_KERNELS

#include "avx2_x64.h"

#define K HEAL_TARGET_AVX2

namespace heal::math::detail {
namespace {

using namespace avx2x64;  // NOLINT(google-build-using-namespace): internal kernel helpers

K inline void ct(I& x, I& y, const Tw& t, const C64& c) {
  x = reduce_once(x, c.two_q);
  const I m = mul_shoup_lazy(y, t, c);
  y = _mm256_add_epi64(_mm256_sub_epi64(x, m), c.two_q);
  x = _mm256_add_epi64(x, m);
}
K inline void gs(I& x, I& y, const Tw& t, const C64& c) {
  const I s = reduce_once(_mm256_add_epi64(x, y), c.two_q);
  y = mul_shoup_lazy(_mm256_add_epi64(_mm256_sub_epi64(x, y), c.two_q), t, c);
  x = s;
}

// Per-lane twiddles of the distance-2 and distance-1 stages (see ntt_avx2.cpp for the lane order).
K inline I w_gap2(const u64* w) {
  return _mm256_permute4x64_epi64(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w))), 0x50);
}
K inline I w_gap1(const u64* w) { return _mm256_permute4x64_epi64(ld(w), 0xD8); }
K inline I lo128(I a, I b) { return _mm256_permute2x128_si256(a, b, 0x20); }
K inline I hi128(I a, I b) { return _mm256_permute2x128_si256(a, b, 0x31); }

}  // namespace

K void ntt_forward_avx2_x64(u64* a, const NttTables& t, bool reduce) {
  const std::size_t n = t.n();
  const C64 c = make_c64(t.modulus().value());
  const u64* w = t.roots();
  const u64* ws = t.roots_shoup();
  std::size_t m = 1, gap = n >> 1;
  for (; gap >= 4; m <<= 1, gap >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const Tw tw = tw_one(w[m + i], ws[m + i]);
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; j += 4) {
        I X = ld(x + j), Y = ld(y + j);
        ct(X, Y, tw, c);
        st(x + j, X);
        st(y + j, Y);
      }
    }
  }
  const std::size_t m2 = n / 4, m1 = n / 2;
  for (std::size_t b = 0; b < n / 8; ++b) {
    u64* base = a + 8 * b;
    I v0 = ld(base), v1 = ld(base + 4);
    I x = lo128(v0, v1), y = hi128(v0, v1);
    ct(x, y, tw_vec(w_gap2(w + m2 + 2 * b), w_gap2(ws + m2 + 2 * b)), c);
    v0 = lo128(x, y);
    v1 = hi128(x, y);
    x = _mm256_unpacklo_epi64(v0, v1);
    y = _mm256_unpackhi_epi64(v0, v1);
    ct(x, y, tw_vec(w_gap1(w + m1 + 4 * b), w_gap1(ws + m1 + 4 * b)), c);
    v0 = _mm256_unpacklo_epi64(x, y);
    v1 = _mm256_unpackhi_epi64(x, y);
    if (reduce) {
      v0 = reduce_once(reduce_once(v0, c.two_q), c.q);
      v1 = reduce_once(reduce_once(v1, c.two_q), c.q);
    }
    st(base, v0);
    st(base + 4, v1);
  }
}

K void ntt_inverse_avx2_x64(u64* a, const NttTables& t) {
  const std::size_t n = t.n();
  const C64 c = make_c64(t.modulus().value());
  const u64* w = t.inv_roots();
  const u64* ws = t.inv_roots_shoup();
  const std::size_t off2 = n / 2;
  for (std::size_t b = 0; b < n / 8; ++b) {
    u64* base = a + 8 * b;
    I v0 = ld(base), v1 = ld(base + 4);
    I x = _mm256_unpacklo_epi64(v0, v1), y = _mm256_unpackhi_epi64(v0, v1);
    gs(x, y, tw_vec(w_gap1(w + 4 * b), w_gap1(ws + 4 * b)), c);
    v0 = _mm256_unpacklo_epi64(x, y);
    v1 = _mm256_unpackhi_epi64(x, y);
    x = lo128(v0, v1);
    y = hi128(v0, v1);
    gs(x, y, tw_vec(w_gap2(w + off2 + 2 * b), w_gap2(ws + off2 + 2 * b)), c);
    st(base, lo128(x, y));
    st(base + 4, hi128(x, y));
  }
  std::size_t k = n / 2 + n / 4;
  std::size_t gap = 4;
  for (std::size_t h = n / 8; h > 1; h >>= 1, gap <<= 1) {
    for (std::size_t i = 0; i < h; ++i, ++k) {
      const Tw tw = tw_one(w[k], ws[k]);
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; j += 4) {
        I X = ld(x + j), Y = ld(y + j);
        gs(X, Y, tw, c);
        st(x + j, X);
        st(y + j, Y);
      }
    }
  }
  // Last stage (distance n/2) with n^-1 folded in; outputs fully reduced, as in the scalar code.
  const Tw ni = tw_one(t.n_inv().value, t.n_inv().shoup), niw = tw_one(t.n_inv_w().value, t.n_inv_w().shoup);
  u64* x = a;
  u64* y = a + n / 2;
  for (std::size_t j = 0; j < n / 2; j += 4) {
    const I X = ld(x + j), Y = ld(y + j);
    const I s = reduce_once(_mm256_add_epi64(X, Y), c.two_q);
    const I d = _mm256_add_epi64(_mm256_sub_epi64(X, Y), c.two_q);
    st(x + j, reduce_once(mul_shoup_lazy(s, ni, c), c.q));
    st(y + j, reduce_once(mul_shoup_lazy(d, niw, c), c.q));
  }
}

}  // namespace heal::math::detail

#undef K

#endif  // HEAL_X86_KERNELS
