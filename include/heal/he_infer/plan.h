// Parameter planning: from the circuit's depth to a 128-bit-secure CKKS parameter set.
// All Q primes have the scale's size (so every rescale keeps the scale near 2^scale_bits), one
// extra Q prime keeps the logits at level 1 (headroom for |logit| * scale), and one special prime
// of scale_bits + 8 bits serves hybrid key switching with one digit per Q prime.
// The ring degree is the smallest N whose 128-bit bound (ckks::max_secure_log_qp: ePrint 2024/463
// Table 5.2) leaves at least min_scale_bits per prime; ckks::Context::create refuses insecure sets.
#pragma once

#include <string>

#include "heal/ckks/params.h"

namespace heal::he_infer {

/// Options of the planner.
struct PlanOptions {
  int min_scale_bits = 25;      ///< precision floor: smaller scales lose argmax agreement
  int max_scale_bits = 30;      ///< the batch kernels accumulate products of < 31-bit residues
  int log_n = 0;                ///< 0 = smallest secure N; else forced (must still be secure)
  bool allow_insecure = false;  ///< unit tests only: skip the security bound (needs log_n)
};

/// A planned parameter set.
struct ParamPlan {
  ckks::ParamsSpec spec;
  int depth = 0;
  int scale_bits = 0;
  /// Level of fresh inputs (= number of Q primes - 1) and of the logits.
  int input_level = 0, output_level = 0;
  std::string describe() const;
};

/// Plans N, the modulus chain and the scale for a circuit of multiplicative depth `depth`.
/// @throws std::invalid_argument if no N <= 2^16 fits.
ParamPlan plan_params(int depth, const PlanOptions& opts = {});

}  // namespace heal::he_infer
