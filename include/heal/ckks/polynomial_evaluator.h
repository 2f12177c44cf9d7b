// Depth-optimal evaluation of polynomials in the Chebyshev basis (Bossuat, Mouchet,
// Troncoso-Pastoriza, Hubaux, ePrint 2020/1203, §4; Lee, Lee, Kim, No, ePrint 2020/552):
// p = q * T_{2^m} + r with 2^m <= deg p < 2^{m+1}, using T_{2^m + k} = 2 T_{2^m} T_k - T_{2^m - k},
// recursively down to degree-1 leaves c0 + c1 T_1. The power-of-two Chebyshev polynomials
// T_{2^i} come from T_{2k} = 2 T_k^2 - 1. Depth = ceil(log2(deg + 1)) on [-1, 1]; one more level
// for the affine change of variable when the interval is not [-1, 1].
//
// Scale management: each sub-polynomial is evaluated to an exact (level, scale) target chosen
// from the top: the constants of a leaf are encoded at target_scale * q_level / scale(T_1), and
// a quotient q is evaluated to target_scale * q_level / scale(T_{2^m}), so every addition sees
// equal scales and the output has exactly the requested scale (default: the input's).
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/keys.h"

namespace heal::ckks {

/// p(x) = sum_k coeffs[k] T_k((2x - a - b) / (b - a)) on [a, b].
struct ChebyshevPoly {
  double a = -1, b = 1;
  std::vector<double> coeffs;

  /// Degree ignoring trailing zero coefficients.
  std::size_t degree() const;
  /// Plaintext evaluation (Clenshaw recurrence).
  double operator()(double x) const;
  /// Interpolant of f at the degree+1 Chebyshev nodes of [a, b].
  static ChebyshevPoly interpolate(const std::function<double(double)>& f, double a, double b, std::size_t degree);
};

class PolynomialEvaluator {
 public:
  PolynomialEvaluator(const Evaluator& ev, const RelinKey& rk) : ev_(ev), rk_(rk) {}
  /// p(x) slot-wise. Requires x.level() >= depth(p); the result is at x.level() - depth(p) with
  /// scale `target_scale` (0: x.scale()).
  Ciphertext evaluate(const Ciphertext& x, const ChebyshevPoly& p, double target_scale = 0) const;
  /// Levels evaluate() consumes: ceil(log2(deg + 1)) (1 for degree 0), +1 unless [a, b] = [-1, 1].
  static std::size_t depth(const ChebyshevPoly& p);

 private:
  const Evaluator& ev_;
  const RelinKey& rk_;
};

}  // namespace heal::ckks
