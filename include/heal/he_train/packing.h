// Packing of the training matrix Z (rows z_i = y'_i (1, x_i)) and of the weights into CKKS slots.
//
// Two slot counts: the data ciphertexts use all N/2 slots (`data_slots`), the weights use the
// bootstrapper's sparse count S (`weight_slots`, S <= N/2) so that one sparse bootstrap refreshes
// them. A data ciphertext holds r = data_slots / d' consecutive rows, each in d' = bit_ceil(d + 1)
// slots (bias first, zeros after the d + 1 values): row k of ciphertext j is sample j r + k at
// slots [k d', (k + 1) d'). The last ciphertext is padded with zero rows (z = 0 contributes nothing
// to the gradient). The weights are one S-slot ciphertext with the same row layout, replicated in
// its S / d' rows: slot k d' + c holds v_c + i w_c (NAG's two vectors as the real and imaginary
// parts of one complex slot, so one bootstrap refreshes both).
//
// Widening and narrowing (src/he_train/README.md): an S-slot plaintext is a polynomial in
// Z[X^(N/(2S))], whose N/2-slot vector is the S-slot vector repeated N/(2S) times; so a sparse
// ciphertext read with N/2 slots (widen_slots) holds the periodic repetition, and an N/2-slot
// ciphertext whose slot vector is periodic with period S can be read with S slots (narrow_slots):
// sparse decoding and the sparse bootstrapper's subring trace drop the (noise) part outside the
// subring. Only the `slots` metadata changes.
#pragma once

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/params.h"
#include "heal/ckks/plaintext.h"

namespace heal::he_train {

class Packing {
 public:
  /// d features (so d + 1 values per row with the bias); data ciphertexts of `data_slots` slots
  /// (use the context's N/2), the weights of `weight_slots` slots (the bootstrapper's; powers of two,
  /// d' <= weight_slots <= data_slots).
  Packing(std::size_t d, std::size_t data_slots, std::size_t weight_slots);
  /// Data and weights in the same `slots` (the layout before full-slot data packing).
  Packing(std::size_t d, std::size_t slots) : Packing(d, slots, slots) {}
  std::size_t features() const { return d_; }
  std::size_t row_width() const { return width_; }   ///< d'
  std::size_t rows_per_ct() const { return rows_; }  ///< r = data_slots / d' (rows per data ciphertext)
  std::size_t data_slots() const { return data_slots_; }
  std::size_t weight_slots() const { return weight_slots_; }
  std::size_t weight_rows() const { return weight_slots_ / width_; }  ///< replicated rows of the weights
  /// Ciphertexts for n rows.
  std::size_t ciphertexts(std::size_t n) const { return (n + rows_ - 1) / rows_; }

  /// Slot vectors (data_slots each) of every ciphertext for z (n rows of d + 1 values).
  std::vector<std::vector<double>> pack_rows(std::span<const double> z, std::size_t n) const;
  /// v + i w replicated in every row of weight_slots slots (v, w of d + 1 values).
  std::vector<std::complex<double>> pack_weights(std::span<const double> v, std::span<const double> w) const;
  /// 1 at the first slot of every row of a data ciphertext (data_slots values), else 0.
  std::vector<double> row_start_mask() const;

 private:
  std::size_t d_, width_, rows_, data_slots_, weight_slots_;
};

/// The same ciphertext read with more slots (`slots` a power of two >= ct.slots()): the slot vector
/// becomes ct's repeated slots / ct.slots() times. Exact (metadata only).
ckks::Ciphertext widen_slots(ckks::Ciphertext ct, std::size_t slots);
/// The same ciphertext read with fewer slots (`slots` a power of two <= ct.slots()): the first
/// `slots` values, correct when ct's slot vector is periodic with period `slots` (the caller's
/// contract, e.g. after a sum over all rows). Metadata only.
ckks::Ciphertext narrow_slots(ckks::Ciphertext ct, std::size_t slots);

/// The data owner's side: encrypts Z and the initial weights, decrypts weights and margins.
class DataPacker {
 public:
  DataPacker(ckks::ContextPtr ctx, Packing packing);
  const Packing& packing() const { return packing_; }

  /// Ciphertexts of Z (data_slots each) at `level` (use the refresher's output level) and the default scale.
  std::vector<ckks::Ciphertext> encrypt_z(ckks::Encryptor& enc, std::span<const double> z, std::size_t n,
                                          std::size_t level) const;
  /// The weights ciphertext (v + i w replicated; weight_slots slots).
  ckks::Ciphertext encrypt_weights(ckks::Encryptor& enc, std::span<const double> v, std::span<const double> w,
                                   std::size_t level) const;
  /// Decrypts a weights ciphertext: v (real parts) and w (imaginary parts) of row `row`
  /// (< weight_rows()).
  void decrypt_weights(const ckks::Decryptor& dec, const ckks::Ciphertext& ct, std::vector<double>& v,
                       std::vector<double>& w, std::size_t row = 0) const;
  /// The same from an already decrypted weights plaintext (e.g. a threshold decryption).
  void decode_weights(const ckks::Plaintext& pt, std::vector<double>& v, std::vector<double>& w,
                      std::size_t row = 0) const;
  /// Margins z_i . w from EncryptedNag::validation_margins() (data_slots ciphertexts): n values.
  std::vector<double> decrypt_margins(const ckks::Decryptor& dec, const std::vector<ckks::Ciphertext>& margins,
                                      std::size_t n) const;

 private:
  ckks::ContextPtr ctx_;
  Packing packing_;
};

}  // namespace heal::he_train
