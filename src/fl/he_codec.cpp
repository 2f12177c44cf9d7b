// HE aggregator internals: per-chunk seeds, coefficient encoding (exact integer residues of
// round(value * delta)) with centered CRT decoding, and the wire format (he_internal.h).
#include <array>
#include <cmath>
#include <cstring>

#include "he_internal.h"
#include "heal/ckks/serialization.h"
#include "heal/core/check.h"
#include "heal/core/hash.h"
#include "heal/core/serialization.h"
#include "heal/math/modulus.h"

namespace heal::fl::he {

using math::u64;
using math::u128;

Seed chunk_seed(const Seed& crs, std::uint64_t round, std::uint64_t chunk) {
  // "HEAL-fl-he-a" (12 bytes) || crs || u64 round || u64 chunk, little-endian.
  std::array<std::uint8_t, 12 + 32 + 16> buf{};
  std::memcpy(buf.data(), "HEAL-fl-he-a", 12);
  std::memcpy(buf.data() + 12, crs.data(), 32);
  for (int b = 0; b < 8; ++b) {
    buf[44 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(round >> (8 * b));
    buf[52 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(chunk >> (8 * b));
  }
  return blake2b_256(std::span<const std::uint8_t>(buf));
}

namespace {

// |x| as an exact 128-bit integer (x is integer-valued, |x| < 2^126).
u128 to_u128(double x) {
  const double a = std::fabs(x);
  if (a < 0x1p63) return static_cast<u128>(static_cast<u64>(a));
  int e = 0;
  const double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  const u64 mant = static_cast<u64>(std::ldexp(m, 53));
  return static_cast<u128>(mant) << (e - 53);
}

}  // namespace

math::RnsPoly encode_coefficients(const ckks::Context& ctx, std::span<const double> values, double delta) {
  const std::size_t n = ctx.n(), limbs = ctx.q_count();
  HEAL_REQUIRE(values.size() <= n, "encode_coefficients: " << values.size() << " values for " << n << " coefficients");
  math::RnsPoly p(n, limbs, false);
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double v = std::nearbyint(values[k] * delta);
    HEAL_DCHECK(std::fabs(v) < 0x1p126);
    const u128 mag = to_u128(v);
    for (std::size_t i = 0; i < limbs; ++i) {
      const math::Modulus& q = ctx.q(i);
      const u64 r = q.reduce128(mag);
      p.limb(i)[k] = v < 0 ? q.sub(0, r) : r;
    }
  }
  return p;
}

void decode_coefficients(const ckks::Context& ctx, const math::RnsPoly& poly, double delta, std::span<double> out) {
  const std::size_t limbs = ctx.q_count();
  HEAL_REQUIRE(!poly.is_ntt() && poly.num_limbs() == limbs && out.size() <= ctx.n(),
               "decode_coefficients: expects a coefficient-form polynomial over every Q prime");
  // Garner mixed radix: x = r0 + q0 (x1 + q1 (x2 + ...)), exact in 128 bits (Q < 2^126 checked at setup).
  std::vector<u64> qv(limbs);
  for (std::size_t i = 0; i < limbs; ++i) qv[i] = ctx.q(i).value();
  std::vector<std::vector<u64>> inv(limbs, std::vector<u64>(limbs, 0));  // inv[i][j] = q_j^-1 mod q_i
  for (std::size_t i = 1; i < limbs; ++i)
    for (std::size_t j = 0; j < i; ++j) inv[i][j] = ctx.q(i).inv(ctx.q(i).reduce(qv[j]));
  u128 big_q = 1;
  for (u64 q : qv) big_q *= q;
  const u128 half = big_q / 2;
  std::vector<u64> digit(limbs);
  for (std::size_t k = 0; k < out.size(); ++k) {
    for (std::size_t i = 0; i < limbs; ++i) {
      const math::Modulus& qi = ctx.q(i);
      u64 x = poly.limb(i)[k];
      for (std::size_t j = 0; j < i; ++j) x = qi.mul(qi.sub(x, qi.reduce(digit[j])), inv[i][j]);
      digit[i] = x;
    }
    u128 v = 0;
    for (std::size_t i = limbs; i-- > 0;) v = v * qv[i] + digit[i];
    const double mag = v > half ? -static_cast<double>(big_q - v) : static_cast<double>(v);
    out[k] = mag / delta;
  }
}

Bytes write_message(const Shared& sh, std::uint8_t kind, std::uint64_t round, std::span<const PartyId> ids,
                    std::uint64_t length, std::span<const Bytes> chunks) {
  ByteWriter w;
  const std::size_t start = begin_object(w, ObjectType::kFlUpdate, kWireVersion);
  w.put<std::uint8_t>(kind);
  w.put<std::uint64_t>(round);
  w.put_bytes(sh.params_hash);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ids.size()));
  for (PartyId id : ids) w.put<std::uint32_t>(id);
  w.put<std::uint64_t>(length);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(chunks.size()));
  for (const Bytes& c : chunks) {
    w.put<std::uint64_t>(c.size());
    w.put_bytes(c);
  }
  end_object(w, start);
  return w.take();
}

Result<Parsed> read_message(const Shared& sh, std::span<const std::uint8_t> bytes, std::uint8_t kind,
                            std::uint64_t round, std::size_t length) {
  ByteReader r(bytes);
  HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, ObjectType::kFlUpdate, kWireVersion));
  if (h.version != kWireVersion) return Status::corruption("he update: not an HE (version 2) message");
  if (h.payload_size != r.remaining()) return Status::corruption("he update: payload length mismatch");
  Parsed p;
  HEAL_RETURN_IF_ERROR(r.get(&p.kind));
  HEAL_RETURN_IF_ERROR(r.get(&p.round));
  if (p.kind != kind) return Status::corruption("he update: unexpected kind " + std::to_string(p.kind));
  if (p.round != round) {
    return Status::corruption("he update is for round " + std::to_string(p.round) + ", expected " + std::to_string(round));
  }
  std::span<const std::uint8_t> ph;
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &ph));
  if (std::memcmp(ph.data(), sh.params_hash.data(), 32) != 0) return Status::corruption("he update: parameter hash mismatch");
  std::uint32_t count = 0;
  HEAL_RETURN_IF_ERROR(r.get(&count));
  if (count == 0 || count > sh.parties) return Status::corruption("he update: bad party count " + std::to_string(count));
  for (std::uint32_t i = 0; i < count; ++i) {
    PartyId id = 0;
    HEAL_RETURN_IF_ERROR(r.get(&id));
    if (id >= sh.parties) return Status::corruption("he update: unknown party " + std::to_string(id));
    if (!p.ids.empty() && id <= p.ids.back()) return Status::corruption("he update: party ids not sorted and distinct");
    p.ids.push_back(id);
  }
  HEAL_RETURN_IF_ERROR(r.get(&p.length));
  if (p.length != length) {
    return Status::corruption("he update has " + std::to_string(p.length) + " values, expected " + std::to_string(length));
  }
  std::uint32_t nchunks = 0;
  HEAL_RETURN_IF_ERROR(r.get(&nchunks));
  if (nchunks != chunk_count(sh, length)) return Status::corruption("he update: wrong number of ciphertexts");
  for (std::uint32_t c = 0; c < nchunks; ++c) {
    std::uint64_t size = 0;
    HEAL_RETURN_IF_ERROR(r.get(&size));
    if (size > r.remaining()) return Status::corruption("he update: truncated ciphertext");
    std::span<const std::uint8_t> b;
    HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(size), &b));
    p.chunks.push_back(b);
  }
  if (!r.at_end()) return Status::corruption("he update: trailing bytes");
  return p;
}

}  // namespace heal::fl::he
