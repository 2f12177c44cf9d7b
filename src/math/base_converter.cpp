#include "heal/math/base_converter.h"

#include "heal/math/ntt.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define HEAL_BC_AVX512 1
#endif

namespace heal::math {

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
  for (const auto& q : src) inv_src_.push_back(1.0 / static_cast<double>(q.value()));
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
  // Branch-free: v is data-dependent (about half the digits are centered downwards).
  auto sub_mod = [pv](u64 r, u64 c) {
    const u64 d = r - c;
    return d + (pv & (u64{0} - static_cast<u64>(r < c)));
  };
#ifdef HEAL_BC_AVX512
  if (k == 1 && cpu_has_avx512dq()) {
    // y < 2^62: the quotient y/p estimated in double precision is off by at most one.
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
      // subtract v * (q mod p) for v in {0, 1}
      const __mmask8 m = _mm512_cmpneq_epu64_mask(_mm512_loadu_si512(v + j), zero);
      const __m512i d = _mm512_sub_epi64(r, C);
      const __m512i fixed = _mm512_mask_add_epi64(d, _mm512_cmplt_epu64_mask(r, C), d, P);
      _mm512_storeu_si512(out + j, _mm512_mask_mov_epi64(r, m, fixed));
    }
    for (; j < n; ++j) out[j] = sub_mod(p.reduce(y[j]), mult[v[j]]);
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

#ifdef HEAL_BC_AVX512
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
