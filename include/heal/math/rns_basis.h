// RNS bases: an ordered list of NTT-friendly primes with their NTT tables (shared between
// bases, so sub-bases and concatenations are cheap) and CRT composition to exact integers.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "heal/math/modulus.h"
#include "heal/math/ntt.h"

namespace heal::math {

/// An ordered set of distinct primes q_0..q_{k-1} for ring degree n, each with NTT tables.
class RnsBasis {
 public:
  RnsBasis() = default;
  /// Builds NTT tables for each prime (all must be = 1 mod 2n, distinct, < 2^60).
  RnsBasis(int log_n, const std::vector<u64>& primes);

  std::size_t size() const { return moduli_.size(); }
  std::size_t n() const { return std::size_t{1} << log_n_; }
  int log_n() const { return log_n_; }
  const Modulus& modulus(std::size_t i) const { return moduli_[i]; }
  const std::vector<Modulus>& moduli() const { return moduli_; }
  const NttTables& ntt(std::size_t i) const { return *ntt_[i]; }
  std::vector<u64> primes() const;

  /// Primes [begin, end) as a new basis sharing the NTT tables.
  RnsBasis slice(std::size_t begin, std::size_t end) const;
  /// Primes at the given indices (in that order), sharing the tables.
  RnsBasis select(const std::vector<std::size_t>& indices) const;
  /// This basis followed by `other`.
  RnsBasis concat(const RnsBasis& other) const;
  /// Sum of log2 of the primes.
  double log2_product() const;

 private:
  int log_n_ = 0;
  std::vector<Modulus> moduli_;
  std::vector<std::shared_ptr<const NttTables>> ntt_;
};

/// Exact CRT composition x = sum_i [x_i * (Q/q_i)^-1]_{q_i} * (Q/q_i) mod Q with centered
/// lift to a double (multi-word integer arithmetic; exact up to the final rounding to double).
class CrtComposer {
 public:
  explicit CrtComposer(const std::vector<Modulus>& moduli);
  std::size_t size() const { return moduli_.size(); }
  /// residues[i] is x mod q_i (stride between limbs = `stride` words); returns the centered
  /// representative of x in (-Q/2, Q/2] divided by `divisor`, for `count` coefficients.
  void compose_centered(const u64* residues, std::size_t stride, std::size_t count, double divisor,
                        double* out) const;
  /// Words of Q (little-endian).
  const std::vector<u64>& q_words() const { return q_; }

 private:
  std::vector<Modulus> moduli_;
  std::size_t words_;
  std::vector<u64> q_, half_q_;
  std::vector<ShoupConst> qhat_inv_;      // (Q/q_i)^-1 mod q_i
  std::vector<std::vector<u64>> qhat_;    // Q/q_i as words
  std::vector<double> inv_q_;             // 1/q_i
};

}  // namespace heal::math
