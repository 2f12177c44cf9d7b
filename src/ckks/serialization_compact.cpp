// Lossy compact polynomials: the CRT integer of each coefficient without its k low bits.
//
// The idea is the ciphertext compression of LWE/MLWE schemes (Kyber, "CRYSTALS-Kyber", ePrint
// 2017/634, Compress_q / Decompress_q: round(x * 2^d / q), and the "dropping low-order bits"
// of the public key and ciphertext there): bits far below the noise already in a value carry no
// information and can be rounded away, adding a uniform error |e| <= 2^(k-1) (std 2^k / sqrt 12).
// Here the modulus is Q = prod q_i (RNS), so each coefficient is CRT-reconstructed to an integer
// in [0, Q) first (Q < 2^126: unsigned 128-bit arithmetic), rounded to v = floor((x + 2^(k-1)) /
// 2^k) and packed; the reader maps v back to v * 2^k mod q_i. Rounding is a public function of the
// value, so it is post-processing: it reveals nothing the unrounded value would not.
#include <algorithm>
#include <bit>
#include <string>

#include "heal/core/check.h"
#include "heal/math/rns_poly.h"
#include "serialization_internal.h"

namespace heal::ckks::ser {

namespace {

using math::u128;

constexpr int kMaxQBits = 126;

// CRT constants of Q_l = q_0 ... q_{limbs-1}: x = sum_i [x_i * qinv_i]_{q_i} * qhat_i mod Q_l.
struct Crt {
  u128 q = 1;
  std::vector<u128> qhat;  // Q_l / q_i
  std::vector<u64> qinv;   // (Q_l / q_i)^-1 mod q_i
};

Result<Crt> make_crt(const math::RnsBasis& basis, std::size_t limbs) {
  if (limbs == 0 || limbs > basis.size()) return Status::corruption("compact polynomial: limb count out of range");
  Crt c;
  const u128 limit = u128{1} << kMaxQBits;
  for (std::size_t i = 0; i < limbs; ++i) {
    const u64 qi = basis.modulus(i).value();
    if (c.q > (limit - 1) / qi) {
      return Status::invalid_argument("compact polynomial: Q of " + std::to_string(limbs) +
                                      " limbs is not below 2^126 (unsupported)");
    }
    c.q *= qi;
  }
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& qi = basis.modulus(i);
    const u128 hat = c.q / qi.value();
    c.qhat.push_back(hat);
    c.qinv.push_back(qi.inv(qi.reduce128(hat)));
  }
  return c;
}

// floor((Q - 1 + 2^(k-1)) / 2^k): the largest rounded value.
u128 max_rounded(u128 q, int k) { return k == 0 ? q - 1 : (q - 1 + (u128{1} << (k - 1))) >> k; }

int bit_width128(u128 x) {
  const u64 hi = static_cast<u64>(x >> 64);
  return static_cast<int>(hi != 0 ? 64 + std::bit_width(hi) : std::bit_width(static_cast<u64>(x)));
}

}  // namespace

Result<int> compact_bits(const math::RnsBasis& basis, std::size_t limbs, int drop_bits) {
  HEAL_ASSIGN_OR_RETURN(Crt c, make_crt(basis, limbs));
  const int qbits = bit_width128(c.q - 1);
  if (drop_bits < 0 || drop_bits >= qbits) {
    return Status::invalid_argument("compact polynomial: dropped bits " + std::to_string(drop_bits) + " not in [0, " +
                                    std::to_string(qbits) + ")");
  }
  return std::max(1, bit_width128(max_rounded(c.q, drop_bits)));
}

std::size_t compact_size(std::size_t n, int bits) { return (n * static_cast<std::size_t>(bits) + 7) / 8; }

void put_compact_poly(ByteWriter& w, const math::RnsPoly& p, const math::RnsBasis& basis, int drop_bits) {
  HEAL_REQUIRE(p.num_limbs() >= 1 && p.num_limbs() <= basis.size() && p.n() == basis.n(),
               "serialize: polynomial does not fit the basis");
  auto crt = make_crt(basis, p.num_limbs());
  HEAL_REQUIRE(crt.ok(), "serialize: " << crt.status().message());
  auto bits = compact_bits(basis, p.num_limbs(), drop_bits);
  HEAL_REQUIRE(bits.ok(), "serialize: " << bits.status().message());
  math::RnsPoly coeffs = p;
  if (coeffs.is_ntt()) coeffs.intt_inplace(basis);
  const std::size_t n = p.n(), limbs = p.num_limbs();
  const int k = drop_bits, width = *bits;
  const u128 half = k == 0 ? 0 : u128{1} << (k - 1);
  Bytes buf(compact_size(n, width), 0);
  u128 acc = 0;  // holds < 8 + 64 pending bits
  int have = 0;
  std::size_t pos = 0;
  auto emit = [&](u64 chunk, int nbits) {
    acc |= static_cast<u128>(chunk) << have;
    have += nbits;
    while (have >= 8) {
      buf[pos++] = static_cast<std::uint8_t>(acc);
      acc >>= 8;
      have -= 8;
    }
  };
  for (std::size_t t = 0; t < n; ++t) {
    u128 x = 0;
    for (std::size_t i = 0; i < limbs; ++i) {
      const math::Modulus& qi = basis.modulus(i);
      x += static_cast<u128>(qi.mul(coeffs.limb(i)[t], crt->qinv[i])) * crt->qhat[i];  // term < Q
      if (x >= crt->q) x -= crt->q;
    }
    const u128 v = (x + half) >> k;
    if (width > 64) {
      emit(static_cast<u64>(v), 64);
      emit(static_cast<u64>(v >> 64), width - 64);
    } else {
      emit(static_cast<u64>(v), width);
    }
  }
  if (have > 0) buf[pos++] = static_cast<std::uint8_t>(acc);
  HEAL_DCHECK(pos == buf.size());
  w.put_bytes(buf);
}

Status get_compact_poly(ByteReader& r, const math::RnsBasis& basis, std::size_t limbs, int drop_bits, bool ntt,
                        math::RnsPoly* out) {
  HEAL_ASSIGN_OR_RETURN(Crt crt, make_crt(basis, limbs));
  auto bits = compact_bits(basis, limbs, drop_bits);
  if (!bits.ok()) return Status::corruption(bits.status().message());
  const std::size_t n = basis.n();
  const int k = drop_bits, width = *bits;
  const std::size_t need = compact_size(n, width);
  if (r.remaining() < need) {
    return Status::corruption("truncated compact polynomial: need " + std::to_string(need) + " bytes, have " +
                              std::to_string(r.remaining()));
  }
  std::span<const std::uint8_t> b;
  HEAL_RETURN_IF_ERROR(r.get_bytes(need, &b));
  const u128 vmax = max_rounded(crt.q, k);
  math::RnsPoly p(n, limbs, false);
  u128 acc = 0;
  int have = 0;
  std::size_t pos = 0;
  auto take = [&](int nbits) {
    while (have < nbits) {
      acc |= static_cast<u128>(b[pos++]) << have;
      have += 8;
    }
    const u64 mask = nbits == 64 ? ~u64{0} : (u64{1} << nbits) - 1;
    const u64 v = static_cast<u64>(acc) & mask;
    acc >>= nbits;
    have -= nbits;
    return v;
  };
  for (std::size_t t = 0; t < n; ++t) {
    u128 v = 0;
    if (width > 64) {
      v = take(64);
      v |= static_cast<u128>(take(width - 64)) << 64;
    } else {
      v = take(width);
    }
    if (v > vmax) return Status::corruption("compact polynomial: coefficient " + std::to_string(t) + " out of range");
    const u128 y = v << k;  // <= Q - 1 + 2^(k-1) < 2^127
    for (std::size_t i = 0; i < limbs; ++i) p.limb(i)[t] = basis.modulus(i).reduce128(y);
  }
  if (acc != 0) return Status::corruption("compact polynomial: nonzero padding bits");
  if (ntt) p.ntt_inplace(basis);
  *out = std::move(p);
  return {};
}

}  // namespace heal::ckks::ser
