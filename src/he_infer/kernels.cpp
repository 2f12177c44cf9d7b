// Internal kernels (see kernels.h).
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

#include "heal/core/check.h"

namespace heal::he_infer::detail {

using math::u64;

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t, std::size_t)>& fn) {
  const std::size_t t = std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), n));
  if (t <= 1) {
    if (n) fn(0, n);
    return;
  }
  std::vector<std::thread> pool;
  for (std::size_t k = 1; k < t; ++k) pool.emplace_back(fn, k * n / t, (k + 1) * n / t);
  fn(0, n / t);
  for (auto& th : pool) th.join();
}

std::vector<u64> real_to_residues(double v, const ckks::Context& ctx, std::size_t limbs) {
  HEAL_REQUIRE(std::isfinite(v), "he_infer: cannot encode a non-finite constant");
  std::vector<u64> out(limbs);
  const double r = std::nearbyint(v);
  const bool neg = r < 0;
  // |r| = m * 2^e with an integer mantissa m < 2^53.
  int e = 0;
  const double frac = std::frexp(std::fabs(r), &e);
  const auto m = static_cast<u64>(std::ldexp(frac, 53));
  const int shift = e - 53;
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = ctx.q(i);
    u64 x;
    if (shift <= 0) {
      x = q.reduce(shift <= -64 ? 0 : (m >> (-shift)));
    } else {
      x = q.reduce(m);
      for (int s = 0; s < shift; ++s) x = q.add(x, x);
    }
    out[i] = neg ? q.sub(0, x) : x;
  }
  return out;
}

std::vector<std::vector<u64>> weight_residues(const SparseLinear& lin, const ckks::Context& ctx, std::size_t level) {
  const double qs = static_cast<double>(ctx.q(level).value());
  std::vector<std::vector<u64>> w(level + 1, std::vector<u64>(lin.nnz()));
  for (std::size_t e = 0; e < lin.nnz(); ++e) {
    const double v = std::nearbyint(lin.vals[e] * qs);
    HEAL_REQUIRE(std::fabs(v) < 0x1p62, "he_infer: weight " << lin.vals[e] << " too large to encode");
    const auto iv = static_cast<std::int64_t>(v);
    for (std::size_t i = 0; i <= level; ++i) w[i][e] = ctx.q(i).from_signed(iv);
  }
  return w;
}

MacStage make_mac_stage(const SparseLinear& lin, const ckks::Context& ctx, std::size_t level, bool skip_empty_rows) {
  MacStage st;
  st.in_dim = lin.in_dim;
  st.out_dim = lin.out_dim;
  st.level = level;
  const auto res = weight_residues(lin, ctx, level);
  std::map<std::vector<std::int32_t>, std::vector<std::int32_t>> by_cols;
  for (int r = 0; r < lin.out_dim; ++r) {
    if (skip_empty_rows && lin.row_ptr[r] == lin.row_ptr[r + 1]) continue;
    by_cols[std::vector<std::int32_t>(lin.cols.begin() + lin.row_ptr[r], lin.cols.begin() + lin.row_ptr[r + 1])].push_back(r);
  }
  for (auto& [cols, rows] : by_cols) {
    for (std::size_t g0 = 0; g0 < rows.size(); g0 += MacGroup::kMaxGroupRows) {
      MacGroup g;
      g.cols = cols;
      g.rows.assign(rows.begin() + static_cast<long>(g0), rows.begin() + static_cast<long>(std::min(rows.size(), g0 + MacGroup::kMaxGroupRows)));
      const std::size_t G = g.rows.size(), K = cols.size();
      g.w.assign(level + 1, std::vector<u64>(K * G));
      for (std::size_t l = 0; l <= level; ++l)
        for (std::size_t k = 0; k < K; ++k)
          for (std::size_t j = 0; j < G; ++j) g.w[l][k * G + j] = res[l][static_cast<std::size_t>(lin.row_ptr[g.rows[j]]) + k];
      st.groups.push_back(std::move(g));
    }
  }
  return st;
}

}  // namespace heal::he_infer::detail
