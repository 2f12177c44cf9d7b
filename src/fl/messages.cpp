#include "messages.h"

#include <cmath>

namespace heal::fl::internal {

namespace {

void put_blob(ByteWriter& w, std::span<const std::uint8_t> b) { w.put_array<std::uint8_t>(b); }

Status get_blob(ByteReader& r, Bytes* out) { return r.get_array(out, kMaxBlobBytes); }

ByteWriter start(std::uint8_t version = kWireVersion) {
  ByteWriter w;
  w.put<std::uint8_t>(version);
  return w;
}

Status expect_version(ByteReader& r, const char* what) {
  std::uint8_t v = 0;
  if (!r.get(&v).ok()) return Status::corruption(std::string(what) + " message is empty");
  if (v != kWireVersion) {
    return Status::unsupported(std::string(what) + " message has format version " + std::to_string(v) +
                               ", this build reads version " + std::to_string(kWireVersion));
  }
  return {};
}

Status expect_end(const ByteReader& r, const char* what) {
  if (!r.at_end()) return Status::corruption(std::string(what) + " message has trailing bytes");
  return {};
}

/// A duration or norm a hospital reports: finite and >= 0.
Status get_nonnegative(ByteReader& r, double* out, const char* what) {
  HEAL_RETURN_IF_ERROR(r.get(out));
  if (!std::isfinite(*out) || *out < 0) return Status::corruption(std::string(what) + " is negative or not finite");
  return {};
}

void put_stats(ByteWriter& w, const HospitalStats& s) {
  w.put<double>(s.train_seconds);
  w.put<double>(s.encrypt_seconds);
  w.put<double>(s.norm_before_clip);
  w.put<std::uint8_t>(s.clipped ? 1 : 0);
}

Status get_stats(ByteReader& r, HospitalStats* s) {
  HEAL_RETURN_IF_ERROR(get_nonnegative(r, &s->train_seconds, "train seconds"));
  HEAL_RETURN_IF_ERROR(get_nonnegative(r, &s->encrypt_seconds, "encrypt seconds"));
  HEAL_RETURN_IF_ERROR(get_nonnegative(r, &s->norm_before_clip, "pre-clip norm"));
  std::uint8_t clipped = 0;
  HEAL_RETURN_IF_ERROR(r.get(&clipped));
  if (clipped > 1) return Status::corruption("clipped flag is " + std::to_string(clipped) + " (0 or 1)");
  s->clipped = clipped == 1;
  return {};
}

void put_metrics(ByteWriter& w, const Metrics& metrics) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(metrics.size()));
  for (const auto& [k, v] : metrics) {
    w.put_string(k);
    w.put<double>(v);
  }
}

/// `finite_only`: refuse NaN / infinite values (a diverged model's validation loss may be NaN).
Status get_metrics(ByteReader& r, Metrics* out, const char* what, bool finite_only) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > 256) {
    return Status::corruption(std::string(what) + " message has " + std::to_string(n) + " metrics (limit 256)");
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string k;
    double v = 0;
    HEAL_RETURN_IF_ERROR(r.get_string(&k, 256));
    HEAL_RETURN_IF_ERROR(r.get(&v));
    if (finite_only && !std::isfinite(v)) return Status::corruption("metric '" + k + "' is not finite");
    (*out)[k] = v;
  }
  return {};
}

}  // namespace

std::string_view refusal_status(RefusalCode code) {
  switch (code) {
    case RefusalCode::kTrainingFailed:
    case RefusalCode::kContributionFailed:
    case RefusalCode::kCommitmentRefused:
      return "failed";
    default:
      return "refused";
  }
}

Bytes encode_model(const ModelMsg& m) {
  ByteWriter w = start();
  w.put<std::uint64_t>(m.version);
  w.put_array<float>(m.weights);
  return w.take();
}

Result<ModelMsg> decode_model(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  ModelMsg m;
  HEAL_RETURN_IF_ERROR(expect_version(r, "model"));
  HEAL_RETURN_IF_ERROR(r.get(&m.version));
  HEAL_RETURN_IF_ERROR(r.get_array(&m.weights, kMaxWeights));
  HEAL_RETURN_IF_ERROR(expect_end(r, "model"));
  return m;
}

Bytes encode_update(const UpdateMsg& m) {
  ByteWriter w = start();
  w.put<std::uint64_t>(m.num_samples);
  put_metrics(w, m.metrics);
  put_stats(w, m.stats);
  put_blob(w, m.contribution);
  put_blob(w, m.commitment.record);
  put_blob(w, ledger::encode_signatures(m.commitment.signatures));
  return w.take();
}

Result<UpdateMsg> decode_update(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  UpdateMsg m;
  HEAL_RETURN_IF_ERROR(expect_version(r, "update"));
  HEAL_RETURN_IF_ERROR(r.get(&m.num_samples));
  HEAL_RETURN_IF_ERROR(get_metrics(r, &m.metrics, "update", true));
  HEAL_RETURN_IF_ERROR(get_stats(r, &m.stats));
  HEAL_RETURN_IF_ERROR(get_blob(r, &m.contribution));
  HEAL_RETURN_IF_ERROR(get_blob(r, &m.commitment.record));
  Bytes sigs;
  HEAL_RETURN_IF_ERROR(get_blob(r, &sigs));
  HEAL_ASSIGN_OR_RETURN(m.commitment.signatures, ledger::decode_signatures(sigs));
  HEAL_RETURN_IF_ERROR(expect_end(r, "update"));
  return m;
}

Bytes encode_aggregate(const AggregateMsg& m) {
  ByteWriter w = start();
  put_blob(w, m.aggregate);
  w.put_array<std::uint32_t>(m.contributors);
  w.put_array<std::uint32_t>(m.quorum);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.contributions.size()));
  for (const auto& c : m.contributions) put_blob(w, c);
  return w.take();
}

Result<AggregateMsg> decode_aggregate(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  AggregateMsg m;
  HEAL_RETURN_IF_ERROR(expect_version(r, "aggregate"));
  HEAL_RETURN_IF_ERROR(get_blob(r, &m.aggregate));
  HEAL_RETURN_IF_ERROR(r.get_array(&m.contributors, 1u << 16));
  HEAL_RETURN_IF_ERROR(r.get_array(&m.quorum, 1u << 16));
  std::uint32_t count = 0;
  HEAL_RETURN_IF_ERROR(r.get(&count));
  if (count != 0 && count != m.contributors.size()) {
    return Status::corruption("aggregate message: " + std::to_string(count) + " contributions for " +
                              std::to_string(m.contributors.size()) + " contributors");
  }
  m.contributions.resize(count);
  for (auto& c : m.contributions) HEAL_RETURN_IF_ERROR(get_blob(r, &c));
  HEAL_RETURN_IF_ERROR(expect_end(r, "aggregate"));
  return m;
}

Bytes encode_share(const ShareMsg& m) {
  ByteWriter w = start();
  w.put<double>(m.decrypt_seconds);
  put_blob(w, m.share);
  return w.take();
}

Result<ShareMsg> decode_share(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  ShareMsg m;
  HEAL_RETURN_IF_ERROR(expect_version(r, "decryption share"));
  HEAL_RETURN_IF_ERROR(get_nonnegative(r, &m.decrypt_seconds, "decrypt seconds"));
  HEAL_RETURN_IF_ERROR(get_blob(r, &m.share));
  HEAL_RETURN_IF_ERROR(expect_end(r, "decryption share"));
  return m;
}

Bytes encode_refusal(const RefusalMsg& m) {
  ByteWriter w = start();
  w.put<std::uint8_t>(static_cast<std::uint8_t>(m.code));
  w.put_string(m.reason.size() <= kMaxReasonBytes ? std::string_view(m.reason)
                                                   : std::string_view(m.reason).substr(0, kMaxReasonBytes));
  w.put<std::uint64_t>(m.budget);
  w.put<double>(m.train_seconds);
  w.put<double>(m.encrypt_seconds);
  return w.take();
}

Result<RefusalMsg> decode_refusal(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  RefusalMsg m;
  HEAL_RETURN_IF_ERROR(expect_version(r, "refusal"));
  std::uint8_t code = 0;
  HEAL_RETURN_IF_ERROR(r.get(&code));
  if (code == 0 || code > kMaxRefusalCode) return Status::corruption("unknown refusal code " + std::to_string(code));
  m.code = static_cast<RefusalCode>(code);
  HEAL_RETURN_IF_ERROR(r.get_string(&m.reason, kMaxReasonBytes));
  HEAL_RETURN_IF_ERROR(r.get(&m.budget));
  HEAL_RETURN_IF_ERROR(get_nonnegative(r, &m.train_seconds, "train seconds"));
  HEAL_RETURN_IF_ERROR(get_nonnegative(r, &m.encrypt_seconds, "encrypt seconds"));
  HEAL_RETURN_IF_ERROR(expect_end(r, "refusal"));
  return m;
}

Bytes encode_evaluation(const Metrics& m) {
  ByteWriter w = start();
  put_metrics(w, m);
  return w.take();
}

Result<Metrics> decode_evaluation(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  Metrics m;
  HEAL_RETURN_IF_ERROR(expect_version(r, "evaluation"));
  HEAL_RETURN_IF_ERROR(get_metrics(r, &m, "evaluation", false));
  HEAL_RETURN_IF_ERROR(expect_end(r, "evaluation"));
  return m;
}

}  // namespace heal::fl::internal
