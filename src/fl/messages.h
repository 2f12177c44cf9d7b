// Payloads of the round protocol's messages (internal wire format; all parsed as outside bytes).
//   model:      u64 version, u64 count + f32 weights
//   update:     u64 samples, u32 metric count + (string name, f64 value)..., u64 len + contribution,
//               u64 len + commitment record bytes, u64 len + signature list (ledger encoding)
//   aggregate:  u64 len + aggregate bytes, u64 count + u32 contributing party ids,
//               u64 count + u32 decryption quorum party ids
//   share:      u64 len + share bytes
//   refusal:    string reason
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/fl/local_trainer.h"
#include "heal/ledger/block.h"

namespace heal::fl::internal {

inline constexpr std::uint64_t kMaxWeights = std::uint64_t{1} << 31;
inline constexpr std::uint64_t kMaxBlobBytes = std::uint64_t{1} << 34;

struct ModelMsg {
  std::uint64_t version = 0;
  std::vector<float> weights;
};
struct UpdateMsg {
  std::uint64_t num_samples = 0;
  Metrics metrics;
  Bytes contribution;
  ledger::SignedRecord commitment;
};

Bytes encode_model(const ModelMsg& m);
Result<ModelMsg> decode_model(std::span<const std::uint8_t> b);
Bytes encode_update(const UpdateMsg& m);
Result<UpdateMsg> decode_update(std::span<const std::uint8_t> b);
struct AggregateMsg {
  Bytes aggregate;
  std::vector<std::uint32_t> contributors;
  std::vector<std::uint32_t> quorum;
};
Bytes encode_aggregate(const AggregateMsg& m);
Result<AggregateMsg> decode_aggregate(std::span<const std::uint8_t> b);
/// A single length-prefixed blob (aggregate, share).
Bytes encode_blob(std::span<const std::uint8_t> blob);
Result<Bytes> decode_blob(std::span<const std::uint8_t> b);
Bytes encode_reason(const std::string& reason);
std::string decode_reason(std::span<const std::uint8_t> b);

}  // namespace heal::fl::internal
