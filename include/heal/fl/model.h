// Flat model weights as the fl layer sees them, their hash (committed to the ledger) and the
// client-side L2 clipping of updates.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "heal/core/hash.h"

namespace heal::fl {

/// Identifies a party (hospital) in a federation.
using PartyId = std::uint32_t;
/// The coordinator (aggregation committee member) in messages and ledger records.
inline constexpr PartyId kCoordinatorId = 100000;

/// BLAKE2b-256 of "HEAL-fl-model-v1" || u64 count || the float32 values (little-endian).
/// This is the model hash written to and checked against the ledger.
Digest model_hash(std::span<const float> weights);

/// Euclidean norm, accumulated in double.
double l2_norm(std::span<const float> v);

/// What clip_l2 did.
struct ClipResult {
  double norm_before = 0;  // ||update||_2 before clipping
  double scale = 1;        // factor applied (1 if not clipped)
  bool clipped = false;
};

/// Scales `update` in place so that ||update||_2 <= max_norm (no-op when max_norm <= 0 or the norm
/// is already within the bound). Standard L2 norm bounding as in DP-FedAvg (McMahan et al.,
/// arXiv:1710.06963).
ClipResult clip_l2(std::span<float> update, double max_norm);

}  // namespace heal::fl
