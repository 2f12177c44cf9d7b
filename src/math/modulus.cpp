#include "heal/math/modulus.h"

#include <algorithm>
#include <bit>

namespace heal::math {

Modulus::Modulus(u64 q) : value_(q) {
  HEAL_REQUIRE(q >= 2 && q < (u64{1} << 62), "Modulus: expected 2 <= q < 2^62, got " << q);
  const u128 full = ~static_cast<u128>(0);  // 2^128 - 1
  u128 ratio = full / q;
  if (full % q == q - 1) ++ratio;  // floor(2^128/q) when q divides 2^128 exactly (q power of 2)
  ratio_hi_ = static_cast<u64>(ratio >> 64);
  ratio_lo_ = static_cast<u64>(ratio);
  bits_ = 64 - std::countl_zero(q);
}

u64 Modulus::pow(u64 a, u64 e) const {
  u64 r = 1 % value_, b = reduce(a);
  while (e) {
    if (e & 1) r = mul(r, b);
    b = mul(b, b);
    e >>= 1;
  }
  return r;
}

u64 Modulus::inv(u64 a) const {
  // Extended Euclid on signed 128-bit to avoid overflow.
  i128 t = 0, new_t = 1, r = value_, new_r = reduce(a);
  while (new_r != 0) {
    const i128 qq = r / new_r;
    const i128 tt = t - qq * new_t;
    t = new_t;
    new_t = tt;
    const i128 rr = r - qq * new_r;
    r = new_r;
    new_r = rr;
  }
  HEAL_REQUIRE(r == 1, "Modulus::inv: " << a << " is not invertible mod " << value_);
  if (t < 0) t += value_;
  return static_cast<u64>(t);
}

namespace {
u64 mulmod(u64 a, u64 b, u64 m) { return static_cast<u64>((static_cast<u128>(a) * b) % m); }
u64 powmod(u64 a, u64 e, u64 m) {
  u64 r = 1 % m;
  a %= m;
  while (e) {
    if (e & 1) r = mulmod(r, a, m);
    a = mulmod(a, a, m);
    e >>= 1;
  }
  return r;
}
}  // namespace

bool is_prime(u64 n) {
  if (n < 2) return false;
  for (u64 p : {2ull, 3ull, 5ull, 7ull, 11ull, 13ull, 17ull, 19ull, 23ull, 29ull, 31ull, 37ull}) {
    if (n % p == 0) return n == p;
  }
  u64 d = n - 1;
  int s = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++s;
  }
  // These 12 bases make Miller-Rabin deterministic for n < 3.3e24 (Sorenson & Webster 2015).
  for (u64 a : {2ull, 3ull, 5ull, 7ull, 11ull, 13ull, 17ull, 19ull, 23ull, 29ull, 31ull, 37ull}) {
    u64 x = powmod(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int r = 1; r < s; ++r) {
      x = mulmod(x, x, n);
      if (x == n - 1) {
        composite = false;
        break;
      }
    }
    if (composite) return false;
  }
  return true;
}

std::vector<u64> generate_ntt_primes(int bits, std::size_t count, std::size_t n,
                                     const std::vector<u64>& exclude) {
  HEAL_REQUIRE(bits >= 20 && bits <= 61, "generate_ntt_primes: bits must be in [20, 61], got " << bits);
  HEAL_REQUIRE(n >= 2 && std::has_single_bit(n), "generate_ntt_primes: n must be a power of two");
  const u64 step = 2 * static_cast<u64>(n);
  const u64 lower = u64{1} << (bits - 1);
  // Largest value = 1 mod 2n below 2^bits.
  u64 cand = (u64{1} << bits) - step + 1;
  std::vector<u64> out;
  while (out.size() < count && cand > lower) {
    if (is_prime(cand) && std::find(exclude.begin(), exclude.end(), cand) == exclude.end()) {
      out.push_back(cand);
    }
    cand -= step;
  }
  HEAL_REQUIRE(out.size() == count, "generate_ntt_primes: only " << out.size() << " of " << count
                                                                 << " primes of " << bits
                                                                 << " bits are = 1 mod " << step);
  return out;
}

u64 minimal_primitive_root(std::size_t two_n, const Modulus& q) {
  const u64 qv = q.value();
  HEAL_REQUIRE((qv - 1) % two_n == 0, "minimal_primitive_root: q != 1 mod 2n");
  const u64 cofactor = (qv - 1) / two_n;
  u64 root = 0;
  for (u64 g = 2; g < qv; ++g) {
    const u64 r = q.pow(g, cofactor);
    if (q.pow(r, two_n / 2) == qv - 1) {
      root = r;
      break;
    }
  }
  HEAL_REQUIRE(root != 0, "minimal_primitive_root: none found");
  // The primitive 2n-th roots are root^k for odd k; take the smallest for determinism.
  const u64 gen_sq = q.mul(root, root);
  u64 best = root, cur = root;
  for (std::size_t k = 1; k < two_n / 2; ++k) {
    cur = q.mul(cur, gen_sq);
    if (cur < best) best = cur;
  }
  return best;
}

}  // namespace heal::math
