// AVX2 negacyclic NTT for primes q < 2^50 (see ntt_simd.h), on 4 lanes of doubles.
//
// Residues in [0, q) are exact in a double (q < 2^50 < 2^53). For y, w in [0, q), the product
// P = y*w < 2^100 is split exactly into h + l with h = fl(y*w) and l = fma(y, w, -h) (the error
// of a floating-point product is representable: Dekker 1971; Ogita-Rump-Oishi 2005). The quotient
// is estimated as e = round(fl(h * fl(1/q))): fl(h * fl(1/q)) has relative error below
// 3.01 * 2^-53 and P/q < 2^50, so it is within 0.38 of P/q and |P/q - e| < 0.88. Then h - e*q is an
// integer of magnitude < q + 2^47 < 2^53, so one fused multiply-add forms it exactly, and adding l
// (also exact: the sum P - e*q lies in (-q, q)) gives the remainder, moved into [0, q) by one
// conditional addition of q. Every butterfly keeps its outputs in [0, q), so the result equals the
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

// Twiddles for the distance-2 stage: [w_i, w_i, w_{i+1}, w_{i+1}].
K inline D w_gap2(const double* w) { return _mm256_permute4x64_pd(_mm256_castpd128_pd256(_mm_loadu_pd(w)), 0x50); }
// Distance 1: the lanes of unpacklo(v0, v1) are the groups i, i+2, i+1, i+3.
K inline D w_gap1(const double* w) { return _mm256_permute4x64_pd(_mm256_loadu_pd(w), 0xD8); }

}  // namespace

// The forward transform of a in place. from_int: a holds words in [0, 4q) (converted while the
// first stage loads them), else doubles in [0, q). to_int: the last stage stores words in [0, q),
// else doubles. Always inlined into the entry points below, where the flags are constants.
K __attribute__((always_inline)) inline void forward_body(u64* a, const NttTables& t, const Fp& c, bool from_int,
                                                          bool to_int) {
  const std::size_t n = t.n();
  const double* w = t.roots_fp();
  std::size_t m = 1, gap = n >> 1;
  for (; gap >= 4; m <<= 1, gap >>= 1) {
    const bool convert = from_int && m == 1;
    for (std::size_t i = 0; i < m; ++i) {
      const D W = _mm256_set1_pd(w[m + i]);
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; j += 4) {
        D X = convert ? to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(x + j)), c) : ld(x + j);
        D Y = convert ? to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(y + j)), c) : ld(y + j);
        ct(X, Y, W, c);
        st(x + j, X);
        st(y + j, Y);
      }
    }
  }
  // Distances 2 and 1 (m = n/4, n/2), fused per block of 8 words.
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
    if (to_int) {
      _mm256_storeu_si256(reinterpret_cast<I*>(base), to_int_(_mm256_unpacklo_pd(x, y), c));
      _mm256_storeu_si256(reinterpret_cast<I*>(base + 4), to_int_(_mm256_unpackhi_pd(x, y), c));
    } else {
      st(base, _mm256_unpacklo_pd(x, y));
      st(base + 4, _mm256_unpackhi_pd(x, y));
    }
  }
}

K void ntt_forward_avx2(u64* a, const NttTables& t) { forward_body(a, t, make_fp(t.modulus().value()), true, true); }

K void rescale_limb_avx2(u64* x, const u64* last, u64 half_mod, u64 ql_inv, const NttTables& t, u64* scratch) {
  const std::size_t n = t.n();
  const Fp c = make_fp(t.modulus().value());
  const D h = _mm256_set1_pd(static_cast<double>(half_mod)), inv = _mm256_set1_pd(static_cast<double>(ql_inv));
  // scratch = (last - floor(q_l / 2)) mod q, as doubles; last < q_l < 2^50 is exact.
  for (std::size_t j = 0; j < n; j += 4) {
    const D v = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const I*>(last + j)), c.magic_bits)), c.magic);
    st(scratch + j, sub_mod(reduce_fp(v, c), h, c));
  }
  forward_body(scratch, t, c, false, false);
  // x = (x - scratch) * q_l^-1 mod q.
  for (std::size_t j = 0; j < n; j += 4) {
    const D xv = to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(x + j)), c);
    _mm256_storeu_si256(reinterpret_cast<I*>(x + j), to_int_(mul_mod(sub_mod(xv, ld(scratch + j), c), inv, c), c));
  }
}

K void ntt_inverse_avx2(u64* a, const NttTables& t) {
  const std::size_t n = t.n();
  const Fp c = make_fp(t.modulus().value());
  const double* w = t.inv_roots_fp();
  // Distances 1 and 2 (h = n/2 at offset 0, h = n/4 at offset n/2), fused per block of 8 words
  // whose words (in [0, 2q)) are converted as they are loaded.
  const std::size_t off2 = n / 2;
  for (std::size_t b = 0; b < n / 8; ++b) {
    u64* base = a + 8 * b;
    D v0 = to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(base)), c);
    D v1 = to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(base + 4)), c);
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
    _mm256_storeu_si256(reinterpret_cast<I*>(x + j), to_int_(mul_mod(add_mod(X, Y, c), ni, c), c));
    _mm256_storeu_si256(reinterpret_cast<I*>(y + j), to_int_(mul_mod(sub_mod(X, Y, c), niw, c), c));
  }
}

}  // namespace heal::math::detail

#undef K

#endif  // HEAL_X86_KERNELS
