// Single-image mode: one image in one (or a few) ciphertexts, low latency.
//
// Layouts (S = N/2 slots; every vector starts at slot 0):
//  * Stage 0, "gather" packing (im2col in the spirit of LoLa arXiv:1812.10659 and TenSEAL): the
//    client, who holds the image in the clear, lays out for every output r of L_0 and every term k
//    of its row the input value x[col(r, k)]. g = S / out_dim terms share one ciphertext (block b at
//    slots [b*out_dim, (b+1)*out_dim)), so T = ceil(K / g) ciphertexts carry the image. The server
//    computes sum_t ct_t * W_{t,b} per block and folds the g blocks with g-1 rotations. Only the
//    sparsity pattern of L_0 (the architecture) is needed by the client, never the weights.
//  * Later stages (and L_0 if gather would need too many ciphertexts): the diagonal method of
//    Halevi-Shoup (ePrint 2014/106) with baby-step giant-step and hoisted baby rotations
//    (ePrint 2018/244), in two variants:
//      - "hybrid" (Gazelle's/LoLa's compressed form for m x n matrices with m < n): replicate x once,
//        m extended diagonals, then log2(n'/m) rotate-and-sum steps; needs zeros outside [0, n).
//      - "diagonal": the plain cyclic diagonal method restricted to valid rows/columns (masks any
//        garbage the previous stage left outside [0, n)); its output is clean.
//  * Squares: square, relinearize, rescale (rotations need 2-polynomial ciphertexts).
//  * Circuit privacy (privacy.h): the last stage is never hybrid (its partial sums would sit in
//    the slots after the logits); it runs without the per-group rescales, with weights and bias
//    encoded 2^boost larger, the output is flooded with a fresh encryption of zero under the
//    client's public key and rescaled once, so only the logit slots are non-zero.
//
// Weights live in a WeightSet: plaintexts (the server knows the model) or ciphertexts encrypted by
// the model owner under the client's public key (encrypted model: ct x ct products). Evaluation
// reads weights only from the WeightSet; the engine's layout (dimensions, which diagonals are
// structurally non-zero, rotation steps) depends only on the architecture.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/plaintext.h"
#include "heal/he_infer/batch_engine.h"
#include "heal/he_infer/circuit.h"
#include "heal/he_infer/privacy.h"

namespace heal::he_infer {

/// How one linear stage is evaluated in single-image mode.
enum class StageKind { kGather, kHybrid, kDiagonal };
const char* stage_kind_name(StageKind k);

/// The public evaluation plan of one linear stage.
struct StagePlan {
  StageKind kind = StageKind::kDiagonal;
  int in_dim = 0, out_dim = 0;
  std::size_t level = 0;   ///< level of the stage's input
  double scale_in = 0;     ///< scale of the stage's input
  // kGather: g blocks of out_dim slots per ciphertext, T input ciphertexts, K terms per row.
  int g = 0, t_cts = 0, k_terms = 0;
  // kHybrid / kDiagonal: baby-step size, giant indices and their baby offsets (d = gi*bs + r).
  int n_pad = 0, bs = 0;
  std::vector<int> giants;
  std::vector<std::vector<int>> babies;
  /// Number of weight operands (plaintext or ciphertext) of the stage.
  std::size_t num_weights() const;
};

/// A plaintext or an encrypted operand.
struct Operand {
  bool encrypted = false;
  ckks::Plaintext pt;
  ckks::Ciphertext ct;
};

/// The weights of every stage in the order the engine consumes them, plus one bias per stage.
struct WeightSet {
  bool encrypted = false;
  std::vector<std::vector<Operand>> weights;
  std::vector<Operand> bias;
  /// Bytes held (ciphertexts: 2 polynomials; plaintexts: 1).
  std::size_t bytes() const;
};

/// Operation counts of one evaluation (for the cost model).
struct OpCounts {
  std::size_t rotations = 0, hoisted_rotations = 0, ct_pt_mul = 0, ct_ct_mul = 0, relin = 0, rescale = 0, add = 0;
};

/// Single-image encrypted inference.
class SingleEngine {
 public:
  static constexpr int kMaxGatherCiphertexts = 64;
  SingleEngine(Circuit circuit, ckks::ContextPtr ctx, int threads = 2);

  const Circuit& circuit() const { return circuit_; }
  const std::vector<StagePlan>& plan() const { return plan_; }
  /// Slot-rotation steps the evaluation needs (only these Galois keys are generated).
  std::vector<long> rotation_steps() const;
  /// Number of input ciphertexts per image.
  std::size_t input_ciphertexts() const;
  /// Operation counts of one evaluation (encrypted weights: ct x ct instead of ct x pt).
  OpCounts op_counts(bool encrypted_weights) const;

  /// Server (plaintext model) or model owner: the weights encoded as plaintexts.
  WeightSet plain_weights() const;
  /// Model owner: the weights encrypted under `enc` (the client's public key).
  WeightSet encrypt_weights(ckks::Encryptor& enc) const;
  /// Client: the image packed and encrypted (input_ciphertexts() ciphertexts).
  std::vector<ckks::Ciphertext> encrypt(std::span<const float> image, ckks::Encryptor& enc) const;
  /// Server: the logits ciphertext (slots [0, num_classes), every other slot zero), flooded with
  /// an encryption of zero under the client's public key `pk` (privacy.h). Reads weights only from `w`.
  ckks::Ciphertext evaluate(std::vector<ckks::Ciphertext> inputs, const WeightSet& w, const ckks::RelinKey& rk,
                            const ckks::GaloisKeys& gk, const ckks::PublicKey& pk, StageTimes* times = nullptr) const;
  /// The output flood (public numbers: bound, width, scale and level where it is added).
  const OutputFlood& output_flood() const { return flood_; }
  /// log2 of the factor the last stage's weights and bias are encoded larger by (room for the flood).
  int output_boost_bits() const { return boost_bits_; }
  /// Client: the logits.
  std::vector<double> decrypt(const ckks::Ciphertext& logits, const ckks::Decryptor& dec) const;

 private:
  std::vector<std::vector<double>> weight_vectors(std::size_t stage) const;
  std::vector<double> bias_vector(std::size_t stage) const;
  /// Scale and level at which stage i's weights / bias are encoded (the last stage's are boosted
  /// and its bias is added before the rescale).
  double weight_scale(std::size_t stage) const;
  double bias_scale(std::size_t stage) const;
  std::size_t bias_level(std::size_t stage) const;
  Circuit circuit_;
  ckks::ContextPtr ctx_;
  ckks::Encoder encoder_;
  int threads_;
  std::vector<StagePlan> plan_;
  int boost_bits_ = 0;
  OutputFlood flood_;
};

}  // namespace heal::he_infer
