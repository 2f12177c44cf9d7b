// CKKS parameters: a user-facing ParamsSpec validated into an immutable, shared Context that
// owns the primes, NTT tables, RNS bases per level and every precomputation of the evaluator
// (rescaling constants, hybrid key-switching digit converters, ModDown converters).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "heal/math/base_converter.h"
#include "heal/math/rns_basis.h"

namespace heal::ckks {

using math::u64;

/// Distribution of the secret key.
enum class SecretDistribution : std::uint8_t {
  kTernary = 0,         // uniform in {-1, 0, 1}
  kTernaryHamming = 1,  // {-1, 0, 1} with exactly `hamming_weight` nonzero coefficients
};

/// What the user asks for; validated by Context::create.
struct ParamsSpec {
  int log_n = 14;                       ///< ring degree N = 2^log_n (12..16; smaller only if allow_insecure)
  std::vector<int> q_bits{60, 40, 40};  ///< bit sizes of the Q primes q_0..q_L (first = base prime)
  std::vector<int> p_bits{60};          ///< bit sizes of the special primes (key switching)
  double default_scale = 0x1p40;        ///< default encoding scale
  SecretDistribution secret = SecretDistribution::kTernary;
  std::size_t hamming_weight = 192;     ///< for kTernaryHamming
  std::size_t dnum = 0;                 ///< digits for hybrid key switching; 0 = one per Q prime. With
                                        ///< fewer digits, P should be at least the largest digit's product
                                        ///< (key-switching noise ~ N * sigma * digit / P)
  bool allow_insecure = false;          ///< skip the 128-bit security check (unit tests only). Set
                                        ///< by calling code only: loaders never take it from bytes
};

/// Largest log2(Q*P) for 128-bit classical security with a uniform ternary secret, per the 2024
/// guidelines (Bossuat et al., "Security Guidelines for Implementing Homomorphic Encryption",
/// ePrint 2024/463, Table 5.2, lattice-estimator, error sigma = 3.19): 106 / 214 / 430 / 868 / 1747
/// for N = 2^12..2^16 (the 2^16 entry is in that table; nothing is extrapolated). They replace the
/// 2018 HomomorphicEncryption.org bounds 109 / 218 / 438 / 881. Returns 0 for other N.
int max_secure_log_qp(int log_n);

/// Smallest Hamming weight accepted for a kTernaryHamming (sparse) secret without allow_insecure.
/// Sparse secrets are open to hybrid / combinatorial attacks (Son-Cheon, ePrint 2019/1019;
/// Curtis-Player, ePrint 2019/1114): very small weights are refused outright.
inline constexpr std::size_t kMinSparseHammingWeight = 128;

/// Largest log2(Q*P) for 128-bit classical security of `spec`'s ring degree and secret
/// distribution; 0 if no secure setting exists (N outside 2^12..2^16, or a sparse secret below
/// kMinSparseHammingWeight or with N < 2^14). Sparse secrets (lattice-estimator, classical cost
/// model, sigma = 3.19, from the sparse-secret tables of the ePrint 2024/463 companion scripts,
/// github.com/gong-cr/FHE-Security-Guidelines sparse-tables.py):
///   Hamming weight >= 128: 361 / 718 / 1450 for N = 2^14 / 2^15 / 2^16,
///   Hamming weight >= 256: 413 / 818 / 1637,
/// i.e. a weight in [128, 256) gets the h = 128 row, a larger weight the h = 256 row (security
/// grows with the weight, so this is conservative); never more than the uniform-ternary bound.
int max_secure_log_qp(const ParamsSpec& spec);

/// Empty if `spec` with log2(Q*P) = `log_qp` meets 128-bit security (ring degree, secret
/// distribution, modulus size); otherwise a message naming the violated bound. Ignores
/// spec.allow_insecure.
std::string security_violation(const ParamsSpec& spec, double log_qp);

/// The validated, immutable parameter set and its precomputations. Always held by shared_ptr.
class Context {
 public:
  /// Validates `spec` and builds everything; throws std::invalid_argument (naming the violated
  /// bound) on insecure or malformed parameters.
  static std::shared_ptr<const Context> create(const ParamsSpec& spec);

  const ParamsSpec& spec() const { return spec_; }
  std::size_t n() const { return n_; }
  int log_n() const { return spec_.log_n; }
  std::size_t slots() const { return n_ / 2; }
  double default_scale() const { return spec_.default_scale; }
  /// Index of the top level L (= number of Q primes - 1).
  std::size_t max_level() const { return q_count_ - 1; }
  std::size_t q_count() const { return q_count_; }
  std::size_t p_count() const { return p_count_; }
  /// log2(Q * P).
  double log_qp() const { return key_basis_.log2_product(); }
  /// Whether the parameters meet 128-bit security (security_violation() is empty), whatever
  /// spec().allow_insecure says.
  bool meets_security_bound() const { return secure_; }

  /// All primes: q_0..q_L then p_0..p_{k-1} (the key level).
  const math::RnsBasis& key_basis() const { return key_basis_; }
  /// q_0..q_L.
  const math::RnsBasis& q_basis() const { return q_basis_; }
  /// p_0..p_{k-1}.
  const math::RnsBasis& p_basis() const { return p_basis_; }
  /// q_0..q_level followed by P (the basis of a ModUp-extended polynomial at `level`).
  const math::RnsBasis& qp_basis(std::size_t level) const { return qp_bases_.at(level); }
  const math::Modulus& q(std::size_t i) const { return q_basis_.modulus(i); }

  // Hybrid key switching (Han-Ki, ePrint 2019/688): Q is split into dnum digits of alpha primes.
  std::size_t dnum() const { return dnum_; }
  std::size_t alpha() const { return alpha_; }
  /// Number of digits active at `level` (ceil((level+1)/alpha)).
  std::size_t digits_at(std::size_t level) const { return (level + alpha_) / alpha_; }
  /// First Q index of digit j.
  std::size_t digit_begin(std::size_t j) const { return j * alpha_; }
  /// Converter from the active primes of digit j at `level` to every prime of the key basis
  /// (callers use the destination limbs of Q_level \ digit and of P).
  const math::BaseConverter& digit_converter(std::size_t level, std::size_t j) const;
  /// Converter from P to Q (callers use limbs 0..level) for ModDown.
  const math::BaseConverter& p_to_q_converter() const { return p_to_q_; }
  /// P^-1 mod q_i.
  const math::ShoupConst& p_inv_mod_q(std::size_t i) const { return p_inv_mod_q_[i]; }
  /// P mod q_i (gadget factor in key-switching keys).
  u64 p_mod_q(std::size_t i) const { return p_mod_q_[i]; }
  /// floor(P/2) mod the key-basis prime i (Q primes then P primes), for rounded ModDown.
  u64 half_p_mod(std::size_t i) const { return half_p_mod_[i]; }

  /// Galois element 5^step mod 2N for a slot rotation by `step` (negative = right).
  std::uint64_t galois_elt_for_step(long step) const;
  /// Galois element of complex conjugation (2N - 1).
  std::uint64_t galois_elt_conjugate() const { return 2 * n_ - 1; }
  /// Cached NTT-domain permutation of a Galois element.
  const std::vector<std::uint32_t>& galois_permutation(std::uint64_t galois_elt) const;

  /// One-line description ("N=2^14, Q=60+7x40 bits, P=60, dnum=8, log QP=400").
  std::string describe() const;

  struct Impl;
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

 private:
  Context();
  ParamsSpec spec_;
  std::size_t n_ = 0, q_count_ = 0, p_count_ = 0, dnum_ = 0, alpha_ = 0;
  bool secure_ = false;
  math::RnsBasis key_basis_, q_basis_, p_basis_;
  std::vector<math::RnsBasis> qp_bases_;
  std::vector<std::vector<math::BaseConverter>> digit_conv_;  // [j][active primes - 1]
  math::BaseConverter p_to_q_;
  std::vector<math::ShoupConst> p_inv_mod_q_;
  std::vector<u64> p_mod_q_;
  std::vector<u64> half_p_mod_;
  std::unique_ptr<Impl> impl_;
};

using ContextPtr = std::shared_ptr<const Context>;

/// Anchor parameter sets of ../shared/anchors/he-baseline.md: Q = 60 + levels x 40 bits, one
/// 60-bit special prime, scale 2^40 (N=2^13 L=2, 2^14 L=7, 2^15 L=18, 2^16 L=40). The baseline's
/// 2^15 set has L=19 (log QP = 880, within the 2018 bound of 881); it exceeds the 2024 bound of
/// 868, so the anchor here has one level less (log QP = 840).
ParamsSpec anchor_params(int log_n);
/// Smallest 128-bit-secure N supporting `depth` rescalings with 40-bit scaling primes, a 60-bit
/// base prime and one 60-bit special prime (dnum = #Q). Throws if depth exceeds 2^16 limits
/// (depth <= 40 at 2^16, 1747 bits).
ParamsSpec preset_for_depth(std::size_t depth);

}  // namespace heal::ckks
