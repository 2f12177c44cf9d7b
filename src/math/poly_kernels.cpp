#include "heal/math/poly_kernels.h"

#include "heal/math/ntt.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define HEAL_HAVE_AVX512_KERNELS 1
#endif

namespace heal::math {

#ifdef HEAL_HAVE_AVX512_KERNELS
namespace {
using V = __m512i;

// a*b mod q for a, b < q < 2^50.
inline V mul_mod8(V a, V b, V q, __m512d inv_q) {
  const __m512d prod = _mm512_mul_pd(_mm512_cvtepu64_pd(a), _mm512_cvtepu64_pd(b));
  const V qe = _mm512_cvttpd_epu64(_mm512_mul_pd(prod, inv_q));
  V r = _mm512_sub_epi64(_mm512_mullo_epi64(a, b), _mm512_mullo_epi64(qe, q));  // in [-q, 2q)
  r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, q);
  return _mm512_min_epu64(r, _mm512_sub_epi64(r, q));
}

void mul_avx512(const u64* a, const u64* b, const u64* c, u64* out, std::size_t n, const Modulus& m) {
  const V q = _mm512_set1_epi64(static_cast<long long>(m.value()));
  const __m512d inv = _mm512_set1_pd(1.0 / static_cast<double>(m.value()));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V r = mul_mod8(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i), q, inv);
    if (c) {
      r = _mm512_add_epi64(r, _mm512_loadu_si512(c + i));
      r = _mm512_min_epu64(r, _mm512_sub_epi64(r, q));
    }
    _mm512_storeu_si512(out + i, r);
  }
  for (; i < n; ++i) out[i] = c ? m.add(m.mul(a[i], b[i]), c[i]) : m.mul(a[i], b[i]);
}
}  // namespace
#endif

namespace {
inline bool use_vec(const Modulus& q) {
#ifdef HEAL_HAVE_AVX512_KERNELS
  return q.value() < (u64{1} << 50) && cpu_has_avx512dq();
#else
  (void)q;
  return false;
#endif
}
}  // namespace

void mul_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
#ifdef HEAL_HAVE_AVX512_KERNELS
  if (use_vec(q)) {
    mul_avx512(a, b, nullptr, out, n, q);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = q.mul(a[i], b[i]);
}

void mul_add_mod_vec(const u64* a, const u64* b, const u64* c, u64* out, std::size_t n, const Modulus& q) {
#ifdef HEAL_HAVE_AVX512_KERNELS
  if (use_vec(q)) {
    mul_avx512(a, b, c, out, n, q);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = q.add(q.mul(a[i], b[i]), c[i]);
}

}  // namespace heal::math

#ifdef HEAL_HAVE_AVX512_KERNELS
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
