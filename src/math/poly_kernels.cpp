#include "heal/math/poly_kernels.h"

#include "avx2_fp.h"
#include "avx2_x64.h"
#include "heal/math/simd.h"

namespace heal::math {

#if HEAL_X86_KERNELS
namespace {

// GCC 12 flags the deliberately undefined source operand inside some AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

using V = __m512i;

// a*b mod q for a, b < q < 2^50.
HEAL_TARGET_AVX512 inline V mul_mod8(V a, V b, V q, __m512d inv_q) {
  const __m512d prod = _mm512_mul_pd(_mm512_cvtepu64_pd(a), _mm512_cvtepu64_pd(b));
  const V qe = _mm512_cvttpd_epu64(_mm512_mul_pd(prod, inv_q));
  V r = _mm512_sub_epi64(_mm512_mullo_epi64(a, b), _mm512_mullo_epi64(qe, q));  // in [-q, 2q)
  r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, q);
  return _mm512_min_epu64(r, _mm512_sub_epi64(r, q));
}

HEAL_TARGET_AVX512 void mul_avx512(const u64* a, const u64* b, const u64* c, u64* out, std::size_t n,
                                   const Modulus& m) {
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

// (a +- b) mod q, 8 lanes: the unsigned minimum picks the reduced representative.
HEAL_TARGET_AVX512 void add_sub_avx512(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& m, bool sub) {
  const V q = _mm512_set1_epi64(static_cast<long long>(m.value()));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V x = _mm512_loadu_si512(a + i), y = _mm512_loadu_si512(b + i);
    const V r = sub ? _mm512_sub_epi64(x, y) : _mm512_add_epi64(x, y);
    _mm512_storeu_si512(out + i, sub ? _mm512_min_epu64(r, _mm512_add_epi64(r, q)) : _mm512_min_epu64(r, _mm512_sub_epi64(r, q)));
  }
  for (; i < n; ++i) out[i] = sub ? m.sub(a[i], b[i]) : m.add(a[i], b[i]);
}

// (x - t) * c mod q, 8 lanes, q < 2^50: the difference reduced first, then mul_mod8.
HEAL_TARGET_AVX512 void sub_mul_const_avx512(const u64* x, const u64* t, const ShoupConst& c, u64* out,
                                             std::size_t n, const Modulus& m) {
  const V q = _mm512_set1_epi64(static_cast<long long>(m.value()));
  const V cv = _mm512_set1_epi64(static_cast<long long>(c.value));
  const __m512d inv = _mm512_set1_pd(1.0 / static_cast<double>(m.value()));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V d = _mm512_sub_epi64(_mm512_loadu_si512(x + i), _mm512_loadu_si512(t + i));
    _mm512_storeu_si512(out + i, mul_mod8(_mm512_min_epu64(d, _mm512_add_epi64(d, q)), cv, q, inv));
  }
  for (; i < n; ++i) out[i] = mul_shoup(x[i] + m.value() - t[i], c.value, c.shoup, m.value());
}

// (a + c) mod q and signed lifts, 8 lanes (the unsigned minimum picks the reduced value).
HEAL_TARGET_AVX512 void add_const_avx512(const u64* a, u64 c, u64* out, std::size_t n, const Modulus& m) {
  const V q = _mm512_set1_epi64(static_cast<long long>(m.value()));
  const V cv = _mm512_set1_epi64(static_cast<long long>(c));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V r = _mm512_add_epi64(_mm512_loadu_si512(a + i), cv);
    _mm512_storeu_si512(out + i, _mm512_min_epu64(r, _mm512_sub_epi64(r, q)));
  }
  for (; i < n; ++i) out[i] = m.add(a[i], c);
}
HEAL_TARGET_AVX512 void lift_signed_avx512(const std::int64_t* s, u64* out, std::size_t n, const Modulus& m) {
  const V q = _mm512_set1_epi64(static_cast<long long>(m.value()));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V r = _mm512_loadu_si512(s + i);
    _mm512_storeu_si512(out + i, _mm512_add_epi64(r, _mm512_and_si512(_mm512_srai_epi64(r, 63), q)));
  }
  for (; i < n; ++i) out[i] = m.from_signed(s[i]);
}

#pragma GCC diagnostic pop

// (a + c) mod q and signed lifts, 4 lanes (signed compares are exact below 2^62).
HEAL_TARGET_AVX2 void add_const_avx2(const u64* a, u64 c, u64* out, std::size_t n, const Modulus& m) {
  const __m256i qm1 = _mm256_set1_epi64x(static_cast<long long>(m.value() - 1));
  const __m256i q = _mm256_set1_epi64x(static_cast<long long>(m.value()));
  const __m256i cv = _mm256_set1_epi64x(static_cast<long long>(c));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256i t = _mm256_add_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)), cv);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_sub_epi64(t, _mm256_and_si256(_mm256_cmpgt_epi64(t, qm1), q)));
  }
  for (; i < n; ++i) out[i] = m.add(a[i], c);
}
HEAL_TARGET_AVX2 void lift_signed_avx2(const std::int64_t* s, u64* out, std::size_t n, const Modulus& m) {
  const __m256i q = _mm256_set1_epi64x(static_cast<long long>(m.value()));
  const __m256i zero = _mm256_setzero_si256();
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256i r = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_add_epi64(r, _mm256_and_si256(_mm256_cmpgt_epi64(zero, r), q)));
  }
  for (; i < n; ++i) out[i] = m.from_signed(s[i]);
}

// (a +- b) mod q, 4 lanes (signed compares are exact: every value is below 2^62).
HEAL_TARGET_AVX2 void add_sub_avx2(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& m, bool sub) {
  const __m256i q = _mm256_set1_epi64x(static_cast<long long>(m.value()));
  const __m256i qm1 = _mm256_set1_epi64x(static_cast<long long>(m.value() - 1));
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    __m256i r;
    if (sub) {
      r = _mm256_add_epi64(_mm256_sub_epi64(x, y), _mm256_and_si256(_mm256_cmpgt_epi64(y, x), q));
    } else {
      const __m256i t = _mm256_add_epi64(x, y);
      r = _mm256_sub_epi64(t, _mm256_and_si256(_mm256_cmpgt_epi64(t, qm1), q));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), r);
  }
  for (; i < n; ++i) out[i] = sub ? m.sub(a[i], b[i]) : m.add(a[i], b[i]);
}

// AVX2: the residues as exact doubles (detail::avx2fp; q < 2^50).
HEAL_TARGET_AVX2 void mul_avx2(const u64* a, const u64* b, const u64* c, u64* out, std::size_t n, const Modulus& m) {
  using namespace detail::avx2fp;  // NOLINT(google-build-using-namespace)
  const Fp k = make_fp(m.value());
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const D x = to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(a + i)), k);
    const D y = to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(b + i)), k);
    D r = mul_mod(x, y, k);
    if (c) r = add_mod(r, to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(c + i)), k), k);
    _mm256_storeu_si256(reinterpret_cast<I*>(out + i), to_int_(r, k));
  }
  for (; i < n; ++i) out[i] = c ? m.add(m.mul(a[i], b[i]), c[i]) : m.mul(a[i], b[i]);
}

// (x - t) * c mod q on 4 lanes: exact doubles for q < 2^50, Shoup on emulated 64-bit lanes above.
HEAL_TARGET_AVX2 void sub_mul_const_avx2(const u64* x, const u64* t, const ShoupConst& c, u64* out, std::size_t n,
                                         const Modulus& m) {
  std::size_t i = 0;
  if (m.value() < (u64{1} << 50)) {
    using namespace detail::avx2fp;  // NOLINT(google-build-using-namespace)
    const Fp k = make_fp(m.value());
    const D cd = _mm256_set1_pd(static_cast<double>(c.value));
    for (; i + 4 <= n; i += 4) {
      const D a = to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(x + i)), k);
      const D b = to_fp(_mm256_loadu_si256(reinterpret_cast<const I*>(t + i)), k);
      _mm256_storeu_si256(reinterpret_cast<I*>(out + i), to_int_(mul_mod(sub_mod(a, b, k), cd, k), k));
    }
  } else {
    using namespace detail::avx2x64;  // NOLINT(google-build-using-namespace)
    const C64 k = make_c64(m.value());
    const Tw cw = tw_one(c.value, c.shoup);
    for (; i + 4 <= n; i += 4) {
      const I d = _mm256_sub_epi64(_mm256_add_epi64(ld(x + i), k.q), ld(t + i));  // in (0, 2q)
      st(out + i, reduce_once(mul_shoup_lazy(d, cw, k), k.q));
    }
  }
  for (; i < n; ++i) out[i] = mul_shoup(x[i] + m.value() - t[i], c.value, c.shoup, m.value());
}

// Which kernel runs for this prime at the current level (both need q < 2^50).
enum class Path { kScalar, kAvx2, kAvx512 };
Path path(const Modulus& q) {
  if (q.value() >= (u64{1} << 50)) return Path::kScalar;
  switch (simd_level()) {
    case SimdLevel::kAvx512: return Path::kAvx512;
    case SimdLevel::kAvx2: return Path::kAvx2;
    case SimdLevel::kScalar: break;
  }
  return Path::kScalar;
}

bool mul_vec(const u64* a, const u64* b, const u64* c, u64* out, std::size_t n, const Modulus& q) {
  switch (path(q)) {
    case Path::kAvx512: mul_avx512(a, b, c, out, n, q); return true;
    case Path::kAvx2: mul_avx2(a, b, c, out, n, q); return true;
    case Path::kScalar: break;
  }
  return false;
}

}  // namespace
#else
namespace {
bool mul_vec(const u64*, const u64*, const u64*, u64*, std::size_t, const Modulus&) { return false; }
}  // namespace
#endif

namespace {
void add_sub(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q, bool sub) {
#if HEAL_X86_KERNELS
  switch (simd_level()) {
    case SimdLevel::kAvx512: add_sub_avx512(a, b, out, n, q, sub); return;
    case SimdLevel::kAvx2: add_sub_avx2(a, b, out, n, q, sub); return;
    case SimdLevel::kScalar: break;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = sub ? q.sub(a[i], b[i]) : q.add(a[i], b[i]);
}
}  // namespace

void add_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) { add_sub(a, b, out, n, q, false); }
void sub_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) { add_sub(a, b, out, n, q, true); }

void sub_mul_const_vec(const u64* x, const u64* t, const ShoupConst& c, u64* out, std::size_t n, const Modulus& q) {
#if HEAL_X86_KERNELS
  if (simd_level() == SimdLevel::kAvx512 && q.value() < (u64{1} << 50)) {
    sub_mul_const_avx512(x, t, c, out, n, q);
    return;
  }
  if (simd_level() >= SimdLevel::kAvx2) {
    sub_mul_const_avx2(x, t, c, out, n, q);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = mul_shoup(x[i] + q.value() - t[i], c.value, c.shoup, q.value());
}

void add_const_mod_vec(const u64* a, u64 c, u64* out, std::size_t n, const Modulus& q) {
  HEAL_DCHECK(c < q.value());
#if HEAL_X86_KERNELS
  switch (simd_level()) {
    case SimdLevel::kAvx512: add_const_avx512(a, c, out, n, q); return;
    case SimdLevel::kAvx2: add_const_avx2(a, c, out, n, q); return;
    case SimdLevel::kScalar: break;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = q.add(a[i], c);
}

void lift_signed_vec(const std::int64_t* s, u64* out, std::size_t n, const Modulus& q) {
#if HEAL_X86_KERNELS
  switch (simd_level()) {
    case SimdLevel::kAvx512: lift_signed_avx512(s, out, n, q); return;
    case SimdLevel::kAvx2: lift_signed_avx2(s, out, n, q); return;
    case SimdLevel::kScalar: break;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = q.from_signed(s[i]);
}

void mul_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
  if (mul_vec(a, b, nullptr, out, n, q)) return;
  for (std::size_t i = 0; i < n; ++i) out[i] = q.mul(a[i], b[i]);
}

void mul_add_mod_vec(const u64* a, const u64* b, const u64* c, u64* out, std::size_t n, const Modulus& q) {
  if (mul_vec(a, b, c, out, n, q)) return;
  for (std::size_t i = 0; i < n; ++i) out[i] = q.add(q.mul(a[i], b[i]), c[i]);
}

}  // namespace heal::math
