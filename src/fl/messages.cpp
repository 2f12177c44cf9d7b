#include "messages.h"

#include <cmath>

namespace heal::fl::internal {

namespace {

void put_blob(ByteWriter& w, std::span<const std::uint8_t> b) { w.put_array<std::uint8_t>(b); }

Status get_blob(ByteReader& r, Bytes* out) { return r.get_array(out, kMaxBlobBytes); }

Status expect_end(const ByteReader& r, const char* what) {
  if (!r.at_end()) return Status::corruption(std::string(what) + " message has trailing bytes");
  return {};
}

}  // namespace

Bytes encode_model(const ModelMsg& m) {
  ByteWriter w;
  w.put<std::uint64_t>(m.version);
  w.put_array<float>(m.weights);
  return w.take();
}

Result<ModelMsg> decode_model(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  ModelMsg m;
  HEAL_RETURN_IF_ERROR(r.get(&m.version));
  HEAL_RETURN_IF_ERROR(r.get_array(&m.weights, kMaxWeights));
  HEAL_RETURN_IF_ERROR(expect_end(r, "model"));
  return m;
}

Bytes encode_update(const UpdateMsg& m) {
  ByteWriter w;
  w.put<std::uint64_t>(m.num_samples);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.metrics.size()));
  for (const auto& [k, v] : m.metrics) {
    w.put_string(k);
    w.put<double>(v);
  }
  put_blob(w, m.contribution);
  put_blob(w, m.commitment.record);
  put_blob(w, ledger::encode_signatures(m.commitment.signatures));
  return w.take();
}

Result<UpdateMsg> decode_update(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  UpdateMsg m;
  HEAL_RETURN_IF_ERROR(r.get(&m.num_samples));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > 256) return Status::corruption("update message has " + std::to_string(n) + " metrics (limit 256)");
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string k;
    double v = 0;
    HEAL_RETURN_IF_ERROR(r.get_string(&k, 256));
    HEAL_RETURN_IF_ERROR(r.get(&v));
    if (!std::isfinite(v)) return Status::corruption("metric '" + k + "' is not finite");
    m.metrics[k] = v;
  }
  HEAL_RETURN_IF_ERROR(get_blob(r, &m.contribution));
  HEAL_RETURN_IF_ERROR(get_blob(r, &m.commitment.record));
  Bytes sigs;
  HEAL_RETURN_IF_ERROR(get_blob(r, &sigs));
  HEAL_ASSIGN_OR_RETURN(m.commitment.signatures, ledger::decode_signatures(sigs));
  HEAL_RETURN_IF_ERROR(expect_end(r, "update"));
  return m;
}

Bytes encode_aggregate(const AggregateMsg& m) {
  ByteWriter w;
  put_blob(w, m.aggregate);
  w.put_array<std::uint32_t>(m.contributors);
  w.put_array<std::uint32_t>(m.quorum);
  return w.take();
}

Result<AggregateMsg> decode_aggregate(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  AggregateMsg m;
  HEAL_RETURN_IF_ERROR(get_blob(r, &m.aggregate));
  HEAL_RETURN_IF_ERROR(r.get_array(&m.contributors, 1u << 16));
  HEAL_RETURN_IF_ERROR(r.get_array(&m.quorum, 1u << 16));
  HEAL_RETURN_IF_ERROR(expect_end(r, "aggregate"));
  return m;
}

Bytes encode_blob(std::span<const std::uint8_t> blob) {
  ByteWriter w;
  put_blob(w, blob);
  return w.take();
}

Result<Bytes> decode_blob(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  Bytes out;
  HEAL_RETURN_IF_ERROR(get_blob(r, &out));
  HEAL_RETURN_IF_ERROR(expect_end(r, "blob"));
  return out;
}

Bytes encode_reason(const std::string& reason) {
  ByteWriter w;
  w.put_string(reason);
  return w.take();
}

std::string decode_reason(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  std::string s;
  if (!r.get_string(&s, 4096).ok()) return "(unreadable reason)";
  return s;
}

}  // namespace heal::fl::internal
