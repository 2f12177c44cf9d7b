// Homomorphic operations on CKKS ciphertexts. Every operation comes as a pair: `op(...)` returns a
// new ciphertext, `op_inplace(...)` overwrites its first argument. Relinearization and rescaling
// are explicit. Misuse (level/scale/size mismatch, missing key) throws std::invalid_argument.
// Levels: a ciphertext at level l has l+1 Q limbs; only rescale and mod_switch lower the level.
// Scales must match (relative tolerance 1e-9) wherever values are added.
#pragma once

#include <complex>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/params.h"
#include "heal/ckks/plaintext.h"

namespace heal::ckks {

class Bootstrapper;

class Evaluator {
 public:
  explicit Evaluator(ContextPtr ctx);
  const Context& context() const { return *ctx_; }

  // --- additive (no level consumed; scale unchanged; operands at equal level and scale) ---
  /// a + b.
  Ciphertext add(const Ciphertext& a, const Ciphertext& b) const;
  void add_inplace(Ciphertext& a, const Ciphertext& b) const;
  /// a - b.
  Ciphertext sub(const Ciphertext& a, const Ciphertext& b) const;
  void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
  /// -a.
  Ciphertext negate(const Ciphertext& a) const;
  void negate_inplace(Ciphertext& a) const;
  /// a + pt (pt at a's level and scale).
  Ciphertext add_plain(const Ciphertext& a, const Plaintext& pt) const;
  void add_plain_inplace(Ciphertext& a, const Plaintext& pt) const;
  /// a - pt.
  Ciphertext sub_plain(const Ciphertext& a, const Plaintext& pt) const;
  void sub_plain_inplace(Ciphertext& a, const Plaintext& pt) const;
  /// a + c in every slot (c encoded at a's scale).
  Ciphertext add_const(const Ciphertext& a, std::complex<double> c) const;
  void add_const_inplace(Ciphertext& a, std::complex<double> c) const;

  // --- multiplicative (no level consumed; result scale = product of scales; rescale after) ---
  /// a * pt (pt at a's level); scale = a.scale * pt.scale.
  Ciphertext mul_plain(const Ciphertext& a, const Plaintext& pt) const;
  void mul_plain_inplace(Ciphertext& a, const Plaintext& pt) const;
  /// a * c in every slot, c rounded at `const_scale` (default: the top prime of a's level, so a
  /// following rescale restores a's scale up to q_l/const_scale = 1); scale = a.scale * const_scale.
  Ciphertext mul_const(const Ciphertext& a, std::complex<double> c, double const_scale = 0) const;
  void mul_const_inplace(Ciphertext& a, std::complex<double> c, double const_scale = 0) const;
  /// a * k for an integer k (scale unchanged, no rescale needed).
  Ciphertext mul_integer(const Ciphertext& a, std::int64_t k) const;
  void mul_integer_inplace(Ciphertext& a, std::int64_t k) const;
  /// a * b without relinearization: 3 polynomials; scale = a.scale * b.scale; equal levels required.
  Ciphertext mul(const Ciphertext& a, const Ciphertext& b) const;
  void mul_inplace(Ciphertext& a, const Ciphertext& b) const;
  /// a^2 (3 polynomials); scale = a.scale^2.
  Ciphertext square(const Ciphertext& a) const;
  void square_inplace(Ciphertext& a) const;
  /// 3 -> 2 polynomials by key switching c2 (s^2 -> s). Level and scale unchanged.
  Ciphertext relinearize(const Ciphertext& a, const RelinKey& rk) const;
  void relinearize_inplace(Ciphertext& a, const RelinKey& rk) const;
  /// mul + relinearize (no rescale).
  Ciphertext mul_relin(const Ciphertext& a, const Ciphertext& b, const RelinKey& rk) const;

  // --- levels ---
  /// Divides by the last prime q_l with rounding: consumes one level; scale /= q_l.
  Ciphertext rescale(const Ciphertext& a) const;
  void rescale_inplace(Ciphertext& a) const;
  /// Drops limbs down to `level` (<= a.level()) without changing the scale (modulus switching).
  Ciphertext mod_switch_to(const Ciphertext& a, std::size_t level) const;
  void mod_switch_to_inplace(Ciphertext& a, std::size_t level) const;
  /// Same for plaintexts.
  void mod_switch_to_inplace(Plaintext& pt, std::size_t level) const;

  // --- Galois (no level consumed; scale unchanged; need the matching Galois key) ---
  /// Rotates slots left by `step` (negative = right): slot i <- slot i+step.
  Ciphertext rotate(const Ciphertext& a, long step, const GaloisKeys& gk) const;
  void rotate_inplace(Ciphertext& a, long step, const GaloisKeys& gk) const;
  /// Complex conjugation of every slot.
  Ciphertext conjugate(const Ciphertext& a, const GaloisKeys& gk) const;
  void conjugate_inplace(Ciphertext& a, const GaloisKeys& gk) const;
  /// Applies X -> X^g with key switching (general Galois element).
  Ciphertext apply_galois(const Ciphertext& a, std::uint64_t galois_elt, const GaloisKeys& gk) const;
  /// Rotations of `a` by every step, sharing one ModUp decomposition of c1 (hoisting,
  /// Halevi-Shoup ePrint 2018/244; Bossuat et al. ePrint 2020/1203). Step 0 returns a copy.
  /// When more than 4 digits are active it rotates one by one instead (faster there; same result
  /// up to noise).
  std::vector<Ciphertext> rotate_hoisted(const Ciphertext& a, const std::vector<long>& steps, const GaloisKeys& gk) const;
  /// Slot i <- sum_{k < window} slot (i+k) (window a power of two <= slots; needs keys 1,2,4,..).
  Ciphertext rotate_and_sum(const Ciphertext& a, std::size_t window, const GaloisKeys& gk) const;
  void rotate_and_sum_inplace(Ciphertext& a, std::size_t window, const GaloisKeys& gk) const;
  /// Sum of all slots of a (window = a.slots()), replicated in every slot.
  Ciphertext sum_slots(const Ciphertext& a, const GaloisKeys& gk) const;

  // --- bootstrapping (heal/ckks/bootstrap.h) ---
  /// Refreshes `a` to bs.output_level() (max level minus bs.depth()). Expects: 2 polynomials,
  /// bs.config().slots slots, any level (it is switched down to 0), scale Delta <= q_0 / 2^11
  /// (BootstrapConfig::message_ratio_log2), slot values of magnitude about 1 or less. Returns the
  /// same slots at scale Delta up to the bootstrapping error (docs/bootstrapping.md; measured by
  /// `heal ckks bootstrap-bench`). Needs bs.galois_elements() keys and `rk`.
  Ciphertext bootstrap(const Ciphertext& a, const Bootstrapper& bs, const RelinKey& rk, const GaloisKeys& gk) const;

 private:
  void check(const Ciphertext& a, const char* op) const;
  void check_pair(const Ciphertext& a, const Ciphertext& b, const char* op, bool scales) const;
  void check_plain(const Ciphertext& a, const Plaintext& pt, const char* op, bool scales) const;
  math::RnsPoly constant_poly(std::complex<double> c, double scale, std::size_t level) const;
  ContextPtr ctx_;
};

}  // namespace heal::ckks
