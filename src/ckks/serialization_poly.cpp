// Packed residues, parameter hash and the parameter-set object (docs/formats/ckks.md).
#include <bit>
#include <cmath>
#include <cstring>

#include "heal/ckks/serialization.h"
#include "heal/core/check.h"
#include "serialization_internal.h"

namespace heal::ckks {

namespace ser {

int residue_bits(const math::Modulus& q) { return static_cast<int>(std::bit_width(q.value() - 1)); }

std::size_t packed_size(const math::RnsBasis& basis, std::size_t limbs) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < limbs; ++i) total += (basis.n() * static_cast<std::size_t>(residue_bits(basis.modulus(i))) + 7) / 8;
  return total;
}

void put_poly(ByteWriter& w, const math::RnsPoly& p, const math::RnsBasis& basis) {
  HEAL_REQUIRE(p.num_limbs() <= basis.size() && p.n() == basis.n(), "serialize: polynomial does not fit the basis");
  // One staging buffer, sized once (no reallocation leaves a copy behind) and wiped at the end:
  // p may be a secret key.
  Bytes buf;
  buf.reserve((p.n() * 64 + 7) / 8);
  for (std::size_t i = 0; i < p.num_limbs(); ++i) {
    const int bits = residue_bits(basis.modulus(i));
    const std::size_t bytes = (p.n() * static_cast<std::size_t>(bits) + 7) / 8;
    buf.assign(bytes, 0);
    math::u128 acc = 0;
    int have = 0;
    std::size_t pos = 0;
    const u64* x = p.limb(i);
    for (std::size_t t = 0; t < p.n(); ++t) {
      acc |= static_cast<math::u128>(x[t]) << have;
      have += bits;
      while (have >= 8) {
        buf[pos++] = static_cast<std::uint8_t>(acc);
        acc >>= 8;
        have -= 8;
      }
    }
    if (have > 0) buf[pos++] = static_cast<std::uint8_t>(acc);
    w.put_bytes(buf);
  }
  secure_wipe(buf);
}

Status get_poly(ByteReader& r, const math::RnsBasis& basis, std::size_t limbs, bool ntt, math::RnsPoly* out) {
  if (limbs == 0 || limbs > basis.size()) return Status::corruption("polynomial limb count " + std::to_string(limbs) + " out of range");
  const std::size_t need = packed_size(basis, limbs);
  if (r.remaining() < need) {
    return Status::corruption("truncated polynomial: need " + std::to_string(need) + " bytes, have " +
                              std::to_string(r.remaining()));
  }
  math::RnsPoly p(basis.n(), limbs, ntt);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = basis.modulus(i);
    const int bits = residue_bits(q);
    const std::size_t bytes = (basis.n() * static_cast<std::size_t>(bits) + 7) / 8;
    std::span<const std::uint8_t> b;
    HEAL_RETURN_IF_ERROR(r.get_bytes(bytes, &b));
    const u64 mask = bits == 64 ? ~u64{0} : (u64{1} << bits) - 1;
    math::u128 acc = 0;
    int have = 0;
    std::size_t pos = 0;
    u64* x = p.limb(i);
    for (std::size_t t = 0; t < basis.n(); ++t) {
      while (have < bits) {
        acc |= static_cast<math::u128>(b[pos++]) << have;
        have += 8;
      }
      const u64 v = static_cast<u64>(acc) & mask;
      acc >>= bits;
      have -= bits;
      if (v >= q.value()) {
        return Status::corruption("residue " + std::to_string(v) + " of limb " + std::to_string(i) + " is not below q_" +
                                  std::to_string(i) + " = " + std::to_string(q.value()));
      }
      x[t] = v;
    }
  }
  *out = std::move(p);
  return {};
}

Digest hash_of(const Context& ctx) {
  Blake2b h;
  h.update(std::string_view("heal.ckks.params.v1"));
  ByteWriter w;
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ctx.log_n()));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ctx.q_count()));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ctx.p_count()));
  for (u64 p : ctx.key_basis().primes()) w.put<u64>(p);
  w.put<std::uint64_t>(ctx.dnum());
  w.put<std::uint8_t>(static_cast<std::uint8_t>(ctx.spec().secret));
  w.put<std::uint64_t>(ctx.spec().secret == SecretDistribution::kTernaryHamming ? ctx.spec().hamming_weight : 0);
  h.update(w.bytes());
  return h.finish();
}

void put_hash(ByteWriter& w, const Context& ctx) { w.put_bytes(hash_of(ctx)); }

Status check_hash(ByteReader& r, const Context& ctx) {
  std::span<const std::uint8_t> h;
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &h));
  const Digest mine = hash_of(ctx);
  if (std::memcmp(h.data(), mine.data(), 32) != 0) {
    return Status::failed_precondition("object belongs to another CKKS parameter set (params hash " + to_hex(h.first(8)) +
                                       "..., this context is " + params_id(ctx) + ")");
  }
  return {};
}

Result<ByteReader> open(std::span<const std::uint8_t> bytes, ObjectType type) {
  ByteReader r(bytes);
  HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, type, kCkksFormatVersion));
  if (h.payload_size != r.remaining()) {
    return Status::corruption(std::to_string(r.remaining() - h.payload_size) + " bytes trail the " +
                              std::string(object_type_name(type)) + " object");
  }
  std::span<const std::uint8_t> payload;
  HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(h.payload_size), &payload));
  return ByteReader(payload);
}

Status close(const ByteReader& r, ObjectType type) {
  if (!r.at_end()) {
    return Status::corruption(std::string(object_type_name(type)) + " payload has " + std::to_string(r.remaining()) +
                              " unexpected trailing bytes");
  }
  return {};
}

}  // namespace ser

Digest params_hash(const Context& ctx) { return ser::hash_of(ctx); }

std::string params_id(const Context& ctx) {
  const Digest d = ser::hash_of(ctx);
  return "ckks-n" + std::to_string(ctx.log_n()) + "-q" + std::to_string(ctx.q_count()) + "-p" +
         std::to_string(ctx.p_count()) + "-" + to_hex(std::span<const std::uint8_t>(d.data(), 4));
}

Bytes save_params(const Context& ctx) {
  ByteWriter w;
  const std::size_t start = begin_object(w, ObjectType::kCkksParams, kCkksFormatVersion);
  const ParamsSpec& s = ctx.spec();
  w.put<std::uint8_t>(static_cast<std::uint8_t>(s.log_n));
  w.put<std::uint8_t>(static_cast<std::uint8_t>(s.q_bits.size()));
  for (int b : s.q_bits) w.put<std::uint8_t>(static_cast<std::uint8_t>(b));
  w.put<std::uint8_t>(static_cast<std::uint8_t>(s.p_bits.size()));
  for (int b : s.p_bits) w.put<std::uint8_t>(static_cast<std::uint8_t>(b));
  w.put<double>(s.default_scale);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(s.secret));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(s.hamming_weight));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(s.dnum));
  w.put<std::uint8_t>(ctx.meets_security_bound() ? 0 : 1);  // informational marker, never honoured
  for (u64 p : ctx.key_basis().primes()) w.put<u64>(p);
  ser::put_hash(w, ctx);
  end_object(w, start);
  return w.take();
}

namespace {
Status read_spec(ByteReader& r, ParamsSpec* s, std::size_t* prime_count, bool* marked_insecure) {
  std::uint8_t log_n = 0, nq = 0, np = 0, secret = 0, marker = 0;
  HEAL_RETURN_IF_ERROR(r.get(&log_n));
  if (log_n < 1 || log_n > 17) return Status::corruption("log N = " + std::to_string(log_n) + " out of range [1, 17]");
  HEAL_RETURN_IF_ERROR(r.get(&nq));
  if (nq == 0 || nq > 64) return Status::corruption("Q prime count " + std::to_string(nq) + " out of range [1, 64]");
  s->log_n = log_n;
  s->q_bits.clear();
  for (int i = 0; i < nq; ++i) {
    std::uint8_t b = 0;
    HEAL_RETURN_IF_ERROR(r.get(&b));
    s->q_bits.push_back(b);
  }
  HEAL_RETURN_IF_ERROR(r.get(&np));
  if (np == 0 || np > 64) return Status::corruption("P prime count " + std::to_string(np) + " out of range [1, 64]");
  s->p_bits.clear();
  for (int i = 0; i < np; ++i) {
    std::uint8_t b = 0;
    HEAL_RETURN_IF_ERROR(r.get(&b));
    s->p_bits.push_back(b);
  }
  std::uint32_t hw = 0, dnum = 0;
  HEAL_RETURN_IF_ERROR(r.get(&s->default_scale));
  if (!std::isfinite(s->default_scale) || s->default_scale <= 0) return Status::corruption("default scale is not a positive number");
  HEAL_RETURN_IF_ERROR(r.get(&secret));
  if (secret > 1) return Status::corruption("unknown secret distribution " + std::to_string(secret));
  s->secret = static_cast<SecretDistribution>(secret);
  HEAL_RETURN_IF_ERROR(r.get(&hw));
  HEAL_RETURN_IF_ERROR(r.get(&dnum));
  HEAL_RETURN_IF_ERROR(r.get(&marker));
  if (marker > 1) return Status::corruption("insecure marker must be 0 or 1, got " + std::to_string(marker));
  s->hamming_weight = hw;
  s->dnum = dnum;
  s->allow_insecure = false;  // only the calling code can opt in (ParamsLoadOptions)
  *marked_insecure = marker == 1;
  *prime_count = std::size_t{nq} + np;
  return {};
}
}  // namespace

Result<ParamsSpec> load_params_spec(std::span<const std::uint8_t> bytes, bool* marked_insecure) {
  HEAL_ASSIGN_OR_RETURN(ByteReader r, ser::open(bytes, ObjectType::kCkksParams));
  ParamsSpec s;
  std::size_t primes = 0;
  bool marked = false;
  HEAL_RETURN_IF_ERROR(read_spec(r, &s, &primes, &marked));
  if (marked_insecure != nullptr) *marked_insecure = marked;
  return s;
}

Result<ContextPtr> load_params(std::span<const std::uint8_t> bytes, const ParamsLoadOptions& options) {
  HEAL_ASSIGN_OR_RETURN(ByteReader r, ser::open(bytes, ObjectType::kCkksParams));
  ParamsSpec s;
  std::size_t count = 0;
  bool marked = false;
  HEAL_RETURN_IF_ERROR(read_spec(r, &s, &count, &marked));
  std::vector<u64> primes(count);
  for (auto& p : primes) HEAL_RETURN_IF_ERROR(r.get(&p));
  std::span<const std::uint8_t> hash;
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &hash));
  HEAL_RETURN_IF_ERROR(ser::close(r, ObjectType::kCkksParams));
  if (marked && !options.allow_insecure) {
    return Status::failed_precondition(
        "refusing CKKS parameters marked insecure (below 128-bit security, for tests only); only the calling code "
        "can accept them (ParamsLoadOptions::allow_insecure)");
  }
  s.allow_insecure = options.allow_insecure;
  ContextPtr ctx;
  try {
    ctx = Context::create(s);
  } catch (const std::exception& e) {
    return Status::invalid_argument(std::string("refusing stored CKKS parameters: ") + e.what());
  }
  if (ctx->key_basis().primes() != primes) return Status::corruption("stored primes differ from the ones the parameters generate");
  const Digest d = ser::hash_of(*ctx);
  if (std::memcmp(d.data(), hash.data(), 32) != 0) return Status::corruption("stored parameter hash does not match the parameters");
  return ctx;
}

}  // namespace heal::ckks
