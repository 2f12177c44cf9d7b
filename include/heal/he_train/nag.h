// Logistic regression trained by Nesterov's accelerated gradient (NAG) with a polynomial sigmoid:
// the schedule, the least-squares sigmoid polynomial and the plaintext reference (the oracle of the
// encrypted trainer in encrypted_nag.h, and the "same algorithm in plaintext" baseline).
//
// Algorithm: Kim, Song, Kim, Lee, Cheon, "Logistic regression model training based on the
// approximate homomorphic encryption", BMC Med Genomics 2018 (IACR ePrint 2018/254). Each sample is
// z_i = y'_i (1, x_i) with y'_i in {-1, +1}; the log-likelihood (1/n) sum log sigma(z_i . beta) has
// gradient (1/n) sum sigma(-z_i . beta) z_i, and NAG iterates
//   w_{t+1} = v_t + alpha_t (1/|I_t|) sum_{i in I_t} sigma(-z_i . v_t) z_i
//   v_{t+1} = (1 - gamma_t) w_{t+1} + gamma_t w_t
// over mini-batches I_t (batch t mod #batches, in row order; the last batch may be shorter).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace heal::he_train {

/// Learning rate alpha_t and NAG momentum gamma_t.
///
/// Reading of Kim et al. 2018 (their eq. for v_{t+1}, after Nesterov 1983 and Bubeck's notes):
/// lambda_0 = 0, lambda_{k+1} = (1 + sqrt(1 + 4 lambda_k^2)) / 2 (so lambda_1 = 1, lambda_2 =
/// 1.618...), and iteration t = 0, 1, 2, ... (0-based) uses gamma_t = (1 - lambda_{t+1}) /
/// lambda_{t+2}: the first step is a plain gradient step (gamma_0 = 0), then gamma_1 = -0.2818...,
/// gamma_t -> -1 (momentum v = w_{t+1} + |gamma| (w_{t+1} - w_t)). Taking gamma_t = (1 - lambda_t)
/// / lambda_{t+1} literally from t = 0 would give gamma_0 = 1, a first step that discards its
/// gradient; Kim et al. index their iterations from 1, which is this reading.
struct Schedule {
  enum class Rate { kConstant, kInverseTime };
  double alpha0 = 1.0;          ///< base learning rate
  Rate rate = Rate::kConstant;  ///< kInverseTime: alpha_t = alpha0 / (t + 1) (Kim et al. use 10 / (t + 1))
  bool nesterov = true;         ///< false: gamma_t = 0 (plain mini-batch gradient ascent)

  double alpha(std::size_t t) const;
  double gamma(std::size_t t) const;
  /// lambda_k of the recurrence above.
  static double lambda(std::size_t k);
};

/// Least-squares polynomial approximation of sigma(x) = 1 / (1 + e^-x) on [-B, B] (uniform weight,
/// fitted on a uniform grid of 4001 points). sigma - 1/2 is odd, so the fit is 1/2 + odd powers.
/// Coefficients are in u = x / B: p(x) = sum_k c_k (x / B)^k.
class SigmoidPoly {
 public:
  /// Odd degree 1..15 (3, 5, 7 are the useful ones); bound B > 0.
  static SigmoidPoly fit(std::size_t degree, double bound = 8.0);
  std::size_t degree() const { return coeffs_.size() - 1; }
  double bound() const { return bound_; }
  const std::vector<double>& coeffs() const { return coeffs_; }
  /// p(x) (Horner in u = x / B).
  double operator()(double x) const;
  /// p at u = x / B directly.
  double eval_u(double u) const;
  /// max |p(x) - sigma(x)| over `points` uniform points of [-B, B].
  double max_error(std::size_t points = 100001) const;

 private:
  std::vector<double> coeffs_;
  double bound_ = 8.0;
};

/// Mini-batches of rows: batch b holds rows [b * batch_rows, min(n, (b + 1) * batch_rows)).
struct BatchPlan {
  std::size_t n = 0, batch_rows = 0;
  BatchPlan(std::size_t n_rows, std::size_t rows_per_batch);
  std::size_t batches() const { return (n + batch_rows - 1) / batch_rows; }
  std::size_t batch_of(std::size_t t) const { return t % batches(); }
  std::size_t first_row(std::size_t b) const { return b * batch_rows; }
  /// Rows of batch b that exist (the gradient is divided by this).
  std::size_t rows_in(std::size_t b) const;
};

/// z_i = y'_i (1, x_i): x row-major n x d, y in {0, 1} (0 -> y' = -1). Rows of d + 1 values.
std::vector<double> make_z(std::span<const double> x, std::span<const int> y, std::size_t d);

/// sigma(x), numerically stable.
double sigmoid(double x);
/// Mean logistic loss (1/n) sum log(1 + exp(-m_i)) of margins m_i = z_i . w.
double mean_logistic_loss(std::span<const double> margins);

/// The plaintext reference with the arithmetic of EncryptedNag: same polynomial (or the exact
/// sigmoid), schedule, batches and normalisation.
class PlainNag {
 public:
  /// z: n rows of d + 1 values (make_z). With exact_sigmoid the polynomial is ignored.
  PlainNag(std::vector<double> z, std::size_t d, SigmoidPoly poly, Schedule schedule, std::size_t batch_rows,
           bool exact_sigmoid = false);
  /// One iteration (uses iteration() as t).
  void step();
  void run(std::size_t iterations) {
    for (std::size_t i = 0; i < iterations; ++i) step();
  }
  std::size_t iteration() const { return t_; }
  const std::vector<double>& w() const { return w_; }
  const std::vector<double>& v() const { return v_; }
  void set_state(std::vector<double> v, std::vector<double> w);
  /// (1/|I|) sum_{i in I} s(-z_i . beta) z_i over batch b, s = the polynomial or sigma: the
  /// gradient of the batch's mean log-likelihood (exact for the exact sigmoid).
  std::vector<double> ascent_direction(std::size_t batch, std::span<const double> beta) const;
  /// (1/|I|) sum log sigma(z_i . beta) over batch b (exact sigmoid).
  double log_likelihood(std::size_t batch, std::span<const double> beta) const;
  /// z_i . beta for every row.
  std::vector<double> margins(std::span<const double> beta) const;
  const BatchPlan& plan() const { return plan_; }

 private:
  std::vector<double> z_;
  std::size_t d_;
  SigmoidPoly poly_;
  Schedule schedule_;
  BatchPlan plan_;
  bool exact_;
  std::size_t t_ = 0;
  std::vector<double> v_, w_;
};

}  // namespace heal::he_train
