// Internal kernels of he_infer: a tiny thread pool-free parallel_for, exact rounding of real
// constants into RNS residues, and the fused sparse multiply-accumulate used by batch mode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/params.h"
#include "heal/he_infer/circuit.h"

namespace heal::he_infer::detail {

/// Runs fn(begin, end) over [0, n) split into `threads` contiguous ranges (std::thread).
void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t, std::size_t)>& fn);

/// round(v) mod q_i for the first `limbs` Q primes (exact for any finite double).
std::vector<std::uint64_t> real_to_residues(double v, const ckks::Context& ctx, std::size_t limbs);

/// Weight residues of a linear stage run at `level`: round(w * q_level) mod q_i, laid out [limb][entry].
std::vector<std::vector<std::uint64_t>> weight_residues(const SparseLinear& lin, const ckks::Context& ctx, std::size_t level);

/// Rows of a linear stage that read the same input columns (all rows of a dense layer; the output
/// channels of one conv position), at most kMaxGroupRows per group, with their weight residues
/// laid out [limb][k * rows + g] so the kernel loads each input word once per group.
struct MacGroup {
  static constexpr std::size_t kMaxGroupRows = 64;
  std::vector<std::int32_t> rows, cols;
  std::vector<std::vector<std::uint64_t>> w;
};
/// The grouped multiply-accumulate plan of one stage at `level`.
struct MacStage {
  int in_dim = 0, out_dim = 0;
  std::size_t level = 0;
  std::vector<MacGroup> groups;
};
/// `skip_empty_rows`: rows without entries get no group (sparse_mac_accumulate leaves them as they
/// are; sparse_mac needs every row, as it writes each output once).
MacStage make_mac_stage(const SparseLinear& lin, const ckks::Context& ctx, std::size_t level, bool skip_empty_rows = false);

/// One block of the fused first two stages of batch mode: `first` computes some outputs of L_0
/// (with their `bias`), `second` reads exactly those (columns renumbered 0..) into L_1's rows.
/// `finish`: L_1's rows no later block reaches (for the last block also the rows none reaches),
/// completed (bias, relinearization, rescales) right after this block.
struct StreamBlock {
  MacStage first, second;
  std::vector<double> bias;
  std::vector<std::int32_t> finish;
};
/// One block of a later streamed stage: the inputs `cols` (moved out of the previous stage's
/// outputs and freed after the block) and `stage`, their entries (columns renumbered 0..).
struct ColumnBlock {
  MacStage stage;
  std::vector<std::int32_t> cols;
  std::vector<std::int32_t> finish;
};

/// out[r] = sum_k w[r,k] * in[col(r,k)] over every polynomial and limb, in NTT form, with lazy
/// modular reduction (products of < 31-bit residues summed in 64-bit words, one reduction per
/// floor(2^64 / q^2) terms). GEMM-style blocking (mac_kernel.cpp): for each 16-coefficient tile the
/// inputs are packed contiguously (L2-resident), then every row group runs a register-blocked
/// micro-kernel (4 rows x P polys x 16 coefficients of accumulators in registers); with primes
/// <= 2^26 it uses AVX-512 IFMA (vpmadd52luq: exact 52-bit products added to 64-bit lanes), with
/// AVX2 vpmuludq (exact 62-bit products); chosen at run time (heal/math/simd.h), same words.
/// With `square_inputs`, the 2-polynomial inputs are squared on the fly (tensor product
/// (x0^2, 2 x0 x1, x1^2), not relinearized) and the MAC runs over the 3-polynomial squares.
/// All inputs share level and size; out gets that level and size (3 when squaring), scale
/// s * q_level with s = in.scale (in.scale^2 when squaring), no bias.
std::vector<ckks::Ciphertext> sparse_mac(const ckks::Context& ctx, const MacStage& st,
                                         std::span<const ckks::Ciphertext> in, int threads, bool square_inputs = false);

/// out[r] += sum_k w[r,k] * in[col(r,k)] (mod q) for the rows of st's groups, in place: the same
/// kernel, each output word read once and written once. out has st.out_dim entries (an empty out
/// is resized); an entry that is still an empty Ciphertext is created here as zero, with the size,
/// level and scale sparse_mac would give it, so rows cost memory only from the first block that
/// reaches them. Used to stream one stage into the next (BatchEngine): since the sums are exact
/// mod q, accumulating over column blocks gives exactly the residues of one sparse_mac over all
/// columns.
void sparse_mac_accumulate(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in,
                           std::vector<ckks::Ciphertext>& out, int threads, bool square_inputs = false);
/// A zero output of the stage as sparse_mac_accumulate creates it (for a row no block reaches).
ckks::Ciphertext zero_accumulator(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in,
                                  bool square_inputs = false);

}  // namespace heal::he_infer::detail
