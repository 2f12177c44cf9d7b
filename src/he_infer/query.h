// Query / result file of the he_infer client/server split (format in heal/he_infer/session.h):
// u32 magic ("HEIQ" for a query, client -> server; "HEIR" for a result, server -> client), u16 version, u8 mode, u64 image count, u32 ciphertext count, then per
// ciphertext u64 length + a ckks ciphertext object. Internal; the bytes come from the other
// party, so decode_query validates everything and returns a Status (fuzz/he_infer_query_fuzz.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/params.h"
#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/he_infer/cost_model.h"

namespace heal::he_infer::internal {

inline constexpr std::uint32_t kQueryMagic = 0x51494548;   // "HEIQ": client -> server
inline constexpr std::uint32_t kResultMagic = 0x52494548;  // "HEIR": server -> client, decrypted by the client only
inline constexpr std::uint16_t kQueryVersion = 1;
inline constexpr std::uint32_t kMaxQueryCiphertexts = 1u << 20;

struct Query {
  Mode mode = Mode::kBatch;
  std::uint64_t count = 0;
  std::vector<ckks::Ciphertext> cts;
};

/// `magic`: kQueryMagic or kResultMagic.
Bytes encode_query(const ckks::Context& ctx, const Query& q, std::uint32_t magic = kQueryMagic);
/// Parses a query/result file against `ctx`; every ciphertext is loaded (and validated) by ckks.
/// `expected` is the kind wanted: a result (logits under the client's key) is never accepted as a
/// query, since the server must not be handed anything derived from a decryption (IND-CPA^D,
/// heal/he_infer/privacy.h).
Result<Query> decode_query(const ckks::Context& ctx, std::span<const std::uint8_t> bytes,
                           std::uint32_t expected = kQueryMagic);

}  // namespace heal::he_infer::internal
