// Packing of the training matrix Z (rows z_i = y'_i (1, x_i)) and of the weights into CKKS slots.
//
// A ciphertext of S slots (the bootstrapper's slot count) holds r = S / d' consecutive rows, each in
// d' = bit_ceil(d + 1) slots (bias first, zeros after the d + 1 values): row k of ciphertext j is
// sample j r + k at slots [k d', (k + 1) d'). The last ciphertext is padded with zero rows (z = 0
// contributes nothing to the gradient). The weights are one ciphertext with the same layout,
// replicated in every row: slot k d' + c holds v_c + i w_c (NAG's two vectors as the real and
// imaginary parts of one complex slot, so one bootstrap refreshes both).
#pragma once

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/params.h"

namespace heal::he_train {

class Packing {
 public:
  /// d features (so d + 1 values per row with the bias), `slots` slots per ciphertext (power of two).
  Packing(std::size_t d, std::size_t slots);
  std::size_t features() const { return d_; }
  std::size_t row_width() const { return width_; }   ///< d'
  std::size_t rows_per_ct() const { return rows_; }  ///< r
  std::size_t slots() const { return slots_; }
  /// Ciphertexts for n rows.
  std::size_t ciphertexts(std::size_t n) const { return (n + rows_ - 1) / rows_; }

  /// Slot vectors of every ciphertext for z (n rows of d + 1 values).
  std::vector<std::vector<double>> pack_rows(std::span<const double> z, std::size_t n) const;
  /// v + i w replicated in every row (v, w of d + 1 values).
  std::vector<std::complex<double>> pack_weights(std::span<const double> v, std::span<const double> w) const;
  /// 1 at the first slot of every row, else 0.
  std::vector<double> row_start_mask() const;

 private:
  std::size_t d_, width_, rows_, slots_;
};

/// The data owner's side: encrypts Z and the initial weights, decrypts weights and margins.
class DataPacker {
 public:
  DataPacker(ckks::ContextPtr ctx, Packing packing);
  const Packing& packing() const { return packing_; }

  /// Ciphertexts of Z at `level` (use the refresher's output level) and the default scale.
  std::vector<ckks::Ciphertext> encrypt_z(ckks::Encryptor& enc, std::span<const double> z, std::size_t n,
                                          std::size_t level) const;
  /// The weights ciphertext (v + i w replicated).
  ckks::Ciphertext encrypt_weights(ckks::Encryptor& enc, std::span<const double> v, std::span<const double> w,
                                   std::size_t level) const;
  /// Decrypts a weights ciphertext: v (real parts) and w (imaginary parts) of row `row`.
  void decrypt_weights(const ckks::Decryptor& dec, const ckks::Ciphertext& ct, std::vector<double>& v,
                       std::vector<double>& w, std::size_t row = 0) const;
  /// Margins z_i . w from EncryptedNag::validation_margins(): n values.
  std::vector<double> decrypt_margins(const ckks::Decryptor& dec, const std::vector<ckks::Ciphertext>& margins,
                                      std::size_t n) const;

 private:
  ckks::ContextPtr ctx_;
  Packing packing_;
};

}  // namespace heal::he_train
