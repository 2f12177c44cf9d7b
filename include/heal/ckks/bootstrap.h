// CKKS bootstrapping: refreshes a ciphertext at the bottom of the modulus chain to a higher level,
// so circuits of any depth can run (Cheon, Han, Kim, Kim, Song, ePrint 2018/153; the RNS and
// hoisting improvements of Han-Ki, ePrint 2019/688, and Bossuat, Mouchet, Troncoso-Pastoriza,
// Hubaux, ePrint 2020/1203). Four steps:
//
//  1. ModRaise: the level-0 ciphertext, read modulo Q_L, decrypts to t = m + q_0 I with a small
//     integer polynomial I (|I| < K with overwhelming probability for a sparse secret).
//  2. CoeffsToSlots: the homomorphic inverse special FFT moves the coefficients of t into slots. It
//     is the product of log2(n) butterfly stages (each 3 diagonals); consecutive stages are merged
//     into `cts_levels` sparse matrices (about 2^(r+1) - 1 diagonals for r merged stages), each
//     evaluated by BSGS with hoisted baby rotations and one rescale (LinearTransform). Real and
//     imaginary coefficient halves are separated with one conjugation. With sparse packing
//     (n < N/2) a trace over the Galois group fixing the subring (rotations by n, 2n, .., N/4;
//     Chen-Chillotti-Song, ePrint 2018/1043) first removes the coefficients outside it, and both
//     halves share one ciphertext of 2n slots, so EvalMod runs once.
//  3. EvalMod: t/q_0 mod 1 through sin(2 pi y) / (2 pi) = cos(2 pi (y - 1/4)) / (2 pi): a Chebyshev
//     interpolant of cos(2 pi K (x) / 2^r) on [-1, 1] (PolynomialEvaluator) followed by r
//     double-angle steps cos(2a) = 2 cos(a)^2 - 1 (Han-Ki, ePrint 2019/688). The constants 1/q_0,
//     1/K and the -1/4 shift are folded into CoeffsToSlots. No arcsine correction: the input is
//     first multiplied by an exact power of two so that q_0 / scale = 2^message_ratio_log2
//     (default 2^11); the sine then deviates from x by (2 pi c / 2^11)^2 / 6 relative for a message
//     coefficient c (c ~ 2^-8 for uniform full-slot inputs: 2^-35; a constant vector, c = 1: 2^-19).
//  4. SlotsToCoeffs: the forward special FFT, merged the same way into `stc_levels` matrices.
//
// The bit-reversal permutation of the FFT is never evaluated: CoeffsToSlots leaves the
// coefficients in bit-reversed slot order, EvalMod is slot-wise, and SlotsToCoeffs starts from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/params.h"

namespace heal::ckks {

class Evaluator;
class KeyGenerator;
class LinearTransform;

/// Shape of a bootstrapping circuit for one Context.
struct BootstrapConfig {
  std::size_t slots = 0;           ///< n: slots of the ciphertexts it refreshes (power of two <= N/2)
  std::size_t cts_levels = 3;      ///< levels of CoeffsToSlots (>= 1, <= log2 n)
  std::size_t stc_levels = 3;      ///< levels of SlotsToCoeffs (>= 1, <= log2 n)
  double k_bound = 32;             ///< K: EvalMod is accurate for |I| + 1/4 <= K (see mod_bound_failure_log2)
  std::size_t cheb_degree = 63;    ///< degree of the Chebyshev interpolant of the scaled cosine
  std::size_t double_angle = 3;    ///< r: double-angle steps after it
  /// log2(q_0 / Delta'): bootstrap() multiplies the input by 2^k at level 0 (exact) so that its
  /// scale Delta' = Delta 2^k is q_0 / 2^message_ratio_log2 (within a factor 2). Smaller ratios
  /// shrink the amplification of the CoeffsToSlots/EvalMod error (which is relative to q_0), larger
  /// ones the sine's nonlinearity ((2 pi |coefficient| / 2^ratio)^2 / 6 relative).
  int message_ratio_log2 = 11;
};

/// Seconds spent in each step of one bootstrap() call.
struct BootstrapTimings {
  double coeffs_to_slots = 0;  ///< ModRaise, subring trace, CoeffsToSlots, conjugation
  double eval_mod = 0;
  double slots_to_coeffs = 0;
};

/// A parameter set with its bootstrapping circuit.
struct BootstrapPreset {
  std::string name;
  ParamsSpec params;
  BootstrapConfig config;
  std::string description;
};

/// The presets (all 128-bit unless named insecure):
///  - "full": N = 2^16, 2^15 complex slots, secret of Hamming weight 256 (128-bit bound 1637 bits
///    for that weight), 9 levels of 40 bits left after bootstrapping;
///  - "sparse": N = 2^16, 2^10 slots (lighter: fewer rotations, shorter DFTs), 9 levels left;
///  - "train": "sparse" with 10 levels left (encrypted training, he_train: two NAG iterations per
///    bootstrap);
///  - "test": N = 2^12, 2^11 slots, insecure (allow_insecure), for fast unit tests;
///  - "test-sparse": N = 2^12, 2^5 slots, insecure;
///  - "test-train": N = 2^12, 2^5 slots, 10 levels left, insecure.
/// Throws std::invalid_argument for another name.
BootstrapPreset bootstrap_preset(const std::string& name);
/// Names accepted by bootstrap_preset().
std::vector<std::string> bootstrap_preset_names();

/// log2 of the probability that one ModRaise of a fresh level-0 ciphertext has some |I_k| above
/// K - 1/4 for `ctx`'s secret distribution (Gaussian tail of the sum of h uniform terms, union
/// bound over N coefficients). -inf when negligible below double precision.
double mod_bound_failure_log2(const Context& ctx, double k_bound);

/// ModRaise: reads a ciphertext at level 0 modulo every prime of Q_L (centred lift of each
/// coefficient from [-q_0/2, q_0/2)). The result decrypts to t = m + q_0 I at level L; scale and
/// slots are kept.
Ciphertext mod_raise(const Context& ctx, const Ciphertext& ct);

/// The bootstrapping circuit of one Context: DFT matrices (encoded once), EvalMod polynomial and
/// the level bookkeeping. Immutable after construction; apply() may run from several threads.
class Bootstrapper {
 public:
  /// Throws std::invalid_argument if the context has too few levels for `cfg` or q_0 is too close
  /// to the default scale.
  Bootstrapper(ContextPtr ctx, BootstrapConfig cfg);
  ~Bootstrapper();
  Bootstrapper(const Bootstrapper&) = delete;
  Bootstrapper& operator=(const Bootstrapper&) = delete;

  const BootstrapConfig& config() const { return cfg_; }
  /// Threads bootstrap() uses (default 1): the DFT rotations and giant steps, and the two EvalMods
  /// of full packing, are split over them.
  void set_threads(int threads);
  int threads() const { return threads_; }
  const Context& context() const { return *ctx_; }

  /// Galois elements of every key bootstrap() uses (DFT rotations, the subring trace,
  /// conjugation): generate exactly these.
  const std::vector<std::uint64_t>& galois_elements() const { return galois_; }
  /// Generates them (plus nothing else) with `keygen`.
  GaloisKeys create_galois_keys(KeyGenerator& keygen) const;

  /// Levels bootstrap() consumes (CoeffsToSlots + EvalMod + SlotsToCoeffs).
  std::size_t depth() const { return depth_; }
  /// Level of bootstrap()'s output: max_level() - depth().
  std::size_t output_level() const { return ctx_->max_level() - depth_; }

  /// Refreshes `ct` (2 polynomials, cfg.slots slots, any level, scale Delta <= q_0 /
  /// 2^message_ratio_log2, slot values of magnitude about 1 or less). The output is at
  /// output_level() with scale `out_scale` (0: the input's scale) and holds the same slots up to
  /// the bootstrapping error (docs/bootstrapping.md: about 2^-22 for "full", 2^-25 for "sparse",
  /// mean over uniform inputs in [-1, 1]).
  Ciphertext bootstrap(const Evaluator& ev, const Ciphertext& ct, const RelinKey& rk, const GaloisKeys& gk,
                       double out_scale = 0, BootstrapTimings* timings = nullptr) const;

  /// Steps inside bootstrap(), public for tests and benchmarks. ModRaise + trace + CoeffsToSlots:
  /// one ciphertext (sparse) or two (full: real and imaginary coefficient halves), at the level
  /// where EvalMod starts, holding (t_k / q_0 - 1/4) / K in bit-reversed order.
  std::vector<Ciphertext> coeffs_to_slots(const Evaluator& ev, const Ciphertext& raised, const GaloisKeys& gk) const;
  /// EvalMod on one ciphertext from coeffs_to_slots(): sin(2 pi t_k / q_0) with scale `scale`.
  Ciphertext eval_mod(const Evaluator& ev, const Ciphertext& x, const RelinKey& rk, double scale) const;
  /// SlotsToCoeffs from eval_mod()'s output(s), rescaled to message values.
  Ciphertext slots_to_coeffs(const Evaluator& ev, const std::vector<Ciphertext>& parts, const GaloisKeys& gk) const;

  /// Bytes of the encoded DFT plaintexts.
  std::size_t plaintext_bytes() const;
  /// One line: slots, levels of each step, depth, number of keys.
  std::string describe() const;

 private:
  struct Impl;
  ContextPtr ctx_;
  BootstrapConfig cfg_;
  std::size_t depth_ = 0;
  int threads_ = 1;
  std::vector<std::uint64_t> galois_;
  std::unique_ptr<Impl> impl_;
};

/// What run_bootstrap_bench() measures.
struct BootstrapBenchOptions {
  std::size_t inputs = 3;     ///< random input vectors (one ciphertext and one timed bootstrap each)
  bool complex_values = false;  ///< uniform in [-1, 1] + i [-1, 1] instead of real [-1, 1]
  int threads = 1;            ///< threads bootstrap() may use
  std::uint64_t seed = 1;     ///< inputs and keys (a benchmark, not a deployment: keys from a seeded RNG)
};

/// Precision (bits = -log2 |output - input| per slot, over every slot of every input) and time.
struct BootstrapBenchResult {
  std::string preset, description, circuit, secret;
  int log_n = 0;
  std::size_t slots = 0, hamming_weight = 0, levels_after = 0, depth = 0, inputs = 0, values = 0;
  double log_qp = 0;
  bool secure = false;
  double bits_min = 0, bits_median = 0, bits_mean = 0, bits_max = 0;
  double bits_of_mean_error = 0;  ///< -log2(mean |error|)
  std::vector<double> seconds;    ///< per bootstrap
  BootstrapTimings steps;         ///< per step, summed over the inputs
  double seconds_min = 0, seconds_median = 0;
  double setup_seconds = 0;       ///< Bootstrapper construction (DFT plaintexts)
  double keygen_seconds = 0;      ///< relinearization + Galois keys
  std::size_t galois_keys = 0, key_bytes = 0, plaintext_bytes = 0;
  double failure_log2 = 0;        ///< mod_bound_failure_log2 of the preset
};

/// Runs the preset end to end: context, keys, `inputs` bootstraps of random vectors. `progress`
/// (optional) is called with a stage name, done and total.
BootstrapBenchResult run_bootstrap_bench(const BootstrapPreset& preset, const BootstrapBenchOptions& opt,
                                         const std::function<void(const std::string&, std::size_t, std::size_t)>& progress = {});

}  // namespace heal::ckks
