// RnsPoly: a polynomial of Z[X]/(X^n + 1) in RNS form, `limbs` residue polynomials of n words
// stored contiguously (limb i at data() + i*n, 64-byte aligned), in coefficient or evaluation
// (NTT) form. Operations take the RnsBasis whose first num_limbs() primes the limbs live in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "heal/math/buffer.h"
#include "heal/math/rns_basis.h"

namespace heal::math {

class RnsPoly {
 public:
  RnsPoly() = default;
  /// Zero polynomial with `limbs` limbs of degree n.
  RnsPoly(std::size_t n, std::size_t limbs, bool ntt_form = false)
      : n_(n), limbs_(limbs), ntt_(ntt_form), data_(n * limbs, true) {}
  /// Polynomial whose words are left uninitialised (caller overwrites every limb).
  static RnsPoly uninitialized(std::size_t n, std::size_t limbs, bool ntt_form);
  /// Lifts small signed coefficients (|c| < every prime) into the first `limbs` primes of basis.
  static RnsPoly from_signed(std::span<const std::int64_t> coeffs, const RnsBasis& basis, std::size_t limbs);

  std::size_t n() const { return n_; }
  std::size_t num_limbs() const { return limbs_; }
  bool is_ntt() const { return ntt_; }
  /// Marks the form without transforming (for deserialisation and kernels).
  void set_ntt(bool v) { ntt_ = v; }
  bool empty() const { return limbs_ == 0; }
  u64* data() { return data_.data(); }
  const u64* data() const { return data_.data(); }
  u64* limb(std::size_t i) { return data_.data() + i * n_; }
  const u64* limb(std::size_t i) const { return data_.data() + i * n_; }
  std::span<u64> limb_span(std::size_t i) { return {limb(i), n_}; }
  std::span<const u64> limb_span(std::size_t i) const { return {limb(i), n_}; }

  /// Forward NTT of every limb (requires coefficient form).
  void ntt_inplace(const RnsBasis& basis);
  /// Inverse NTT of every limb (requires NTT form).
  void intt_inplace(const RnsBasis& basis);

  void add_inplace(const RnsPoly& b, const RnsBasis& basis);
  void sub_inplace(const RnsPoly& b, const RnsBasis& basis);
  void negate_inplace(const RnsBasis& basis);
  /// Pointwise product (both in NTT form).
  void mul_inplace(const RnsPoly& b, const RnsBasis& basis);
  /// this += a * b pointwise (all in NTT form).
  void fma_inplace(const RnsPoly& a, const RnsPoly& b, const RnsBasis& basis);
  /// Multiplies limb i by scalars[i] (already reduced mod q_i).
  void mul_scalar_inplace(std::span<const u64> scalars, const RnsBasis& basis);
  /// Adds scalars[i] to every word of limb i (a constant polynomial when in NTT form).
  void add_scalar_ntt_inplace(std::span<const u64> scalars, const RnsBasis& basis);

  /// X -> X^g (g odd, < 2n) in the current form: coefficient form permutes with signs,
  /// NTT form permutes indices (perm from ntt_galois_permutation when given, else computed).
  RnsPoly automorphism(std::uint64_t galois_elt, const RnsBasis& basis,
                       const std::vector<std::uint32_t>* ntt_perm = nullptr) const;

  /// Drops the last limb (keeps the residues of the others).
  void drop_last_limb() { drop_limbs(1); }
  /// Drops the last k limbs.
  void drop_limbs(std::size_t k);
  /// Divide-and-round by the last prime q_l: x -> round(x / q_l) over the remaining limbs.
  /// Works in either form (in NTT form: one inverse NTT and l forward NTTs).
  void rescale_inplace(const RnsBasis& basis);

  /// Sets every word to zero.
  void set_zero();
  /// Wipes the memory (for secret material; the whole allocated block, including limbs dropped by
  /// drop_limbs / rescale) and leaves an empty polynomial.
  void wipe();
  /// Declares the current contents public (see U64Buffer::mark_public): released without a wipe.
  void mark_public() { data_.mark_public(); }
  bool is_public() const { return data_.is_public(); }

  friend bool operator==(const RnsPoly& a, const RnsPoly& b);

 private:
  std::size_t n_ = 0, limbs_ = 0;
  bool ntt_ = false;
  U64Buffer data_;
};

}  // namespace heal::math
