// HE aggregator internals: the per-round, per-chunk seeds of the public `a` polynomials and the
// wire format of fl messages (he_internal.h). The cryptography (coefficient encoding, seeded
// encryption under a given `a`, combining decryption shares) is the ckks layer's: Encoder,
// Encryptor::encrypt_seeded(pt, seed, rng), multiparty::combine_decryption_shares.
#include <array>
#include <cstring>

#include "he_internal.h"
#include "heal/ckks/serialization.h"
#include "heal/core/check.h"
#include "heal/core/hash.h"
#include "heal/core/serialization.h"

namespace heal::fl::he {

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

Bytes write_message(const Shared& sh, std::uint8_t kind, std::uint64_t round, std::span<const PartyId> ids,
                    std::uint64_t length, std::span<const Bytes> chunks) {
  ByteWriter w;
  const std::size_t start = begin_object(w, ObjectType::kFlUpdate, kRoundWireVersion);
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
  HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, ObjectType::kFlUpdate, kRoundWireVersion));
  if (h.version != kRoundWireVersion) {
    return Status::corruption("he update: version " + std::to_string(h.version) +
                              " is not an HE round message (version " + std::to_string(kRoundWireVersion) +
                              ", compressed chunks)");
  }
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

Result<ckks::SeededCiphertext> load_contribution_chunk(const Shared& sh, std::span<const std::uint8_t> bytes) {
  int k = -1;
  auto ct = ckks::load_compact_seeded_ciphertext(*sh.ctx, bytes, &k);
  if (!ct.ok()) return ct.status();
  if (k != sh.drop_bits) {
    return Status::corruption("he contribution compressed with " + std::to_string(k) + " dropped bits, expected " +
                              std::to_string(sh.drop_bits));
  }
  return ct;
}

Result<ckks::multiparty::DecryptionShare> load_share_chunk(const Shared& sh, std::span<const std::uint8_t> bytes) {
  int k = -1;
  auto s = ckks::load_compact_decryption_share(*sh.ctx, bytes, &k);
  if (!s.ok()) return s.status();
  if (k != sh.drop_bits) {
    return Status::corruption("he decryption share compressed with " + std::to_string(k) + " dropped bits, expected " +
                              std::to_string(sh.drop_bits));
  }
  return s;
}

}  // namespace heal::fl::he
