#include "heal/math/sampler.h"

#include <bit>
#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

namespace heal::math {

namespace {
// Pulls random words from the rng in blocks (one virtual call per block, not per word).
class WordStream {
 public:
  explicit WordStream(Rng& rng) : rng_(rng) {}
  u64 next() {
    if (pos_ == kWords) {
      rng_.fill({reinterpret_cast<std::uint8_t*>(buf_), sizeof(buf_)});
      pos_ = 0;
    }
    return buf_[pos_++];
  }

 private:
  static constexpr std::size_t kWords = 512;
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

  /// |X| from one 64-bit uniform word: the number of thresholds not above u, computed over the
  /// whole table (no data-dependent early exit, so timing does not depend on the sample).
  std::int64_t magnitude(u64 u) const {
    std::int64_t k = 0;
    for (u64 t : thresholds_) k += static_cast<std::int64_t>(u >= t);
    return k;
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
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t mag = cdt->magnitude(ws.next());
      // Random sign from a separate word; the mask is 0 or -1, applied without a branch.
      const std::int64_t neg = -static_cast<std::int64_t>(ws.next() & 1);
      out[i] = (mag ^ neg) - neg;
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
