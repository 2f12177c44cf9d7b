// Circuit: a ModelIr lowered to the shape CKKS evaluates cheaply,
//   x -> L_0 -> (.)^2 -> L_1 -> (.)^2 -> ... -> L_k -> logits,
// where every L_i is one affine map (a sparse matrix plus a bias). The compiler folds batch norm,
// the input normalisation, flatten, average pooling and the linear and constant terms of every
// polynomial activation a*x^2 + b*x + c into the neighbouring linear layers
// (a*x^2 + b*x + c = a*(x + b/2a)^2 + (c - b^2/4a)), so each activation costs exactly one level
// and each linear stage one level: depth = 2k + 1. (The absorption trick is the one of CHET and
// nGraph-HE2, arXiv:1908.04172; CryptoNets used x^2 directly.)
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "heal/nn/model_ir.h"

namespace heal::he_infer {

/// An affine map y = M x + bias with M sparse (CSR). Entries are structural: an entry may hold
/// the value 0 (e.g. a trained weight that happens to be zero) but every entry that the layer's
/// geometry connects is kept, so the sparsity pattern depends only on the architecture.
struct SparseLinear {
  std::string name;                 ///< source layers, e.g. "conv0+bn0+act0.shift"
  int in_dim = 0, out_dim = 0;
  std::vector<std::int32_t> row_ptr;  ///< out_dim + 1 offsets into cols/vals
  std::vector<std::int32_t> cols;
  std::vector<double> vals;
  std::vector<double> bias;         ///< out_dim

  std::size_t nnz() const { return cols.size(); }
  /// Largest number of entries in one row.
  int max_row_nnz() const;
  /// y = M x + bias.
  std::vector<double> apply(std::span<const double> x) const;
  /// Identity map of dimension n.
  static SparseLinear identity(int n, std::string name);
  /// this o inner: x -> this(inner(x)) (structural entries of the product are kept).
  SparseLinear compose_after(const SparseLinear& inner) const;
  /// The rows `rows` (in that order) as a map of their own, bias included.
  SparseLinear select_rows(std::span<const std::int32_t> rows) const;
  /// Only the entries of columns `cols`, renumbered 0..cols.size()-1 in that order (in_dim =
  /// cols.size()); every row and the bias kept.
  SparseLinear select_columns(std::span<const std::int32_t> cols) const;
};

/// The compiled model.
struct Circuit {
  nn::Shape input;
  int num_classes = 0;
  /// L_0 .. L_k; a squaring sits between consecutive entries.
  std::vector<SparseLinear> linears;
  /// Bound on |pre-activation| before each squaring (from the model's recorded ranges, shifted);
  /// 0 when the model has no recorded ranges.
  std::vector<double> square_input_bound;

  /// Multiplicative depth (levels consumed): 2 * linears.size() - 1.
  int depth() const { return static_cast<int>(2 * linears.size()) - 1; }
  /// Plaintext evaluation of the circuit on one raw image (no normalisation needed: it is folded).
  std::vector<double> evaluate(std::span<const float> image) const;
  /// Per-stage description.
  std::string summary() const;
};

/// Constant propagation (run by compile()): an output of L_i with no entries is its bias b (e.g.
/// the constant channel nn::merge_ensemble adds in front of a zero-padded conv); after the
/// squaring it is b^2 for every input, so L_{i+1} takes it into its bias and the output is
/// removed (no slot, no ciphertext, no multiply). The logits (last stage) are kept.
void drop_constant_outputs(Circuit& c);

/// Lowers a model: folds batch norm (nn::fold_batch_norm), the input normalisation, flatten,
/// avg pool, un-foldable batch norm and the polynomial activations' affine parts into linear
/// stages and composes consecutive linear layers. Throws std::invalid_argument (naming the layer)
/// for models CKKS cannot evaluate this way: ReLU, residual adds, non-sequential graphs, and the
/// ModelIr v2 transformer ops (tokens, layer_norm, token_dense, self_attention, gelu,
/// select_tokens: softmax attention has no CKKS evaluation here), which are refused first.
Circuit compile(const nn::ModelIr& model);

}  // namespace heal::he_infer
