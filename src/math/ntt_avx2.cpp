// AVX2 negacyclic NTT for primes q < 2^50 (see ntt_simd.h), on 4 lanes of doubles.
//
// Residues in [0, q) are exact in a double (q < 2^50 < 2^53). For y, w in [0, q), the product
// P = y*w < 2^100 is split exactly into h + l with h = fl(y*w) and l = fma(y, w, -h) (the error
// of a floating-point product is representable: Dekker 1971; Ogita-Rump-Oishi 2005). The quotient
// is estimated as e = floor(fl(h * fl(1/q))); its relative error is below 3.01 * 2^-53 and
// P/q < 2^50, so e is floor(P/q) - 1, floor(P/q) or floor(P/q) + 1. Then h - e*q is an integer of
// magnitude < 2q + 2^47 < 2^53, so one fused multiply-add forms it exactly, and adding l (also
// exact: the sum P - e*q lies in [-q, 2q)) gives the remainder, corrected into [0, q) with two
// conditional additions. Every butterfly keeps its outputs in [0, q), so the result equals the
// scalar transform's fully reduced output word for word.
#include "ntt_simd.h"

#if HEAL_X86_KERNELS

#include "avx2_fp.h"

#define K HEAL_TARGET_AVX2

namespace heal::math::detail {
namespace {

using namespace avx2fp;  // NOLINT(google-build-using-namespace): internal kernel helpers

K inline void ct(D& x, D& y, D w, const Fp& c) {
  const D t = mul_mod(y, w, c);
  y = sub_mod(x, t, c);
  x = add_mod(x, t, c);
}
K inline void gs(D& x, D& y, D w, const Fp& c) {
  const D s = add_mod(x, y, c);
  y = mul_mod(sub_mod(x, y, c), w, c);
  x = s;
}

K inline D ld(const u64* p) { return _mm256_loadu_pd(reinterpret_cast<const double*>(p)); }
K inline void st(u64* p, D v) { _mm256_storeu_pd(reinterpret_cast<double*>(p), v); }

// In place: words in [0, 4q) -> doubles in [0, q), and back.
K void to_fp_all(u64* a, std::size_t n, const Fp& c) {
  for (std::size_t j = 0; j < n; j += 4) {
    st(a + j, to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(a + j)), c));
  }
}

// Twiddles for the distance-2 stage: [w_i, w_i, w_{i+1}, w_{i+1}].
K inline D w_gap2(const double* w) { return _mm256_permute4x64_pd(_mm256_castpd128_pd256(_mm_loadu_pd(w)), 0x50); }
// Distance 1: the lanes of unpacklo(v0, v1) are the groups i, i+2, i+1, i+3.
K inline D w_gap1(const double* w) { return _mm256_permute4x64_pd(_mm256_loadu_pd(w), 0xD8); }

}  // namespace

K void ntt_forward_avx2(u64* a, const NttTables& t) {
  const std::size_t n = t.n();
  const Fp c = make_fp(t.modulus().value());
  const double* w = t.roots_fp();
  to_fp_all(a, n, c);
  std::size_t m = 1, gap = n >> 1;
  for (; gap >= 4; m <<= 1, gap >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const D W = _mm256_set1_pd(w[m + i]);
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; j += 4) {
        D X = ld(x + j), Y = ld(y + j);
        ct(X, Y, W, c);
        st(x + j, X);
        st(y + j, Y);
      }
    }
  }
  // Distances 2 and 1 (m = n/4, n/2), fused per block of 8 words, then back to integers.
  const std::size_t m2 = n / 4, m1 = n / 2;
  for (std::size_t b = 0; b < n / 8; ++b) {
    u64* base = a + 8 * b;
    D v0 = ld(base), v1 = ld(base + 4);
    D x = _mm256_permute2f128_pd(v0, v1, 0x20), y = _mm256_permute2f128_pd(v0, v1, 0x31);
    ct(x, y, w_gap2(w + m2 + 2 * b), c);
    v0 = _mm256_permute2f128_pd(x, y, 0x20);
    v1 = _mm256_permute2f128_pd(x, y, 0x31);
    x = _mm256_unpacklo_pd(v0, v1);
    y = _mm256_unpackhi_pd(v0, v1);
    ct(x, y, w_gap1(w + m1 + 4 * b), c);
    _mm256_storeu_si256(reinterpret_cast<I*>(base), to_int(_mm256_unpacklo_pd(x, y), c));
    _mm256_storeu_si256(reinterpret_cast<I*>(base + 4), to_int(_mm256_unpackhi_pd(x, y), c));
  }
}

K void ntt_inverse_avx2(u64* a, const NttTables& t) {
  const std::size_t n = t.n();
  const Fp c = make_fp(t.modulus().value());
  const double* w = t.inv_roots_fp();
  to_fp_all(a, n, c);
  // Distances 1 and 2 (h = n/2 at offset 0, h = n/4 at offset n/2), fused per block of 8 words.
  const std::size_t off2 = n / 2;
  for (std::size_t b = 0; b < n / 8; ++b) {
    u64* base = a + 8 * b;
    D v0 = ld(base), v1 = ld(base + 4);
    D x = _mm256_unpacklo_pd(v0, v1), y = _mm256_unpackhi_pd(v0, v1);
    gs(x, y, w_gap1(w + 4 * b), c);
    v0 = _mm256_unpacklo_pd(x, y);
    v1 = _mm256_unpackhi_pd(x, y);
    x = _mm256_permute2f128_pd(v0, v1, 0x20);
    y = _mm256_permute2f128_pd(v0, v1, 0x31);
    gs(x, y, w_gap2(w + off2 + 2 * b), c);
    st(base, _mm256_permute2f128_pd(x, y, 0x20));
    st(base + 4, _mm256_permute2f128_pd(x, y, 0x31));
  }
  std::size_t k = n / 2 + n / 4;
  std::size_t gap = 4;
  std::size_t h = n / 8;
  for (; h > 1; h >>= 1, gap <<= 1) {
    for (std::size_t i = 0; i < h; ++i, ++k) {
      const D W = _mm256_set1_pd(w[k]);
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; j += 4) {
        D X = ld(x + j), Y = ld(y + j);
        gs(X, Y, W, c);
        st(x + j, X);
        st(y + j, Y);
      }
    }
  }
  // Last stage (distance n/2) with n^-1 folded in.
  const D ni = _mm256_set1_pd(static_cast<double>(t.n_inv().value));
  const D niw = _mm256_set1_pd(static_cast<double>(t.n_inv_w().value));
  u64* x = a;
  u64* y = a + n / 2;
  for (std::size_t j = 0; j < n / 2; j += 4) {
    const D X = ld(x + j), Y = ld(y + j);
    _mm256_storeu_si256(reinterpret_cast<I*>(x + j), to_int(mul_mod(add_mod(X, Y, c), ni, c), c));
    _mm256_storeu_si256(reinterpret_cast<I*>(y + j), to_int(mul_mod(sub_mod(X, Y, c), niw, c), c));
  }
}

}  // namespace heal::math::detail

#undef K

#endif  // HEAL_X86_KERNELS
