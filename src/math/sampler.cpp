#include "heal/math/sampler.h"

#include <bit>
#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

#include "heal/math/simd.h"

#if HEAL_X86_KERNELS
#include <immintrin.h>
#endif

namespace heal::math {

namespace {
// Pulls random words from the rng in blocks (one virtual call per block, not per word).
class WordStream {
 public:
  explicit WordStream(Rng& rng) : rng_(rng) {}
  WordStream(const WordStream&) = delete;
  WordStream& operator=(const WordStream&) = delete;
  ~WordStream() { secure_wipe(buf_, sizeof(buf_)); }  // the words may have made secrets or errors
  u64 next() {
    if (pos_ == kWords) {
      rng_.fill({reinterpret_cast<std::uint8_t*>(buf_), sizeof(buf_)});
      pos_ = 0;
    }
    return buf_[pos_++];
  }
  /// The next k <= kWords words as one contiguous run. When fewer than k remain, the rest of the
  /// buffer is dropped and it is refilled; callers that take whole buffers (or a last partial
  /// run) from an empty stream see exactly the words next() would give.
  const u64* take(std::size_t k) {
    if (kWords - pos_ < k) {
      rng_.fill({reinterpret_cast<std::uint8_t*>(buf_), sizeof(buf_)});
      pos_ = 0;
    }
    const u64* p = buf_ + pos_;
    pos_ += k;
    return p;
  }
  static constexpr std::size_t kWords = 512;

 private:
  Rng& rng_;
  u64 buf_[kWords];
  std::size_t pos_ = kWords;
};
}  // namespace

u64 sample_uniform_mod(Rng& rng, const Modulus& q) {
  const u64 mask = q.bits() >= 64 ? ~u64{0} : (u64{1} << q.bits()) - 1;
  for (;;) {
    const u64 v = rng.next_u64() & mask;
    if (v < q.value()) return v;
  }
}

RnsPoly sample_uniform_poly(Rng& rng, const RnsBasis& basis, std::size_t limbs, bool ntt_form) {
  HEAL_REQUIRE(limbs <= basis.size(), "sample_uniform_poly: basis has fewer primes than limbs");
  const std::size_t n = basis.n();
  RnsPoly p = RnsPoly::uninitialized(n, limbs, ntt_form);
  WordStream ws(rng);
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = basis.modulus(i);
    const u64 qv = q.value();
    const u64 mask = (u64{1} << q.bits()) - 1;
    u64* d = p.limb(i);
    for (std::size_t j = 0; j < n; ++j) {
      u64 v;
      do {
        v = ws.next() & mask;
      } while (v >= qv);
      d[j] = v;
    }
  }
  return p;
}

RnsPoly expand_uniform_poly(const Seed& seed, std::uint64_t stream, const RnsBasis& basis,
                            std::size_t limbs, bool ntt_form) {
  SeededRng rng(seed, stream);
  return sample_uniform_poly(rng, basis, limbs, ntt_form);
}

std::vector<std::int64_t> sample_ternary(Rng& rng, std::size_t n) {
  std::vector<std::int64_t> out(n);
  WordStream ws(rng);
  std::size_t i = 0;
  while (i < n) {
    u64 w = ws.next();
    for (int b = 0; b < 8 && i < n; ++b, w >>= 8) {
      const unsigned byte = static_cast<unsigned>(w & 0xff);
      if (byte >= 255) continue;  // 255 = 3 * 85: reject to stay unbiased
      out[i++] = static_cast<std::int64_t>(byte % 3) - 1;
    }
  }
  return out;
}

std::vector<std::int64_t> sample_ternary_hw(Rng& rng, std::size_t n, std::size_t h) {
  HEAL_REQUIRE(h <= n, "sample_ternary_hw: Hamming weight " << h << " exceeds degree " << n);
  std::vector<std::uint32_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = static_cast<std::uint32_t>(i);
  std::vector<std::int64_t> out(n, 0);
  // Partial Fisher-Yates: the first h entries of idx become a uniform h-subset.
  for (std::size_t i = 0; i < h; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(rng.uniform(n - i));
    std::swap(idx[i], idx[j]);
    out[idx[i]] = (rng.next_u32() & 1) ? 1 : -1;
  }
  return out;
}

namespace {

// Signed samples from pairs of uniform words: words[2i] gives |X| by counting the CDT thresholds
// not above it, words[2i+1]'s low bit gives the sign (applied without a branch). Every kernel
// scans the whole table for every sample (no data-dependent exit or index), so the time does not
// depend on the samples, and every kernel returns the scalar kernel's words.
void cdt_block_scalar(const u64* words, std::size_t count, const u64* thr, std::size_t nt, std::int64_t* out) {
  for (std::size_t i = 0; i < count; ++i) {
    const u64 u = words[2 * i];
    std::int64_t k = 0;
    for (std::size_t j = 0; j < nt; ++j) k += static_cast<std::int64_t>(u >= thr[j]);
    const std::int64_t neg = -static_cast<std::int64_t>(words[2 * i + 1] & 1);
    out[i] = (k ^ neg) - neg;
  }
}

#if HEAL_X86_KERNELS
// 8 samples per step: unsigned compare masks (AVX-512F) counted into 64-bit lanes.
HEAL_TARGET_AVX512 void cdt_block_avx512(const u64* words, std::size_t count, const u64* thr, std::size_t nt,
                                         std::int64_t* out) {
  const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  const __m512i one = _mm512_set1_epi64(1);
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m512i lo = _mm512_loadu_si512(words + 2 * i);
    const __m512i hi = _mm512_loadu_si512(words + 2 * i + 8);
    const __m512i u = _mm512_permutex2var_epi64(lo, even, hi);
    const __m512i s = _mm512_permutex2var_epi64(lo, odd, hi);
    __m512i k = _mm512_setzero_si512();
    for (std::size_t j = 0; j < nt; ++j) {
      const __mmask8 ge = _mm512_cmpge_epu64_mask(u, _mm512_set1_epi64(static_cast<long long>(thr[j])));
      k = _mm512_mask_add_epi64(k, ge, k, one);
    }
    const __m512i neg = _mm512_sub_epi64(_mm512_setzero_si512(), _mm512_and_si512(s, one));
    _mm512_storeu_si512(out + i, _mm512_sub_epi64(_mm512_xor_si512(k, neg), neg));
  }
  cdt_block_scalar(words + 2 * i, count - i, thr, nt, out + i);
}

// 4 samples per step. AVX2 has only a signed 64-bit compare, so both sides are offset by 2^63:
// u >= t  <=>  !(t' > u'), and k = nt + sum over thresholds of the (0 / -1) mask of t' > u'.
HEAL_TARGET_AVX2 void cdt_block_avx2(const u64* words, std::size_t count, const u64* thr, std::size_t nt,
                                     std::int64_t* out) {
  const __m256i bias = _mm256_set1_epi64x(static_cast<long long>(u64{1} << 63));
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i total = _mm256_set1_epi64x(static_cast<long long>(nt));
  std::size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + 2 * i));      // u0 s0 u1 s1
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + 2 * i + 4));  // u2 s2 u3 s3
    // unpacklo/hi work per 128-bit half: (u0 u2 | u1 u3) and (s0 s2 | s1 s3); fix the order last.
    const __m256i u = _mm256_xor_si256(_mm256_unpacklo_epi64(a, b), bias);
    const __m256i s = _mm256_unpackhi_epi64(a, b);
    __m256i k = total;
    for (std::size_t j = 0; j < nt; ++j) {
      const __m256i t = _mm256_set1_epi64x(static_cast<long long>(thr[j] ^ (u64{1} << 63)));
      k = _mm256_add_epi64(k, _mm256_cmpgt_epi64(t, u));
    }
    const __m256i neg = _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_and_si256(s, one));
    const __m256i r = _mm256_sub_epi64(_mm256_xor_si256(k, neg), neg);                     // r0 r2 r1 r3
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permute4x64_epi64(r, 0xD8));  // r0 r1 r2 r3
  }
  cdt_block_scalar(words + 2 * i, count - i, thr, nt, out + i);
}
#endif

// Cumulative distribution table of |X| for the discrete Gaussian D_{Z,sigma} truncated to
// [-6 sigma, 6 sigma]: thresholds[k] = floor(2^64 * P(|X| <= k)). The mass of |X| = k > 0 counts
// both signs. 64-bit thresholds put the table within ~2^-60 statistical distance of the exact
// truncated distribution.
class GaussianCdt {
 public:
  explicit GaussianCdt(double sigma) : sigma_(sigma) {
    const int bound = static_cast<int>(std::floor(6.0 * sigma));
    std::vector<long double> mass(static_cast<std::size_t>(bound) + 1);
    long double total = 0;
    for (int k = 0; k <= bound; ++k) {
      const long double w = std::exp(-static_cast<long double>(k) * k / (2.0L * sigma * sigma));
      mass[static_cast<std::size_t>(k)] = k == 0 ? w : 2 * w;
      total += mass[static_cast<std::size_t>(k)];
    }
    long double cum = 0;
    thresholds_.reserve(mass.size());
    for (std::size_t k = 0; k + 1 < mass.size(); ++k) {
      cum += mass[k] / total;
      thresholds_.push_back(static_cast<u64>(std::min(cum * 0x1.0p64L, 0x1.0p64L - 1.0L)));
    }
  }
  double sigma() const { return sigma_; }

  /// Signed samples from 2 * count uniform words (see cdt_block_scalar), with the vector kernel
  /// of the current SIMD level.
  void sample(const u64* words, std::size_t count, std::int64_t* out) const {
    const u64* t = thresholds_.data();
    const std::size_t nt = thresholds_.size();
#if HEAL_X86_KERNELS
    switch (simd_level()) {
      case SimdLevel::kAvx512: cdt_block_avx512(words, count, t, nt, out); return;
      case SimdLevel::kAvx2: cdt_block_avx2(words, count, t, nt, out); return;
      case SimdLevel::kScalar: break;
    }
#endif
    cdt_block_scalar(words, count, t, nt, out);
  }

 private:
  double sigma_;
  std::vector<u64> thresholds_;
};

// Sigma at or below which the exact CDT is used (the RLWE error, sigma = 3.2, and small
// multiples of it); above, a rounded continuous Gaussian is used (noise flooding, where the
// standard deviation is astronomically larger than any table could cover).
constexpr double kCdtMaxSigma = 64.0;

}  // namespace

std::vector<std::int64_t> sample_gaussian(Rng& rng, std::size_t n, double sigma) {
  HEAL_REQUIRE(sigma > 0, "sample_gaussian: sigma must be positive");
  std::vector<std::int64_t> out(n);
  WordStream ws(rng);
  if (sigma <= kCdtMaxSigma) {
    static thread_local std::unique_ptr<GaussianCdt> cdt;
    if (!cdt || cdt->sigma() != sigma) cdt = std::make_unique<GaussianCdt>(sigma);
    // Sample i takes words 2i (magnitude) and 2i + 1 (sign) of the stream, a buffer at a time
    // (the stream wipes its buffer when it goes).
    constexpr std::size_t kBlock = WordStream::kWords / 2;
    for (std::size_t i = 0; i < n; i += kBlock) {
      const std::size_t count = std::min(kBlock, n - i);
      cdt->sample(ws.take(2 * count), count, out.data() + i);
    }
    return out;
  }
  const double bound = 6.0 * sigma;
  std::size_t i = 0;
  auto unit = [&ws] { return (static_cast<double>(ws.next() >> 11) + 0.5) * 0x1.0p-53; };  // (0,1)
  while (i < n) {
    // Box-Muller: two independent N(0,1) from two uniforms in (0, 1), then rounded.
    const double r = std::sqrt(-2.0 * std::log(unit())) * sigma;
    const double th = 2.0 * std::numbers::pi * unit();
    for (double x : {r * std::cos(th), r * std::sin(th)}) {
      if (i < n && std::fabs(x) <= bound) out[i++] = static_cast<std::int64_t>(std::llround(x));
    }
  }
  return out;
}

}  // namespace heal::math
