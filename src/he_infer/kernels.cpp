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

MacStage make_mac_stage(const SparseLinear& lin, const ckks::Context& ctx, std::size_t level) {
  MacStage st;
  st.in_dim = lin.in_dim;
  st.out_dim = lin.out_dim;
  st.level = level;
  const auto res = weight_residues(lin, ctx, level);
  std::map<std::vector<std::int32_t>, std::vector<std::int32_t>> by_cols;
  for (int r = 0; r < lin.out_dim; ++r)
    by_cols[std::vector<std::int32_t>(lin.cols.begin() + lin.row_ptr[r], lin.cols.begin() + lin.row_ptr[r + 1])].push_back(r);
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

namespace {

constexpr std::size_t kBlock = 16;

// Coefficient block length for a group: accumulators (G * P * B words) stay within ~24 KiB of L1,
// so conv groups (few rows) take long blocks (fewer page/TLB visits per input word) and dense
// groups (64 rows) short ones.
std::size_t block_len(std::size_t G, std::size_t P, std::size_t n) {
  std::size_t b = (3072 / (G * P)) / kBlock * kBlock;
  b = std::max(kBlock, std::min<std::size_t>(b, 512));
  while (n % b) b -= kBlock;
  return b;
}

template <std::size_t P>
void mac_group(const MacGroup& grp, std::span<const ckks::Ciphertext> in, std::vector<ckks::Ciphertext>& out, std::size_t limb,
               const math::Modulus& q, std::size_t chunk, std::size_t c0, std::size_t c1, std::size_t B, u64* acc /* G*P*B */) {
  const std::size_t G = grp.rows.size(), K = grp.cols.size();
  const u64* w = grp.w[limb].data();
  for (std::size_t cb = c0; cb < c1; cb += B) {
    std::fill(acc, acc + G * P * B, u64{0});
    std::size_t cnt = 0;
    for (std::size_t k = 0; k < K; ++k) {
      const ckks::Ciphertext& x = in[static_cast<std::size_t>(grp.cols[k])];
      const u64* wk = w + k * G;
      if (B == kBlock) {  // many rows (dense layers): keep the 16-word input slices in registers
        alignas(64) u64 xv[P][kBlock];
        for (std::size_t p = 0; p < P; ++p) {
          const u64* xs = x[p].limb(limb) + cb;
          for (std::size_t t = 0; t < kBlock; ++t) xv[p][t] = xs[t];
        }
        for (std::size_t j = 0; j < G; ++j) {
          const u64 we = wk[j];
          u64* a = acc + j * P * kBlock;
          for (std::size_t p = 0; p < P; ++p)
            for (std::size_t t = 0; t < kBlock; ++t) a[p * kBlock + t] += we * xv[p][t];
        }
      } else {
      for (std::size_t p = 0; p < P; ++p) {
        const u64* __restrict xs = x[p].limb(limb) + cb;
        for (std::size_t j = 0; j < G; ++j) {
          const u64 we = wk[j];
          u64* __restrict a = acc + (j * P + p) * B;
          for (std::size_t t = 0; t < B; ++t) a[t] += we * xs[t];
        }
      }
      }
      if (++cnt == chunk) {
        for (std::size_t i = 0; i < G * P * B; ++i) acc[i] = q.reduce(acc[i]);
        cnt = 0;
      }
    }
    for (std::size_t j = 0; j < G; ++j)
      for (std::size_t p = 0; p < P; ++p) {
        u64* o = out[static_cast<std::size_t>(grp.rows[j])][p].limb(limb) + cb;
        const u64* a = acc + (j * P + p) * B;
        for (std::size_t t = 0; t < B; ++t) o[t] = q.reduce(a[t]);
      }
  }
}

}  // namespace

std::vector<ckks::Ciphertext> sparse_mac(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in, int threads) {
  HEAL_REQUIRE(static_cast<int>(in.size()) == st.in_dim, "sparse_mac: expected " << st.in_dim << " ciphertexts, got " << in.size());
  const std::size_t np = in[0].size(), limbs = in[0].level() + 1, n = in[0].n();
  HEAL_REQUIRE(np == 2 || np == 3, "sparse_mac: ciphertexts must have 2 or 3 polynomials");
  HEAL_REQUIRE(st.level + 1 == limbs, "sparse_mac: weights encoded for level " << st.level << ", ciphertexts at level " << limbs - 1);
  for (const auto& c : in)
    HEAL_REQUIRE(c.size() == np && c.level() + 1 == limbs, "sparse_mac: inputs must share level and size");
  HEAL_REQUIRE(n % kBlock == 0, "sparse_mac: ring degree must be a multiple of " << kBlock);
  std::vector<ckks::Ciphertext> out(static_cast<std::size_t>(st.out_dim));
  for (auto& o : out) {
    std::vector<math::RnsPoly> polys;
    for (std::size_t p = 0; p < np; ++p) polys.push_back(math::RnsPoly::uninitialized(n, limbs, true));
    o = ckks::Ciphertext(std::move(polys), in[0].scale() * static_cast<double>(ctx.q(limbs - 1).value()), in[0].slots());
  }
  std::vector<std::size_t> chunk(limbs);
  for (std::size_t l = 0; l < limbs; ++l) {
    const u64 qm1 = ctx.q(l).value() - 1;
    HEAL_REQUIRE(ctx.q(l).value() < (u64{1} << 31), "sparse_mac: batch kernels need Q primes below 2^31 (plan with max_scale_bits <= 30)");
    chunk[l] = static_cast<std::size_t>((~u64{0} - qm1) / (qm1 * qm1));  // chunk*(q-1)^2 + (q-1) < 2^64
  }
  // Threads split the ring coefficients (in multiples of 512 words); each walks every limb and group.
  const std::size_t unit = std::min<std::size_t>(512, n), units = n / unit;
  parallel_for(units, threads, [&](std::size_t u0, std::size_t u1) {
    std::vector<u64> acc(3072 + MacGroup::kMaxGroupRows * 3 * kBlock);
    for (std::size_t l = 0; l < limbs; ++l)
      for (const auto& grp : st.groups) {
        const std::size_t B = block_len(grp.rows.size(), np, unit);
        if (np == 2)
          mac_group<2>(grp, in, out, l, ctx.q(l), chunk[l], u0 * unit, u1 * unit, B, acc.data());
        else
          mac_group<3>(grp, in, out, l, ctx.q(l), chunk[l], u0 * unit, u1 * unit, B, acc.data());
      }
  });
  return out;
}

}  // namespace heal::he_infer::detail
