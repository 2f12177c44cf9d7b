// Cost model: operation counts, levels, ring size, key and ciphertext sizes and a predicted time
// for a circuit in batch or single-image mode, from unit costs measured on this machine.
#pragma once

#include <string>
#include <vector>

#include "heal/ckks/params.h"
#include "heal/he_infer/circuit.h"
#include "heal/he_infer/plan.h"

namespace heal::he_infer {

enum class Mode { kBatch, kSingle };
const char* mode_name(Mode m);

/// Seconds per operation at the top level of a context (key switching scales with limbs^2, the
/// rest with limbs), and the batch kernel's seconds per scalar multiply-accumulate.
struct UnitCosts {
  double rotate = 0, hoisted_rotate = 0, mul_ct_pt = 0, mul_ct_ct = 0, relin = 0, rescale = 0, add = 0, mac_word = 0;
  double encrypt = 0, decrypt = 0;
  int threads = 1;  ///< threads the evaluation uses (independent operations are split over them)
};

/// Times each operation once or a few times on fresh ciphertexts (about 0.1-1 s).
UnitCosts calibrate(const ckks::ContextPtr& ctx, int threads);

/// What one evaluation costs.
struct CostReport {
  Mode mode = Mode::kBatch;
  bool encrypted_weights = false;
  std::string params;                 ///< ParamPlan::describe()
  int log_n = 0, depth = 0, levels = 0;
  std::size_t images_per_eval = 0;    ///< batch: N/2; single: 1
  std::size_t rotations = 0, hoisted_rotations = 0, ct_ct_mul = 0, ct_pt_mul = 0, relin = 0, rescale = 0;
  double mac_words = 0;               ///< batch: scalar multiply-accumulates over all words
  std::size_t galois_keys = 0;
  std::size_t relin_key_bytes = 0, galois_key_bytes = 0;
  std::size_t input_bytes = 0, output_bytes = 0, weight_bytes = 0;
  std::size_t input_ciphertexts = 0;
  double predicted_seconds = 0;       ///< one evaluation (server side)
  std::string to_string() const;
};

/// Counts for the circuit under `plan` in `mode`; predicted time from `unit` (zero if not given).
CostReport estimate_cost(const Circuit& c, const ParamPlan& plan, Mode mode, bool encrypted_weights,
                         const UnitCosts* unit = nullptr);

/// The single-image plan chosen by predicted time: the smallest 128-bit-secure N for the
/// circuit's depth and the next `extra` ring sizes (up to 2^16) are each calibrated on this
/// machine and costed; the fastest wins. A larger N can win because its wider slots let dense
/// layers use the hybrid layout with far fewer rotations and plaintexts (about 1-3 s of
/// calibration per candidate).
struct PlanChoice {
  ParamPlan plan;                       ///< the chosen one
  std::vector<CostReport> candidates;   ///< in increasing N, predicted_seconds filled in
};
/// Candidates start at the smallest secure N that also leaves room for the output flood (privacy.h);
/// a later candidate without that room is skipped.
PlanChoice choose_single_plan(const Circuit& c, bool encrypted_weights, int threads, int extra = 1);
/// Whether the single engine accepts `plan` for c (levels hold the flooded, boosted logits).
bool single_flood_fits(const Circuit& c, const ParamPlan& plan);

}  // namespace heal::he_infer
