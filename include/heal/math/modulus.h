// 64-bit modular arithmetic for RNS primes: Barrett reduction (64- and 128-bit inputs),
// Shoup multiplication by a precomputed constant, and small number theory helpers.
#pragma once

#include <cstdint>
#include <vector>

#include "heal/core/check.h"

namespace heal::math {

using u64 = std::uint64_t;
__extension__ typedef unsigned __int128 u128;  // __extension__: GCC/Clang builtin, silences -Wpedantic
__extension__ typedef __int128 i128;

/// High 64 bits of a 64x64-bit product.
inline u64 mul_hi(u64 a, u64 b) { return static_cast<u64>((static_cast<u128>(a) * b) >> 64); }

/// An odd modulus q < 2^62 with its Barrett constant floor(2^128 / q) (two words).
/// The NTT requires q <= 2^60 so that 4q fits in a word.
class Modulus {
 public:
  Modulus() = default;
  /// Precomputes the Barrett constant; requires 2 <= q < 2^62.
  explicit Modulus(u64 q);

  u64 value() const { return value_; }
  int bits() const { return bits_; }
  /// floor(2^128 / q) = ratio_hi * 2^64 + ratio_lo; ratio_hi = floor(2^64 / q).
  u64 ratio_hi() const { return ratio_hi_; }
  u64 ratio_lo() const { return ratio_lo_; }

  /// x mod q for any 64-bit x (Barrett with floor(2^64/q)).
  u64 reduce(u64 x) const {
    u64 r = x - mul_hi(x, ratio_hi_) * value_;
    return r >= value_ ? r - value_ : r;
  }
  /// x mod q for any 128-bit x (Barrett with floor(2^128/q)).
  u64 reduce128(u128 x) const {
    const u64 x0 = static_cast<u64>(x), x1 = static_cast<u64>(x >> 64);
    const u128 a = static_cast<u128>(x0) * ratio_lo_;
    const u128 b = static_cast<u128>(x0) * ratio_hi_;
    const u128 c = static_cast<u128>(x1) * ratio_lo_;
    const u128 mid = (a >> 64) + static_cast<u64>(b) + static_cast<u64>(c);
    const u64 qest = x1 * ratio_hi_ + static_cast<u64>(b >> 64) + static_cast<u64>(c >> 64) +
                     static_cast<u64>(mid >> 64);
    u64 r = x0 - qest * value_;
    r = r >= value_ ? r - value_ : r;
    return r >= value_ ? r - value_ : r;
  }
  /// a * b mod q (a, b < q).
  u64 mul(u64 a, u64 b) const { return reduce128(static_cast<u128>(a) * b); }
  /// a + b mod q (a, b < q).
  u64 add(u64 a, u64 b) const {
    u64 s = a + b;
    return s >= value_ ? s - value_ : s;
  }
  /// a - b mod q (a, b < q).
  u64 sub(u64 a, u64 b) const { return a >= b ? a - b : a + value_ - b; }
  /// -a mod q (a < q).
  u64 neg(u64 a) const { return a == 0 ? 0 : value_ - a; }
  /// Signed integer reduced into [0, q).
  u64 from_signed(std::int64_t v) const {
    if (v >= 0) return reduce(static_cast<u64>(v));
    u64 r = reduce(static_cast<u64>(-(v + 1)) + 1);
    return r == 0 ? 0 : value_ - r;
  }
  /// Centered representative of a in (-q/2, q/2].
  std::int64_t centered(u64 a) const {
    return a > (value_ >> 1) ? -static_cast<std::int64_t>(value_ - a) : static_cast<std::int64_t>(a);
  }
  /// a^e mod q.
  u64 pow(u64 a, u64 e) const;
  /// a^-1 mod q; requires gcd(a, q) = 1 (HEAL_REQUIRE).
  u64 inv(u64 a) const;

  friend bool operator==(const Modulus& a, const Modulus& b) { return a.value_ == b.value_; }

 private:
  u64 value_ = 0;
  u64 ratio_hi_ = 0, ratio_lo_ = 0;
  int bits_ = 0;
};

/// Shoup quotient w' = floor(w * 2^64 / q) for a constant w < q.
inline u64 shoup_precompute(u64 w, u64 q) { return static_cast<u64>((static_cast<u128>(w) << 64) / q); }

/// x * w mod q in [0, 2q) given w' = shoup_precompute(w, q); any 64-bit x (Harvey/Shoup).
inline u64 mul_shoup_lazy(u64 x, u64 w, u64 w_shoup, u64 q) { return x * w - mul_hi(x, w_shoup) * q; }

/// x * w mod q fully reduced to [0, q).
inline u64 mul_shoup(u64 x, u64 w, u64 w_shoup, u64 q) {
  u64 r = mul_shoup_lazy(x, w, w_shoup, q);
  return r >= q ? r - q : r;
}

/// A constant multiplier with its Shoup quotient.
struct ShoupConst {
  u64 value = 0;
  u64 shoup = 0;
  ShoupConst() = default;
  ShoupConst(u64 w, u64 q) : value(w), shoup(shoup_precompute(w, q)) {}
};

/// Deterministic Miller-Rabin primality test, exact for all 64-bit integers.
bool is_prime(u64 n);

/// `count` distinct primes q = 1 (mod 2n) with exactly `bits` bits, descending from 2^bits,
/// skipping any value in `exclude`. Throws std::invalid_argument if not enough exist or
/// bits is outside [20, 61].
std::vector<u64> generate_ntt_primes(int bits, std::size_t count, std::size_t n,
                                     const std::vector<u64>& exclude = {});

/// The smallest primitive 2n-th root of unity mod q (q = 1 mod 2n, q prime).
u64 minimal_primitive_root(std::size_t two_n, const Modulus& q);

/// Reverses the low `bits` bits of x.
inline std::uint32_t reverse_bits(std::uint32_t x, int bits) {
  std::uint32_t r = 0;
  for (int i = 0; i < bits; ++i) r |= ((x >> i) & 1u) << (bits - 1 - i);
  return r;
}

}  // namespace heal::math
