// Negacyclic number-theoretic transform over Z_q[X]/(X^n + 1) with Harvey's lazy butterflies
// (D. Harvey, "Faster arithmetic for number-theoretic transforms", arXiv:1205.2926):
// Cooley-Tukey forward and Gentleman-Sande inverse, the 2n-th-root twist folded into
// bit-reversed twiddle tables stored with Shoup quotients, n^-1 folded into the last inverse
// stage. Requires q < 2^60 (so 4q fits in a word). Forward output is in bit-reversed order:
// a[i] = A(psi^(2*bitrev(i)+1)); both transforms return values fully reduced to [0, q).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "heal/math/modulus.h"

namespace heal::math {

/// Precomputed twiddles for one prime and one ring degree.
class NttTables {
 public:
  /// Builds tables for degree n = 2^log_n (1 <= log_n <= 17) and prime q = 1 mod 2n, q < 2^60.
  NttTables(int log_n, const Modulus& q);

  std::size_t n() const { return n_; }
  int log_n() const { return log_n_; }
  const Modulus& modulus() const { return q_; }
  /// psi, the primitive 2n-th root used.
  u64 psi() const { return psi_; }
  /// psi^bitrev(i) (forward) with Shoup quotients, i in [0, n).
  const u64* roots() const { return roots_.data(); }
  const u64* roots_shoup() const { return roots_shoup_.data(); }
  /// psi^-bitrev(i) in the order the inverse transform reads them.
  const u64* inv_roots() const { return inv_roots_.data(); }
  const u64* inv_roots_shoup() const { return inv_roots_shoup_.data(); }
  const ShoupConst& n_inv() const { return n_inv_; }
  /// n^-1 * psi^-1 (last inverse stage, odd half).
  const ShoupConst& n_inv_w() const { return n_inv_w_; }
  /// Which vector kernel the transforms use.
  enum class Simd : std::uint8_t { kNone, kIfma52, kAvx512x64 };
  Simd simd() const { return simd_; }
  /// True when the AVX-512 IFMA kernels apply (q < 2^50, n >= 32, CPU support).
  bool use_ifma() const { return simd_ == Simd::kIfma52; }
  /// 52-bit Shoup quotients floor(w * 2^52 / q) for the IFMA kernels (empty unless use_ifma()).
  const u64* roots_shoup52() const { return roots_shoup52_.data(); }
  const u64* inv_roots_shoup52() const { return inv_roots_shoup52_.data(); }
  u64 n_inv_shoup52() const { return n_inv_shoup52_; }
  u64 n_inv_w_shoup52() const { return n_inv_w_shoup52_; }
  /// Enables/disables every SIMD kernel for this table (tests compare against the scalar path).
  void set_use_ifma(bool v) { simd_ = v ? simd_possible_ : Simd::kNone; }

 private:
  std::size_t n_;
  int log_n_;
  Modulus q_;
  u64 psi_;
  std::vector<u64> roots_, roots_shoup_, inv_roots_, inv_roots_shoup_;
  ShoupConst n_inv_, n_inv_w_;
  Simd simd_possible_ = Simd::kNone, simd_ = Simd::kNone;
  std::vector<u64> roots_shoup52_, inv_roots_shoup52_;
  u64 n_inv_shoup52_ = 0, n_inv_w_shoup52_ = 0;
};

/// Whether this CPU has AVX-512 IFMA (runtime check).
bool cpu_has_ifma();
/// Whether this CPU has AVX-512 F+DQ (the 64-bit kernels for primes of 50..60 bits).
bool cpu_has_avx512dq();

/// In-place forward negacyclic NTT; input in [0, 4q) (lazy callers) or [0, q); output in [0, q).
void ntt_forward(u64* a, const NttTables& t);
/// Forward NTT leaving outputs in [0, 4q) (no final reduction pass).
void ntt_forward_lazy(u64* a, const NttTables& t);
/// In-place inverse negacyclic NTT (including the n^-1 factor); input in [0, 2q); output in [0, q).
void ntt_inverse(u64* a, const NttTables& t);

/// Galois element g (odd, < 2n) -> permutation perm with (sigma_g a)[i] = a[perm[i]] for
/// polynomials in the bit-reversed NTT order produced by ntt_forward.
std::vector<std::uint32_t> ntt_galois_permutation(int log_n, std::uint64_t galois_elt);

}  // namespace heal::math
