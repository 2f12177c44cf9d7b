// The versioned header every serialized HEAL object starts with (see docs/formats/README.md):
//
//   offset size field
//   0      4    magic "HEAL"
//   4      2    format version (u16, little-endian)
//   6      2    type tag (u16, ObjectType)
//   8      8    payload length in bytes (u64), the bytes that follow the header
//
// Readers check all four before touching the payload.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "heal/core/bytes.h"
#include "heal/core/status.h"

namespace heal {

inline constexpr std::uint8_t kMagic[4] = {'H', 'E', 'A', 'L'};
inline constexpr std::size_t kHeaderSize = 16;

/// Type tags of serialized objects. Values are part of the on-disk format: never renumber.
enum class ObjectType : std::uint16_t {
  kCkksParams = 1,
  kCkksSecretKey = 2,
  kCkksPublicKey = 3,
  kCkksRelinKey = 4,
  kCkksGaloisKeys = 5,
  kCkksPlaintext = 6,
  kCkksCiphertext = 7,
  kCkksSeededCiphertext = 8,
  kCkksKeyShare = 9,            // multiparty protocol shares
  kCkksDecryptionShare = 10,
  kCkksRefreshShare = 11,             // collective bootstrapping share
  kCkksCompactSeededCiphertext = 12,  // lossy: c0 without its low bits (heal/ckks/serialization.h)
  kCkksCompactDecryptionShare = 13,   // lossy: share without its low bits
  kVault = 16,                        // passphrase-encrypted file (heal/core/vault.h)
  kModelIr = 32,
  kLedgerRecord = 48,
  kFlUpdate = 64,
  kFlNodeState = 65,            // a node's key material and safeguards (inside a vault)
};

std::string_view object_type_name(ObjectType t);

struct Header {
  std::uint16_t version = 0;
  ObjectType type{};
  std::uint64_t payload_size = 0;
};

/// Writes the header with a placeholder length; call end_object() after the payload.
std::size_t begin_object(ByteWriter& w, ObjectType type, std::uint16_t version);
/// Back-patches the payload length of the object begun at `start`.
void end_object(ByteWriter& w, std::size_t start);

/// Parses and validates a header: magic, expected type, version in [1, max_version], and a
/// payload length no larger than the remaining bytes (callers of a whole file also check that
/// nothing trails the payload).
Result<Header> read_header(ByteReader& r, ObjectType expected, std::uint16_t max_version);

}  // namespace heal
