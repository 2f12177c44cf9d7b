// Loaders of keys, plaintexts, ciphertexts and multiparty shares: every field is validated
// against the Context before anything is allocated (docs/formats/ckks.md).
#include <algorithm>
#include <bit>
#include <cmath>

#include "heal/ckks/serialization.h"
#include "heal/math/sampler.h"
#include "serialization_internal.h"

namespace heal::ckks {

using math::RnsPoly;
namespace mp = multiparty;

namespace {

constexpr std::uint8_t kEncodingResidues = 1;
constexpr std::uint32_t kMaxGaloisKeys = 1u << 17;  // > every odd element of Z_2N^* for N <= 2^16
constexpr std::uint32_t kMaxParties = 1u << 16;

Status bad(const std::string& m) { return Status::corruption(m); }

Status get_seed(ByteReader& r, Seed* seed) {
  std::span<const std::uint8_t> b;
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &b));
  std::copy(b.begin(), b.end(), seed->begin());
  return {};
}

Status get_ksw(ByteReader& r, const Context& ctx, KswKey* out) {
  std::uint32_t digits = 0;
  std::uint8_t seeded = 0;
  HEAL_RETURN_IF_ERROR(r.get(&digits));
  if (digits != ctx.dnum()) {
    return bad("key-switching key has " + std::to_string(digits) + " digits, context expects " +
               std::to_string(ctx.dnum()));
  }
  HEAL_RETURN_IF_ERROR(r.get(&seeded));
  if (seeded > 1) return bad("seeded flag must be 0 or 1");
  Seed seed{};
  HEAL_RETURN_IF_ERROR(get_seed(r, &seed));
  const auto& kb = ctx.key_basis();
  const std::size_t polys = seeded ? digits : 2 * std::size_t{digits};
  if (r.remaining() / polys < ser::packed_size(kb, kb.size())) return bad("truncated key-switching key");
  std::vector<RnsPoly> bs(digits), as(digits);
  for (auto& b : bs) HEAL_RETURN_IF_ERROR(ser::get_poly(r, kb, kb.size(), true, &b));
  for (std::size_t j = 0; j < digits; ++j) {
    if (seeded) {
      as[j] = math::expand_uniform_poly(seed, KswKey::kStreamBase + j, kb, kb.size(), true);
    } else {
      HEAL_RETURN_IF_ERROR(ser::get_poly(r, kb, kb.size(), true, &as[j]));
    }
  }
  *out = KswKey(seed, std::move(bs), std::move(as));
  return {};
}

Status get_meta(ByteReader& r, const Context& ctx, std::size_t* level, double* scale, std::size_t* slots) {
  std::uint32_t l = 0;
  std::uint64_t s = 0;
  HEAL_RETURN_IF_ERROR(r.get(&l));
  if (l > ctx.max_level())
    return bad("level " + std::to_string(l) + " above the context's maximum " + std::to_string(ctx.max_level()));
  HEAL_RETURN_IF_ERROR(r.get(scale));
  if (!std::isfinite(*scale) || *scale <= 0) return bad("scale is not a positive finite number");
  HEAL_RETURN_IF_ERROR(r.get(&s));
  if (s != 0 && (!std::has_single_bit(s) || s > ctx.slots())) {
    return bad("slot count " + std::to_string(s) + " is not 0 or a power of two <= " + std::to_string(ctx.slots()));
  }
  *level = l;
  *slots = static_cast<std::size_t>(s);
  return {};
}

// Opens the object and checks the params hash.
Result<ByteReader> open_for(const Context& ctx, std::span<const std::uint8_t> bytes, ObjectType type) {
  HEAL_ASSIGN_OR_RETURN(ByteReader r, ser::open(bytes, type));
  HEAL_RETURN_IF_ERROR(ser::check_hash(r, ctx));
  return r;
}

Status get_flag(ByteReader& r, bool* v, const char* what) {
  std::uint8_t b = 0;
  HEAL_RETURN_IF_ERROR(r.get(&b));
  if (b > 1) return bad(std::string(what) + " flag must be 0 or 1");
  *v = b == 1;
  return {};
}

}  // namespace

Result<SecretKey> load_secret_key(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksSecretKey;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  std::uint8_t enc = 0;
  HEAL_RETURN_IF_ERROR(r.get(&enc));
  if (enc != kEncodingResidues)
    return Status::unsupported("secret-key encoding " + std::to_string(enc) + " is not supported");
  bool ntt = false;
  HEAL_RETURN_IF_ERROR(get_flag(r, &ntt, "NTT"));
  if (!ntt) return bad("secret key must be stored in NTT form");
  RnsPoly s;
  HEAL_RETURN_IF_ERROR(ser::get_poly(r, ctx.key_basis(), ctx.key_basis().size(), true, &s));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return SecretKey(std::move(s));
}

Result<PublicKey> load_public_key(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksPublicKey;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  bool seeded = false;
  HEAL_RETURN_IF_ERROR(get_flag(r, &seeded, "seeded"));
  Seed seed{};
  HEAL_RETURN_IF_ERROR(get_seed(r, &seed));
  const auto& kb = ctx.key_basis();
  RnsPoly b, a;
  HEAL_RETURN_IF_ERROR(ser::get_poly(r, kb, kb.size(), true, &b));
  if (seeded) {
    a = math::expand_uniform_poly(seed, PublicKey::kStream, kb, kb.size(), true);
  } else {
    HEAL_RETURN_IF_ERROR(ser::get_poly(r, kb, kb.size(), true, &a));
  }
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return PublicKey(seed, std::move(b), std::move(a));
}

Result<RelinKey> load_relin_key(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksRelinKey;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  KswKey k;
  HEAL_RETURN_IF_ERROR(get_ksw(r, ctx, &k));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return RelinKey(std::move(k));
}

Result<GaloisKeys> load_galois_keys(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksGaloisKeys;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  std::uint32_t count = 0;
  HEAL_RETURN_IF_ERROR(r.get(&count));
  if (count > kMaxGaloisKeys || count > ctx.n()) return bad("Galois key count " + std::to_string(count) + " exceeds N");
  GaloisKeys gk;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint64_t g = 0;
    HEAL_RETURN_IF_ERROR(r.get(&g));
    if (g % 2 == 0 || g >= 2 * ctx.n() || g == 1) return bad("invalid Galois element " + std::to_string(g));
    if (gk.has(g)) return bad("Galois element " + std::to_string(g) + " appears twice");
    KswKey k;
    HEAL_RETURN_IF_ERROR(get_ksw(r, ctx, &k));
    gk.set(g, std::move(k));
  }
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return gk;
}

Result<Plaintext> load_plaintext(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksPlaintext;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  std::size_t level = 0, slots = 0;
  double scale = 0;
  HEAL_RETURN_IF_ERROR(get_meta(r, ctx, &level, &scale, &slots));
  bool ntt = false;
  HEAL_RETURN_IF_ERROR(get_flag(r, &ntt, "NTT"));
  RnsPoly p;
  HEAL_RETURN_IF_ERROR(ser::get_poly(r, ctx.q_basis(), level + 1, ntt, &p));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return Plaintext(std::move(p), scale, slots);
}

Result<Ciphertext> load_ciphertext(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksCiphertext;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  std::uint8_t size = 0;
  HEAL_RETURN_IF_ERROR(r.get(&size));
  if (size != 2 && size != 3) return bad("ciphertext has " + std::to_string(size) + " polynomials, expected 2 or 3");
  std::size_t level = 0, slots = 0;
  double scale = 0;
  HEAL_RETURN_IF_ERROR(get_meta(r, ctx, &level, &scale, &slots));
  if (r.remaining() / size < ser::packed_size(ctx.q_basis(), level + 1)) return bad("truncated ciphertext");
  std::vector<RnsPoly> polys(size);
  for (auto& p : polys) HEAL_RETURN_IF_ERROR(ser::get_poly(r, ctx.q_basis(), level + 1, true, &p));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return Ciphertext(std::move(polys), scale, slots);
}

Result<SeededCiphertext> load_seeded_ciphertext(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksSeededCiphertext;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  std::size_t level = 0, slots = 0;
  double scale = 0;
  HEAL_RETURN_IF_ERROR(get_meta(r, ctx, &level, &scale, &slots));
  Seed seed{};
  HEAL_RETURN_IF_ERROR(get_seed(r, &seed));
  RnsPoly c0;
  HEAL_RETURN_IF_ERROR(ser::get_poly(r, ctx.q_basis(), level + 1, true, &c0));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return SeededCiphertext(seed, std::move(c0), scale, slots);
}

Result<SeededCiphertext> load_compact_seeded_ciphertext(const Context& ctx, std::span<const std::uint8_t> bytes,
                                                        int* drop_bits) {
  const ObjectType t = ObjectType::kCkksCompactSeededCiphertext;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  std::size_t level = 0, slots = 0;
  double scale = 0;
  HEAL_RETURN_IF_ERROR(get_meta(r, ctx, &level, &scale, &slots));
  Seed seed{};
  HEAL_RETURN_IF_ERROR(get_seed(r, &seed));
  std::uint8_t k = 0;
  HEAL_RETURN_IF_ERROR(r.get(&k));
  RnsPoly c0;
  HEAL_RETURN_IF_ERROR(ser::get_compact_poly(r, ctx.q_basis(), level + 1, k, true, &c0));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  if (drop_bits != nullptr) *drop_bits = k;
  return SeededCiphertext(seed, std::move(c0), scale, slots);
}

Result<mp::KeyShare> load_key_share(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksKeyShare;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  mp::KeyShare s;
  std::uint8_t kind = 0;
  std::uint32_t count = 0;
  HEAL_RETURN_IF_ERROR(r.get(&kind));
  HEAL_RETURN_IF_ERROR(r.get(&s.party));
  HEAL_RETURN_IF_ERROR(r.get(&s.recipient));
  HEAL_RETURN_IF_ERROR(r.get(&s.galois_elt));
  HEAL_RETURN_IF_ERROR(r.get(&count));
  std::size_t expect = 0;
  switch (kind) {
    case 1:
      expect = 1;
      break;
    case 2:
    case 3:
      expect = 2 * ctx.dnum();
      break;
    case 4:
      expect = ctx.dnum();
      break;
    case 5:
      expect = 1;
      break;
    default:
      return bad("unknown key-share kind " + std::to_string(kind));
  }
  s.kind = static_cast<mp::ShareKind>(kind);
  if (count != expect)
    return bad("key share of kind " + std::to_string(kind) + " has " + std::to_string(count) +
               " polynomials, expected " + std::to_string(expect));
  if (s.kind == mp::ShareKind::kGaloisKey &&
      (s.galois_elt % 2 == 0 || s.galois_elt >= 2 * ctx.n() || s.galois_elt == 1)) {
    return bad("invalid Galois element " + std::to_string(s.galois_elt));
  }
  const auto& kb = ctx.key_basis();
  if (r.remaining() / count < ser::packed_size(kb, kb.size())) return bad("truncated key share");
  s.polys.resize(count);
  for (auto& p : s.polys) HEAL_RETURN_IF_ERROR(ser::get_poly(r, kb, kb.size(), true, &p));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return s;
}

// A decryption share's header, the same in the full and the compact form: producer, sorted distinct
// quorum, level. Returns the level.
static Result<std::uint32_t> get_share_header(const Context& ctx, ByteReader& r, mp::DecryptionShare* s) {
  std::uint32_t count = 0, level = 0;
  HEAL_RETURN_IF_ERROR(r.get(&s->party));
  HEAL_RETURN_IF_ERROR(r.get(&count));
  if (count == 0 || count > kMaxParties || count > r.remaining() / 4) {
    return bad("decryption share lists " + std::to_string(count) + " parties");
  }
  s->parties.resize(count);
  for (auto& p : s->parties) HEAL_RETURN_IF_ERROR(r.get(&p));
  if (!std::is_sorted(s->parties.begin(), s->parties.end()) ||
      std::adjacent_find(s->parties.begin(), s->parties.end()) != s->parties.end()) {
    return bad("decryption share party list must be sorted and distinct");
  }
  HEAL_RETURN_IF_ERROR(r.get(&level));
  if (level > ctx.max_level()) return bad("decryption share level " + std::to_string(level) + " above the maximum");
  return level;
}

Result<mp::DecryptionShare> load_decryption_share(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksDecryptionShare;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  mp::DecryptionShare s;
  HEAL_ASSIGN_OR_RETURN(std::uint32_t level, get_share_header(ctx, r, &s));
  HEAL_RETURN_IF_ERROR(ser::get_poly(r, ctx.q_basis(), std::size_t{level} + 1, true, &s.h));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return s;
}

Result<mp::DecryptionShare> load_compact_decryption_share(const Context& ctx, std::span<const std::uint8_t> bytes,
                                                          int* drop_bits) {
  const ObjectType t = ObjectType::kCkksCompactDecryptionShare;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  mp::DecryptionShare s;
  HEAL_ASSIGN_OR_RETURN(std::uint32_t level, get_share_header(ctx, r, &s));
  std::uint8_t k = 0;
  HEAL_RETURN_IF_ERROR(r.get(&k));
  HEAL_RETURN_IF_ERROR(ser::get_compact_poly(r, ctx.q_basis(), std::size_t{level} + 1, k, true, &s.h));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  if (drop_bits != nullptr) *drop_bits = k;
  return s;
}

Result<mp::RefreshShare> load_refresh_share(const Context& ctx, std::span<const std::uint8_t> bytes) {
  const ObjectType t = ObjectType::kCkksRefreshShare;
  HEAL_ASSIGN_OR_RETURN(ByteReader r, open_for(ctx, bytes, t));
  mp::RefreshShare s;
  HEAL_RETURN_IF_ERROR(r.get(&s.party));
  for (auto* ids : {&s.parties, &s.quorum}) {
    const bool quorum = ids == &s.quorum;
    std::uint32_t count = 0;
    HEAL_RETURN_IF_ERROR(r.get(&count));
    if ((!quorum && count == 0) || count > kMaxParties || count > r.remaining() / 4) {
      return bad(std::string("refresh share lists ") + std::to_string(count) +
                 (quorum ? " quorum members" : " parties"));
    }
    ids->resize(count);
    for (auto& p : *ids) HEAL_RETURN_IF_ERROR(r.get(&p));
    if (!std::is_sorted(ids->begin(), ids->end()) || std::adjacent_find(ids->begin(), ids->end()) != ids->end()) {
      return bad(std::string("refresh share ") + (quorum ? "quorum" : "party list") + " must be sorted and distinct");
    }
  }
  HEAL_RETURN_IF_ERROR(r.get(&s.session));
  HEAL_RETURN_IF_ERROR(get_seed(r, &s.seed));
  std::uint32_t level = 0;
  HEAL_RETURN_IF_ERROR(r.get(&level));
  if (level > ctx.max_level()) return bad("refresh share level " + std::to_string(level) + " above the maximum");
  HEAL_RETURN_IF_ERROR(ser::get_poly(r, ctx.q_basis(), std::size_t{level} + 1, true, &s.h0));
  HEAL_RETURN_IF_ERROR(ser::get_poly(r, ctx.q_basis(), ctx.q_count(), true, &s.h1));
  HEAL_RETURN_IF_ERROR(ser::close(r, t));
  return s;
}

}  // namespace heal::ckks
