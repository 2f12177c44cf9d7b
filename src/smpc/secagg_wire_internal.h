// Reading and writing pieces shared by the one-shot (secagg_wire.cpp) and multi-round
// (secagg_multi_wire.cpp) SecAgg wire formats. Internal to heal_smpc.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/smpc/secagg_wire.h"

namespace heal::smpc::wire {

inline constexpr std::uint8_t kMagic[4] = {'H', 'S', 'A', 'G'};

// magic | u8 version | u8 type: the start of every SecAgg message.
inline void put_prefix(ByteWriter& w, std::uint8_t version, std::uint8_t type) {
  w.put_bytes(kMagic);
  w.put<std::uint8_t>(version);
  w.put<std::uint8_t>(type);
}

inline Status read_prefix(ByteReader& r, std::uint8_t version, std::uint8_t expected_type) {
  std::span<const std::uint8_t> magic;
  HEAL_RETURN_IF_ERROR(r.get_bytes(4, &magic));
  if (!std::equal(magic.begin(), magic.end(), kMagic)) return Status::corruption("secagg: bad magic");
  std::uint8_t got_version = 0, type = 0;
  HEAL_RETURN_IF_ERROR(r.get(&got_version));
  HEAL_RETURN_IF_ERROR(r.get(&type));
  if (got_version != version) {
    return Status::unsupported("secagg: unsupported version " + std::to_string(got_version));
  }
  if (type != expected_type) {
    return Status::corruption("secagg: message type " + std::to_string(type) + ", expected " +
                              std::to_string(static_cast<int>(expected_type)));
  }
  return {};
}

// The type byte of a message of at least `header_size` bytes, with types 1..max_type.
inline Result<std::uint8_t> peek_prefix(std::span<const std::uint8_t> in, std::size_t header_size, std::uint8_t version,
                                        std::uint8_t max_type) {
  if (in.size() < header_size) return Status::corruption("secagg: message shorter than its header");
  if (!std::equal(kMagic, kMagic + 4, in.begin())) return Status::corruption("secagg: bad magic");
  if (in[4] != version) return Status::unsupported("secagg: unsupported version");
  if (in[5] < 1 || in[5] > max_type) return Status::corruption("secagg: unknown message type");
  return in[5];
}

template <std::size_t N>
Status get_fixed(ByteReader& r, std::array<std::uint8_t, N>* out) {
  std::span<const std::uint8_t> b;
  HEAL_RETURN_IF_ERROR(r.get_bytes(N, &b));
  std::copy(b.begin(), b.end(), out->begin());
  return {};
}

inline Status get_id(ByteReader& r, std::uint32_t* id) {
  HEAL_RETURN_IF_ERROR(r.get(id));
  if (*id == 0 || *id > kSecAggMaxClients) return Status::corruption("secagg: party id out of range");
  return {};
}

inline Status check_increasing(std::uint32_t prev, std::uint32_t id) {
  if (id <= prev) return Status::corruption("secagg: party ids not strictly increasing");
  return {};
}

// A party id greater than *prev (which becomes it).
inline Status get_increasing_id(ByteReader& r, std::uint32_t* prev, std::uint32_t* id) {
  HEAL_RETURN_IF_ERROR(get_id(r, id));
  HEAL_RETURN_IF_ERROR(check_increasing(*prev, *id));
  *prev = *id;
  return {};
}

// A count of entries of at least `min_entry_bytes` each: bounded by the limit and the remaining bytes.
inline Status get_count(ByteReader& r, std::size_t min_entry_bytes, std::uint32_t* n) {
  HEAL_RETURN_IF_ERROR(r.get(n));
  if (*n > kSecAggMaxClients) return Status::corruption("secagg: list longer than the party limit");
  if (*n > r.remaining() / min_entry_bytes) return Status::corruption("secagg: list longer than the message");
  return {};
}

inline Status finish(const ByteReader& r) {
  if (!r.at_end()) return Status::corruption("secagg: trailing bytes after the message");
  return {};
}

// u32 count | count strictly increasing party ids.
inline void put_ids(ByteWriter& w, const std::vector<std::uint32_t>& ids) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ids.size()));
  for (auto id : ids) w.put<std::uint32_t>(id);
}

inline Status get_ids(ByteReader& r, std::vector<std::uint32_t>* ids) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 4, &n));
  ids->resize(n);
  std::uint32_t prev = 0;
  for (auto& id : *ids) HEAL_RETURN_IF_ERROR(get_increasing_id(r, &prev, &id));
  return {};
}

}  // namespace heal::smpc::wire
