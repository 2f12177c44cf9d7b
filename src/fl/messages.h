// Payloads of the round protocol's messages (internal wire format; all parsed as outside bytes).
// Every payload starts with a u8 format version (kWireVersion); a decoder refuses any other.
//   model:      u64 version, u64 count + f32 weights (also the payload of an evaluation request)
//   update:     u64 samples, u32 metric count + (string name, f64 value)..., stats,
//               u64 len + contribution, u64 len + commitment record bytes, u64 len + signature list
//   aggregate:  u64 len + aggregate bytes, u64 count + u32 contributing party ids,
//               u64 count + u32 decryption quorum party ids
//   share:      f64 decrypt seconds, u64 len + share bytes
//   refusal:    u8 code, string reason, u64 budget, f64 train seconds, f64 encrypt seconds
//   evaluation: u32 metric count + (string name, f64 value)...
//   stats:      f64 train seconds, f64 encrypt seconds, f64 pre-clip L2 norm, u8 clipped (0/1)
// What a hospital reports about its own work (timings, pre-clip norm, samples, refusals) travels in
// these messages: the coordinator never reads a hospital's memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/fl/local_trainer.h"
#include "heal/ledger/block.h"

namespace heal::fl::internal {

inline constexpr std::uint8_t kWireVersion = 1;
inline constexpr std::uint64_t kMaxWeights = std::uint64_t{1} << 31;
inline constexpr std::uint64_t kMaxBlobBytes = std::uint64_t{1} << 34;
inline constexpr std::size_t kMaxReasonBytes = 4096;

struct ModelMsg {
  std::uint64_t version = 0;
  std::vector<float> weights;
};

/// A hospital's own measurements of its round, reported with its update.
struct HospitalStats {
  double train_seconds = 0;
  double encrypt_seconds = 0;
  double norm_before_clip = 0;  // ||update||_2 before clipping
  bool clipped = false;
};

struct UpdateMsg {
  std::uint64_t num_samples = 0;
  Metrics metrics;
  HospitalStats stats;
  Bytes contribution;
  ledger::SignedRecord commitment;
};

struct AggregateMsg {
  Bytes aggregate;
  std::vector<std::uint32_t> contributors;
  std::vector<std::uint32_t> quorum;
  /// The contributions the aggregate sums, in the order of `contributors`, when the coordinator
  /// attaches them (CoordinatorConfig::attach_contributions) so that each quorum member recomputes
  /// the aggregate; empty otherwise.
  std::vector<Bytes> contributions;
};

struct ShareMsg {
  double decrypt_seconds = 0;  // producing the share
  Bytes share;
};

/// Why a hospital did not train or did not decrypt. Codes are part of the wire format: append only.
enum class RefusalCode : std::uint8_t {
  kMalformedModel = 1,            // the model message does not parse or has the wrong size
  kModelNotOnLedger = 2,          // its hash differs from the ledger's for that version
  kStaleModel = 3,                // not the latest version on the ledger
  kNoKeyShare = 4,                // no secure-aggregation key share installed
  kTrainingFailed = 5,            // the local trainer failed or returned a malformed update
  kContributionFailed = 6,        // encoding / encrypting the update failed
  kCommitmentRefused = 7,         // the ledger refused the hospital's signed commitment
  kMalformedAggregate = 8,        // the decryption request does not parse
  kDecryptionNotAllowed = 9,      // earlier round, second aggregate, share limit, not in the quorum, ...
  kAggregateNotOnLedger = 10,     // the aggregate or its contributors differ from the ledger's set
  kFloodingBudgetExhausted = 11,  // the key epoch's noise-flooding budget D is spent
  kDecryptionFailed = 12,         // producing the share failed otherwise
  kAggregateNotVerified = 13,     // recomputed from the committed contributions, the aggregate differs
};
inline constexpr std::uint8_t kMaxRefusalCode = 13;

/// "failed" for codes that mean the hospital broke down (training, encryption, ledger), else "refused".
std::string_view refusal_status(RefusalCode code);

struct RefusalMsg {
  RefusalCode code = RefusalCode::kMalformedModel;
  std::string reason;
  std::uint64_t budget = 0;  // kFloodingBudgetExhausted: the budget D (decryptions per key epoch)
  double train_seconds = 0;  // spent before the refusal (a failed training still took time)
  double encrypt_seconds = 0;
};

Bytes encode_model(const ModelMsg& m);
Result<ModelMsg> decode_model(std::span<const std::uint8_t> b);
Bytes encode_update(const UpdateMsg& m);
Result<UpdateMsg> decode_update(std::span<const std::uint8_t> b);
Bytes encode_aggregate(const AggregateMsg& m);
Result<AggregateMsg> decode_aggregate(std::span<const std::uint8_t> b);
Bytes encode_share(const ShareMsg& m);
Result<ShareMsg> decode_share(std::span<const std::uint8_t> b);
Bytes encode_refusal(const RefusalMsg& m);
Result<RefusalMsg> decode_refusal(std::span<const std::uint8_t> b);
/// A hospital's metrics of a candidate model on its validation data (answer to kEvaluate).
Bytes encode_evaluation(const Metrics& m);
Result<Metrics> decode_evaluation(std::span<const std::uint8_t> b);

}  // namespace heal::fl::internal
