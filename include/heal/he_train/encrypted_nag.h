// Logistic regression trained on ciphertexts only: NAG with a polynomial sigmoid (Kim, Song, Kim,
// Lee, Cheon, BMC Med Genomics 2018, IACR ePrint 2018/254), packed as in packing.h. The server
// holds the evaluation keys, the encrypted Z and the encrypted weights; it never needs the secret
// key. Inner products are the DiagABT-style row reductions of HETAL (Lee et al., ICML 2023,
// arXiv 2403.14111) specialised to one weight vector: Z * w slot-wise, rotate-and-sum within rows.
//
// One iteration on state C = v + i w (level l, one sparse ciphertext of S slots; src/he_train/README.md):
//   D = conj(C); A = C + D = 2v, widened to the data slots (N/2)    1 key switch
//   per data ciphertext Z_k of the batch (N/2 slots, r = N/(2d') rows):
//     t = mask(rotsum_{d'}(Z_k * A)) / (2B), replicated in its row    l -> l-2; 1 relin + 2 log2 d'
//     a = f_t(t) = alpha_t / |I| * p(-B t) (Chebyshev, PolynomialEvaluator)   depth 2 (deg 3) / 3
//     acc += a * (kappa Z_k), kappa = (1 - gamma_t) + i               no relin (3 polynomials)
//   G = rowsum(relin(acc)): sum over the r rows, narrowed to S slots   1 relin + log2 r rotations
//   C' = c1 C + c2 D + G with c1 = (1-gamma)(1+i)/2, c2 = ((1-gamma) + i(1+gamma))/2
// so Re C' = (1 - gamma) w_{t+1} + gamma w_t = v_{t+1} and Im C' = v_t + g = w_{t+1}.
// Levels per iteration: 3 + depth(poly) (5 for degree 3: two iterations per bootstrap with 10
// levels; 6 for degrees 5 and 7).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/keys.h"
#include "heal/he_train/nag.h"
#include "heal/he_train/packing.h"
#include "heal/he_train/refresher.h"

namespace heal::he_train {

/// What the progress callback sees after each iteration.
struct IterationInfo {
  std::size_t iteration = 0;   ///< 0-based index of the iteration just done
  std::size_t iterations = 0;  ///< planned total
  std::size_t epoch = 0;       ///< iteration / batches
  std::size_t batch = 0;
  bool refreshed = false;      ///< a refresh ran before this iteration
  std::size_t level = 0;       ///< level of the weights after it
  double seconds = 0;          ///< this iteration (without the refresh)
  double refresh_seconds = 0;  ///< the refresh before it (0 if none)
};

struct TrainOptions {
  std::size_t iterations = 0;
  /// Called after every iteration (progress bar, ETA).
  std::function<void(const IterationInfo&)> on_iteration;
  /// Encrypted validation Z (same packing; may be empty). After every epoch (every batches()
  /// iterations) the server computes encrypted margins z_i . w on it and calls on_epoch; the data
  /// owner decrypts them (DataPacker::decrypt_margins) and returns true to stop.
  const std::vector<ckks::Ciphertext>* validation = nullptr;
  std::function<bool(std::size_t epoch, const std::vector<ckks::Ciphertext>& margins)> on_epoch;
  /// Called after every epoch with the weights state, before the validation margins (checkpoints
  /// of a run on files); returns true to stop (e.g. a checkpoint could not be written).
  std::function<bool(std::size_t epoch, const ckks::Ciphertext& state)> on_checkpoint;
};

struct TrainResult {
  ckks::Ciphertext weights;    ///< C = v + i w (decrypt with DataPacker::decrypt_weights)
  std::size_t iterations = 0;  ///< iterations run
  std::size_t refreshes = 0;
  std::size_t epochs_checked = 0;
  bool stopped_early = false;
  double seconds = 0;  ///< total, refreshes included
  double refresh_seconds = 0;
};

class EncryptedNag {
 public:
  /// Keeps references to ev, rk, gk and refresher (ev works on ctx; the refresher works on
  /// packing.weight_slots()). n: rows of Z; batch_rows: any (rows of a data ciphertext outside the
  /// batch are masked out of the gradient). The polynomial is evaluated on t = z.v / B in [-1, 1]: |z.v| <= B is
  /// the caller's data-scaling contract (outside it the polynomial diverges from sigma).
  EncryptedNag(ckks::ContextPtr ctx, const ckks::Evaluator& ev, const ckks::RelinKey& rk, const ckks::GaloisKeys& gk,
               const Refresher& refresher, Packing packing, SigmoidPoly poly, Schedule schedule, std::size_t n,
               std::size_t batch_rows);

  /// Rotation steps the trainer uses (generate Galois keys for these, plus conjugation, plus the
  /// refresher's keys).
  static std::vector<long> rotation_steps(const Packing& packing);
  /// Levels one iteration consumes: 3 + PolynomialEvaluator::depth of the sigmoid polynomial.
  std::size_t levels_per_iteration() const { return levels_; }
  const BatchPlan& plan() const { return plan_; }
  const Packing& packing() const { return packing_; }
  /// Threads for the data ciphertexts of a batch in iterate (>= 1; default 1; 2 or more use two
  /// std::threads): the batch is split in two halves whose unrelinearized gradient sums are added.
  void set_threads(int threads);
  int threads() const { return threads_; }

  /// One iteration t on state C (weight_slots, level >= levels_per_iteration()); z: every data
  /// ciphertext (data_slots, at a level >= C's). Returns the new state, levels_per_iteration() lower.
  ckks::Ciphertext iterate(const std::vector<ckks::Ciphertext>& z, const ckks::Ciphertext& state, std::size_t t) const;
  /// Encrypted margins z_i . w for every validation ciphertext (state level >= 2): slot k d' of
  /// ciphertext j (data_slots) holds row j r + k's margin (real part).
  std::vector<ckks::Ciphertext> validation_margins(const std::vector<ckks::Ciphertext>& val,
                                                   const ckks::Ciphertext& state) const;
  /// Runs opt.iterations iterations from `state` (refreshing whenever the level is below
  /// levels_per_iteration()).
  TrainResult train(const std::vector<ckks::Ciphertext>& z, ckks::Ciphertext state, const TrainOptions& opt) const;

 private:
  ckks::Ciphertext inner_products(const ckks::Ciphertext& zk, const ckks::Ciphertext& a,
                                  std::complex<double> factor) const;
  ckks::Ciphertext times_kappa(const ckks::Ciphertext& zk, std::size_t k, std::size_t level, std::complex<double> kappa,
                               std::size_t row_begin, std::size_t row_end) const;
  ckks::Ciphertext mul_const_to(const ckks::Ciphertext& ct, std::complex<double> c, double target_scale) const;
  ckks::ContextPtr ctx_;
  std::shared_ptr<const ckks::Encoder> encoder_;
  const ckks::Evaluator& ev_;
  const ckks::RelinKey& rk_;
  const ckks::GaloisKeys& gk_;
  const Refresher& refresher_;
  Packing packing_;
  SigmoidPoly poly_;
  Schedule schedule_;
  BatchPlan plan_;
  std::size_t levels_ = 0, poly_depth_ = 0;
  int threads_ = 1;
  std::vector<double> mask_;
};

}  // namespace heal::he_train
