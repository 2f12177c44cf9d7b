// Fast (approximate) RNS base conversion from a basis {q_i} to a basis {p_j}:
//   y_i = [x_i * (Q/q_i)^-1]_{q_i},   out_j = sum_i y_i * [Q/q_i]_{p_j} mod p_j,
// which equals x + u*Q mod p_j for some 0 <= u < #{q_i} (Halevi-Polyakov-Shoup, ePrint 2018/117;
// Bajard-Eynard-Hasan-Zucca, ePrint 2016/510). Used for ModUp / ModDown in hybrid key switching.
#pragma once

#include <cstddef>
#include <vector>

#include "heal/math/modulus.h"

namespace heal::math {

/// Converter from `src` primes to `dst` primes (dst may be used partially: any subset of limbs).
class BaseConverter {
 public:
  BaseConverter() = default;
  BaseConverter(const std::vector<Modulus>& src, const std::vector<Modulus>& dst);

  std::size_t src_size() const { return src_.size(); }
  std::size_t dst_size() const { return dst_.size(); }
  const std::vector<Modulus>& src() const { return src_; }
  const std::vector<Modulus>& dst() const { return dst_; }

  /// Step 1: y (src limbs x n) = x * (Q/q_i)^-1 mod q_i. `in` and `y` may alias.
  void scale_inputs(const u64* in, u64* y, std::size_t n) const;
  /// Step 2 for one destination limb t: out (n words) = sum_i y_i * [Q/q_i]_{p_t} mod p_t.
  void convert_limb(const u64* y, std::size_t t, u64* out, std::size_t n) const;
  /// Overflow counts v = floor(sum_i y_i / q_i) (double precision estimate) so that
  /// sum_i y_i (Q/q_i) - v Q is the exact residue x in [0, Q) (HPS ePrint 2018/117, sec. 2.2).
  void overflow_counts(const u64* y, u64* v, std::size_t n) const;
  /// Counts v = #{i : y_i > q_i/2}: with convert_limb_exact this converts the centered lift
  /// sum_i [y_i]_centered (Q/q_i), i.e. x + u Q with |u| <= #src/2 (no bias from [0, q) digits).
  void centered_counts(const u64* y, u64* v, std::size_t n) const;
  /// Exact conversion for one destination limb: convert_limb minus v * (Q mod p_t); v_j <= #src.
  void convert_limb_exact(const u64* y, const u64* v, std::size_t t, u64* out, std::size_t n) const;
  /// Both steps for every destination limb; `out` has dst limbs x n words; `scratch` has src x n.
  void convert(const u64* in, u64* out, std::size_t n, u64* scratch) const;

 private:
  std::vector<Modulus> src_, dst_;
  std::vector<ShoupConst> qhat_inv_;   // per src i
  std::vector<u64> qhat_mod_dst_;      // [t * src + i] = (Q/q_i) mod p_t
  std::vector<u64> q_mod_dst_;         // Q mod p_t
  bool src_below50_ = true;          // every source prime < 2^50 (AVX2 convert_limb)
  std::vector<u64> q_mult_dst_;        // [t * (src+1) + v] = v * Q mod p_t, v = 0..src
  std::vector<double> inv_src_;        // 1 / q_i
};

}  // namespace heal::math
