// CKKS ciphertexts: (c0, c1[, c2]) in NTT form over q_0..q_level, decrypting to
// c0 + c1 s (+ c2 s^2) = Delta * m + e; and the compact seeded form (seed of c1, c0).
#pragma once

#include <cstddef>
#include <vector>

#include "heal/core/rng.h"
#include "heal/math/rns_poly.h"

namespace heal::ckks {

class Context;

/// A ciphertext of 2 (or 3, before relinearization) polynomials in NTT form, with its exact scale.
class Ciphertext {
 public:
  Ciphertext() = default;
  Ciphertext(std::vector<math::RnsPoly> polys, double scale, std::size_t slots)
      : polys_(std::move(polys)), scale_(scale), slots_(slots) {}
  // A ciphertext's words are public: the polynomials it still holds when it is destroyed or
  // overwritten go back to the pool without the wipe that secret blocks get (see
  // math::U64Buffer::mark_public). Polynomials moved out, and copies, stay secret until then.
  // Never write secret-dependent values into a ciphertext's polynomials in place.
  Ciphertext(const Ciphertext&) = default;
  Ciphertext(Ciphertext&&) noexcept = default;
  Ciphertext& operator=(const Ciphertext& o) {
    if (this != &o) {
      mark_public();
      polys_ = o.polys_;
      scale_ = o.scale_;
      slots_ = o.slots_;
    }
    return *this;
  }
  Ciphertext& operator=(Ciphertext&& o) noexcept {
    if (this != &o) {
      mark_public();
      polys_ = std::move(o.polys_);
      scale_ = o.scale_;
      slots_ = o.slots_;
    }
    return *this;
  }
  ~Ciphertext() { mark_public(); }

  /// Number of polynomials (2, or 3 after a multiplication without relinearization).
  std::size_t size() const { return polys_.size(); }
  /// Level = index of the last active Q limb.
  std::size_t level() const { return polys_.empty() ? 0 : polys_[0].num_limbs() - 1; }
  std::size_t n() const { return polys_.empty() ? 0 : polys_[0].n(); }
  double scale() const { return scale_; }
  void set_scale(double s) { scale_ = s; }
  /// Slot count of the encoded message (power of two <= N/2; 0 = coefficient encoding).
  std::size_t slots() const { return slots_; }
  void set_slots(std::size_t s) { slots_ = s; }
  const math::RnsPoly& operator[](std::size_t i) const { return polys_[i]; }
  math::RnsPoly& operator[](std::size_t i) { return polys_[i]; }
  const std::vector<math::RnsPoly>& polys() const { return polys_; }
  std::vector<math::RnsPoly>& polys() { return polys_; }

 private:
  void mark_public() noexcept {
    for (auto& p : polys_) p.mark_public();
  }
  std::vector<math::RnsPoly> polys_;
  double scale_ = 1.0;
  std::size_t slots_ = 0;
};

/// Compact symmetric ciphertext: c1 = a is stored as the seed it expands from
/// (stream kCiphertextStream), so only c0 travels. expand() gives the ordinary ciphertext.
class SeededCiphertext {
 public:
  static constexpr std::uint64_t kCiphertextStream = 0x43540000;  // "CT"

  SeededCiphertext() = default;
  SeededCiphertext(const Seed& seed, math::RnsPoly c0, double scale, std::size_t slots)
      : seed_(seed), c0_(std::move(c0)), scale_(scale), slots_(slots) {}

  const Seed& seed() const { return seed_; }
  const math::RnsPoly& c0() const { return c0_; }
  math::RnsPoly& c0() { return c0_; }
  std::size_t level() const { return c0_.num_limbs() - 1; }
  double scale() const { return scale_; }
  std::size_t slots() const { return slots_; }
  /// Regenerates c1 from the seed; throws if c0 does not fit the context.
  Ciphertext expand(const Context& ctx) const;

 private:
  Seed seed_{};
  math::RnsPoly c0_;
  double scale_ = 1.0;
  std::size_t slots_ = 0;
};

}  // namespace heal::ckks
