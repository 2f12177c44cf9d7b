// AVX-512 negacyclic NTT (see ntt_simd.h). Stages with butterfly distance >= 16 run on whole
// vectors with a broadcast twiddle; the four stages with distance 8, 4, 2, 1 are fused per block
// of 16 words, with lane permutations (vpermt2q) instead of memory passes.
#include "ntt_simd.h"

#if HEAL_X86_KERNELS

#include <immintrin.h>

#include <array>

// GCC 12 flags the deliberately undefined source operand inside some AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Every function that touches a vector carries K (AVX-512 F/DQ/VL/BW) or KI (plus IFMA); nothing
// here runs unless ntt.cpp found simd_level() == kAvx512 (and simd_ifma() for the IFMA path).
#define K HEAL_TARGET_AVX512
#define KI HEAL_TARGET_IFMA

namespace heal::math {
namespace {

using V = __m512i;

struct Perms {
  // For distance g in {4, 2, 1} (index 0, 1, 2): gather X/Y lanes from a 16-word block and back.
  std::array<std::array<long long, 8>, 3> x, y, back0, back1, wsel;
  Perms() {
    const int gaps[3] = {4, 2, 1};
    for (int k = 0; k < 3; ++k) {
      const int g = gaps[k];
      for (int l = 0; l < 8; ++l) {
        x[k][l] = (l / g) * 2 * g + l % g;
        y[k][l] = x[k][l] + g;
        wsel[k][l] = l / g;
      }
      for (int p = 0; p < 16; ++p) {
        const int group = p / (2 * g), within = p % (2 * g);
        const int lane = group * g + within % g;
        const long long v = (within >= g ? 8 : 0) + lane;
        if (p < 8) back0[k][p] = v; else back1[k][p - 8] = v;
      }
    }
  }
};
const Perms& perms() {
  static const Perms p;
  return p;
}

K inline V load(const u64* p) { return _mm512_loadu_si512(reinterpret_cast<const void*>(p)); }
K inline void store(u64* p, V v) { _mm512_storeu_si512(reinterpret_cast<void*>(p), v); }
K inline V idx(const std::array<long long, 8>& a) { return _mm512_loadu_si512(reinterpret_cast<const void*>(a.data())); }

// x mod^- m: x - m if x >= m else x (x < 2m).
K inline V reduce_once(V x, V m) { return _mm512_min_epu64(x, _mm512_sub_epi64(x, m)); }

// y * w mod q in [0, 2q) for y < 2^52, w < q, wp = floor(w 2^52 / q).
KI inline V mul_shoup52(V y, V w, V wp, V negq, V mask) {
  const V z = _mm512_setzero_si512();
  const V qe = _mm512_madd52hi_epu64(z, y, wp);
  V t = _mm512_madd52lo_epu64(z, y, w);
  t = _mm512_madd52lo_epu64(t, qe, negq);
  return _mm512_and_si512(t, mask);
}

// 64-bit Shoup: y * w - floor(y * wp / 2^64) * q in [0, 2q) for any y, w < q, wp = floor(w 2^64 / q).
K inline V mul_hi64(V a, V b) {
  const V lo32 = _mm512_set1_epi64(0xffffffffLL);
  const V ah = _mm512_srli_epi64(a, 32), bh = _mm512_srli_epi64(b, 32);
  const V ll = _mm512_mul_epu32(a, b), lh = _mm512_mul_epu32(a, bh);
  const V hl = _mm512_mul_epu32(ah, b), hh = _mm512_mul_epu32(ah, bh);
  const V mid = _mm512_add_epi64(_mm512_add_epi64(_mm512_srli_epi64(ll, 32), _mm512_and_si512(lh, lo32)),
                                 _mm512_and_si512(hl, lo32));
  return _mm512_add_epi64(_mm512_add_epi64(hh, _mm512_srli_epi64(lh, 32)),
                          _mm512_add_epi64(_mm512_srli_epi64(hl, 32), _mm512_srli_epi64(mid, 32)));
}

struct Consts {
  V q, two_q, negq, mask;
};
K inline Consts make_consts(u64 qv) {
  Consts c;
  c.q = _mm512_set1_epi64(static_cast<long long>(qv));
  c.two_q = _mm512_set1_epi64(static_cast<long long>(2 * qv));
  c.negq = _mm512_set1_epi64(static_cast<long long>((u64{1} << 52) - qv));
  c.mask = _mm512_set1_epi64(static_cast<long long>((u64{1} << 52) - 1));
  return c;
}

struct Ifma52 {
  KI static V mul(V y, V w, V wp, const Consts& c) { return mul_shoup52(y, w, wp, c.negq, c.mask); }
};
struct Avx64 {
  K static V mul(V y, V w, V wp, const Consts& c) {
    return _mm512_sub_epi64(_mm512_mullo_epi64(y, w), _mm512_mullo_epi64(mul_hi64(y, wp), c.q));
  }
};

namespace ifma {
using Mul = Ifma52;
#define NTT512_TARGET KI
#include "ntt_avx512_body.inc"
#undef NTT512_TARGET
}  // namespace ifma

namespace x64 {
using Mul = Avx64;
#define NTT512_TARGET K
#include "ntt_avx512_body.inc"
#undef NTT512_TARGET
}  // namespace x64

}  // namespace

}  // namespace heal::math

namespace heal::math::detail {

void ntt_forward_avx512(u64* a, const NttTables& t, bool reduce, bool ifma) {
  if (ifma) {
    ifma::forward(a, t, reduce, t.roots_shoup52());
  } else {
    x64::forward(a, t, reduce, t.roots_shoup());
  }
}

void ntt_inverse_avx512(u64* a, const NttTables& t, bool ifma) {
  if (ifma) {
    ifma::inverse(a, t, t.inv_roots_shoup52(), t.n_inv_shoup52(), t.n_inv_w_shoup52());
  } else {
    x64::inverse(a, t, t.inv_roots_shoup(), t.n_inv().shoup, t.n_inv_w().shoup);
  }
}

}  // namespace heal::math::detail

#undef K
#undef KI
#pragma GCC diagnostic pop

#endif  // HEAL_X86_KERNELS
