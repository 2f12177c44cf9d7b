#include "heal/math/base_converter.h"

#include "heal/math/ntt.h"
#include "heal/math/simd.h"

#if HEAL_X86_KERNELS
#include <immintrin.h>
#endif

namespace heal::math {

namespace {
// Branch-free r - c mod p for r, c < p: v is data-dependent (about half the digits are centered
// downwards).
inline u64 sub_mod_p(u64 r, u64 c, u64 pv) {
  const u64 d = r - c;
  return d + (pv & (u64{0} - static_cast<u64>(r < c)));
}

#if HEAL_X86_KERNELS
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// k == 1: out = (y mod p) - v * (Q mod p) for v in {0, 1}, 8 lanes. y < 2^62: the quotient y/p
// estimated in double precision is off by at most one.
HEAL_TARGET_AVX512 void exact_single_avx512(const u64* y, const u64* v, const Modulus& p, u64* out,
                                            std::size_t n, const u64* mult) {
  const u64 pv = p.value();
  const __m512i P = _mm512_set1_epi64(static_cast<long long>(pv));
  const __m512i C = _mm512_set1_epi64(static_cast<long long>(mult[1]));
  const __m512d inv = _mm512_set1_pd(1.0 / static_cast<double>(pv));
  const __m512i zero = _mm512_setzero_si512();
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m512i x = _mm512_loadu_si512(y + j);
    const __m512i qe = _mm512_cvttpd_epu64(_mm512_mul_pd(_mm512_cvtepu64_pd(x), inv));
    __m512i r = _mm512_sub_epi64(x, _mm512_mullo_epi64(qe, P));  // in (-p, 2p)
    r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, zero), r, P);
    r = _mm512_min_epu64(r, _mm512_sub_epi64(r, P));
    const __mmask8 m = _mm512_cmpneq_epu64_mask(_mm512_loadu_si512(v + j), zero);
    const __m512i d = _mm512_sub_epi64(r, C);
    const __m512i fixed = _mm512_mask_add_epi64(d, _mm512_cmplt_epu64_mask(r, C), d, P);
    _mm512_storeu_si512(out + j, _mm512_mask_mov_epi64(r, m, fixed));
  }
  for (; j < n; ++j) out[j] = sub_mod_p(p.reduce(y[j]), mult[v[j]], pv);
}
#pragma GCC diagnostic pop

// AVX2 k == 1, any primes below 2^60 (p >= 2^19): y is split into 32-bit halves whose exact
// doubles give fl(y) (relative error <= 2^-53), so e = floor(fl(y) / p) is within one of
// floor(y / p) (y / p < 2^41); y - e p is formed exactly in 64-bit lanes (three vpmuludq) and
// corrected into [0, p); then v * (Q mod p) is subtracted mod p. Same words as the scalar code.
HEAL_TARGET_AVX2 void exact_single_avx2(const u64* y, const u64* v, const Modulus& p, u64* out,
                                        std::size_t n, const u64* mult) {
  const u64 pv = p.value();
  const __m256i P = _mm256_set1_epi64x(static_cast<long long>(pv));
  const __m256i Pm1 = _mm256_set1_epi64x(static_cast<long long>(pv - 1));
  const __m256i Ph = _mm256_set1_epi64x(static_cast<long long>(pv >> 32));
  const __m256i C = _mm256_set1_epi64x(static_cast<long long>(mult[1]));
  const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
  const __m256i magic_bits = _mm256_castpd_si256(_mm256_set1_pd(4503599627370496.0));
  const __m256d magic = _mm256_set1_pd(4503599627370496.0), two32 = _mm256_set1_pd(4294967296.0);
  const __m256d inv = _mm256_set1_pd(1.0 / static_cast<double>(pv));
  const __m256i zero = _mm256_setzero_si256();
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + j));
    const __m256d hi = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(x, 32), magic_bits)), magic);
    const __m256d lo = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(x, lo32), magic_bits)), magic);
    const __m256d e = _mm256_round_pd(_mm256_mul_pd(_mm256_fmadd_pd(hi, two32, lo), inv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m256i ei = _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(e, magic)), magic_bits);
    const __m256i ep = _mm256_add_epi64(
        _mm256_mul_epu32(ei, P),
        _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epu32(ei, Ph), _mm256_mul_epu32(_mm256_srli_epi64(ei, 32), P)), 32));
    __m256i r = _mm256_sub_epi64(x, ep);  // in [-p, 2p)
    r = _mm256_add_epi64(r, _mm256_and_si256(_mm256_cmpgt_epi64(zero, r), P));
    r = _mm256_sub_epi64(r, _mm256_and_si256(_mm256_cmpgt_epi64(r, Pm1), P));
    const __m256i vc = _mm256_andnot_si256(_mm256_cmpeq_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + j)), zero), C);
    __m256i d = _mm256_sub_epi64(r, vc);
    d = _mm256_add_epi64(d, _mm256_and_si256(_mm256_cmpgt_epi64(zero, d), P));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), d);
  }
  for (; j < n; ++j) out[j] = sub_mod_p(p.reduce(y[j]), mult[v[j]], pv);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// IFMA sum_i y_i c_i mod p for source and destination primes below 2^50, 8 lanes: with y, c < 2^50
// each product splits into its low 52 bits and the rest (< 2^48), summed separately by
// vpmadd52luq / vpmadd52huq. For k <= 64 terms neither sum overflows (< 2^58 and < 2^54), and
// lo + hi 2^52 is the exact 128-bit sum, reduced as in the scalar code.
HEAL_TARGET_IFMA void convert_limb_ifma(const u64* y, const u64* c, std::size_t k, const Modulus& p, u64* out,
                                        std::size_t n) {
  alignas(64) u64 lo[8], hi[8];
  for (std::size_t j = 0; j < n; j += 8) {
    __m512i a = _mm512_setzero_si512(), b = a;
    for (std::size_t i = 0; i < k; ++i) {
      const __m512i x = _mm512_loadu_si512(y + i * n + j);
      const __m512i ci = _mm512_set1_epi64(static_cast<long long>(c[i]));
      a = _mm512_madd52lo_epu64(a, x, ci);
      b = _mm512_madd52hi_epu64(b, x, ci);
    }
    _mm512_store_si512(lo, a);
    _mm512_store_si512(hi, b);
    for (std::size_t l = 0; l < 8; ++l) out[j + l] = p.reduce128((static_cast<u128>(hi[l]) << 52) + lo[l]);
  }
}

#pragma GCC diagnostic pop

// AVX2 sum_i y_i c_i mod p for source and destination primes below 2^50, every term summed in
// registers: with y = y1 2^32 + y0 and c = c1 2^32 + c0 (y1, c1 < 2^18), A = sum lo32(y0 c0),
// B = sum (hi32(y0 c0) + y0 c1 + y1 c0) and C = sum y1 c1 do not overflow for k <= 64 terms, and
// A + B 2^32 + C 2^64 is the exact 128-bit sum, reduced as in the scalar code.
HEAL_TARGET_AVX2 void convert_limb_avx2(const u64* y, const u64* c, std::size_t k, const Modulus& p, u64* out,
                                        std::size_t n) {
  const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
  alignas(32) u64 t[3][4];
  for (std::size_t j = 0; j < n; j += 4) {
    __m256i a = _mm256_setzero_si256(), b = a, cc = a;
    for (std::size_t i = 0; i < k; ++i) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i * n + j));
      const __m256i xh = _mm256_srli_epi64(x, 32);
      const __m256i c0 = _mm256_set1_epi64x(static_cast<long long>(c[i])), c1 = _mm256_set1_epi64x(static_cast<long long>(c[i] >> 32));
      const __m256i p00 = _mm256_mul_epu32(x, c0);
      a = _mm256_add_epi64(a, _mm256_and_si256(p00, lo32));
      b = _mm256_add_epi64(b, _mm256_add_epi64(_mm256_srli_epi64(p00, 32),
                                               _mm256_add_epi64(_mm256_mul_epu32(x, c1), _mm256_mul_epu32(xh, c0))));
      cc = _mm256_add_epi64(cc, _mm256_mul_epu32(xh, c1));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(t[0]), a);
    _mm256_store_si256(reinterpret_cast<__m256i*>(t[1]), b);
    _mm256_store_si256(reinterpret_cast<__m256i*>(t[2]), cc);
    for (std::size_t l = 0; l < 4; ++l)
      out[j + l] = p.reduce128((static_cast<u128>(t[2][l]) << 64) + (static_cast<u128>(t[1][l]) << 32) + t[0][l]);
  }
}
#endif
}  // namespace

BaseConverter::BaseConverter(const std::vector<Modulus>& src, const std::vector<Modulus>& dst)
    : src_(src), dst_(dst) {
  HEAL_REQUIRE(!src.empty() && src.size() <= 64, "BaseConverter: source basis must have 1..64 primes");
  const std::size_t k = src.size();
  for (std::size_t i = 0; i < k; ++i) {
    u64 prod = 1;
    for (std::size_t j = 0; j < k; ++j) {
      if (j != i) prod = src[i].mul(prod, src[i].reduce(src[j].value()));
    }
    qhat_inv_.emplace_back(src[i].inv(prod), src[i].value());
  }
  for (const auto& q : src) {
    inv_src_.push_back(1.0 / static_cast<double>(q.value()));
    src_below50_ = src_below50_ && q.value() < (u64{1} << 50);
  }
  for (const auto& t : dst) {
    u64 prod = 1;
    for (const auto& q : src) prod = t.mul(prod, t.reduce(q.value()));
    q_mod_dst_.push_back(prod);
    for (std::size_t v = 0; v <= k; ++v) q_mult_dst_.push_back(t.mul(t.reduce(v), prod));
  }
  qhat_mod_dst_.resize(dst.size() * k);
  for (std::size_t t = 0; t < dst.size(); ++t) {
    for (std::size_t i = 0; i < k; ++i) {
      u64 prod = 1;
      for (std::size_t j = 0; j < k; ++j) {
        if (j != i) prod = dst[t].mul(prod, dst[t].reduce(src[j].value()));
      }
      qhat_mod_dst_[t * k + i] = prod;
    }
  }
}

void BaseConverter::scale_inputs(const u64* in, u64* y, std::size_t n) const {
  for (std::size_t i = 0; i < src_.size(); ++i) {
    const u64 q = src_[i].value();
    const ShoupConst c = qhat_inv_[i];
    const u64* x = in + i * n;
    u64* o = y + i * n;
    if (c.value == 1) {
      if (o != x) std::copy(x, x + n, o);
      continue;
    }
    for (std::size_t j = 0; j < n; ++j) o[j] = mul_shoup(x[j], c.value, c.shoup, q);
  }
}

void BaseConverter::convert_limb(const u64* y, std::size_t t, u64* out, std::size_t n) const {
  const std::size_t k = src_.size();
  const Modulus& p = dst_[t];
  const u64* c = &qhat_mod_dst_[t * k];
#if HEAL_X86_KERNELS
  if (k > 1 && p.value() < (u64{1} << 50) && src_below50_) {
    if (n % 8 == 0 && simd_ifma()) {
      convert_limb_ifma(y, c, k, p, out, n);
      return;
    }
    if (n % 4 == 0 && simd_level() >= SimdLevel::kAvx2) {
      convert_limb_avx2(y, c, k, p, out, n);
      return;
    }
  }
#endif
  if (k == 1) {
    // Q/q_0 = 1: the conversion is a plain reduction.
    for (std::size_t j = 0; j < n; ++j) out[j] = p.reduce(y[j]);
    return;
  }
  // Products are < 2^124 and at most 64 are summed, so a 128-bit accumulator cannot overflow.
  constexpr std::size_t kBlock = 256;
  u128 acc[kBlock];
  for (std::size_t j0 = 0; j0 < n; j0 += kBlock) {
    const std::size_t len = std::min(kBlock, n - j0);
    const u64* y0 = y + j0;
    for (std::size_t j = 0; j < len; ++j) acc[j] = static_cast<u128>(y0[j]) * c[0];
    for (std::size_t i = 1; i < k; ++i) {
      const u64* yi = y + i * n + j0;
      const u64 ci = c[i];
      for (std::size_t j = 0; j < len; ++j) acc[j] += static_cast<u128>(yi[j]) * ci;
    }
    for (std::size_t j = 0; j < len; ++j) out[j0 + j] = p.reduce128(acc[j]);
  }
}

void BaseConverter::overflow_counts(const u64* y, u64* v, std::size_t n) const {
  const std::size_t k = src_.size();
  if (k == 1) {
    std::fill(v, v + n, 0);
    return;
  }
  constexpr std::size_t kBlock = 256;
  double acc[kBlock];
  for (std::size_t j0 = 0; j0 < n; j0 += kBlock) {
    const std::size_t len = std::min(kBlock, n - j0);
    for (std::size_t j = 0; j < len; ++j) acc[j] = 0;
    for (std::size_t i = 0; i < k; ++i) {
      const u64* yi = y + i * n + j0;
      const double inv = inv_src_[i];
      for (std::size_t j = 0; j < len; ++j) acc[j] += static_cast<double>(yi[j]) * inv;
    }
    for (std::size_t j = 0; j < len; ++j) v[j0 + j] = static_cast<u64>(acc[j]);
  }
}

void BaseConverter::centered_counts(const u64* y, u64* v, std::size_t n) const {
  std::fill(v, v + n, 0);
  for (std::size_t i = 0; i < src_.size(); ++i) {
    const u64 half = src_[i].value() >> 1;
    const u64* yi = y + i * n;
    for (std::size_t j = 0; j < n; ++j) v[j] += yi[j] > half ? 1 : 0;
  }
}

void BaseConverter::convert_limb_exact(const u64* y, const u64* v, std::size_t t, u64* out, std::size_t n) const {
  const std::size_t k = src_.size();
  const Modulus& p = dst_[t];
  const u64 pv = p.value();
  // v <= k: subtract the precomputed multiple v * (Q mod p_t).
  const u64* mult = &q_mult_dst_[t * (k + 1)];
  auto sub_mod = [pv](u64 r, u64 c) { return sub_mod_p(r, c, pv); };
#if HEAL_X86_KERNELS
  if (k == 1 && simd_level() == SimdLevel::kAvx512) {
    exact_single_avx512(y, v, p, out, n, mult);
    return;
  }
  if (k == 1 && simd_level() == SimdLevel::kAvx2 && pv >= (u64{1} << 19)) {
    exact_single_avx2(y, v, p, out, n, mult);
    return;
  }
#endif
  if (k == 1) {  // single pass: reduce and correct
    const u64 ratio = p.ratio_hi();
    for (std::size_t j = 0; j < n; ++j) {
      const u64 x = y[j];
      u64 r = x - mul_hi(x, ratio) * pv;
      r -= pv & (u64{0} - static_cast<u64>(r >= pv));
      out[j] = sub_mod(r, mult[v[j]]);
    }
    return;
  }
  convert_limb(y, t, out, n);
  for (std::size_t j = 0; j < n; ++j) out[j] = sub_mod(out[j], mult[v[j]]);
}

void BaseConverter::convert(const u64* in, u64* out, std::size_t n, u64* scratch) const {
  scale_inputs(in, scratch, n);
  for (std::size_t t = 0; t < dst_.size(); ++t) convert_limb(scratch, t, out + t * n, n);
}

}  // namespace heal::math
