// Baby-step giant-step diagonal matrix-vector products (Halevi-Shoup ePrint 2014/106, 2018/244)
// with hoisted baby rotations (Bossuat et al. ePrint 2020/1203).
#include "heal/ckks/linear_transform.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <exception>
#include <functional>
#include <numeric>
#include <thread>

#include "heal/ckks/encoder.h"
#include "heal/core/check.h"

namespace heal::ckks {

namespace {
using Diagonals = std::map<std::size_t, std::vector<std::complex<double>>>;

// The nonzero diagonals of a row-major rows x cols matrix zero-padded to dim x dim.
Diagonals dense_diagonals(std::span<const std::complex<double>> matrix, std::size_t rows, std::size_t cols,
                          std::size_t dim) {
  Diagonals out;
  auto entry = [&](std::size_t r, std::size_t c) -> std::complex<double> {
    return r < rows && c < cols ? matrix[r * cols + c] : std::complex<double>(0);
  };
  std::vector<std::complex<double>> diag(dim);
  for (std::size_t k = 0; k < dim; ++k) {
    bool nonzero = false;
    for (std::size_t i = 0; i < dim; ++i) {
      diag[i] = entry(i, (i + k) % dim);
      nonzero = nonzero || diag[i] != std::complex<double>(0);
    }
    if (nonzero) out.emplace(k, diag);
  }
  return out;
}

void check_shape(const ContextPtr& ctx, std::size_t dim, std::size_t level) {
  HEAL_REQUIRE(ctx != nullptr, "LinearTransform: null context");
  HEAL_REQUIRE(dim >= 1 && std::has_single_bit(dim) && dim <= ctx->slots(),
               "LinearTransform: dim must be a power of two <= N/2 = " << ctx->slots() << ", got " << dim);
  HEAL_REQUIRE(level >= 1 && level <= ctx->max_level(), "LinearTransform: level must be in [1, " << ctx->max_level() << "]");
}

void check_matrix(std::span<const std::complex<double>> matrix, std::size_t rows, std::size_t cols, std::size_t dim) {
  HEAL_REQUIRE(rows >= 1 && cols >= 1 && rows <= dim && cols <= dim,
               "LinearTransform: a " << rows << " x " << cols << " matrix does not fit " << dim << " slots");
  HEAL_REQUIRE(matrix.size() == rows * cols, "LinearTransform: matrix has " << matrix.size() << " entries, expected rows*cols");
}

// Runs f(0..workers-1) on that many threads (f(0) on the caller's) and rethrows the first error.
void run_parallel(std::size_t workers, const std::function<void(std::size_t)>& f) {
  std::vector<std::exception_ptr> errors(workers);
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) {
    pool.emplace_back([&, w] {
      try {
        f(w);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  try {
    f(0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// floor(a / b) for b > 0.
long floor_div(long a, long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
}  // namespace

LinearTransform::LinearTransform(ContextPtr ctx, std::span<const std::complex<double>> matrix, std::size_t rows,
                                 std::size_t cols, std::size_t dim, std::size_t level, double pt_scale,
                                 std::size_t baby_steps)
    : ctx_(std::move(ctx)), dim_(dim), level_(level), g_(baby_steps) {
  check_shape(ctx_, dim_, level_);
  check_matrix(matrix, rows, cols, dim_);
  build(dense_diagonals(matrix, rows, cols, dim_), pt_scale);
}

LinearTransform::LinearTransform(ContextPtr ctx, std::span<const double> matrix, std::size_t rows, std::size_t cols,
                                 std::size_t dim, std::size_t level, double pt_scale, std::size_t baby_steps)
    : ctx_(std::move(ctx)), dim_(dim), level_(level), g_(baby_steps) {
  check_shape(ctx_, dim_, level_);
  const std::vector<std::complex<double>> c(matrix.begin(), matrix.end());
  check_matrix(c, rows, cols, dim_);
  build(dense_diagonals(c, rows, cols, dim_), pt_scale);
}

LinearTransform::LinearTransform(ContextPtr ctx, const Diagonals& diagonals, std::size_t dim, std::size_t level,
                                 double pt_scale, std::size_t baby_steps)
    : ctx_(std::move(ctx)), dim_(dim), level_(level), g_(baby_steps) {
  check_shape(ctx_, dim_, level_);
  Diagonals nonzero;
  for (const auto& [k, d] : diagonals) {
    HEAL_REQUIRE(k < dim_, "LinearTransform: diagonal offset " << k << " not below dim " << dim_);
    HEAL_REQUIRE(d.size() == dim_, "LinearTransform: diagonal " << k << " has " << d.size() << " entries, expected " << dim_);
    if (std::any_of(d.begin(), d.end(), [](std::complex<double> v) { return v != std::complex<double>(0); })) {
      nonzero.emplace(k, d);
    }
  }
  build(nonzero, pt_scale);
}

void LinearTransform::build(const Diagonals& diagonals, double pt_scale) {
  HEAL_REQUIRE(!diagonals.empty(), "LinearTransform: the matrix is zero");
  if (pt_scale == 0) pt_scale = static_cast<double>(ctx_->q(level_).value());
  HEAL_REQUIRE(pt_scale > 0 && std::isfinite(pt_scale), "LinearTransform: plaintext scale must be positive");
  const long dim = static_cast<long>(dim_);
  // Offsets centred in [-dim/2, dim/2) and their common unit.
  long unit = dim;
  std::vector<std::pair<long, const std::vector<std::complex<double>>*>> offs;
  for (const auto& [k, d] : diagonals) {
    long m = static_cast<long>(k);
    if (m >= (dim + 1) / 2 && dim > 1) m -= dim;
    unit = std::gcd(unit, static_cast<long>(k));
    offs.emplace_back(m, &d);
  }
  if (unit == 0 || unit == dim) unit = dim;  // only the main diagonal
  long lo = 0, hi = 0;
  for (const auto& o : offs) {
    lo = std::min(lo, o.first / unit);
    hi = std::max(hi, o.first / unit);
  }
  if (g_ == 0) {
    const auto span = static_cast<double>(hi - lo + 1);
    g_ = std::bit_ceil(static_cast<std::size_t>(std::ceil(std::sqrt(span))));
  }
  HEAL_REQUIRE(g_ >= 1 && g_ <= dim_, "LinearTransform: baby steps must be in [1, dim]");
  const long g = static_cast<long>(g_);
  // Group by giant step j = floor(m / g) (in units), baby step i = m - g j.
  std::map<long, std::map<long, const std::vector<std::complex<double>>*>> groups;
  for (const auto& [m, d] : offs) {
    const long mu = m / unit;
    const long j = floor_div(mu, g);
    groups[j][mu - g * j] = d;
  }
  std::vector<long> babies;
  for (const auto& [j, row] : groups) {
    for (const auto& [i, d] : row) babies.push_back(i);
  }
  std::sort(babies.begin(), babies.end());
  babies.erase(std::unique(babies.begin(), babies.end()), babies.end());
  for (long i : babies) baby_.push_back(i * unit);
  Encoder enc(ctx_);
  std::vector<std::complex<double>> rotated(dim_);
  for (const auto& [j, row] : groups) {
    const long shift = g * j * unit;  // giant rotation
    giant_.push_back(shift);
    plain_.emplace_back(baby_.size());
    present_.emplace_back(baby_.size(), false);
    const long s = ((shift % dim) + dim) % dim;
    for (const auto& [i, d] : row) {
      // rot_{-shift}(diag): entry m comes from d[m - shift].
      for (long m = 0; m < dim; ++m) rotated[static_cast<std::size_t>(m)] = (*d)[static_cast<std::size_t>((m - s + dim) % dim)];
      const auto bi = static_cast<std::size_t>(std::lower_bound(babies.begin(), babies.end(), i) - babies.begin());
      plain_.back()[bi] = enc.encode(rotated, pt_scale, level_);
      present_.back()[bi] = true;
      ++count_;
    }
  }
  for (long b : baby_) {
    if (b != 0) steps_.push_back(b);
  }
  for (long s : giant_) {
    if (s != 0 && std::find(steps_.begin(), steps_.end(), s) == steps_.end()) steps_.push_back(s);
  }
}

Ciphertext LinearTransform::apply(const Evaluator& ev, const Ciphertext& x, const GaloisKeys& gk, int threads) const {
  HEAL_REQUIRE(x.level() == level_, "LinearTransform::apply: ciphertext at level " << x.level() << ", transform encoded for "
                                                                                   << level_);
  HEAL_REQUIRE(x.slots() == dim_, "LinearTransform::apply: ciphertext has " << x.slots() << " slots, transform expects " << dim_);
  HEAL_REQUIRE(x.size() == 2, "LinearTransform::apply: relinearize first");
  HEAL_REQUIRE(threads >= 1, "LinearTransform::apply: threads must be >= 1");
  const auto workers = static_cast<std::size_t>(threads);
  // Baby rotations (hoisted), split in contiguous chunks over the threads.
  std::vector<Ciphertext> rots(baby_.size());
  auto rotate_chunk = [&](std::size_t lo, std::size_t hi) {
    const std::vector<long> steps(baby_.begin() + static_cast<long>(lo), baby_.begin() + static_cast<long>(hi));
    auto r = ev.rotate_hoisted(x, steps, gk);
    for (std::size_t t = lo; t < hi; ++t) rots[t] = std::move(r[t - lo]);
  };
  // Giant-step groups j = w, w + workers, ... summed per thread.
  auto giants = [&](std::size_t w, Ciphertext& acc, bool& have_acc) {
    for (std::size_t j = w; j < plain_.size(); j += workers) {
      Ciphertext inner;
      bool have = false;
      for (std::size_t i = 0; i < baby_.size(); ++i) {
        if (!present_[j][i]) continue;
        Ciphertext term = ev.mul_plain(rots[i], plain_[j][i]);
        if (have) {
          ev.add_inplace(inner, term);
        } else {
          inner = std::move(term);
          have = true;
        }
      }
      if (!have) continue;
      if (giant_[j] != 0) inner = ev.rotate(inner, giant_[j], gk);
      if (have_acc) {
        ev.add_inplace(acc, inner);
      } else {
        acc = std::move(inner);
        have_acc = true;
      }
    }
  };
  std::vector<Ciphertext> acc(workers);
  std::vector<char> have(workers, 0);
  if (workers == 1) {
    rotate_chunk(0, baby_.size());
    bool h = false;
    giants(0, acc[0], h);
    have[0] = h;
  } else {
    run_parallel(workers, [&](std::size_t w) {
      const std::size_t per = (baby_.size() + workers - 1) / workers;
      const std::size_t lo = std::min(baby_.size(), w * per), hi = std::min(baby_.size(), lo + per);
      if (lo < hi) rotate_chunk(lo, hi);
    });
    run_parallel(workers, [&](std::size_t w) {
      bool h = false;
      giants(w, acc[w], h);
      have[w] = h;
    });
  }
  Ciphertext out;
  bool have_out = false;
  for (std::size_t w = 0; w < workers; ++w) {
    if (!have[w]) continue;
    if (have_out) {
      ev.add_inplace(out, acc[w]);
    } else {
      out = std::move(acc[w]);
      have_out = true;
    }
  }
  ev.rescale_inplace(out);
  return out;
}

}  // namespace heal::ckks
