#include "ciphertext_file.h"

#include <string>

#include "heal/ckks/serialization.h"

namespace heal::apps::he_train::internal {

Bytes encode_ciphertexts(const ckks::Context& ctx, const std::vector<ckks::Ciphertext>& cts) {
  Bytes b;
  ByteWriter w(&b);
  w.put<std::uint32_t>(kCiphertextsMagic);
  w.put<std::uint16_t>(kCiphertextsVersion);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(cts.size()));
  for (const auto& c : cts) {
    const Bytes cb = ckks::save(ctx, c);
    w.put<std::uint64_t>(cb.size());
    w.put_bytes(cb);
  }
  return b;
}

Result<std::vector<ckks::Ciphertext>> decode_ciphertexts(const ckks::Context& ctx, std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  std::uint32_t magic = 0, n = 0;
  std::uint16_t version = 0;
  HEAL_RETURN_IF_ERROR(r.get(&magic));
  if (magic != kCiphertextsMagic) return Status::corruption("not a ciphertext list (magic HETC expected)");
  HEAL_RETURN_IF_ERROR(r.get(&version));
  if (version != kCiphertextsVersion) {
    return Status::unsupported("ciphertext list version " + std::to_string(version) + " (this build reads 1)");
  }
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > kMaxCiphertexts) return Status::corruption("ciphertext list of " + std::to_string(n) + " entries exceeds the limit");
  // Each entry needs at least its length field: refuse counts the bytes cannot hold before reserving.
  if (n > r.remaining() / 8) return Status::corruption("ciphertext list: count larger than the file");
  std::vector<ckks::Ciphertext> out;
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    HEAL_RETURN_IF_ERROR(r.get(&len));
    if (len > r.remaining()) return Status::corruption("ciphertext " + std::to_string(i) + " is truncated");
    std::span<const std::uint8_t> cb;
    HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(len), &cb));
    auto c = ckks::load_ciphertext(ctx, cb);
    if (!c.ok()) return c.status().with_context("ciphertext " + std::to_string(i));
    out.push_back(std::move(*c));
  }
  if (!r.at_end()) return Status::corruption("trailing bytes after the ciphertext list");
  return out;
}

}  // namespace heal::apps::he_train::internal
