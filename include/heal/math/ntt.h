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
  /// The kernel the transforms use at the current simd_level() (heal/math/simd.h): IFMA for
  /// q < 2^50 and n >= 32 on AVX-512 IFMA; 64-bit AVX-512 for n >= 32 otherwise; with AVX2 and
  /// n >= 8, exact doubles for q < 2^50 (kAvx2) or emulated 64-bit lanes (kAvx2x64); else scalar.
  /// Every kernel returns exactly the scalar result.
  enum class Kernel : std::uint8_t { kScalar, kAvx2, kAvx2x64, kAvx512, kIfma52 };
  Kernel kernel() const;
  /// 52-bit Shoup quotients floor(w * 2^52 / q) for the IFMA kernels (empty unless the CPU has IFMA
  /// and q < 2^50).
  bool has_shoup52() const { return !roots_shoup52_.empty(); }
  const u64* roots_shoup52() const { return roots_shoup52_.data(); }
  const u64* inv_roots_shoup52() const { return inv_roots_shoup52_.data(); }
  u64 n_inv_shoup52() const { return n_inv_shoup52_; }
  u64 n_inv_w_shoup52() const { return n_inv_w_shoup52_; }
  /// The twiddles as doubles for the AVX2 kernels (empty unless the CPU has AVX2 and q < 2^50).
  bool has_fp_roots() const { return !roots_fp_.empty(); }
  const double* roots_fp() const { return roots_fp_.data(); }
  const double* inv_roots_fp() const { return inv_roots_fp_.data(); }

 private:
  std::size_t n_;
  int log_n_;
  Modulus q_;
  u64 psi_;
  std::vector<u64> roots_, roots_shoup_, inv_roots_, inv_roots_shoup_;
  ShoupConst n_inv_, n_inv_w_;
  std::vector<u64> roots_shoup52_, inv_roots_shoup52_;
  std::vector<double> roots_fp_, inv_roots_fp_;
  u64 n_inv_shoup52_ = 0, n_inv_w_shoup52_ = 0;
};

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
