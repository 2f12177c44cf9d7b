// CKKS plaintext: an encoded polynomial in NTT form over q_0..q_level with its scale.
#pragma once

#include <cstddef>

#include "heal/math/rns_poly.h"

namespace heal::ckks {

/// Encoded message m(X) (NTT form over q_0..q_level), scale, and how many slots it encodes
/// (0 for coefficient encoding).
class Plaintext {
 public:
  Plaintext() = default;
  Plaintext(math::RnsPoly poly, double scale, std::size_t slots)
      : poly_(std::move(poly)), scale_(scale), slots_(slots) {}

  /// Level = index of the last limb (num_limbs - 1).
  std::size_t level() const { return poly_.num_limbs() - 1; }
  double scale() const { return scale_; }
  void set_scale(double s) { scale_ = s; }
  /// Encoded slot count (a power of two <= N/2), or 0 for a coefficient-encoded plaintext.
  std::size_t slots() const { return slots_; }
  void set_slots(std::size_t s) { slots_ = s; }
  const math::RnsPoly& poly() const { return poly_; }
  math::RnsPoly& poly() { return poly_; }

 private:
  math::RnsPoly poly_;
  double scale_ = 1.0;
  std::size_t slots_ = 0;
};

}  // namespace heal::ckks
