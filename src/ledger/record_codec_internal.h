// Shared helpers of the ledger encoders/decoders (records, signature lists).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/ledger/identity.h"

namespace heal::ledger::internal {

inline constexpr std::uint32_t kMaxIdentityKeyBytes = 1024;
inline constexpr std::uint32_t kMaxSignatureBytes = 1024;
inline constexpr std::size_t kMaxNameBytes = 256;

inline void put_digest(ByteWriter& w, const Digest& d) { w.put_bytes(d); }

inline Status get_digest(ByteReader& r, Digest* d) {
  std::span<const std::uint8_t> b;
  HEAL_RETURN_IF_ERROR(r.get_bytes(d->size(), &b));
  std::copy(b.begin(), b.end(), d->begin());
  return {};
}

/// u32 length + bytes.
inline void put_blob(ByteWriter& w, std::span<const std::uint8_t> b) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(b.size()));
  w.put_bytes(b);
}

inline Status get_blob(ByteReader& r, Bytes* out, std::uint32_t max_len, const char* what) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > max_len) {
    return Status::corruption(std::string(what) + " length " + std::to_string(n) + " exceeds limit " +
                              std::to_string(max_len));
  }
  std::span<const std::uint8_t> b;
  HEAL_RETURN_IF_ERROR(r.get_bytes(n, &b));
  out->assign(b.begin(), b.end());
  return {};
}

inline void put_identity(ByteWriter& w, const Identity& id) {
  w.put<std::uint8_t>(static_cast<std::uint8_t>(id.scheme));
  put_blob(w, id.public_key);
}

/// Reads an identity and checks scheme and key size.
inline Status get_identity(ByteReader& r, Identity* id) {
  std::uint8_t scheme = 0;
  HEAL_RETURN_IF_ERROR(r.get(&scheme));
  id->scheme = static_cast<SignatureScheme>(scheme);
  HEAL_RETURN_IF_ERROR(get_blob(r, &id->public_key, kMaxIdentityKeyBytes, "public key"));
  return validate_identity(*id);
}

/// Reads a double and requires it to be finite and >= 0.
inline Status get_nonneg_double(ByteReader& r, double* v, const char* what) {
  HEAL_RETURN_IF_ERROR(r.get(v));
  if (!std::isfinite(*v) || *v < 0) return Status::corruption(std::string(what) + " is not a finite value >= 0");
  return {};
}

/// Reads a u32 count and checks it against `max` and against the bytes left (each element needs
/// at least `min_element_bytes`), so a hostile count cannot trigger a large allocation.
inline Status get_count(ByteReader& r, std::uint32_t* n, std::uint32_t max, std::size_t min_element_bytes,
                        const char* what) {
  HEAL_RETURN_IF_ERROR(r.get(n));
  if (*n > max) {
    return Status::corruption(std::string(what) + " count " + std::to_string(*n) + " exceeds limit " +
                              std::to_string(max));
  }
  if (min_element_bytes > 0 && *n > r.remaining() / min_element_bytes) {
    return Status::corruption(std::string(what) + " count " + std::to_string(*n) + " exceeds the bytes present");
  }
  return {};
}

}  // namespace heal::ledger::internal
