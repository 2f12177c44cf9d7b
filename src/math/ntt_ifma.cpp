// AVX-512 IFMA negacyclic NTT (see ntt_ifma.h). Stages with butterfly distance >= 16 run on whole
// vectors with a broadcast twiddle; the four stages with distance 8, 4, 2, 1 are fused per block
// of 16 words, with lane permutations (vpermt2q) instead of memory passes.
#include "ntt_ifma.h"

#if defined(__x86_64__) && defined(__GNUC__)

#pragma GCC push_options
#pragma GCC target("avx512f,avx512ifma,avx512vl,avx512dq,avx512bw")
// GCC 12 flags the deliberately undefined source operand inside some AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <array>

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

inline V load(const u64* p) { return _mm512_loadu_si512(reinterpret_cast<const void*>(p)); }
inline void store(u64* p, V v) { _mm512_storeu_si512(reinterpret_cast<void*>(p), v); }
inline V idx(const std::array<long long, 8>& a) { return _mm512_loadu_si512(reinterpret_cast<const void*>(a.data())); }

// x mod^- m: x - m if x >= m else x (x < 2m).
inline V reduce_once(V x, V m) { return _mm512_min_epu64(x, _mm512_sub_epi64(x, m)); }

// y * w mod q in [0, 2q) for y < 2^52, w < q, wp = floor(w 2^52 / q).
inline V mul_shoup52(V y, V w, V wp, V negq, V mask) {
  const V z = _mm512_setzero_si512();
  const V qe = _mm512_madd52hi_epu64(z, y, wp);
  V t = _mm512_madd52lo_epu64(z, y, w);
  t = _mm512_madd52lo_epu64(t, qe, negq);
  return _mm512_and_si512(t, mask);
}

// 64-bit Shoup: y * w - floor(y * wp / 2^64) * q in [0, 2q) for any y, w < q, wp = floor(w 2^64 / q).
inline V mul_hi64(V a, V b) {
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
  explicit Consts(u64 qv)
      : q(_mm512_set1_epi64(static_cast<long long>(qv))),
        two_q(_mm512_set1_epi64(static_cast<long long>(2 * qv))),
        negq(_mm512_set1_epi64(static_cast<long long>((u64{1} << 52) - qv))),
        mask(_mm512_set1_epi64(static_cast<long long>((u64{1} << 52) - 1))) {}
};

struct Ifma52 {
  static V mul(V y, V w, V wp, const Consts& c) { return mul_shoup52(y, w, wp, c.negq, c.mask); }
};
struct Avx64 {
  static V mul(V y, V w, V wp, const Consts& c) {
    return _mm512_sub_epi64(_mm512_mullo_epi64(y, w), _mm512_mullo_epi64(mul_hi64(y, wp), c.q));
  }
};

template <class M>
inline void ct_butterfly(V& x, V& y, V w, V wp, const Consts& c) {
  x = reduce_once(x, c.two_q);
  const V t = M::mul(y, w, wp, c);
  y = _mm512_add_epi64(_mm512_sub_epi64(x, t), c.two_q);
  x = _mm512_add_epi64(x, t);
}

template <class M>
inline void gs_butterfly(V& x, V& y, V w, V wp, const Consts& c) {
  const V s = reduce_once(_mm512_add_epi64(x, y), c.two_q);
  const V d = _mm512_add_epi64(_mm512_sub_epi64(x, y), c.two_q);
  x = s;
  y = M::mul(d, w, wp, c);
}

template <class M>
void forward(u64* a, const NttTables& t, bool reduce, const u64* ws) {
  const std::size_t n = t.n();
  const Consts c(t.modulus().value());
  const u64* w = t.roots();
  std::size_t m = 1, gap = n >> 1;
  for (; gap >= 16; m <<= 1, gap >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const V W = _mm512_set1_epi64(static_cast<long long>(w[m + i]));
      const V Wp = _mm512_set1_epi64(static_cast<long long>(ws[m + i]));
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; j += 8) {
        V X = load(x + j), Y = load(y + j);
        ct_butterfly<M>(X, Y, W, Wp, c);
        store(x + j, X);
        store(y + j, Y);
      }
    }
  }
  // Fused distances 8, 4, 2, 1 (m = n/16, n/8, n/4, n/2) per 16-word block.
  const Perms& P = perms();
  const V px[3] = {idx(P.x[0]), idx(P.x[1]), idx(P.x[2])};
  const V py[3] = {idx(P.y[0]), idx(P.y[1]), idx(P.y[2])};
  const V pb0[3] = {idx(P.back0[0]), idx(P.back0[1]), idx(P.back0[2])};
  const V pb1[3] = {idx(P.back1[0]), idx(P.back1[1]), idx(P.back1[2])};
  const V pw[3] = {idx(P.wsel[0]), idx(P.wsel[1]), idx(P.wsel[2])};
  const std::size_t blocks = n / 16;
  const std::size_t m8 = n / 16;
  for (std::size_t b = 0; b < blocks; ++b) {
    u64* base = a + 16 * b;
    V X = load(base), Y = load(base + 8);
    ct_butterfly<M>(X, Y, _mm512_set1_epi64(static_cast<long long>(w[m8 + b])),
                 _mm512_set1_epi64(static_cast<long long>(ws[m8 + b])), c);
    // X, Y now hold words 0..7 and 8..15 of the block.
    V v0 = X, v1 = Y;
    std::size_t mk = 2 * m8;
    for (int k = 0; k < 3; ++k, mk <<= 1) {
      const std::size_t groups = std::size_t{2} << k;  // groups of this stage inside the block
      const std::size_t i0 = b * groups;
      V x = _mm512_permutex2var_epi64(v0, px[k], v1);
      V y = _mm512_permutex2var_epi64(v0, py[k], v1);
      const V W = _mm512_permutexvar_epi64(pw[k], load(w + mk + i0));
      const V Wp = _mm512_permutexvar_epi64(pw[k], load(ws + mk + i0));
      ct_butterfly<M>(x, y, W, Wp, c);
      v0 = _mm512_permutex2var_epi64(x, pb0[k], y);
      v1 = _mm512_permutex2var_epi64(x, pb1[k], y);
    }
    if (reduce) {
      v0 = reduce_once(reduce_once(v0, c.two_q), c.q);
      v1 = reduce_once(reduce_once(v1, c.two_q), c.q);
    }
    store(base, v0);
    store(base + 8, v1);
  }
}

template <class M>
void inverse(u64* a, const NttTables& t, const u64* ws, u64 nip_v, u64 niwp_v) {
  const std::size_t n = t.n();
  const Consts c(t.modulus().value());
  const u64* w = t.inv_roots();
  const Perms& P = perms();
  // Stage offsets in the inverse table: h = n/2 at 0, n/4 at n/2, n/8 at 3n/4, n/16 at 7n/8.
  const std::size_t off[4] = {0, n / 2, n / 2 + n / 4, n / 2 + n / 4 + n / 8};
  const std::size_t blocks = n / 16;
  for (std::size_t b = 0; b < blocks; ++b) {
    u64* base = a + 16 * b;
    V v0 = load(base), v1 = load(base + 8);
    for (int s = 0; s < 3; ++s) {  // distances 1, 2, 4 -> perm index 2, 1, 0
      const int k = 2 - s;
      const std::size_t groups = std::size_t{8} >> s;
      const std::size_t i0 = b * groups;
      V x = _mm512_permutex2var_epi64(v0, idx(P.x[k]), v1);
      V y = _mm512_permutex2var_epi64(v0, idx(P.y[k]), v1);
      const V W = _mm512_permutexvar_epi64(idx(P.wsel[k]), load(w + off[s] + i0));
      const V Wp = _mm512_permutexvar_epi64(idx(P.wsel[k]), load(ws + off[s] + i0));
      gs_butterfly<M>(x, y, W, Wp, c);
      v0 = _mm512_permutex2var_epi64(x, idx(P.back0[k]), y);
      v1 = _mm512_permutex2var_epi64(x, idx(P.back1[k]), y);
    }
    // distance 8: one group per block.
    gs_butterfly<M>(v0, v1, _mm512_set1_epi64(static_cast<long long>(w[off[3] + b])),
                 _mm512_set1_epi64(static_cast<long long>(ws[off[3] + b])), c);
    store(base, v0);
    store(base + 8, v1);
  }
  std::size_t k = off[3] + n / 16;
  std::size_t gap = 16;
  for (std::size_t h = n / 32; h > 1; h >>= 1, gap <<= 1) {
    for (std::size_t i = 0; i < h; ++i, ++k) {
      const V W = _mm512_set1_epi64(static_cast<long long>(w[k]));
      const V Wp = _mm512_set1_epi64(static_cast<long long>(ws[k]));
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; j += 8) {
        V X = load(x + j), Y = load(y + j);
        gs_butterfly<M>(X, Y, W, Wp, c);
        store(x + j, X);
        store(y + j, Y);
      }
    }
  }
  // Last stage (distance n/2) with n^-1 folded in, fully reduced.
  const V ni = _mm512_set1_epi64(static_cast<long long>(t.n_inv().value));
  const V nip = _mm512_set1_epi64(static_cast<long long>(nip_v));
  const V niw = _mm512_set1_epi64(static_cast<long long>(t.n_inv_w().value));
  const V niwp = _mm512_set1_epi64(static_cast<long long>(niwp_v));
  u64* x = a;
  u64* y = a + n / 2;
  for (std::size_t j = 0; j < n / 2; j += 8) {
    const V X = load(x + j), Y = load(y + j);
    const V s = reduce_once(_mm512_add_epi64(X, Y), c.two_q);
    const V d = _mm512_add_epi64(_mm512_sub_epi64(X, Y), c.two_q);
    store(x + j, reduce_once(M::mul(s, ni, nip, c), c.q));
    store(y + j, reduce_once(M::mul(d, niw, niwp, c), c.q));
  }
}

}  // namespace

void ntt_forward_simd(u64* a, const NttTables& t, bool reduce) {
  if (t.simd() == NttTables::Simd::kIfma52) {
    forward<Ifma52>(a, t, reduce, t.roots_shoup52());
  } else {
    forward<Avx64>(a, t, reduce, t.roots_shoup());
  }
}

void ntt_inverse_simd(u64* a, const NttTables& t) {
  if (t.simd() == NttTables::Simd::kIfma52) {
    inverse<Ifma52>(a, t, t.inv_roots_shoup52(), t.n_inv_shoup52(), t.n_inv_w_shoup52());
  } else {
    inverse<Avx64>(a, t, t.inv_roots_shoup(), t.n_inv().shoup, t.n_inv_w().shoup);
  }
}

}  // namespace heal::math

#pragma GCC diagnostic pop
#pragma GCC pop_options

#else

namespace heal::math {
void ntt_forward_simd(u64*, const NttTables&, bool) {}
void ntt_inverse_simd(u64*, const NttTables&) {}
}  // namespace heal::math

#endif
