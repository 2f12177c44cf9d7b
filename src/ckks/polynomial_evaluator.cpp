// Chebyshev-basis polynomial evaluation with exact scale targets (see polynomial_evaluator.h;
// Bossuat et al. ePrint 2020/1203, Lee et al. ePrint 2020/552).
#include "heal/ckks/polynomial_evaluator.h"

#include <bit>
#include <cmath>
#include <map>
#include <numbers>

#include "heal/core/check.h"

namespace heal::ckks {

std::size_t ChebyshevPoly::degree() const {
  std::size_t d = coeffs.size();
  while (d > 1 && coeffs[d - 1] == 0) --d;
  return d == 0 ? 0 : d - 1;
}

double ChebyshevPoly::operator()(double x) const {
  const double t = (2 * x - a - b) / (b - a);
  double b1 = 0, b2 = 0;
  for (std::size_t k = coeffs.size(); k-- > 1;) {
    const double b0 = coeffs[k] + 2 * t * b1 - b2;
    b2 = b1;
    b1 = b0;
  }
  return (coeffs.empty() ? 0 : coeffs[0]) + t * b1 - b2;
}

ChebyshevPoly ChebyshevPoly::interpolate(const std::function<double(double)>& f, double a, double b, std::size_t degree) {
  HEAL_REQUIRE(b > a, "ChebyshevPoly::interpolate: empty interval");
  const std::size_t n = degree + 1;
  std::vector<double> fx(n);
  for (std::size_t j = 0; j < n; ++j) {
    const double t = std::cos(std::numbers::pi * (static_cast<double>(j) + 0.5) / static_cast<double>(n));
    fx[j] = f(0.5 * (b - a) * t + 0.5 * (a + b));
  }
  ChebyshevPoly p{a, b, std::vector<double>(n)};
  for (std::size_t k = 0; k < n; ++k) {
    double s = 0;
    for (std::size_t j = 0; j < n; ++j) {
      s += fx[j] * std::cos(std::numbers::pi * static_cast<double>(k) * (static_cast<double>(j) + 0.5) / static_cast<double>(n));
    }
    p.coeffs[k] = (k == 0 ? 1.0 : 2.0) * s / static_cast<double>(n);
  }
  return p;
}

namespace {

bool unit_interval(const ChebyshevPoly& p) { return p.a == -1 && p.b == 1; }

std::size_t depth_of_degree(std::size_t d) { return d <= 1 ? 1 : static_cast<std::size_t>(std::bit_width(d)); }

// State of one evaluation: T_1 and the cached power-of-two Chebyshev polynomials.
struct Run {
  const Evaluator& ev;
  const RelinKey& rk;
  std::map<std::size_t, Ciphertext> pow2;  // 2^m -> T_{2^m}
  // Leaves below this degree are evaluated from precomputed T_k (Paterson-Stockmeyer-style baby
  // steps; Bossuat et al. ePrint 2020/1203 Alg. 2) where the level allows.
  static constexpr std::size_t kBaby = 8;

  const Ciphertext& t_pow2(std::size_t m) {
    const std::size_t k = std::size_t{1} << m;
    auto it = pow2.find(k);
    if (it != pow2.end()) return it->second;
    const Ciphertext& half = t_pow2(m - 1);
    Ciphertext sq = ev.relinearize(ev.square(half), rk);  // T_{2k} = 2 T_k^2 - 1
    ev.mul_integer_inplace(sq, 2);
    ev.add_const_inplace(sq, -1.0);
    ev.rescale_inplace(sq);
    return pow2.emplace(k, std::move(sq)).first->second;
  }

  double q_at(std::size_t level) const { return static_cast<double>(ev.context().q(level).value()); }

  // T_k for 2 < k < kBaby, not a power of two: 2 T_a T_b - T_c with a the largest power of two
  // below k, b = k - a, c = a - b, at level top - ceil(log2 k) (depth-optimal). T_c is brought to
  // the product's scale by a constant factor before the single rescale.
  std::map<std::size_t, Ciphertext> baby;
  std::size_t top = 0;
  const Ciphertext& t_any(std::size_t k) {
    if (std::has_single_bit(k)) return t_pow2(static_cast<std::size_t>(std::countr_zero(k)));
    auto it = baby.find(k);
    if (it != baby.end()) return it->second;
    const std::size_t a = std::bit_floor(k), b = k - a, c = a - b;
    const Ciphertext& ta = t_any(a);
    const Ciphertext& tb = t_any(b);
    const std::size_t lvl = std::min(ta.level(), tb.level());
    Ciphertext prod = ev.relinearize(ev.mul(ev.mod_switch_to(ta, lvl), ev.mod_switch_to(tb, lvl)), rk);
    ev.mul_integer_inplace(prod, 2);
    const Ciphertext& tc = t_any(c);
    Ciphertext cc = ev.mod_switch_to(tc, lvl);
    ev.mul_const_inplace(cc, 1.0, prod.scale() / tc.scale());
    cc.set_scale(prod.scale());
    ev.sub_inplace(prod, cc);
    ev.rescale_inplace(prod);
    return baby.emplace(k, std::move(prod)).first->second;
  }
  // Level T_k ends at (T_1 = top, T_{2^m} = top - m, others top - ceil(log2 k)).
  std::size_t level_of(std::size_t k) const {
    return top - static_cast<std::size_t>(std::bit_width(k - 1));
  }

  // sum_k c[k] T_k at exactly (level, scale).
  Ciphertext eval(const std::vector<double>& c, std::size_t level, double scale) {
    std::size_t deg = c.size() - 1;
    while (deg > 0 && c[deg] == 0) --deg;
    if (deg <= 1) {
      const Ciphertext& t1 = pow2.at(1);
      HEAL_DCHECK(t1.level() >= level + 1);
      const double pre = scale * q_at(level + 1);
      Ciphertext x = ev.mod_switch_to(t1, level + 1);
      const double c1 = deg == 1 ? c[1] : 0.0;
      ev.mul_const_inplace(x, c1, pre / t1.scale());
      x.set_scale(pre);
      if (c[0] != 0) ev.add_const_inplace(x, c[0]);
      ev.rescale_inplace(x);
      x.set_scale(scale);  // equal to scale up to rounding of the division above
      return x;
    }
    // Small degree with room above: sum_k c_k T_k with the T_k precomputed (scalar products and
    // one rescale), instead of further splitting (one ciphertext product per split).
    if (deg < kBaby && level + 1 <= level_of(deg)) {
      const double pre = scale * q_at(level + 1);
      Ciphertext acc;
      bool have = false;
      for (std::size_t k = 1; k <= deg; ++k) {
        if (c[k] == 0) continue;
        const Ciphertext& tk = t_any(k);
        Ciphertext term = ev.mod_switch_to(tk, level + 1);
        ev.mul_const_inplace(term, c[k], pre / tk.scale());
        term.set_scale(pre);
        if (have) {
          ev.add_inplace(acc, term);
        } else {
          acc = std::move(term);
          have = true;
        }
      }
      HEAL_DCHECK(have);  // deg >= 2 and c[deg] != 0
      if (c[0] != 0) ev.add_const_inplace(acc, c[0]);
      ev.rescale_inplace(acc);
      acc.set_scale(scale);
      return acc;
    }
    const std::size_t m = static_cast<std::size_t>(std::bit_width(deg)) - 1, half = std::size_t{1} << m;
    std::vector<double> q(deg - half + 1, 0.0), r(half, 0.0);
    for (std::size_t k = 0; k < half; ++k) r[k] = c[k];
    q[0] = c[half];
    for (std::size_t k = half + 1; k <= deg; ++k) {  // T_k = 2 T_half T_{k-half} - T_{2 half - k}
      q[k - half] += 2 * c[k];
      r[2 * half - k] -= c[k];
    }
    const Ciphertext& g = t_pow2(m);
    HEAL_DCHECK(g.level() >= level + 1);
    const double pre = scale * q_at(level + 1);
    Ciphertext qc = eval(q, level + 1, pre / g.scale());
    const Ciphertext gl = ev.mod_switch_to(g, level + 1);
    Ciphertext prod = ev.relinearize(ev.mul(qc, gl), rk);
    prod.set_scale(pre);
    ev.rescale_inplace(prod);
    prod.set_scale(scale);
    const Ciphertext rc = eval(r, level, scale);
    ev.add_inplace(prod, rc);
    return prod;
  }
};

}  // namespace

std::size_t PolynomialEvaluator::depth(const ChebyshevPoly& p) {
  return depth_of_degree(p.degree()) + (unit_interval(p) ? 0 : 1);
}

Ciphertext PolynomialEvaluator::evaluate(const Ciphertext& x, const ChebyshevPoly& p, double target_scale) const {
  HEAL_REQUIRE(!p.coeffs.empty(), "PolynomialEvaluator: empty polynomial");
  HEAL_REQUIRE(p.b > p.a, "PolynomialEvaluator: interval [a, b] must have a < b");
  HEAL_REQUIRE(x.size() == 2, "PolynomialEvaluator: relinearize the input first");
  const std::size_t d = depth(p);
  HEAL_REQUIRE(x.level() >= d, "PolynomialEvaluator: degree " << p.degree() << " needs " << d << " levels, input has "
                                                               << x.level());
  if (target_scale == 0) target_scale = x.scale();
  HEAL_REQUIRE(target_scale > 0 && std::isfinite(target_scale), "PolynomialEvaluator: bad target scale");
  Run run{ev_, rk_, {}, {}, 0};
  if (unit_interval(p)) {
    run.pow2.emplace(1, x);
  } else {
    // t = (2x - a - b) / (b - a): one constant multiplication and rescale (scale preserved).
    Ciphertext t = ev_.mul_const(x, 2.0 / (p.b - p.a));
    ev_.rescale_inplace(t);
    t.set_scale(x.scale());
    ev_.add_const_inplace(t, -(p.a + p.b) / (p.b - p.a));
    run.pow2.emplace(1, std::move(t));
  }
  run.top = run.pow2.at(1).level();
  std::vector<double> c(p.coeffs.begin(), p.coeffs.begin() + static_cast<long>(p.degree() + 1));
  return run.eval(c, x.level() - d, target_scale);
}

}  // namespace heal::ckks
