// Hybrid key switching (Han-Ki ePrint 2019/688; Gentry-Halevi-Smart special modulus), with the
// fast base conversion of Halevi-Polyakov-Shoup (ePrint 2018/117) for ModUp and ModDown.
#include "heal/ckks/key_switch.h"

#include <algorithm>
#include <cstring>

#include "heal/math/poly_kernels.h"
#include "heal/math/sampler.h"
#include "heal/math/simd.h"

#if HEAL_X86_KERNELS
#include <immintrin.h>
#endif

namespace heal::ckks {

using math::RnsPoly;
using math::u128;
using math::U64Buffer;

namespace {

// Index of qp-basis limb t (q_0..q_l, p_0..p_{k-1}) in the key basis (q_0..q_L, p_0..).
inline std::size_t key_index(const Context& ctx, std::size_t level, std::size_t t) {
  return t <= level ? t : ctx.q_count() + (t - level - 1);
}

// The digit-scaled inputs y (l+1 limbs, coefficient form) of every digit of c at `level`, and
// per digit the counts that make the conversion use centered digits: an uncentered digit in
// [0, D_j) has mean D_j/2, whose product with the key noise the canonical embedding amplifies.
struct DigitInputs {
  U64Buffer y, v;  // y: (l+1) x n, v: digits x n
};

DigitInputs digit_inputs(const Context& ctx, const RnsPoly& c, std::size_t level) {
  const std::size_t n = ctx.n(), digits = ctx.digits_at(level);
  DigitInputs in{U64Buffer(n * (level + 1), false), U64Buffer(n * digits, false)};
  std::memcpy(in.y.data(), c.data(), n * (level + 1) * sizeof(math::u64));
  for (std::size_t i = 0; i <= level; ++i) math::ntt_inverse(in.y.data() + i * n, ctx.q_basis().ntt(i));
  for (std::size_t j = 0; j < digits; ++j) {
    const std::size_t b = ctx.digit_begin(j);
    u64* yj = in.y.data() + b * n;
    const math::BaseConverter& conv = ctx.digit_converter(level, j);
    conv.scale_inputs(yj, yj, n);
    conv.centered_counts(yj, in.v.data() + j * n, n);
  }
  return in;
}

// Digit j of c extended to qp limb t, in NTT form, written to out (or pointed to in c).
const u64* digit_limb(const Context& ctx, const RnsPoly& c, const DigitInputs& in, std::size_t level, std::size_t j,
                      std::size_t t, u64* out) {
  const std::size_t n = ctx.n();
  const std::size_t b = ctx.digit_begin(j);
  const std::size_t e = std::min(b + ctx.alpha(), level + 1);
  if (t >= b && t < e) return c.limb(t);
  const std::size_t kt = key_index(ctx, level, t);
  ctx.digit_converter(level, j).convert_limb_exact(in.y.data() + b * n, in.v.data() + j * n, kt, out, n);
  math::ntt_forward(out, ctx.key_basis().ntt(kt));
  return out;
}

void check_key(const Context& ctx, const KswKey& key) {
  HEAL_REQUIRE(key.digits() == ctx.dnum(), "key_switch: key has " << key.digits() << " digits, context expects "
                                                                    << ctx.dnum() << " (keys from another context?)");
  const std::size_t limbs = ctx.q_count() + ctx.p_count();
  for (std::size_t j = 0; j < key.digits(); ++j) {
    HEAL_REQUIRE(key.b(j).num_limbs() == limbs && key.a(j).num_limbs() == limbs && key.b(j).n() == ctx.n(),
                 "key_switch: key digit " << j << " does not match the context");
  }
}

// acc0/acc1 (u128 per coefficient) += src * kb / src * ka.
inline void mac2(u128* acc0, u128* acc1, const u64* src, const u64* kb, const u64* ka, std::size_t n, bool first) {
  if (first) {
    for (std::size_t i = 0; i < n; ++i) {
      acc0[i] = static_cast<u128>(src[i]) * kb[i];
      acc1[i] = static_cast<u128>(src[i]) * ka[i];
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      acc0[i] += static_cast<u128>(src[i]) * kb[i];
      acc1[i] += static_cast<u128>(src[i]) * ka[i];
    }
  }
}

inline void mac2_perm(u128* acc0, u128* acc1, const u64* src, const std::uint32_t* perm, const u64* kb, const u64* ka,
                      std::size_t n, bool first) {
  if (first) {
    for (std::size_t i = 0; i < n; ++i) {
      const u64 s = src[perm[i]];
      acc0[i] = static_cast<u128>(s) * kb[i];
      acc1[i] = static_cast<u128>(s) * ka[i];
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const u64 s = src[perm[i]];
      acc0[i] += static_cast<u128>(s) * kb[i];
      acc1[i] += static_cast<u128>(s) * ka[i];
    }
  }
}


#if HEAL_X86_KERNELS
// GCC 12 flags the deliberately undefined source operand inside some AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// 52-bit multiply-accumulate for target primes below 2^50: the low and high 52-bit halves of
// each product are summed separately (no overflow for up to 2^11 digits) and combined at the end.
// perm (may be null) reads src through an NTT-domain Galois permutation.
HEAL_TARGET_IFMA void mac2_ifma(u64* lo0, u64* hi0, u64* lo1, u64* hi1, const u64* src, const std::uint32_t* perm,
                                const u64* kb, const u64* ka, std::size_t n, bool first) {
  for (std::size_t i = 0; i < n; i += 8) {
    const __m512i s = perm ? _mm512_i32gather_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(perm + i)),
                                                    reinterpret_cast<const long long*>(src), 8)
                           : _mm512_loadu_si512(src + i);
    const __m512i b = _mm512_loadu_si512(kb + i), a = _mm512_loadu_si512(ka + i);
    __m512i l0 = first ? _mm512_setzero_si512() : _mm512_loadu_si512(lo0 + i);
    __m512i h0 = first ? _mm512_setzero_si512() : _mm512_loadu_si512(hi0 + i);
    __m512i l1 = first ? _mm512_setzero_si512() : _mm512_loadu_si512(lo1 + i);
    __m512i h1 = first ? _mm512_setzero_si512() : _mm512_loadu_si512(hi1 + i);
    l0 = _mm512_madd52lo_epu64(l0, s, b);
    h0 = _mm512_madd52hi_epu64(h0, s, b);
    l1 = _mm512_madd52lo_epu64(l1, s, a);
    h1 = _mm512_madd52hi_epu64(h1, s, a);
    _mm512_storeu_si512(lo0 + i, l0);
    _mm512_storeu_si512(hi0 + i, h0);
    _mm512_storeu_si512(lo1 + i, l1);
    _mm512_storeu_si512(hi1 + i, h1);
  }
}
#pragma GCC diagnostic pop

// The AVX2 / AVX-512 inner products below work on blocks of kBlock coefficients: for each block,
// digit after digit, the digit's source and key limbs are streamed contiguously and the six
// 64-bit accumulators per coefficient (A, B, C for kb and for ka) live in an L1-resident buffer.
// (Looping over the digits inside each vector instead would read 3 x digits streams at once,
// which defeats the prefetchers: 35 % of a 2^16 relinearization went there.)
constexpr std::size_t kBlock = 256;

// Digit limb src at coefficients i..i+3, read through the Galois permutation perm when given.
HEAL_TARGET_AVX2 inline __m256i load_digit(const u64* src, const std::uint32_t* perm, std::size_t i) {
  return perm ? _mm256_i32gather_epi64(reinterpret_cast<const long long*>(src),
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(perm + i)), 8)
              : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
}

// o[l] = (A + B 2^32 + C 2^64) mod m for the len coefficients of a block.
inline void reduce_block(const math::Modulus& m, const u64* a, const u64* b, const u64* c, u64* o, std::size_t len) {
  for (std::size_t l = 0; l < len; ++l) o[l] = m.reduce128((static_cast<u128>(c[l]) << 64) + (static_cast<u128>(b[l]) << 32) + a[l]);
}

HEAL_TARGET_AVX2 inline __m256i ld4(const u64* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
HEAL_TARGET_AVX2 inline void st4(u64* p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }

// AVX2 multiply-accumulate for target primes below 2^50. With s = s1 2^32 + s0 and
// k = k1 2^32 + k0 (s1, k1 < 2^18), the product is s0 k0 + (s0 k1 + s1 k0) 2^32 + s1 k1 2^64;
// vpmuludq forms each partial product exactly, and the three 64-bit sums A = sum lo32(s0 k0),
// B = sum (hi32(s0 k0) + s0 k1 + s1 k0), C = sum s1 k1 cannot overflow for up to 2^11 digits
// (B < 2^11 (2^32 + 2^51)). The total A + B 2^32 + C 2^64 is then reduced exactly, so the result
// equals the 128-bit scalar accumulation.
HEAL_TARGET_AVX2 void inner_product_avx2(const math::Modulus& m, std::size_t digits, std::size_t n,
                                         const u64* const* src, const std::uint32_t* perm, const u64* const* kb,
                                         const u64* const* ka, u64* o0, u64* o1) {
  const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
  alignas(32) u64 acc[6][kBlock];
  for (std::size_t i0 = 0; i0 < n; i0 += kBlock) {
    const std::size_t len = std::min(kBlock, n - i0);
    for (auto& row : acc) std::fill(row, row + len, u64{0});
    for (std::size_t j = 0; j < digits; ++j) {
      for (std::size_t i = 0; i < len; i += 4) {
        const __m256i s = load_digit(src[j], perm, i0 + i);
        const __m256i sh = _mm256_srli_epi64(s, 32);
        const __m256i keys[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kb[j] + i0 + i)),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ka[j] + i0 + i))};
        for (int w = 0; w < 2; ++w) {
          const __m256i k = keys[w];
          const __m256i p00 = _mm256_mul_epu32(s, k);
          u64 *A = acc[3 * w] + i, *B = acc[3 * w + 1] + i, *C = acc[3 * w + 2] + i;
          st4(A, _mm256_add_epi64(ld4(A), _mm256_and_si256(p00, lo32)));
          st4(B, _mm256_add_epi64(ld4(B), _mm256_add_epi64(_mm256_srli_epi64(p00, 32),
                                                            _mm256_add_epi64(_mm256_mul_epu32(s, _mm256_srli_epi64(k, 32)),
                                                                             _mm256_mul_epu32(sh, k)))));
          st4(C, _mm256_add_epi64(ld4(C), _mm256_mul_epu32(sh, _mm256_srli_epi64(k, 32))));
        }
      }
    }
    reduce_block(m, acc[0], acc[1], acc[2], o0 + i0, len);
    reduce_block(m, acc[3], acc[4], acc[5], o1 + i0, len);
  }
}

// AVX2 multiply-accumulate for any key-basis prime (< 2^60, as the NTT requires) and at most 64
// digits: with 32-bit halves s = s1 2^32 + s0, k = k1 2^32 + k0 (s1, k1 < 2^28), the partial
// products are split at 32 bits too, so that A = sum lo32(s0 k0), B = sum hi32(s0 k0) + lo32(s0 k1)
// + lo32(s1 k0) and C = sum s1 k1 + hi32(s0 k1) + hi32(s1 k0) (< 64 (2^56 + 2^29) < 2^63) cannot
// overflow; the total A + B 2^32 + C 2^64 is the exact 128-bit sum, reduced as in the scalar code.
HEAL_TARGET_AVX2 void inner_product_avx2_wide(const math::Modulus& m, std::size_t digits, std::size_t n,
                                              const u64* const* src, const std::uint32_t* perm, const u64* const* kb,
                                              const u64* const* ka, u64* o0, u64* o1) {
  const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
  alignas(32) u64 acc[6][kBlock];
  for (std::size_t i0 = 0; i0 < n; i0 += kBlock) {
    const std::size_t len = std::min(kBlock, n - i0);
    for (auto& row : acc) std::fill(row, row + len, u64{0});
    for (std::size_t j = 0; j < digits; ++j) {
      for (std::size_t i = 0; i < len; i += 4) {
        const __m256i s = load_digit(src[j], perm, i0 + i);
        const __m256i sh = _mm256_srli_epi64(s, 32);
        const __m256i keys[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kb[j] + i0 + i)),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ka[j] + i0 + i))};
        for (int w = 0; w < 2; ++w) {
          const __m256i k = keys[w], kh = _mm256_srli_epi64(k, 32);
          const __m256i p00 = _mm256_mul_epu32(s, k), p01 = _mm256_mul_epu32(s, kh), p10 = _mm256_mul_epu32(sh, k);
          u64 *A = acc[3 * w] + i, *B = acc[3 * w + 1] + i, *C = acc[3 * w + 2] + i;
          st4(A, _mm256_add_epi64(ld4(A), _mm256_and_si256(p00, lo32)));
          st4(B, _mm256_add_epi64(ld4(B), _mm256_add_epi64(_mm256_srli_epi64(p00, 32),
                                                            _mm256_add_epi64(_mm256_and_si256(p01, lo32),
                                                                             _mm256_and_si256(p10, lo32)))));
          st4(C, _mm256_add_epi64(ld4(C), _mm256_add_epi64(_mm256_mul_epu32(sh, kh),
                                                            _mm256_add_epi64(_mm256_srli_epi64(p01, 32),
                                                                             _mm256_srli_epi64(p10, 32)))));
        }
      }
    }
    reduce_block(m, acc[0], acc[1], acc[2], o0 + i0, len);
    reduce_block(m, acc[3], acc[4], acc[5], o1 + i0, len);
  }
}

// The same 32-bit-split accumulation on 8 lanes (AVX-512 F), for the primes of 50..60 bits on
// CPUs with AVX-512 (IFMA covers the smaller ones).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
HEAL_TARGET_AVX512 void inner_product_avx512_wide(const math::Modulus& m, std::size_t digits, std::size_t n,
                                                  const u64* const* src, const std::uint32_t* perm, const u64* const* kb,
                                                  const u64* const* ka, u64* o0, u64* o1) {
  const __m512i lo32 = _mm512_set1_epi64(0xffffffffLL);
  alignas(64) u64 acc[6][kBlock];
  for (std::size_t i0 = 0; i0 < n; i0 += kBlock) {
    const std::size_t len = std::min(kBlock, n - i0);
    for (auto& row : acc) std::fill(row, row + len, u64{0});
    for (std::size_t j = 0; j < digits; ++j) {
      for (std::size_t i = 0; i < len; i += 8) {
        const __m512i s = perm ? _mm512_i32gather_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(perm + i0 + i)),
                                                        reinterpret_cast<const long long*>(src[j]), 8)
                               : _mm512_loadu_si512(src[j] + i0 + i);
        const __m512i sh = _mm512_srli_epi64(s, 32);
        const __m512i keys[2] = {_mm512_loadu_si512(kb[j] + i0 + i), _mm512_loadu_si512(ka[j] + i0 + i)};
        for (int w = 0; w < 2; ++w) {
          const __m512i k = keys[w], kh = _mm512_srli_epi64(k, 32);
          const __m512i p00 = _mm512_mul_epu32(s, k), p01 = _mm512_mul_epu32(s, kh), p10 = _mm512_mul_epu32(sh, k);
          u64 *A = acc[3 * w] + i, *B = acc[3 * w + 1] + i, *C = acc[3 * w + 2] + i;
          _mm512_store_si512(A, _mm512_add_epi64(_mm512_load_si512(A), _mm512_and_si512(p00, lo32)));
          _mm512_store_si512(B, _mm512_add_epi64(_mm512_load_si512(B),
                                                 _mm512_add_epi64(_mm512_srli_epi64(p00, 32),
                                                                  _mm512_add_epi64(_mm512_and_si512(p01, lo32),
                                                                                   _mm512_and_si512(p10, lo32)))));
          _mm512_store_si512(C, _mm512_add_epi64(_mm512_load_si512(C),
                                                 _mm512_add_epi64(_mm512_mul_epu32(sh, kh),
                                                                  _mm512_add_epi64(_mm512_srli_epi64(p01, 32),
                                                                                   _mm512_srli_epi64(p10, 32)))));
        }
      }
    }
    reduce_block(m, acc[0], acc[1], acc[2], o0 + i0, len);
    reduce_block(m, acc[3], acc[4], acc[5], o1 + i0, len);
  }
}
#pragma GCC diagnostic pop
#endif

enum class MacPath { kScalar, kAvx2, kAvx2Wide, kAvx512Wide, kIfma };

// Vector paths need whole vectors; below 2^50 at most 2^11 digits (IFMA, or the AVX2 kernel with
// 18-bit high halves), otherwise at most 64 digits (the AVX2 kernel with 32-bit splits).
MacPath mac_path(const math::Modulus& m, std::size_t n, std::size_t digits) {
  if (n % 8 != 0) return MacPath::kScalar;
  const bool small = m.value() < (u64{1} << 50);
  if (small && digits <= 2048 && math::simd_ifma()) return MacPath::kIfma;
  if (math::simd_level() < math::SimdLevel::kAvx2) return MacPath::kScalar;
  if (small && digits <= 2048) return MacPath::kAvx2;
  if (digits > 64) return MacPath::kScalar;
  return math::simd_level() == math::SimdLevel::kAvx512 ? MacPath::kAvx512Wide : MacPath::kAvx2Wide;
}

// Accumulates sum_j src_j * kb_j and sum_j src_j * ka_j for one target limb into o0, o1.
template <class SrcFn>
void inner_product_limb(const math::Modulus& m, std::size_t digits, std::size_t n, SrcFn&& src_of,
                        const std::uint32_t* perm, const KswKey& key, std::size_t kt, u64* acc_words, u64* o0,
                        u64* o1) {
#if HEAL_X86_KERNELS
  const MacPath path = mac_path(m, n, digits);
  if (path == MacPath::kAvx2 || path == MacPath::kAvx2Wide || path == MacPath::kAvx512Wide) {
    // Pointers to every digit's source and key limbs (digits <= 2048).
    std::vector<const u64*> ptrs(3 * digits);
    for (std::size_t j = 0; j < digits; ++j) {
      ptrs[j] = src_of(j);
      ptrs[digits + j] = key.b(j).limb(kt);
      ptrs[2 * digits + j] = key.a(j).limb(kt);
    }
    const auto kernel = path == MacPath::kAvx2       ? inner_product_avx2
                        : path == MacPath::kAvx2Wide ? inner_product_avx2_wide
                                                     : inner_product_avx512_wide;
    kernel(m, digits, n, ptrs.data(), perm, ptrs.data() + digits, ptrs.data() + 2 * digits, o0, o1);
    return;
  }
  if (path == MacPath::kIfma) {
    u64 *lo0 = acc_words, *hi0 = acc_words + n, *lo1 = acc_words + 2 * n, *hi1 = acc_words + 3 * n;
    for (std::size_t j = 0; j < digits; ++j) {
      mac2_ifma(lo0, hi0, lo1, hi1, src_of(j), perm, key.b(j).limb(kt), key.a(j).limb(kt), n, j == 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
      o0[i] = m.reduce128((static_cast<u128>(hi0[i]) << 52) + lo0[i]);
      o1[i] = m.reduce128((static_cast<u128>(hi1[i]) << 52) + lo1[i]);
    }
    return;
  }
#endif
  auto* acc0 = reinterpret_cast<u128*>(acc_words);
  auto* acc1 = acc0 + n;
  for (std::size_t j = 0; j < digits; ++j) {
    if (perm) {
      mac2_perm(acc0, acc1, src_of(j), perm, key.b(j).limb(kt), key.a(j).limb(kt), n, j == 0);
    } else {
      mac2(acc0, acc1, src_of(j), key.b(j).limb(kt), key.a(j).limb(kt), n, j == 0);
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    o0[i] = m.reduce128(acc0[i]);
    o1[i] = m.reduce128(acc1[i]);
  }
}

}  // namespace

namespace {
// Key switching only ever sees ciphertext words and evaluation keys: its scratch blocks hold public
// data and skip the pool's release-time wipe (math::U64Buffer::mark_public). `public_data` is
// false for mod_down's other callers (encryption, whose inputs depend on the ephemeral secret).
RnsPoly mod_down_impl(const Context& ctx, const RnsPoly& x, std::size_t level, bool public_data) {
  const std::size_t n = ctx.n(), k = ctx.p_count(), qc = ctx.q_count();
  HEAL_REQUIRE(x.num_limbs() == level + 1 + k && x.is_ntt(), "mod_down: expected " << level + 1 + k << " NTT limbs");
  // round(x / P) = (x + floor(P/2) - [x + floor(P/2)]_P) / P, with the exact P -> Q conversion
  // (a biased floor here would be amplified by the canonical embedding).
  U64Buffer y(n * k, false), v(n, false);
  std::memcpy(y.data(), x.limb(level + 1), n * k * sizeof(u64));
  for (std::size_t i = 0; i < k; ++i) {
    u64* yi = y.data() + i * n;
    math::ntt_inverse(yi, ctx.p_basis().ntt(i));
    math::add_const_mod_vec(yi, ctx.half_p_mod(qc + i), yi, n, ctx.p_basis().modulus(i));
  }
  const math::BaseConverter& conv = ctx.p_to_q_converter();
  conv.scale_inputs(y.data(), y.data(), n);
  conv.overflow_counts(y.data(), v.data(), n);
  RnsPoly out = RnsPoly::uninitialized(n, level + 1, true);
  U64Buffer tmp(n, false);
  for (std::size_t i = 0; i <= level; ++i) {
    conv.convert_limb_exact(y.data(), v.data(), i, tmp.data(), n);
    const u64 h = ctx.half_p_mod(i);
    math::add_const_mod_vec(tmp.data(), h == 0 ? 0 : ctx.q(i).value() - h, tmp.data(), n, ctx.q(i));  // - h
    math::ntt_forward(tmp.data(), ctx.q_basis().ntt(i));
    math::sub_mul_const_vec(x.limb(i), tmp.data(), ctx.p_inv_mod_q(i), out.limb(i), n, ctx.q(i));
  }
  if (public_data) {
    y.mark_public();
    v.mark_public();
    tmp.mark_public();
  }
  return out;
}

void mark_public(DigitInputs& in) {
  in.y.mark_public();
  in.v.mark_public();
}

// d = round(e / P) for both halves of a key switch, every block involved marked public.
void finish_key_switch(const Context& ctx, RnsPoly& e0, RnsPoly& e1, std::size_t level, RnsPoly& d0, RnsPoly& d1) {
  d0 = mod_down_impl(ctx, e0, level, true);
  d1 = mod_down_impl(ctx, e1, level, true);
  for (RnsPoly* p : {&e0, &e1, &d0, &d1}) p->mark_public();
}
}  // namespace

RnsPoly mod_down(const Context& ctx, const RnsPoly& x, std::size_t level) { return mod_down_impl(ctx, x, level, false); }

void key_switch(const Context& ctx, const RnsPoly& c, const KswKey& key, RnsPoly& d0, RnsPoly& d1) {
  HEAL_REQUIRE(c.is_ntt() && c.n() == ctx.n() && c.num_limbs() >= 1 && c.num_limbs() <= ctx.q_count(),
               "key_switch: input must be an NTT-form polynomial over q_0..q_l");
  check_key(ctx, key);
  const std::size_t n = ctx.n(), level = c.num_limbs() - 1, k = ctx.p_count();
  const std::size_t limbs = level + 1 + k, digits = ctx.digits_at(level);
  DigitInputs y = digit_inputs(ctx, c, level);
  RnsPoly e0 = RnsPoly::uninitialized(n, limbs, true), e1 = RnsPoly::uninitialized(n, limbs, true);
  // One extension buffer per digit: the vector paths read every digit's limb at once.
  U64Buffer acc(4 * n, false), tmp(n * digits, false);
  for (std::size_t t = 0; t < limbs; ++t) {
    const std::size_t kt = key_index(ctx, level, t);
    auto src_of = [&](std::size_t j) { return digit_limb(ctx, c, y, level, j, t, tmp.data() + j * n); };
    inner_product_limb(ctx.key_basis().modulus(kt), digits, n, src_of, nullptr, key, kt, acc.data(), e0.limb(t),
                       e1.limb(t));
  }
  acc.mark_public();
  tmp.mark_public();
  mark_public(y);
  finish_key_switch(ctx, e0, e1, level, d0, d1);
}

KeySwitchDecomposition decompose(const Context& ctx, const RnsPoly& c) {
  HEAL_REQUIRE(c.is_ntt() && c.n() == ctx.n() && c.num_limbs() >= 1 && c.num_limbs() <= ctx.q_count(),
               "decompose: input must be an NTT-form polynomial over q_0..q_l");
  const std::size_t n = ctx.n(), level = c.num_limbs() - 1, limbs = level + 1 + ctx.p_count();
  DigitInputs y = digit_inputs(ctx, c, level);
  KeySwitchDecomposition dec;
  dec.level = level;
  for (std::size_t j = 0; j < ctx.digits_at(level); ++j) {
    RnsPoly e = RnsPoly::uninitialized(n, limbs, true);
    for (std::size_t t = 0; t < limbs; ++t) {
      const u64* src = digit_limb(ctx, c, y, level, j, t, e.limb(t));
      if (src != e.limb(t)) std::memcpy(e.limb(t), src, n * sizeof(u64));
    }
    e.mark_public();
    dec.ext.push_back(std::move(e));
  }
  mark_public(y);
  return dec;
}

void key_switch_decomposed(const Context& ctx, const KeySwitchDecomposition& dec, const KswKey& key,
                           const std::vector<std::uint32_t>* perm, RnsPoly& d0, RnsPoly& d1) {
  check_key(ctx, key);
  const std::size_t n = ctx.n(), level = dec.level, limbs = level + 1 + ctx.p_count();
  HEAL_REQUIRE(dec.ext.size() == ctx.digits_at(level), "key_switch_decomposed: decomposition has the wrong digit count");
  RnsPoly e0 = RnsPoly::uninitialized(n, limbs, true), e1 = RnsPoly::uninitialized(n, limbs, true);
  U64Buffer acc(4 * n, false);
  for (std::size_t t = 0; t < limbs; ++t) {
    const std::size_t kt = key_index(ctx, level, t);
    auto src_of = [&](std::size_t j) -> const u64* { return dec.ext[j].limb(t); };
    inner_product_limb(ctx.key_basis().modulus(kt), dec.ext.size(), n, src_of, perm ? perm->data() : nullptr, key,
                       kt, acc.data(), e0.limb(t), e1.limb(t));
  }
  acc.mark_public();
  finish_key_switch(ctx, e0, e1, level, d0, d1);
}

KswKey make_ksw_key(const Context& ctx, const RnsPoly& s_from, const RnsPoly& s_to, const Seed& seed, Rng& noise_rng) {
  const auto& kb = ctx.key_basis();
  const std::size_t limbs = kb.size(), n = ctx.n();
  HEAL_REQUIRE(s_from.num_limbs() == limbs && s_to.num_limbs() == limbs && s_from.is_ntt() && s_to.is_ntt(),
               "make_ksw_key: secrets must be NTT form over the key basis");
  std::vector<RnsPoly> bs, as;
  for (std::size_t j = 0; j < ctx.dnum(); ++j) {
    RnsPoly a = math::expand_uniform_poly(seed, KswKey::kStreamBase + j, kb, limbs, true);
    RnsPoly b = RnsPoly::from_signed(math::sample_gaussian(noise_rng, n), kb, limbs);
    b.ntt_inplace(kb);
    RnsPoly a_s = a;
    a_s.mul_inplace(s_to, kb);
    b.sub_inplace(a_s, kb);
    const std::size_t beg = ctx.digit_begin(j), end = std::min(beg + ctx.alpha(), ctx.q_count());
    for (std::size_t i = beg; i < end; ++i) {
      const math::Modulus& q = kb.modulus(i);
      const math::ShoupConst pm(ctx.p_mod_q(i), q.value());
      u64* bi = b.limb(i);
      const u64* si = s_from.limb(i);
      for (std::size_t t = 0; t < n; ++t) bi[t] = q.add(bi[t], math::mul_shoup(si[t], pm.value, pm.shoup, q.value()));
    }
    bs.push_back(std::move(b));
    as.push_back(std::move(a));
  }
  return KswKey(seed, std::move(bs), std::move(as));
}

}  // namespace heal::ckks
