// Internal kernels (see kernels.h).
#include "kernels.h"

#include <algorithm>
#include <cmath>
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

namespace {

constexpr std::size_t kBlock = 16;

template <std::size_t P>
void mac_block(const SparseLinear& lin, const u64* w, std::span<const ckks::Ciphertext> in, std::vector<ckks::Ciphertext>& out,
               std::size_t limb, const math::Modulus& q, std::size_t chunk, std::size_t c0, std::size_t c1) {
  alignas(64) u64 acc[P][kBlock];
  for (std::size_t cb = c0; cb < c1; cb += kBlock) {
    for (int r = 0; r < lin.out_dim; ++r) {
      for (std::size_t p = 0; p < P; ++p)
        for (std::size_t t = 0; t < kBlock; ++t) acc[p][t] = 0;
      std::size_t cnt = 0;
      for (int e = lin.row_ptr[r]; e < lin.row_ptr[r + 1]; ++e) {
        const u64 we = w[e];
        const ckks::Ciphertext& x = in[lin.cols[e]];
        for (std::size_t p = 0; p < P; ++p) {
          const u64* xs = x[p].limb(limb) + cb;
          for (std::size_t t = 0; t < kBlock; ++t) acc[p][t] += we * xs[t];
        }
        if (++cnt == chunk) {
          for (std::size_t p = 0; p < P; ++p)
            for (std::size_t t = 0; t < kBlock; ++t) acc[p][t] = q.reduce(acc[p][t]);
          cnt = 0;
        }
      }
      for (std::size_t p = 0; p < P; ++p) {
        u64* o = out[r][p].limb(limb) + cb;
        for (std::size_t t = 0; t < kBlock; ++t) o[t] = q.reduce(acc[p][t]);
      }
    }
  }
}

}  // namespace

std::vector<ckks::Ciphertext> sparse_mac(const ckks::Context& ctx, const SparseLinear& lin,
                                         const std::vector<std::vector<u64>>& wres,
                                         std::span<const ckks::Ciphertext> in, int threads) {
  HEAL_REQUIRE(static_cast<int>(in.size()) == lin.in_dim, "sparse_mac: expected " << lin.in_dim << " ciphertexts, got " << in.size());
  const std::size_t np = in[0].size(), limbs = in[0].level() + 1, n = in[0].n();
  HEAL_REQUIRE(np == 2 || np == 3, "sparse_mac: ciphertexts must have 2 or 3 polynomials");
  HEAL_REQUIRE(wres.size() == limbs, "sparse_mac: weights encoded for " << wres.size() << " limbs, ciphertexts have " << limbs);
  for (const auto& c : in)
    HEAL_REQUIRE(c.size() == np && c.level() + 1 == limbs, "sparse_mac: inputs must share level and size");
  HEAL_REQUIRE(n % kBlock == 0, "sparse_mac: ring degree must be a multiple of " << kBlock);
  std::vector<ckks::Ciphertext> out(lin.out_dim);
  for (auto& o : out) {
    std::vector<math::RnsPoly> polys;
    for (std::size_t p = 0; p < np; ++p) polys.push_back(math::RnsPoly::uninitialized(n, limbs, true));
    o = ckks::Ciphertext(std::move(polys), in[0].scale() * static_cast<double>(ctx.q(limbs - 1).value()), in[0].slots());
  }
  for (std::size_t l = 0; l < limbs; ++l) {
    const math::Modulus& q = ctx.q(l);
    const u64 qm1 = q.value() - 1;
    HEAL_REQUIRE(q.value() < (u64{1} << 31), "sparse_mac: batch kernels need Q primes below 2^31 (plan with max_scale_bits <= 30)");
    // acc <= chunk * (q-1)^2 + (q-1) must fit in 64 bits.
    const std::size_t chunk = static_cast<std::size_t>((~u64{0} - qm1) / (qm1 * qm1));
    const std::size_t blocks = n / kBlock;
    parallel_for(blocks, threads, [&](std::size_t b0, std::size_t b1) {
      if (np == 2)
        mac_block<2>(lin, wres[l].data(), in, out, l, q, chunk, b0 * kBlock, b1 * kBlock);
      else
        mac_block<3>(lin, wres[l].data(), in, out, l, q, chunk, b0 * kBlock, b1 * kBlock);
    });
  }
  return out;
}

}  // namespace heal::he_infer::detail
