#include "heal/core/serialization.h"

#include <cstring>
#include <string>

namespace heal {

std::string_view object_type_name(ObjectType t) {
  switch (t) {
    case ObjectType::kCkksParams: return "ckks.params";
    case ObjectType::kCkksSecretKey: return "ckks.secret_key";
    case ObjectType::kCkksPublicKey: return "ckks.public_key";
    case ObjectType::kCkksRelinKey: return "ckks.relin_key";
    case ObjectType::kCkksGaloisKeys: return "ckks.galois_keys";
    case ObjectType::kCkksPlaintext: return "ckks.plaintext";
    case ObjectType::kCkksCiphertext: return "ckks.ciphertext";
    case ObjectType::kCkksSeededCiphertext: return "ckks.seeded_ciphertext";
    case ObjectType::kCkksKeyShare: return "ckks.key_share";
    case ObjectType::kCkksDecryptionShare: return "ckks.decryption_share";
    case ObjectType::kCkksRefreshShare: return "ckks.refresh_share";
    case ObjectType::kCkksCompactSeededCiphertext: return "ckks.compact_seeded_ciphertext";
    case ObjectType::kCkksCompactDecryptionShare: return "ckks.compact_decryption_share";
    case ObjectType::kModelIr: return "nn.model_ir";
    case ObjectType::kLedgerRecord: return "ledger.record";
    case ObjectType::kFlUpdate: return "fl.update";
    case ObjectType::kVault: return "core.vault";
    case ObjectType::kFlNodeState: return "fl.node_state";
  }
  return "unknown";
}

std::size_t begin_object(ByteWriter& w, ObjectType type, std::uint16_t version) {
  const std::size_t start = w.size();
  w.put_bytes(kMagic);
  w.put<std::uint16_t>(version);
  w.put<std::uint16_t>(static_cast<std::uint16_t>(type));
  w.put<std::uint64_t>(0);
  return start;
}

void end_object(ByteWriter& w, std::size_t start) {
  w.patch_u64(start + 8, static_cast<std::uint64_t>(w.size() - start - kHeaderSize));
}

Result<Header> read_header(ByteReader& r, ObjectType expected, std::uint16_t max_version) {
  std::span<const std::uint8_t> magic;
  HEAL_RETURN_IF_ERROR(r.get_bytes(4, &magic));
  if (std::memcmp(magic.data(), kMagic, 4) != 0) {
    return Status::corruption("bad magic: not a HEAL object (expected \"HEAL\")");
  }
  Header h;
  std::uint16_t tag = 0;
  HEAL_RETURN_IF_ERROR(r.get(&h.version));
  HEAL_RETURN_IF_ERROR(r.get(&tag));
  HEAL_RETURN_IF_ERROR(r.get(&h.payload_size));
  h.type = static_cast<ObjectType>(tag);
  if (h.type != expected) {
    return Status::invalid_argument("wrong object type: expected " + std::string(object_type_name(expected)) +
                                    ", found tag " + std::to_string(tag) + " (" +
                                    std::string(object_type_name(h.type)) + ")");
  }
  if (h.version == 0 || h.version > max_version) {
    return Status::unsupported("format version " + std::to_string(h.version) + " of " +
                               std::string(object_type_name(expected)) + " is not supported (max " +
                               std::to_string(max_version) + ")");
  }
  if (h.payload_size > r.remaining()) {
    return Status::corruption("payload length " + std::to_string(h.payload_size) + " exceeds the " +
                              std::to_string(r.remaining()) + " bytes present (truncated object)");
  }
  return h;
}

}  // namespace heal
