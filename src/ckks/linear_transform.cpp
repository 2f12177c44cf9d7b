// Baby-step giant-step diagonal matrix-vector products (Halevi-Shoup ePrint 2014/106, 2018/244)
// with hoisted baby rotations (Bossuat et al. ePrint 2020/1203).
#include "heal/ckks/linear_transform.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "heal/ckks/encoder.h"
#include "heal/core/check.h"

namespace heal::ckks {

namespace {
std::vector<std::complex<double>> to_complex(std::span<const double> m) {
  return std::vector<std::complex<double>>(m.begin(), m.end());
}
}  // namespace

LinearTransform::LinearTransform(ContextPtr ctx, std::span<const std::complex<double>> matrix, std::size_t rows,
                                 std::size_t cols, std::size_t dim, std::size_t level, double pt_scale,
                                 std::size_t baby_steps)
    : ctx_(std::move(ctx)), dim_(dim), level_(level), g_(baby_steps) {
  build(matrix, rows, cols, pt_scale);
}

LinearTransform::LinearTransform(ContextPtr ctx, std::span<const double> matrix, std::size_t rows, std::size_t cols,
                                 std::size_t dim, std::size_t level, double pt_scale, std::size_t baby_steps)
    : ctx_(std::move(ctx)), dim_(dim), level_(level), g_(baby_steps) {
  const auto c = to_complex(matrix);
  build(c, rows, cols, pt_scale);
}

void LinearTransform::build(std::span<const std::complex<double>> matrix, std::size_t rows, std::size_t cols,
                            double pt_scale) {
  HEAL_REQUIRE(ctx_ != nullptr, "LinearTransform: null context");
  HEAL_REQUIRE(dim_ >= 1 && std::has_single_bit(dim_) && dim_ <= ctx_->slots(),
               "LinearTransform: dim must be a power of two <= N/2 = " << ctx_->slots() << ", got " << dim_);
  HEAL_REQUIRE(rows >= 1 && cols >= 1 && rows <= dim_ && cols <= dim_,
               "LinearTransform: a " << rows << " x " << cols << " matrix does not fit " << dim_ << " slots");
  HEAL_REQUIRE(matrix.size() == rows * cols, "LinearTransform: matrix has " << matrix.size() << " entries, expected rows*cols");
  HEAL_REQUIRE(level_ >= 1 && level_ <= ctx_->max_level(), "LinearTransform: level must be in [1, " << ctx_->max_level() << "]");
  if (pt_scale == 0) pt_scale = static_cast<double>(ctx_->q(level_).value());
  HEAL_REQUIRE(pt_scale > 0 && std::isfinite(pt_scale), "LinearTransform: plaintext scale must be positive");
  if (g_ == 0) g_ = std::bit_ceil(static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(dim_)))));
  HEAL_REQUIRE(g_ >= 1 && g_ <= dim_, "LinearTransform: baby steps must be in [1, dim]");
  const std::size_t giants = (dim_ + g_ - 1) / g_;
  Encoder enc(ctx_);
  plain_.assign(giants, std::vector<Plaintext>(g_));
  present_.assign(giants, std::vector<bool>(g_, false));
  std::vector<bool> baby_used(g_, false);
  std::vector<std::complex<double>> diag(dim_), rotated(dim_);
  auto entry = [&](std::size_t r, std::size_t c) -> std::complex<double> {
    return r < rows && c < cols ? matrix[r * cols + c] : std::complex<double>(0);
  };
  for (std::size_t k = 0; k < dim_; ++k) {
    bool nonzero = false;
    for (std::size_t i = 0; i < dim_; ++i) {
      diag[i] = entry(i, (i + k) % dim_);
      nonzero = nonzero || diag[i] != std::complex<double>(0);
    }
    if (!nonzero) continue;
    const std::size_t j = k / g_, i = k % g_, shift = g_ * j;
    for (std::size_t m = 0; m < dim_; ++m) rotated[m] = diag[(m + dim_ - shift) % dim_];  // rot_{-g j}
    plain_[j][i] = enc.encode(rotated, pt_scale, level_);
    present_[j][i] = true;
    baby_used[i] = true;
    ++count_;
  }
  HEAL_REQUIRE(count_ > 0, "LinearTransform: the matrix is zero");
  for (std::size_t i = 0; i < g_; ++i) {
    if (baby_used[i]) baby_.push_back(static_cast<long>(i));
  }
  for (long b : baby_) {
    if (b != 0) steps_.push_back(b);
  }
  for (std::size_t j = 1; j < giants; ++j) {
    if (std::find(present_[j].begin(), present_[j].end(), true) != present_[j].end()) {
      steps_.push_back(static_cast<long>(g_ * j));
    }
  }
}

Ciphertext LinearTransform::apply(const Evaluator& ev, const Ciphertext& x, const GaloisKeys& gk) const {
  HEAL_REQUIRE(x.level() == level_, "LinearTransform::apply: ciphertext at level " << x.level() << ", transform encoded for "
                                                                                   << level_);
  HEAL_REQUIRE(x.slots() == dim_, "LinearTransform::apply: ciphertext has " << x.slots() << " slots, transform expects " << dim_);
  HEAL_REQUIRE(x.size() == 2, "LinearTransform::apply: relinearize first");
  const std::vector<Ciphertext> rots = ev.rotate_hoisted(x, baby_, gk);
  std::vector<std::size_t> slot_of(g_, 0);
  for (std::size_t t = 0; t < baby_.size(); ++t) slot_of[static_cast<std::size_t>(baby_[t])] = t;
  Ciphertext acc;
  bool have_acc = false;
  for (std::size_t j = 0; j < plain_.size(); ++j) {
    Ciphertext inner;
    bool have = false;
    for (std::size_t i = 0; i < g_; ++i) {
      if (!present_[j][i]) continue;
      Ciphertext term = ev.mul_plain(rots[slot_of[i]], plain_[j][i]);
      if (have) {
        ev.add_inplace(inner, term);
      } else {
        inner = std::move(term);
        have = true;
      }
    }
    if (!have) continue;
    if (j > 0) inner = ev.rotate(inner, static_cast<long>(g_ * j), gk);
    if (have_acc) {
      ev.add_inplace(acc, inner);
    } else {
      acc = std::move(inner);
      have_acc = true;
    }
  }
  ev.rescale_inplace(acc);
  return acc;
}

}  // namespace heal::ckks
