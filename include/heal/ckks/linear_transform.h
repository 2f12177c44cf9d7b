// Plaintext matrix x encrypted vector by the diagonal method with baby-step giant-step
// (Halevi-Shoup, ePrint 2014/106 and 2018/244): with g baby steps,
//     M x = sum_j rot_{g j}( sum_i rot_{-g j}(diag_{g j + i}) * rot_i(x) ),
// the baby rotations rot_i(x) share one key-switching decomposition (hoisting, Bossuat et al.
// ePrint 2020/1203), so a dense d x d matrix costs about g + d/g rotations instead of d.
// Matrices of rows x cols (both <= d) are zero-padded to d x d, where d = the slot count of the
// ciphertexts (a power of two <= N/2; sparse packing replicates the vector, so rotations are
// cyclic modulo d). Only nonzero diagonals are encoded and only the rotations they need are used.
#pragma once

#include <complex>
#include <map>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/params.h"
#include "heal/ckks/plaintext.h"

namespace heal::ckks {

class LinearTransform {
 public:
  /// Encodes the diagonals of the row-major rows x cols `matrix` for ciphertexts with `dim`
  /// slots at `level`. `pt_scale` = 0 uses q_level, so apply() returns the input scale exactly;
  /// `baby_steps` = 0 picks the power of two nearest sqrt(dim) (fewest rotations).
  LinearTransform(ContextPtr ctx, std::span<const std::complex<double>> matrix, std::size_t rows, std::size_t cols,
                  std::size_t dim, std::size_t level, double pt_scale = 0, std::size_t baby_steps = 0);
  /// Real matrix.
  LinearTransform(ContextPtr ctx, std::span<const double> matrix, std::size_t rows, std::size_t cols, std::size_t dim,
                  std::size_t level, double pt_scale = 0, std::size_t baby_steps = 0);

  /// A transform given by its diagonals: (M x)[i] = sum_k diagonals[k][i] * x[(i + k) mod dim]
  /// for offsets k in [0, dim) (each vector has dim entries; zero vectors may be left out). BSGS
  /// runs over the offsets divided by their greatest common divisor u, centred in
  /// [-dim/2, dim/2): baby rotations by u*i, giant rotations by u*g*j, so a transform whose nonzero
  /// diagonals lie within +-w*u of 0 (an FFT stage or a product of a few) needs about
  /// g + 2w/g rotations. `baby_steps` = 0 picks the power of two nearest sqrt(2w+1).
  LinearTransform(ContextPtr ctx, const std::map<std::size_t, std::vector<std::complex<double>>>& diagonals,
                  std::size_t dim, std::size_t level, double pt_scale = 0, std::size_t baby_steps = 0);

  /// Rotation steps apply() needs (generate exactly these Galois keys).
  const std::vector<long>& rotation_steps() const { return steps_; }
  /// M x for x at level() with dim slots; the result is rescaled: level() - 1, scale
  /// x.scale * pt_scale / q_level (= x.scale with the default pt_scale).
  /// `threads` > 1 splits the baby rotations and the giant-step groups over that many threads.
  Ciphertext apply(const Evaluator& ev, const Ciphertext& x, const GaloisKeys& gk, int threads = 1) const;

  std::size_t level() const { return level_; }
  std::size_t dim() const { return dim_; }
  std::size_t baby_steps() const { return g_; }
  /// Number of nonzero diagonals (plaintext multiplications per apply()).
  std::size_t diagonals() const { return count_; }

 private:
  void build(const std::map<std::size_t, std::vector<std::complex<double>>>& diagonals, double pt_scale);
  ContextPtr ctx_;
  std::size_t dim_, level_, g_ = 0, count_ = 0;
  // plain_[j][i]: rot_{-giant_[j]}(diagonal giant_[j] + baby_[i]) encoded (empty if that diagonal is zero).
  std::vector<std::vector<Plaintext>> plain_;
  std::vector<std::vector<bool>> present_;
  std::vector<long> baby_, giant_, steps_;
};

}  // namespace heal::ckks
