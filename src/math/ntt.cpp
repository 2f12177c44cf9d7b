#include "heal/math/ntt.h"

#include "ntt_simd.h"

namespace heal::math {

namespace {
u64 shoup52(u64 w, u64 q) { return static_cast<u64>((static_cast<u128>(w) << 52) / q); }
}  // namespace

NttTables::NttTables(int log_n, const Modulus& q)
    : n_(std::size_t{1} << log_n), log_n_(log_n), q_(q) {
  HEAL_REQUIRE(log_n >= 1 && log_n <= 17, "NttTables: log_n must be in [1, 17], got " << log_n);
  HEAL_REQUIRE(q.value() < (u64{1} << 60), "NttTables: q must be below 2^60 (4q < 2^64)");
  HEAL_REQUIRE((q.value() - 1) % (2 * n_) == 0, "NttTables: q = " << q.value() << " is not 1 mod 2n");
  psi_ = minimal_primitive_root(2 * n_, q);
  const u64 qv = q.value();
  const u64 psi_inv = q.inv(psi_);
  // +8 words of padding: the SIMD kernels load whole 8-word vectors of twiddles for the short
  // stages and use only the first few lanes (for n = 32 the last such load ends past n).
  roots_.resize(n_ + 8);
  roots_shoup_.resize(n_ + 8);
  inv_roots_.resize(n_ + 8);
  inv_roots_shoup_.resize(n_ + 8);
  // roots_[i] = psi^bitrev(i); the forward stage with m groups uses roots_[m + i].
  u64 power = 1;
  std::vector<u64> pows(n_), inv_pows(n_);
  u64 ipower = 1;
  for (std::size_t i = 0; i < n_; ++i) {
    pows[i] = power;
    inv_pows[i] = ipower;
    power = q.mul(power, psi_);
    ipower = q.mul(ipower, psi_inv);
  }
  for (std::size_t i = 0; i < n_; ++i) {
    const std::uint32_t r = reverse_bits(static_cast<std::uint32_t>(i), log_n);
    roots_[i] = pows[r];
    roots_shoup_[i] = shoup_precompute(roots_[i], qv);
  }
  // Inverse (Gentleman-Sande) stage with h groups uses psi^-bitrev(h + i); we store them in the
  // order they are consumed: stages h = n/2, n/4, ..., 1, groups i = 0..h-1.
  std::size_t k = 0;
  for (std::size_t h = n_ / 2; h >= 1; h >>= 1) {
    for (std::size_t i = 0; i < h; ++i) {
      const std::uint32_t r = reverse_bits(static_cast<std::uint32_t>(h + i), log_n);
      inv_roots_[k] = inv_pows[r];
      inv_roots_shoup_[k] = shoup_precompute(inv_roots_[k], qv);
      ++k;
    }
    if (h == 1) break;
  }
  const u64 ninv = q.inv(static_cast<u64>(n_) % qv);
  n_inv_ = ShoupConst(ninv, qv);
  // Last stage (h = 1) twiddle psi^-bitrev(1) = psi^-(n/2) times n^-1.
  n_inv_w_ = ShoupConst(q.mul(ninv, inv_pows[reverse_bits(1, log_n)]), qv);
  const bool below50 = qv < (u64{1} << 50);
  if (below50 && n_ >= 32 && cpu_has_ifma52()) {
    roots_shoup52_.resize(n_ + 8);
    inv_roots_shoup52_.resize(n_ + 8);
    for (std::size_t i = 0; i < n_; ++i) {
      roots_shoup52_[i] = shoup52(roots_[i], qv);
      inv_roots_shoup52_[i] = shoup52(inv_roots_[i], qv);
    }
    n_inv_shoup52_ = shoup52(n_inv_.value, qv);
    n_inv_w_shoup52_ = shoup52(n_inv_w_.value, qv);
  }
  if (below50 && n_ >= 8 && cpu_simd_level() >= SimdLevel::kAvx2) {
    roots_fp_.resize(n_ + 8);
    inv_roots_fp_.resize(n_ + 8);
    for (std::size_t i = 0; i < n_ + 8; ++i) {
      roots_fp_[i] = static_cast<double>(roots_[i]);
      inv_roots_fp_[i] = static_cast<double>(inv_roots_[i]);
    }
  }
}

NttTables::Kernel NttTables::kernel() const {
  const SimdLevel level = simd_level();
  if (level == SimdLevel::kAvx512 && n_ >= 32) {
    return has_shoup52() && simd_ifma() ? Kernel::kIfma52 : Kernel::kAvx512;
  }
  if (level >= SimdLevel::kAvx2 && n_ >= 8) return has_fp_roots() ? Kernel::kAvx2 : Kernel::kAvx2x64;
  return Kernel::kScalar;
}

namespace {
// Runs the vector kernel for the current level; false when the scalar code must run.
bool forward_vec(u64* a, const NttTables& t, bool reduce) {
#if HEAL_X86_KERNELS
  switch (t.kernel()) {
    case NttTables::Kernel::kIfma52: detail::ntt_forward_avx512(a, t, reduce, true); return true;
    case NttTables::Kernel::kAvx512: detail::ntt_forward_avx512(a, t, reduce, false); return true;
    case NttTables::Kernel::kAvx2: detail::ntt_forward_avx2(a, t); return true;
    case NttTables::Kernel::kAvx2x64: detail::ntt_forward_avx2_x64(a, t, reduce); return true;
    case NttTables::Kernel::kScalar: break;
  }
#else
  (void)a, (void)t, (void)reduce;
#endif
  return false;
}

bool inverse_vec(u64* a, const NttTables& t) {
#if HEAL_X86_KERNELS
  switch (t.kernel()) {
    case NttTables::Kernel::kIfma52: detail::ntt_inverse_avx512(a, t, true); return true;
    case NttTables::Kernel::kAvx512: detail::ntt_inverse_avx512(a, t, false); return true;
    case NttTables::Kernel::kAvx2: detail::ntt_inverse_avx2(a, t); return true;
    case NttTables::Kernel::kAvx2x64: detail::ntt_inverse_avx2_x64(a, t); return true;
    case NttTables::Kernel::kScalar: break;
  }
#else
  (void)a, (void)t;
#endif
  return false;
}

// The scalar Harvey transform, outputs in [0, 4q).
void forward_lazy_scalar(u64* a, const NttTables& t) {
  const std::size_t n = t.n();
  const u64 q = t.modulus().value();
  const u64 two_q = 2 * q;
  const u64* w = t.roots();
  const u64* ws = t.roots_shoup();
  std::size_t gap = n >> 1;
  for (std::size_t m = 1; m < n; m <<= 1, gap >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const u64 W = w[m + i], Ws = ws[m + i];
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; ++j) {
        u64 X = x[j];
        X = X >= two_q ? X - two_q : X;
        const u64 T = mul_shoup_lazy(y[j], W, Ws, q);
        x[j] = X + T;
        y[j] = X - T + two_q;
      }
    }
  }
}

}  // namespace

void ntt_forward_lazy(u64* a, const NttTables& t) {
  if (!forward_vec(a, t, false)) forward_lazy_scalar(a, t);
}

void ntt_forward(u64* a, const NttTables& t) {
  if (forward_vec(a, t, true)) return;
  forward_lazy_scalar(a, t);
  const std::size_t n = t.n();
  const u64 q = t.modulus().value();
  const u64 two_q = 2 * q;
  for (std::size_t i = 0; i < n; ++i) {
    u64 x = a[i];
    x = x >= two_q ? x - two_q : x;
    a[i] = x >= q ? x - q : x;
  }
}

void ntt_inverse(u64* a, const NttTables& t) {
  if (inverse_vec(a, t)) return;
  const std::size_t n = t.n();
  const u64 q = t.modulus().value();
  const u64 two_q = 2 * q;
  const u64* w = t.inv_roots();
  const u64* ws = t.inv_roots_shoup();
  std::size_t gap = 1;
  std::size_t k = 0;
  for (std::size_t h = n >> 1; h > 1; h >>= 1, gap <<= 1) {
    for (std::size_t i = 0; i < h; ++i, ++k) {
      const u64 W = w[k], Ws = ws[k];
      u64* x = a + 2 * i * gap;
      u64* y = x + gap;
      for (std::size_t j = 0; j < gap; ++j) {
        const u64 X = x[j], Y = y[j];
        u64 s = X + Y;
        s = s >= two_q ? s - two_q : s;
        x[j] = s;
        y[j] = mul_shoup_lazy(X - Y + two_q, W, Ws, q);
      }
    }
  }
  // Last stage (one group, gap n/2) with n^-1 folded in; outputs fully reduced.
  const ShoupConst ni = t.n_inv(), niw = t.n_inv_w();
  u64* x = a;
  u64* y = a + gap;
  for (std::size_t j = 0; j < gap; ++j) {
    const u64 X = x[j], Y = y[j];
    u64 s = X + Y;
    s = s >= two_q ? s - two_q : s;
    x[j] = mul_shoup(s, ni.value, ni.shoup, q);
    y[j] = mul_shoup(X - Y + two_q, niw.value, niw.shoup, q);
  }
}

std::vector<std::uint32_t> ntt_galois_permutation(int log_n, std::uint64_t galois_elt) {
  const std::size_t n = std::size_t{1} << log_n;
  const std::uint64_t mask = 2 * n - 1;
  HEAL_REQUIRE((galois_elt & 1) == 1 && galois_elt < 2 * n, "galois element must be odd and < 2n");
  // Slot i holds A(psi^e_i), e_i = 2*bitrev(i)+1. sigma_g A evaluated there is A(psi^(g*e_i)),
  // which is stored at index j with 2*bitrev(j)+1 = g*e_i mod 2n.
  std::vector<std::uint32_t> perm(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t e = 2 * reverse_bits(static_cast<std::uint32_t>(i), log_n) + 1;
    const std::uint64_t ge = (galois_elt * e) & mask;
    perm[i] = reverse_bits(static_cast<std::uint32_t>((ge - 1) >> 1), log_n);
  }
  return perm;
}

}  // namespace heal::math
