// Batch (SIMD) mode, CryptoNets style (Gilad-Bachrach et al., ICML 2016) with nGraph-HE2's lazy
// relinearization and rescaling (arXiv:1908.04172): ciphertext j holds pixel j of up to N/2 images
// (one image per slot), so every linear stage is a scalar-weight multiply-accumulate across
// ciphertexts and no rotation (hence no Galois key) is needed.
//
// Schedule (depth 2k+1, level l = input level - levels used so far):
//   L_0:            MAC (weights encoded at q_l) + bias, rescale once.
//   square:         x^2 (3 polynomials), neither relinearized nor rescaled.
//   L_i (i >= 1):   MAC on the 3-polynomial squares, + bias, relinearize only the outputs, rescale twice.
//   logits:         after the relinearization and before the rescale(s), + a flooded encryption of
//                   zero under the client's public key (circuit privacy, privacy.h).
//
// Memory: the first stage usually has the most outputs (a conv layer's channels x positions: 8112
// ciphertexts for a merged 3-member BreastMNIST model, about 16 GiB at N = 2^14). With streaming
// (the default) L_0 and L_1 run fused over blocks of L_0's outputs, grouped by the L_1 rows that
// read them (for a conv: all channels at a few positions): each block is computed, rescaled,
// squared on the fly and accumulated into L_1's outputs in place, then dropped. An L_1 output is
// created at the first block that reaches it and completed (bias, relinearization, two rescales,
// storage compacted) after the last one, so only the rows still being summed hold 3 polynomials
// at L_1's level. Every later stage runs the same way by blocks of its inputs, which are freed
// block by block. The result is bit-for-bit that of stage-by-stage evaluation (the sums are exact
// mod q).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/keys.h"
#include "heal/he_infer/circuit.h"
#include "heal/he_infer/plan.h"
#include "heal/he_infer/privacy.h"

namespace heal::he_infer {

namespace detail {
struct MacStage;
struct StreamBlock;
struct ColumnBlock;
}

/// Wall-clock seconds per stage of one evaluation.
struct StageTimes {
  std::vector<std::string> names;
  std::vector<double> seconds;
  void add(std::string n, double s) {
    names.push_back(std::move(n));
    seconds.push_back(s);
  }
  double total() const;
};

/// Batch-mode encrypted inference of one circuit under one parameter set.
class BatchEngine {
 public:
  /// Precomputes weight residues at each stage's level. `threads` >= 1. `stream_rows` > 0 fuses
  /// the first two linear stages over blocks of about that many first-stage outputs (bounded
  /// memory, see above); 0 evaluates stage by stage, holding every first-stage output.
  BatchEngine(Circuit circuit, ckks::ContextPtr ctx, int threads = 2, std::size_t stream_rows = kDefaultStreamRows);
  static constexpr std::size_t kDefaultStreamRows = 512;
  ~BatchEngine();
  BatchEngine(const BatchEngine&) = delete;
  BatchEngine& operator=(const BatchEngine&) = delete;

  const Circuit& circuit() const { return circuit_; }
  /// Images per batch (N/2).
  std::size_t capacity() const { return ctx_->slots(); }
  /// Client: one ciphertext per input pixel; slot s holds image s (count <= capacity()).
  std::vector<ckks::Ciphertext> encrypt(std::span<const float> images, std::size_t count, ckks::Encryptor& enc) const;
  /// Server: runs the circuit; needs the relinearization key and the client's public key `pk`
  /// (each logit ciphertext is flooded with an encryption of zero before its last rescales,
  /// privacy.h). Consumes `inputs`.
  std::vector<ckks::Ciphertext> evaluate(std::vector<ckks::Ciphertext> inputs, const ckks::RelinKey& rk,
                                         const ckks::PublicKey& pk, StageTimes* times = nullptr,
                                         const Seed* flood_seed_for_tests = nullptr) const;
  /// The output flood (public numbers).
  const OutputFlood& output_flood() const { return flood_; }
  /// Client: logits, count x num_classes row-major.
  std::vector<double> decrypt(const std::vector<ckks::Ciphertext>& logits, std::size_t count, const ckks::Decryptor& dec) const;

 private:
  Circuit circuit_;
  ckks::ContextPtr ctx_;
  ckks::Encoder encoder_;
  int threads_;
  std::vector<std::size_t> level_;                               // level each linear stage runs at
  std::vector<detail::MacStage> mac_;                            // grouped weights per stage
  std::vector<detail::StreamBlock> stream_;                      // fused L_0 -> L_1 blocks (empty: off)
  std::vector<std::vector<detail::ColumnBlock>> column_blocks_;  // stage i >= 2 by input blocks (with streaming)
  OutputFlood flood_;
};

}  // namespace heal::he_infer
