// Secure ensemble diagnosis (issue 17; the "secure ensemble" of Stephanie, Khalil, Atiquzzaman, Yi,
// arXiv:2305.09209): a batch of query images is answered by a weighted ensemble of hospital models
// (members with different architectures), and the querier learns the ensemble's output, not any
// single member's answer. Two modes; the parties exchange bytes only, never each other's objects.
//
// SMPC mode (any architecture; probabilities through a callback, so no libtorch here):
//   member i computes w_i * p_i(x) (count x classes, row-major) on the query batch, encodes it in
//   fixed point (heal/smpc/fixed_point.h, f = 16 fractional bits, round half away from zero) and
//   sends it masked through the dropout-tolerant secure aggregation of Bonawitz et al. (CCS 2017,
//   ePrint 2017/281; heal/smpc/secagg.h) with the querier as the aggregation server. The querier
//   decodes sum_{i in U3} w_i p_i(x) and divides by sum_{i in U3} w_i (U3: the members whose inputs
//   the sum holds; a member dropping out after round 2 is still in it, one dropping out before is not).
//   A batch of queries is one vector of count * classes words (one SecAgg session per batch).
//   Who learns what (semi-honest; SecAgg's threshold t > n/2):
//    - members SEE THE QUERY IMAGES in the clear (they run their own model on them), and the session's
//      public keys and U3; nothing of the other members' outputs;
//    - the querier (the SecAgg server) learns sum_{i in U3} w_i p_i(x), U3, and the public weights;
//      every message it receives is masked (pairwise + self masks); a coalition of the querier with
//      fewer than t members learns only the sum over >= t members (secagg.h's statement). With
//      U3 = t members and t - 1 of them colluding, the remaining member's output follows by
//      subtraction: that is inherent to releasing a sum, not a protocol leak.
//    - error: each member's w_i p_i is rounded to 2^-17, so the sum is within |U3| * 2^-17.
// HE mode (HE-friendly members only: a nn::ModelIr that he_infer::compile accepts):
//   the querier generates its own CKKS keys (Cheon-Kim-Kim-Song, ePrint 2016/421) for the members'
//   common circuit depth and sends every member the key bundle (parameters, public key, relinearization
//   key; no Galois key: batch packing, heal/he_infer/batch_engine.h, one image per slot, up to N/2
//   images per query) and the query (one compact seeded symmetric ciphertext per pixel). Member i runs
//   he_infer::BatchEngine on it (its logits are flooded with an encryption of zero under the querier's
//   public key, heal/he_infer/privacy.h), multiplies every logit ciphertext by its plaintext weight w_i
//   (rounded at 2^-weight_bits, no level consumed), and sends the classes ciphertexts to the aggregator,
//   which adds them and sends the querier the sum; the querier decrypts sum_i w_i * logits_i.
//   Who learns what:
//    - members and the aggregator see only ciphertexts under the querier's key: not the images, not
//      the other members' logits, not the result (IND-CPA of RLWE; the querier never sends anything
//      computed from a decryption back, the IND-CPA^D rule of heal/he_infer/session.h);
//    - the querier learns sum_i w_i logits_i for its images, plus the public architecture summary
//      (input size, classes, depth) and the number of members. With ONE member it learns that
//      member's logits times w_1. It does not learn an individual member's logits from the sum
//      alone, but it chooses the inputs: differences of answers on chosen images reveal the
//      ensemble function, as any prediction API does. The flood hides each member's circuit noise;
//      the noise magnitude of the sum depends on the weights, which are public anyway (ledger).
//    - an aggregator colluding with the querier hands it every member's ciphertext: no protection
//      against that collusion (SMPC mode tolerates it below the threshold).
//    - logits of members trained separately have different scales; summing them is what it is (a
//      logit ensemble, not a probability ensemble: the softmax is not evaluated under CKKS).
//   All members must have the same input shape, number of classes and circuit depth (the logits
//   must come out at the same level and scale so the ciphertexts can be added); otherwise the
//   querier refuses with a message naming the mismatch. A member that he_infer::compile refuses
//   (ReLU, residual adds, transformer ops) cannot join HE mode (std::invalid_argument).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "heal/ckks/params.h"
#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"
#include "heal/he_infer/plan.h"
#include "heal/nn/model_ir.h"
#include "heal/smpc/fixed_point.h"
#include "heal/smpc/secagg.h"

namespace heal::he_infer {
class BatchEngine;
}

namespace heal::apps::ensemble {

// ----------------------------------------------------------------------------------------------
// SMPC mode
// ----------------------------------------------------------------------------------------------

/// A member's model on a batch: `count` images of `dim` floats each -> count x classes probabilities.
using ProbabilityFn = std::function<std::vector<double>(std::span<const float> images, std::size_t count)>;

/// Public parameters of one SMPC diagnosis session (one batch of queries).
struct SmpcSessionConfig {
  std::uint32_t num_members = 0;  ///< member ids are 1..num_members
  std::uint32_t threshold = 0;    ///< SecAgg's t: num_members/2 < t <= num_members
  std::size_t num_classes = 0;
  std::size_t count = 0;        ///< queries in the batch
  std::vector<double> weights;  ///< w_i (public, finite, > 0, <= 1e6), one per member
  int frac_bits = smpc::kDefaultFracBits;
  Seed session{};  ///< fresh random per batch
  smpc::SecAggConfig secagg() const;
};

/// One hospital in SMPC mode: a SecAgg client whose input is w_i * p_i(images).
class SmpcMember {
 public:
  SmpcMember(SmpcSessionConfig cfg, std::uint32_t id, smpc::SecAggIdentity identity,
             std::vector<smpc::PublicKey> verify_keys, ProbabilityFn predict, Rng& rng);
  std::uint32_t id() const { return client_.id(); }
  Bytes advertise_keys() { return client_.advertise_keys(); }
  Result<Bytes> share_keys(std::span<const std::uint8_t> key_list) { return client_.share_keys(key_list); }
  /// Runs the model on the query batch (count * dim floats, seen in the clear), then the masked input.
  Result<Bytes> masked_input(std::span<const std::uint8_t> shares_for_me, std::span<const float> images);
  Result<Bytes> sign_survivors(std::span<const std::uint8_t> survivors) { return client_.sign_survivors(survivors); }
  Result<Bytes> unmask(std::span<const std::uint8_t> request) { return client_.unmask(request); }
  /// The fixed-point words this member put in (tests: they must not appear in any transmitted byte).
  const std::vector<std::uint64_t>& encoded_input() const { return encoded_; }

 private:
  SmpcSessionConfig cfg_;
  ProbabilityFn predict_;
  smpc::SecAggClient client_;
  std::vector<std::uint64_t> encoded_;
};

/// The ensemble's answer.
struct EnsembleOutput {
  std::size_t count = 0, num_classes = 0;
  std::vector<double> weighted_sum;    ///< count x classes: sum_{i in members} w_i * out_i
  std::vector<double> mean;            ///< weighted_sum / sum_{i in members} w_i
  std::vector<std::uint32_t> members;  ///< ids of the members whose outputs the sum holds
};

/// The querier in SMPC mode: the SecAgg server.
class SmpcQuerier {
 public:
  SmpcQuerier(SmpcSessionConfig cfg, std::vector<smpc::PublicKey> verify_keys);
  smpc::SecAggServer& server() { return server_; }
  /// After the last round: the decoded weighted sum over U3 and its weighted mean.
  Result<EnsembleOutput> finish();

 private:
  SmpcSessionConfig cfg_;
  smpc::SecAggServer server_;
};

/// Traffic and time of one in-process run (bytes are what would travel between machines).
struct RunStats {
  std::size_t querier_sent = 0, querier_received = 0;        ///< bytes
  std::vector<std::size_t> member_sent, member_received;     ///< per member (query images included)
  std::size_t aggregator_sent = 0, aggregator_received = 0;  ///< HE mode only
  std::size_t setup_bytes = 0;  ///< HE mode: the key bundle, per member (reusable across queries)
  double seconds = 0, querier_seconds = 0, member_seconds = 0;  ///< wall; querier; all members
  std::vector<Bytes> querier_inbox;  ///< every message the querier received (SMPC mode), in order
  std::string params;                ///< HE mode: the querier's parameter plan (ParamPlan::describe)
  std::size_t capacity = 0;          ///< HE mode: images one query can hold (N/2)
};

/// One SMPC-mode member as the driver takes it.
struct SmpcMemberSpec {
  double weight = 1.0;
  ProbabilityFn predict;
};

/// The in-process driver (tests, CLI): fresh identities and session from `rng`, threshold
/// `threshold` (0: floor(n/2) + 1), the SecAgg rounds in order, exchanging bytes only.
/// drop_at[i]: the first SecAgg round (0..4) member i no longer answers; 5 (or an empty vector) = never.
/// images: count * dim floats (sent to every member in the clear).
Result<EnsembleOutput> smpc_diagnose(const std::vector<SmpcMemberSpec>& members, std::span<const float> images,
                                     std::size_t count, std::size_t num_classes, Rng& rng, std::uint32_t threshold = 0,
                                     const std::vector<int>& drop_at = {}, RunStats* stats = nullptr);

// ----------------------------------------------------------------------------------------------
// HE mode
// ----------------------------------------------------------------------------------------------

/// The public summary of an HE member's architecture (what the querier needs to plan its keys).
struct HeMemberInfo {
  nn::Shape input;
  int num_classes = 0;
  int depth = 0;  ///< multiplicative depth of the compiled circuit
};
/// Compiles `model` (he_infer::compile); throws std::invalid_argument saying the member cannot
/// join HE mode (and why) when it is not HE-evaluable.
HeMemberInfo he_member_info(const nn::ModelIr& model);

/// Querier options. allow_insecure is the explicit test-only opt-in of he_infer::PlanOptions
/// (needs plan.log_n); members must then opt in too (HeMember::load_keys).
struct HeQuerierOptions {
  he_infer::PlanOptions plan{};
};

/// The querier in HE mode: owns the CKKS secret key; never sends anything computed from a decryption.
class HeQuerier {
 public:
  /// Checks that the members agree on input shape, classes and depth (std::invalid_argument naming
  /// the mismatch otherwise), plans the parameters and generates the keys (`rng`: null = SystemRng;
  /// a seeded one only in tests).
  HeQuerier(const std::vector<HeMemberInfo>& members, const HeQuerierOptions& opts = {},
            std::unique_ptr<Rng> rng = nullptr);
  ~HeQuerier();
  HeQuerier(const HeQuerier&) = delete;
  HeQuerier& operator=(const HeQuerier&) = delete;

  /// Images per query batch (N/2).
  std::size_t capacity() const;
  const he_infer::ParamPlan& plan() const { return plan_; }
  /// What every member and the aggregator need: parameters, public key, relinearization key, member count.
  const Bytes& key_bundle() const { return bundle_; }
  /// The query: one seeded symmetric ciphertext per pixel, slot s = image s (count * dim floats).
  Bytes encrypt_query(std::span<const float> images, std::size_t count);
  /// The aggregator's result -> count x classes: sum_i w_i logits_i (for local use only).
  Result<std::vector<double>> decrypt_result(std::span<const std::uint8_t> result, std::size_t count) const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
  he_infer::ParamPlan plan_;
  nn::Shape input_;
  int num_classes_ = 0;
  Bytes bundle_;
};

/// One HE-friendly member: its model stays with it; it sees only ciphertexts under the querier's key.
class HeMember {
 public:
  /// Throws std::invalid_argument if the model is not HE-evaluable, or the weight is not finite in (0, 1].
  HeMember(const nn::ModelIr& model, double weight, int threads = 1);
  ~HeMember();
  HeMember(HeMember&&) noexcept;
  HeMember& operator=(HeMember&&) noexcept;
  /// Loads the querier's key bundle (outside bytes: a Status). A bundle whose parameters miss the
  /// 128-bit bound is refused unless allow_insecure (tests only), and one whose classes, input size or
  /// circuit depth do not match this member's model is refused with a message saying so.
  Status load_keys(std::span<const std::uint8_t> bundle, bool allow_insecure = false);
  /// The query -> this member's weighted logits (num_classes ciphertexts), for the aggregator.
  Result<Bytes> evaluate(std::span<const std::uint8_t> query);
  const HeMemberInfo& info() const { return info_; }

 private:
  struct State;
  std::unique_ptr<State> st_;
  HeMemberInfo info_;
  double weight_ = 0;
  int threads_ = 1;
};

/// Adds the members' weighted logits (any member or a separate party; it holds no secret).
class HeAggregator {
 public:
  HeAggregator() = default;
  Status load_keys(std::span<const std::uint8_t> bundle, bool allow_insecure = false);
  /// Adds one member's output (same count, level and scale as the first, else an error).
  Status add(std::span<const std::uint8_t> member_output);
  std::size_t members_added() const { return added_; }
  /// The sum, for the querier.
  Result<Bytes> result() const;

 private:
  struct State;
  std::shared_ptr<State> st_;
  std::size_t added_ = 0;
};

/// One HE-mode member as the driver takes it.
struct HeMemberSpec {
  const nn::ModelIr* model = nullptr;
  double weight = 1.0;
};

/// The in-process driver: querier keys, one key bundle per member, the query, every member's
/// evaluation, the aggregator's sum (the first member's machine may play the aggregator), decryption.
/// Returns count x classes in weighted_sum (and mean = weighted_sum / sum w_i); `threads` per member.
Result<EnsembleOutput> he_diagnose(const std::vector<HeMemberSpec>& members, std::span<const float> images,
                                   std::size_t count, const HeQuerierOptions& opts = {},
                                   std::unique_ptr<Rng> querier_rng = nullptr, int threads = 1,
                                   RunStats* stats = nullptr);

// ----------------------------------------------------------------------------------------------
// Members given as model files (the pipeline of `heal infer ensemble`)
// ----------------------------------------------------------------------------------------------

enum class DiagnosisMode { kSmpc, kHe };

struct ModelDiagnosisOptions {
  DiagnosisMode mode = DiagnosisMode::kSmpc;
  std::vector<double> weights;  ///< one per model, finite and > 0; empty = equal. Normalised to sum 1.
  HeQuerierOptions he{};        ///< HE mode: the querier's parameter plan (secure by default)
  int threads = 1;              ///< HE mode: threads per member
  bool plaintext_reference = false;  ///< also compute the same quantity in the clear (a check, not a protocol step)
};

struct ModelDiagnosis {
  DiagnosisMode mode = DiagnosisMode::kSmpc;
  std::vector<double> weights;  ///< normalised (sum 1)
  /// count x classes. SMPC: the ensemble's probabilities sum_i w_i softmax(z_i); HE: the weighted logit
  /// mean sum_i w_i z_i (weights sum to 1, so EnsembleOutput::mean == weighted_sum).
  EnsembleOutput secure;
  /// plaintext_reference: the same quantity from nn::forward on every model in one place (empty otherwise),
  /// and max |secure - plaintext|.
  std::vector<double> plaintext;
  double max_abs_diff = 0;
  /// count x classes probabilities for the metrics: SMPC the output itself, HE softmax of the logit mean.
  std::vector<double> probabilities;
  std::vector<int> predicted;  ///< argmax per image
  RunStats stats;
};

/// Runs the secure ensemble diagnosis with the members' nn::ModelIr: SMPC mode with each member's
/// ProbabilityFn = softmax(nn::forward) of its model (members see the images), HE mode with he_diagnose
/// (members see ciphertexts only). Checks that the models agree on input size and classes and that
/// images holds count * input size floats (InvalidArgument otherwise). HE mode throws
/// std::invalid_argument (from he_diagnose) for a member that is not HE-evaluable or a depth mismatch.
/// `rng`: SMPC identities and session (SystemRng in production). HE mode: the querier's keys come from
/// `he_rng` (null = SystemRng).
Result<ModelDiagnosis> diagnose_with_models(const std::vector<const nn::ModelIr*>& models,
                                            std::span<const float> images, std::size_t count,
                                            const ModelDiagnosisOptions& opts, Rng& rng,
                                            std::unique_ptr<Rng> he_rng = nullptr);

}  // namespace heal::apps::ensemble
