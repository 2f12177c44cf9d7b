// Query / result file encoding (query.h).
#include "query.h"

#include <string>

#include "heal/ckks/serialization.h"

namespace heal::he_infer::internal {

Bytes encode_query(const ckks::Context& ctx, const Query& q, std::uint32_t magic) {
  Bytes b;
  ByteWriter w(&b);
  w.put<std::uint32_t>(magic);
  w.put<std::uint16_t>(kQueryVersion);
  w.put<std::uint8_t>(q.mode == Mode::kBatch ? 0 : 1);
  w.put<std::uint64_t>(q.count);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(q.cts.size()));
  for (const auto& c : q.cts) {
    const Bytes cb = ckks::save(ctx, c);
    w.put<std::uint64_t>(cb.size());
    w.put_bytes(cb);
  }
  return b;
}

Result<Query> decode_query(const ckks::Context& ctx, std::span<const std::uint8_t> bytes, std::uint32_t expected) {
  ByteReader r(bytes);
  std::uint32_t magic = 0, n = 0;
  std::uint16_t ver = 0;
  std::uint8_t mode = 0;
  Query q;
  HEAL_RETURN_IF_ERROR(r.get(&magic));
  if (magic == kResultMagic && expected == kQueryMagic)
    return Status::invalid_argument("is a result file; results are decrypted by the client and never sent back to the server");
  if (magic == kQueryMagic && expected == kResultMagic) return Status::invalid_argument("is a query, not a result file");
  if (magic != expected) return Status::corruption("not a he_infer query/result file");
  HEAL_RETURN_IF_ERROR(r.get(&ver));
  if (ver != kQueryVersion) return Status::corruption("unsupported version " + std::to_string(ver));
  HEAL_RETURN_IF_ERROR(r.get(&mode));
  if (mode > 1) return Status::corruption("bad mode");
  q.mode = mode == 0 ? Mode::kBatch : Mode::kSingle;
  HEAL_RETURN_IF_ERROR(r.get(&q.count));
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > kMaxQueryCiphertexts) return Status::corruption("too many ciphertexts");
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    HEAL_RETURN_IF_ERROR(r.get(&len));
    if (len > r.remaining()) return Status::corruption("truncated ciphertext");
    std::span<const std::uint8_t> cb;
    HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(len), &cb));
    auto ct = ckks::load_ciphertext(ctx, cb);
    if (!ct.ok()) return ct.status();
    q.cts.push_back(std::move(ct).value());
  }
  if (!r.at_end()) return Status::corruption("trailing bytes");
  return q;
}

}  // namespace heal::he_infer::internal
