// Batch MAC kernel: exact equality with a scalar reference (residue arithmetic), for the IFMA path
// (primes <= 2^26) and the portable path (30-bit primes), with and without on-the-fly squaring.
#include <gtest/gtest.h>

#include <cstdint>

#include "../../src/he_infer/kernels.h"
#include "heal/core/rng.h"
#include "heal/he_infer/plan.h"
#include "heal/math/simd.h"

namespace heal::he_infer {
namespace {

using math::u64;

// Dense rows (shared columns: one wide group, 4-row blocks + a tail) and conv-like rows (shared
// 3-column windows), random weights including negatives and exact zeros.
SparseLinear random_linear(int in_dim, SeededRng& rng) {
  SparseLinear l;
  l.in_dim = in_dim;
  l.row_ptr.push_back(0);
  auto val = [&] {
    const u64 r = rng.next_u64();
    return (r % 7 == 0) ? 0.0 : (static_cast<double>(r % 2001) - 1000.0) / 997.0;
  };
  for (int r = 0; r < 7; ++r) {  // dense block
    for (int k = 0; k < in_dim; ++k) {
      l.cols.push_back(k);
      l.vals.push_back(val());
    }
    l.row_ptr.push_back(static_cast<std::int32_t>(l.cols.size()));
  }
  for (int pos = 0; pos + 3 <= in_dim; pos += 2)
    for (int ch = 0; ch < 5; ++ch) {
      for (int k = 0; k < 3; ++k) {
        l.cols.push_back(pos + k);
        l.vals.push_back(val());
      }
      l.row_ptr.push_back(static_cast<std::int32_t>(l.cols.size()));
    }
  l.out_dim = static_cast<int>(l.row_ptr.size()) - 1;
  l.bias.assign(static_cast<std::size_t>(l.out_dim), 0.0);
  return l;
}

// A ciphertext of `np` polynomials with uniformly random residues at `limbs` limbs (NTT form).
ckks::Ciphertext random_ciphertext(const ckks::Context& ctx, std::size_t np, std::size_t limbs, double scale, SeededRng& rng) {
  std::vector<math::RnsPoly> polys;
  for (std::size_t p = 0; p < np; ++p) {
    auto poly = math::RnsPoly::uninitialized(ctx.n(), limbs, true);
    for (std::size_t l = 0; l < limbs; ++l)
      for (std::size_t t = 0; t < ctx.n(); ++t) poly.limb(l)[t] = rng.next_u64() % ctx.q(l).value();
    polys.push_back(std::move(poly));
  }
  return ckks::Ciphertext(std::move(polys), scale, ctx.n() / 2);
}

// accumulate: sparse_mac_accumulate into outputs holding random residues (reference: those + the sum).
void check_exact(int scale_bits, std::size_t np_in, bool square, bool accumulate = false) {
  const ParamPlan plan = plan_params(3, {.min_scale_bits = scale_bits, .max_scale_bits = scale_bits, .log_n = 10, .allow_insecure = true});
  auto ctx = ckks::Context::create(plan.spec);
  SeededRng rng(seed_from_u64(7));
  const int in_dim = 37;
  const SparseLinear lin = random_linear(in_dim, rng);
  const std::size_t level = 2, limbs = level + 1, n = ctx->n();
  std::vector<ckks::Ciphertext> in(static_cast<std::size_t>(in_dim));
  for (auto& c : in) c = random_ciphertext(*ctx, np_in, limbs, 1024.0, rng);
  const auto st = detail::make_mac_stage(lin, *ctx, level);
  const std::size_t P = square ? 3 : np_in;
  const double expect_scale = (square ? 1024.0 * 1024.0 : 1024.0) * static_cast<double>(ctx->q(level).value());
  std::vector<ckks::Ciphertext> init;
  std::vector<ckks::Ciphertext> out;
  if (accumulate) {
    for (int r = 0; r < lin.out_dim; ++r) init.push_back(random_ciphertext(*ctx, P, limbs, expect_scale, rng));
    out = init;
    detail::sparse_mac_accumulate(*ctx, st, in, out, 2, square);
  } else {
    out = detail::sparse_mac(*ctx, st, in, 2, square);
  }
  const auto w = detail::weight_residues(lin, *ctx, level);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(lin.out_dim));
  std::size_t mismatches = 0;
  for (int r = 0; r < lin.out_dim; ++r) {
    ASSERT_EQ(out[static_cast<std::size_t>(r)].size(), P);
    for (std::size_t l = 0; l < limbs; ++l) {
      const math::Modulus& q = ctx->q(l);
      for (std::size_t t = 0; t < n; ++t)
        for (std::size_t p = 0; p < P; ++p) {
          u64 ref = accumulate ? init[static_cast<std::size_t>(r)][p].limb(l)[t] : 0;
          for (auto e = static_cast<std::size_t>(lin.row_ptr[r]); e < static_cast<std::size_t>(lin.row_ptr[r + 1]); ++e) {
            const ckks::Ciphertext& x = in[static_cast<std::size_t>(lin.cols[e])];
            u64 v;
            if (!square) {
              v = x[p].limb(l)[t];
            } else {
              const u64 a = x[0].limb(l)[t], c = x[1].limb(l)[t];
              v = p == 0 ? q.mul(a, a) : p == 1 ? q.add(q.mul(a, c), q.mul(a, c)) : q.mul(c, c);
            }
            ref = q.add(ref, q.mul(w[l][e], v));
          }
          mismatches += out[static_cast<std::size_t>(r)][p].limb(l)[t] != ref;
        }
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_DOUBLE_EQ(out[0].scale(), expect_scale);
}

// Every case runs at each SIMD level the CPU has (scalar, AVX2, AVX-512 with IFMA for primes
// <= 2^26): each kernel must give the reference words exactly.
void check_exact_all_levels(int scale_bits, std::size_t np_in, bool square, bool accumulate = false) {
  for (math::SimdLevel level : {math::SimdLevel::kScalar, math::SimdLevel::kAvx2, math::SimdLevel::kAvx512}) {
    if (level > math::cpu_simd_level()) continue;
    SCOPED_TRACE(math::simd_level_name(level));
    const math::ScopedSimdLevel scope(level);
    check_exact(scale_bits, np_in, square, accumulate);
  }
}

TEST(MacKernel, Ifma26BitPlain) { check_exact_all_levels(26, 2, false); }
TEST(MacKernel, Ifma26BitSquared) { check_exact_all_levels(26, 2, true); }
TEST(MacKernel, Ifma26BitThreePolys) { check_exact_all_levels(26, 3, false); }
TEST(MacKernel, Portable30BitPlain) { check_exact_all_levels(30, 2, false); }
TEST(MacKernel, Portable30BitSquared) { check_exact_all_levels(30, 2, true); }
TEST(MacKernel, Portable30BitThreePolysAccumulate) { check_exact_all_levels(30, 3, false, true); }
TEST(MacKernel, Ifma26BitAccumulate) { check_exact_all_levels(26, 2, false, true); }
TEST(MacKernel, Ifma26BitSquaredAccumulate) { check_exact_all_levels(26, 2, true, true); }
TEST(MacKernel, Portable30BitSquaredAccumulate) { check_exact_all_levels(30, 2, true, true); }

TEST(MacKernel, RejectsSquaringThreePolys) {
  const ParamPlan plan = plan_params(3, {.min_scale_bits = 26, .max_scale_bits = 26, .log_n = 10, .allow_insecure = true});
  auto ctx = ckks::Context::create(plan.spec);
  SeededRng rng(seed_from_u64(8));
  const SparseLinear lin = random_linear(5, rng);
  std::vector<ckks::Ciphertext> in(5);
  for (auto& c : in) {
    std::vector<math::RnsPoly> polys;
    for (int p = 0; p < 3; ++p) polys.push_back(math::RnsPoly::uninitialized(ctx->n(), 3, true));
    c = ckks::Ciphertext(std::move(polys), 1.0, ctx->n() / 2);
  }
  const auto st = detail::make_mac_stage(lin, *ctx, 2);
  EXPECT_THROW((void)detail::sparse_mac(*ctx, st, in, 1, true), std::invalid_argument);
}

}  // namespace
}  // namespace heal::he_infer
