// NAG schedule, least-squares sigmoid polynomial and the plaintext reference (Kim, Song, Kim, Lee,
// Cheon, BMC Med Genomics 2018, IACR ePrint 2018/254).
#include "heal/he_train/nag.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "heal/core/check.h"

namespace heal::he_train {

double Schedule::lambda(std::size_t k) {
  double l = 0;
  for (std::size_t i = 0; i < k; ++i) l = (1 + std::sqrt(1 + 4 * l * l)) / 2;
  return l;
}

double Schedule::alpha(std::size_t t) const {
  return rate == Rate::kInverseTime ? alpha0 / static_cast<double>(t + 1) : alpha0;
}

double Schedule::gamma(std::size_t t) const {
  if (!nesterov) return 0;
  // Iteration t (0-based) is Kim et al.'s iteration t + 1: gamma = (1 - lambda_{t+1}) / lambda_{t+2}.
  const double l1 = lambda(t + 1);
  const double l2 = (1 + std::sqrt(1 + 4 * l1 * l1)) / 2;
  return (1 - l1) / l2;
}

double sigmoid(double x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1 + e);
}

double mean_logistic_loss(std::span<const double> margins) {
  HEAL_REQUIRE(!margins.empty(), "mean_logistic_loss: no margins");
  double s = 0;
  for (double m : margins) s += m > 0 ? std::log1p(std::exp(-m)) : -m + std::log1p(std::exp(m));
  return s / static_cast<double>(margins.size());
}

SigmoidPoly SigmoidPoly::fit(std::size_t degree, double bound) {
  HEAL_REQUIRE(degree % 2 == 1 && degree <= 15, "SigmoidPoly::fit: degree must be odd in 1..15, got " << degree);
  HEAL_REQUIRE(bound > 0 && std::isfinite(bound), "SigmoidPoly::fit: bound must be positive");
  // sigma(x) - 1/2 is odd: least squares over the odd powers u, u^3, .., u^degree (u = x / B) on a
  // uniform grid of [-1, 1], by the normal equations (at most 8 unknowns, well conditioned in u).
  const std::size_t m = (degree + 1) / 2, grid = 4001;
  std::vector<double> a(m * m, 0.0), rhs(m, 0.0), pw(m);
  for (std::size_t j = 0; j < grid; ++j) {
    const double u = -1 + 2 * static_cast<double>(j) / static_cast<double>(grid - 1);
    const double f = sigmoid(bound * u) - 0.5;
    double p = u;
    for (std::size_t k = 0; k < m; ++k, p *= u * u) pw[k] = p;
    for (std::size_t r = 0; r < m; ++r) {
      rhs[r] += pw[r] * f;
      for (std::size_t c = 0; c < m; ++c) a[r * m + c] += pw[r] * pw[c];
    }
  }
  // Gaussian elimination with partial pivoting.
  for (std::size_t col = 0; col < m; ++col) {
    std::size_t piv = col;
    for (std::size_t r = col + 1; r < m; ++r)
      if (std::abs(a[r * m + col]) > std::abs(a[piv * m + col])) piv = r;
    if (piv != col) {
      for (std::size_t c = 0; c < m; ++c) std::swap(a[col * m + c], a[piv * m + c]);
      std::swap(rhs[col], rhs[piv]);
    }
    for (std::size_t r = col + 1; r < m; ++r) {
      const double f = a[r * m + col] / a[col * m + col];
      for (std::size_t c = col; c < m; ++c) a[r * m + c] -= f * a[col * m + c];
      rhs[r] -= f * rhs[col];
    }
  }
  std::vector<double> odd(m);
  for (std::size_t r = m; r-- > 0;) {
    double s = rhs[r];
    for (std::size_t c = r + 1; c < m; ++c) s -= a[r * m + c] * odd[c];
    odd[r] = s / a[r * m + r];
  }
  SigmoidPoly p;
  p.bound_ = bound;
  p.coeffs_.assign(degree + 1, 0.0);
  p.coeffs_[0] = 0.5;
  for (std::size_t k = 0; k < m; ++k) p.coeffs_[2 * k + 1] = odd[k];
  return p;
}

double SigmoidPoly::eval_u(double u) const {
  double r = 0;
  for (std::size_t k = coeffs_.size(); k-- > 0;) r = r * u + coeffs_[k];
  return r;
}

double SigmoidPoly::operator()(double x) const { return eval_u(x / bound_); }

double SigmoidPoly::max_error(std::size_t points) const {
  HEAL_REQUIRE(points >= 2, "SigmoidPoly::max_error: need at least 2 points");
  double e = 0;
  for (std::size_t j = 0; j < points; ++j) {
    const double x = bound_ * (-1 + 2 * static_cast<double>(j) / static_cast<double>(points - 1));
    e = std::max(e, std::abs((*this)(x)-sigmoid(x)));
  }
  return e;
}

BatchPlan::BatchPlan(std::size_t n_rows, std::size_t rows_per_batch) : n(n_rows), batch_rows(rows_per_batch) {
  HEAL_REQUIRE(n_rows > 0, "BatchPlan: no rows");
  HEAL_REQUIRE(rows_per_batch > 0, "BatchPlan: batch size must be positive");
}

std::size_t BatchPlan::rows_in(std::size_t b) const {
  HEAL_REQUIRE(b < batches(), "BatchPlan: batch " << b << " of " << batches());
  return std::min(n, (b + 1) * batch_rows) - b * batch_rows;
}

std::vector<double> make_z(std::span<const double> x, std::span<const int> y, std::size_t d) {
  HEAL_REQUIRE(d > 0 && x.size() == y.size() * d,
               "make_z: x has " << x.size() << " values, expected " << y.size() << " rows x " << d);
  std::vector<double> z(y.size() * (d + 1));
  for (std::size_t i = 0; i < y.size(); ++i) {
    HEAL_REQUIRE(y[i] == 0 || y[i] == 1, "make_z: labels must be 0 or 1, row " << i << " has " << y[i]);
    const double s = y[i] ? 1.0 : -1.0;
    z[i * (d + 1)] = s;
    for (std::size_t j = 0; j < d; ++j) z[i * (d + 1) + 1 + j] = s * x[i * d + j];
  }
  return z;
}

PlainNag::PlainNag(std::vector<double> z, std::size_t d, SigmoidPoly poly, Schedule schedule, std::size_t batch_rows,
                   bool exact_sigmoid)
    : z_(std::move(z)),
      d_(d),
      poly_(std::move(poly)),
      schedule_(schedule),
      plan_(d > 0 ? z_.size() / (d + 1) : 0, batch_rows),
      exact_(exact_sigmoid),
      v_(d + 1, 0.0),
      w_(d + 1, 0.0) {
  HEAL_REQUIRE(d > 0 && z_.size() % (d + 1) == 0, "PlainNag: z must hold rows of d + 1 values");
}

void PlainNag::set_state(std::vector<double> v, std::vector<double> w) {
  HEAL_REQUIRE(v.size() == d_ + 1 && w.size() == d_ + 1, "PlainNag::set_state: vectors of d + 1 values expected");
  v_ = std::move(v);
  w_ = std::move(w);
}

std::vector<double> PlainNag::margins(std::span<const double> beta) const {
  HEAL_REQUIRE(beta.size() == d_ + 1, "PlainNag::margins: beta must have d + 1 values");
  std::vector<double> m(plan_.n);
  for (std::size_t i = 0; i < plan_.n; ++i) {
    double s = 0;
    for (std::size_t j = 0; j <= d_; ++j) s += z_[i * (d_ + 1) + j] * beta[j];
    m[i] = s;
  }
  return m;
}

std::vector<double> PlainNag::ascent_direction(std::size_t batch, std::span<const double> beta) const {
  HEAL_REQUIRE(beta.size() == d_ + 1, "PlainNag::ascent_direction: beta must have d + 1 values");
  const std::size_t first = plan_.first_row(batch), rows = plan_.rows_in(batch);
  std::vector<double> g(d_ + 1, 0.0);
  for (std::size_t i = first; i < first + rows; ++i) {
    const double* zi = &z_[i * (d_ + 1)];
    double m = 0;
    for (std::size_t j = 0; j <= d_; ++j) m += zi[j] * beta[j];
    const double s = exact_ ? sigmoid(-m) : poly_(-m);
    for (std::size_t j = 0; j <= d_; ++j) g[j] += s * zi[j];
  }
  for (auto& x : g) x /= static_cast<double>(rows);
  return g;
}

double PlainNag::log_likelihood(std::size_t batch, std::span<const double> beta) const {
  const std::size_t first = plan_.first_row(batch), rows = plan_.rows_in(batch);
  const auto m = margins(beta);
  return -mean_logistic_loss(std::span<const double>(m).subspan(first, rows));
}

void PlainNag::step() {
  const std::size_t b = plan_.batch_of(t_);
  const double alpha = schedule_.alpha(t_), gamma = schedule_.gamma(t_);
  const auto g = ascent_direction(b, v_);
  std::vector<double> w_next(d_ + 1), v_next(d_ + 1);
  for (std::size_t j = 0; j <= d_; ++j) {
    w_next[j] = v_[j] + alpha * g[j];
    v_next[j] = (1 - gamma) * w_next[j] + gamma * w_[j];
  }
  w_ = std::move(w_next);
  v_ = std::move(v_next);
  ++t_;
}

}  // namespace heal::he_train
