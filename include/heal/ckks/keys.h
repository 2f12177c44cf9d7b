// CKKS keys. Public parts whose uniform `a` polynomial is derived from a seed keep that seed, so
// they can be stored as seed + one polynomial per component.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "heal/core/rng.h"
#include "heal/math/rns_poly.h"

namespace heal::ckks {

/// Secret s in NTT form over all primes (Q then P). Wiped on destruction.
class SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(math::RnsPoly s) : s_(std::move(s)) {}
  ~SecretKey() { s_.wipe(); }
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  SecretKey(SecretKey&&) noexcept = default;
  SecretKey& operator=(SecretKey&&) noexcept = default;

  /// s in NTT form over the key basis (q_0..q_L, p_0..p_{k-1}).
  const math::RnsPoly& poly() const { return s_; }
  math::RnsPoly& poly() { return s_; }

 private:
  math::RnsPoly s_;
};

/// Public key (b, a) over the key basis (q_0..q_L, p_0..p_{k-1}), NTT form: b = -a s + e; a expands
/// from (seed, kStream). Encryption works over Q_l u P and divides by P (as SEAL does), so the
/// encryption noise u*e is scaled down by P and fresh ciphertexts carry only rounding noise.
class PublicKey {
 public:
  static constexpr std::uint64_t kStream = 0x504b0000;  // "PK"
  PublicKey() = default;
  PublicKey(const Seed& seed, math::RnsPoly b, math::RnsPoly a) : seed_(seed), b_(std::move(b)), a_(std::move(a)) {}
  const Seed& seed() const { return seed_; }
  const math::RnsPoly& b() const { return b_; }
  math::RnsPoly& b() { return b_; }
  /// The expanded `a` (regenerate with expand_uniform_poly(seed, kStream, key_basis, L+1+k, true)).
  const math::RnsPoly& a() const { return a_; }
  math::RnsPoly& a() { return a_; }

 private:
  Seed seed_{};
  math::RnsPoly b_, a_;
};

/// Hybrid key-switching key from s' to s (Han-Ki, ePrint 2019/688): for each digit j,
/// b_j = -a_j s + e_j + P * [Q/D_j * (Q/D_j)^-1 mod D_j] * s'   (over Q and P, NTT form),
/// i.e. P*s' added only on the limbs of digit j. a_j expands from (seed, kStreamBase + j).
class KswKey {
 public:
  static constexpr std::uint64_t kStreamBase = 0x4b530000;  // "KS"
  KswKey() = default;
  KswKey(const Seed& seed, std::vector<math::RnsPoly> b, std::vector<math::RnsPoly> a)
      : seed_(seed), b_(std::move(b)), a_(std::move(a)) {}
  const Seed& seed() const { return seed_; }
  /// Number of digits (dnum).
  std::size_t digits() const { return b_.size(); }
  const math::RnsPoly& b(std::size_t j) const { return b_[j]; }
  const math::RnsPoly& a(std::size_t j) const { return a_[j]; }
  std::vector<math::RnsPoly>& b_polys() { return b_; }
  std::vector<math::RnsPoly>& a_polys() { return a_; }
  bool empty() const { return b_.empty(); }
  /// Bytes of the expanded polynomials held in memory (both components of every digit).
  std::size_t memory_bytes() const {
    std::size_t words = 0;
    for (std::size_t j = 0; j < b_.size(); ++j) words += (b_[j].num_limbs() + a_[j].num_limbs()) * b_[j].n();
    return words * sizeof(std::uint64_t);
  }

 private:
  Seed seed_{};
  std::vector<math::RnsPoly> b_, a_;
};

/// Relinearization key: switches s^2 -> s.
class RelinKey {
 public:
  RelinKey() = default;
  explicit RelinKey(KswKey k) : key_(std::move(k)) {}
  const KswKey& key() const { return key_; }
  KswKey& key() { return key_; }

 private:
  KswKey key_;
};

/// Rotation/conjugation keys indexed by Galois element g (switch sigma_g(s) -> s).
class GaloisKeys {
 public:
  bool has(std::uint64_t galois_elt) const { return keys_.count(galois_elt) != 0; }
  const KswKey& get(std::uint64_t galois_elt) const;
  void set(std::uint64_t galois_elt, KswKey k) { keys_[galois_elt] = std::move(k); }
  const std::map<std::uint64_t, KswKey>& all() const { return keys_; }
  std::size_t size() const { return keys_.size(); }

 private:
  std::map<std::uint64_t, KswKey> keys_;
};

}  // namespace heal::ckks
