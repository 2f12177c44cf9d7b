// Keys, plaintexts, ciphertexts and multiparty shares (docs/formats/ckks.md).
#include "heal/ckks/serialization.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "heal/core/check.h"
#include "heal/math/sampler.h"
#include "serialization_internal.h"

namespace heal::ckks {

using math::RnsPoly;

namespace {

constexpr std::uint8_t kEncodingResidues = 1;  // secret key: packed residues over the key basis

bool seeded_matches(const Context& ctx, const Seed& seed, std::uint64_t stream, const RnsPoly& a) {
  const auto& kb = ctx.key_basis();
  if (a.num_limbs() != kb.size()) return false;
  return math::expand_uniform_poly(seed, stream, kb, kb.size(), true) == a;
}

void put_ksw(ByteWriter& w, const Context& ctx, const KswKey& k) {
  HEAL_REQUIRE(k.digits() == ctx.dnum(), "serialize: key-switching key has " << k.digits() << " digits, context " << ctx.dnum());
  bool seeded = true;
  for (std::size_t j = 0; j < k.digits() && seeded; ++j) seeded = seeded_matches(ctx, k.seed(), KswKey::kStreamBase + j, k.a(j));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(k.digits()));
  w.put<std::uint8_t>(seeded ? 1 : 0);
  w.put_bytes(k.seed());
  for (std::size_t j = 0; j < k.digits(); ++j) ser::put_poly(w, k.b(j), ctx.key_basis());
  if (!seeded) {
    for (std::size_t j = 0; j < k.digits(); ++j) ser::put_poly(w, k.a(j), ctx.key_basis());
  }
}

// level, scale, slots of plaintexts and ciphertexts.
void put_meta(ByteWriter& w, std::size_t level, double scale, std::size_t slots) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(level));
  w.put<double>(scale);
  w.put<std::uint64_t>(slots);
}

template <typename F>
Bytes write_object(const Context& ctx, ObjectType type, F&& body) {
  ByteWriter w;
  const std::size_t start = begin_object(w, type, kCkksFormatVersion);
  ser::put_hash(w, ctx);
  body(w);
  end_object(w, start);
  return w.take();
}

void check_poly(const Context& ctx, const RnsPoly& p, std::size_t limbs, const char* what) {
  HEAL_REQUIRE(p.n() == ctx.n() && p.num_limbs() == limbs, "serialize: " << what << " does not match the context");
}

}  // namespace

// ---------------------------------------------------------------- writers

SecretBytes save(const Context& ctx, const SecretKey& sk) {
  check_poly(ctx, sk.poly(), ctx.key_basis().size(), "secret key");
  // The output is reserved up front (header + parameter hash + 2 flag bytes + packed residues) so
  // that the writer never reallocates and leaves a partial copy of the key in freed memory.
  Bytes out;
  out.reserve(kHeaderSize + 64 + 2 + ser::packed_size(ctx.key_basis(), ctx.key_basis().size()));
  [[maybe_unused]] const std::uint8_t* const buffer = out.data();
  ByteWriter w(&out);
  const std::size_t start = begin_object(w, ObjectType::kCkksSecretKey, kCkksFormatVersion);
  ser::put_hash(w, ctx);
  w.put<std::uint8_t>(kEncodingResidues);
  w.put<std::uint8_t>(sk.poly().is_ntt() ? 1 : 0);
  ser::put_poly(w, sk.poly(), ctx.key_basis());
  end_object(w, start);
  HEAL_DCHECK(out.data() == buffer);  // never reallocated
  return SecretBytes(std::move(out));
}

Bytes save(const Context& ctx, const PublicKey& pk) {
  const std::size_t kl = ctx.key_basis().size();
  check_poly(ctx, pk.b(), kl, "public key");
  const bool seeded = seeded_matches(ctx, pk.seed(), PublicKey::kStream, pk.a());
  return write_object(ctx, ObjectType::kCkksPublicKey, [&](ByteWriter& w) {
    w.put<std::uint8_t>(seeded ? 1 : 0);
    w.put_bytes(pk.seed());
    ser::put_poly(w, pk.b(), ctx.key_basis());
    if (!seeded) ser::put_poly(w, pk.a(), ctx.key_basis());
  });
}

Bytes save(const Context& ctx, const RelinKey& rk) {
  return write_object(ctx, ObjectType::kCkksRelinKey, [&](ByteWriter& w) { put_ksw(w, ctx, rk.key()); });
}

Bytes save(const Context& ctx, const GaloisKeys& gk) {
  return write_object(ctx, ObjectType::kCkksGaloisKeys, [&](ByteWriter& w) {
    w.put<std::uint32_t>(static_cast<std::uint32_t>(gk.size()));
    for (const auto& [g, k] : gk.all()) {
      w.put<std::uint64_t>(g);
      put_ksw(w, ctx, k);
    }
  });
}

Bytes save(const Context& ctx, const Plaintext& pt) {
  check_poly(ctx, pt.poly(), pt.poly().num_limbs(), "plaintext");
  HEAL_REQUIRE(pt.poly().num_limbs() >= 1 && pt.poly().num_limbs() <= ctx.q_count(), "serialize: plaintext level out of range");
  return write_object(ctx, ObjectType::kCkksPlaintext, [&](ByteWriter& w) {
    put_meta(w, pt.level(), pt.scale(), pt.slots());
    w.put<std::uint8_t>(pt.poly().is_ntt() ? 1 : 0);
    ser::put_poly(w, pt.poly(), ctx.q_basis());
  });
}

Bytes save(const Context& ctx, const Ciphertext& ct) {
  HEAL_REQUIRE(ct.size() == 2 || ct.size() == 3, "serialize: ciphertext must have 2 or 3 polynomials");
  const std::size_t limbs = ct[0].num_limbs();
  HEAL_REQUIRE(limbs >= 1 && limbs <= ctx.q_count(), "serialize: ciphertext level out of range");
  for (const auto& p : ct.polys()) {
    check_poly(ctx, p, limbs, "ciphertext");
    HEAL_REQUIRE(p.is_ntt(), "serialize: ciphertext polynomials must be in NTT form");
  }
  return write_object(ctx, ObjectType::kCkksCiphertext, [&](ByteWriter& w) {
    w.put<std::uint8_t>(static_cast<std::uint8_t>(ct.size()));
    put_meta(w, ct.level(), ct.scale(), ct.slots());
    for (const auto& p : ct.polys()) ser::put_poly(w, p, ctx.q_basis());
  });
}

Bytes save(const Context& ctx, const SeededCiphertext& ct) {
  const std::size_t limbs = ct.c0().num_limbs();
  HEAL_REQUIRE(limbs >= 1 && limbs <= ctx.q_count(), "serialize: seeded ciphertext level out of range");
  check_poly(ctx, ct.c0(), limbs, "seeded ciphertext");
  return write_object(ctx, ObjectType::kCkksSeededCiphertext, [&](ByteWriter& w) {
    put_meta(w, ct.level(), ct.scale(), ct.slots());
    w.put_bytes(ct.seed());
    ser::put_poly(w, ct.c0(), ctx.q_basis());
  });
}

Bytes save(const Context& ctx, const multiparty::KeyShare& share) {
  for (const auto& p : share.polys) check_poly(ctx, p, ctx.key_basis().size(), "key share");
  return write_object(ctx, ObjectType::kCkksKeyShare, [&](ByteWriter& w) {
    w.put<std::uint8_t>(static_cast<std::uint8_t>(share.kind));
    w.put<std::uint32_t>(share.party);
    w.put<std::uint32_t>(share.recipient);
    w.put<std::uint64_t>(share.galois_elt);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(share.polys.size()));
    for (const auto& p : share.polys) ser::put_poly(w, p, ctx.key_basis());
  });
}

Bytes save(const Context& ctx, const multiparty::DecryptionShare& share) {
  const std::size_t limbs = share.h.num_limbs();
  HEAL_REQUIRE(limbs >= 1 && limbs <= ctx.q_count(), "serialize: decryption share level out of range");
  check_poly(ctx, share.h, limbs, "decryption share");
  return write_object(ctx, ObjectType::kCkksDecryptionShare, [&](ByteWriter& w) {
    w.put<std::uint32_t>(share.party);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(share.parties.size()));
    for (auto p : share.parties) w.put<std::uint32_t>(p);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(limbs - 1));
    ser::put_poly(w, share.h, ctx.q_basis());
  });
}

Bytes save_compact(const Context& ctx, const SeededCiphertext& ct, int drop_bits) {
  const std::size_t limbs = ct.c0().num_limbs();
  HEAL_REQUIRE(limbs >= 1 && limbs <= ctx.q_count(), "serialize: seeded ciphertext level out of range");
  check_poly(ctx, ct.c0(), limbs, "seeded ciphertext");
  return write_object(ctx, ObjectType::kCkksCompactSeededCiphertext, [&](ByteWriter& w) {
    put_meta(w, ct.level(), ct.scale(), ct.slots());
    w.put_bytes(ct.seed());
    w.put<std::uint8_t>(static_cast<std::uint8_t>(drop_bits));
    ser::put_compact_poly(w, ct.c0(), ctx.q_basis(), drop_bits);
  });
}

Bytes save_compact(const Context& ctx, const multiparty::DecryptionShare& share, int drop_bits) {
  const std::size_t limbs = share.h.num_limbs();
  HEAL_REQUIRE(limbs >= 1 && limbs <= ctx.q_count(), "serialize: decryption share level out of range");
  check_poly(ctx, share.h, limbs, "decryption share");
  return write_object(ctx, ObjectType::kCkksCompactDecryptionShare, [&](ByteWriter& w) {
    w.put<std::uint32_t>(share.party);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(share.parties.size()));
    for (auto p : share.parties) w.put<std::uint32_t>(p);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(limbs - 1));
    w.put<std::uint8_t>(static_cast<std::uint8_t>(drop_bits));
    ser::put_compact_poly(w, share.h, ctx.q_basis(), drop_bits);
  });
}

Result<int> compact_coefficient_bits(const Context& ctx, std::size_t level, int drop_bits) {
  if (level > ctx.max_level()) return Status::invalid_argument("compact_coefficient_bits: level above the maximum");
  return ser::compact_bits(ctx.q_basis(), level + 1, drop_bits);
}

Bytes save(const Context& ctx, const multiparty::RefreshShare& share) {
  const std::size_t limbs = share.h0.num_limbs();
  HEAL_REQUIRE(limbs >= 1 && limbs <= ctx.q_count(), "serialize: refresh share level out of range");
  check_poly(ctx, share.h0, limbs, "refresh share");
  check_poly(ctx, share.h1, ctx.q_count(), "refresh share");
  HEAL_REQUIRE(share.h0.is_ntt() && share.h1.is_ntt(), "serialize: refresh share polynomials must be in NTT form");
  return write_object(ctx, ObjectType::kCkksRefreshShare, [&](ByteWriter& w) {
    w.put<std::uint32_t>(share.party);
    for (const auto* ids : {&share.parties, &share.quorum}) {
      w.put<std::uint32_t>(static_cast<std::uint32_t>(ids->size()));
      for (auto p : *ids) w.put<std::uint32_t>(p);
    }
    w.put<std::uint64_t>(share.session);
    w.put_bytes(share.seed);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(limbs - 1));
    ser::put_poly(w, share.h0, ctx.q_basis());
    ser::put_poly(w, share.h1, ctx.q_basis());
  });
}

}  // namespace heal::ckks
