#include "heal/math/rns_poly.h"

#include "ntt_simd.h"

#include <algorithm>
#include <cstring>

#include "heal/core/rng.h"
#include "heal/math/poly_kernels.h"

namespace heal::math {

RnsPoly RnsPoly::uninitialized(std::size_t n, std::size_t limbs, bool ntt_form) {
  RnsPoly p;
  p.n_ = n;
  p.limbs_ = limbs;
  p.ntt_ = ntt_form;
  p.data_ = U64Buffer(n * limbs, false);
  return p;
}

RnsPoly RnsPoly::from_signed(std::span<const std::int64_t> coeffs, const RnsBasis& basis, std::size_t limbs) {
  HEAL_REQUIRE(limbs <= basis.size(), "RnsPoly::from_signed: basis has fewer primes than limbs");
  const std::size_t n = coeffs.size();
  HEAL_REQUIRE(n == basis.n(), "RnsPoly::from_signed: expected " << basis.n() << " coefficients");
  RnsPoly p = uninitialized(n, limbs, false);
  // Small coefficients (|c| < 2^31 < every prime: noise, secrets) take a branch-free path.
  bool small = true;
  for (std::size_t j = 0; j < n && small; ++j) small = coeffs[j] > -(std::int64_t{1} << 31) && coeffs[j] < (std::int64_t{1} << 31);
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = basis.modulus(i);
    u64* d = p.limb(i);
    if (small && q.value() > (u64{1} << 31)) {
      lift_signed_vec(coeffs.data(), d, n, q);
    } else {
      for (std::size_t j = 0; j < n; ++j) d[j] = q.from_signed(coeffs[j]);
    }
  }
  return p;
}

void RnsPoly::ntt_inplace(const RnsBasis& basis) {
  HEAL_REQUIRE(!ntt_, "RnsPoly::ntt_inplace: already in NTT form");
  HEAL_DCHECK(basis.size() >= limbs_ && basis.n() == n_);
  for (std::size_t i = 0; i < limbs_; ++i) ntt_forward(limb(i), basis.ntt(i));
  ntt_ = true;
}

void RnsPoly::intt_inplace(const RnsBasis& basis) {
  HEAL_REQUIRE(ntt_, "RnsPoly::intt_inplace: not in NTT form");
  HEAL_DCHECK(basis.size() >= limbs_ && basis.n() == n_);
  for (std::size_t i = 0; i < limbs_; ++i) ntt_inverse(limb(i), basis.ntt(i));
  ntt_ = false;
}

namespace {
void check_same_shape(const RnsPoly& a, const RnsPoly& b) {
  HEAL_REQUIRE(a.n() == b.n() && a.num_limbs() == b.num_limbs() && a.is_ntt() == b.is_ntt(),
               "RnsPoly: operands differ in degree, limb count or form");
}
}  // namespace

void RnsPoly::add_inplace(const RnsPoly& b, const RnsBasis& basis) {
  check_same_shape(*this, b);
  for (std::size_t i = 0; i < limbs_; ++i) add_mod_vec(limb(i), b.limb(i), limb(i), n_, basis.modulus(i));
}

void RnsPoly::sub_inplace(const RnsPoly& b, const RnsBasis& basis) {
  check_same_shape(*this, b);
  for (std::size_t i = 0; i < limbs_; ++i) sub_mod_vec(limb(i), b.limb(i), limb(i), n_, basis.modulus(i));
}

void RnsPoly::negate_inplace(const RnsBasis& basis) {
  for (std::size_t i = 0; i < limbs_; ++i) {
    const u64 q = basis.modulus(i).value();
    u64* x = limb(i);
    for (std::size_t j = 0; j < n_; ++j) x[j] = x[j] == 0 ? 0 : q - x[j];
  }
}

void RnsPoly::mul_inplace(const RnsPoly& b, const RnsBasis& basis) {
  check_same_shape(*this, b);
  HEAL_REQUIRE(ntt_, "RnsPoly::mul_inplace: operands must be in NTT form");
  for (std::size_t i = 0; i < limbs_; ++i) mul_mod_vec(limb(i), b.limb(i), limb(i), n_, basis.modulus(i));
}

void RnsPoly::fma_inplace(const RnsPoly& a, const RnsPoly& b, const RnsBasis& basis) {
  check_same_shape(*this, a);
  check_same_shape(a, b);
  HEAL_REQUIRE(ntt_, "RnsPoly::fma_inplace: operands must be in NTT form");
  for (std::size_t i = 0; i < limbs_; ++i) mul_add_mod_vec(a.limb(i), b.limb(i), limb(i), limb(i), n_, basis.modulus(i));
}

void RnsPoly::mul_scalar_inplace(std::span<const u64> scalars, const RnsBasis& basis) {
  HEAL_REQUIRE(scalars.size() >= limbs_, "RnsPoly::mul_scalar_inplace: one scalar per limb expected");
  for (std::size_t i = 0; i < limbs_; ++i) {
    const u64 q = basis.modulus(i).value();
    const ShoupConst c(scalars[i], q);
    u64* x = limb(i);
    for (std::size_t j = 0; j < n_; ++j) x[j] = mul_shoup(x[j], c.value, c.shoup, q);
  }
}

void RnsPoly::add_scalar_ntt_inplace(std::span<const u64> scalars, const RnsBasis& basis) {
  HEAL_REQUIRE(scalars.size() >= limbs_, "RnsPoly::add_scalar_ntt_inplace: one scalar per limb expected");
  for (std::size_t i = 0; i < limbs_; ++i) {
    const u64 q = basis.modulus(i).value();
    const u64 c = scalars[i];
    u64* x = limb(i);
    for (std::size_t j = 0; j < n_; ++j) {
      const u64 s = x[j] + c;
      x[j] = s >= q ? s - q : s;
    }
  }
}

RnsPoly RnsPoly::automorphism(std::uint64_t galois_elt, const RnsBasis& basis,
                              const std::vector<std::uint32_t>* ntt_perm) const {
  HEAL_REQUIRE((galois_elt & 1) == 1 && galois_elt < 2 * n_, "automorphism: galois element must be odd and < 2n");
  RnsPoly out = uninitialized(n_, limbs_, ntt_);
  if (ntt_) {
    std::vector<std::uint32_t> local;
    if (!ntt_perm) {
      local = ntt_galois_permutation(basis.log_n(), galois_elt);
      ntt_perm = &local;
    }
    const std::uint32_t* perm = ntt_perm->data();
    for (std::size_t i = 0; i < limbs_; ++i) {
      const u64* x = limb(i);
      u64* y = out.limb(i);
      for (std::size_t j = 0; j < n_; ++j) y[j] = x[perm[j]];
    }
  } else {
    const std::uint64_t mask = 2 * n_ - 1;
    for (std::size_t i = 0; i < limbs_; ++i) {
      const u64 q = basis.modulus(i).value();
      const u64* x = limb(i);
      u64* y = out.limb(i);
      for (std::size_t j = 0; j < n_; ++j) {
        const std::uint64_t k = (j * galois_elt) & mask;
        if (k < n_) {
          y[k] = x[j];
        } else {
          y[k - n_] = x[j] == 0 ? 0 : q - x[j];
        }
      }
    }
  }
  return out;
}

void RnsPoly::drop_limbs(std::size_t k) {
  HEAL_REQUIRE(k <= limbs_, "RnsPoly::drop_limbs: cannot drop " << k << " of " << limbs_ << " limbs");
  limbs_ -= k;
  data_.shrink(limbs_ * n_);
}

void RnsPoly::rescale_inplace(const RnsBasis& basis) {
  HEAL_REQUIRE(limbs_ >= 2, "RnsPoly::rescale_inplace: need at least two limbs");
  const std::size_t l = limbs_ - 1;
  const Modulus& ql = basis.modulus(l);
  const u64 qlv = ql.value();
  const u64 half = qlv >> 1;
  // Work on the last limb in coefficient form; add q_l/2 so that the floor becomes a rounding.
  U64Buffer last(n_, false);
  std::memcpy(last.data(), limb(l), n_ * sizeof(u64));
  if (ntt_) ntt_inverse(last.data(), basis.ntt(l));
  add_const_mod_vec(last.data(), half, last.data(), n_, ql);
  U64Buffer tmp(n_, false);
  for (std::size_t i = 0; i < l; ++i) {
    const Modulus& qi = basis.modulus(i);
    const u64 qv = qi.value();
    const u64 half_mod = qi.reduce(half);
    const ShoupConst inv(qi.inv(qi.reduce(qlv)), qv);
#if HEAL_X86_KERNELS
    if (ntt_ && qlv < (u64{1} << 50) && basis.ntt(i).kernel() == NttTables::Kernel::kAvx2) {
      detail::rescale_limb_avx2(limb(i), last.data(), half_mod, inv.value, basis.ntt(i), tmp.data());
      continue;
    }
#endif
    // tmp = (last - q_l/2) mod q_i
    for (std::size_t j = 0; j < n_; ++j) {
      const u64 r = qi.reduce(last[j]);
      tmp[j] = r >= half_mod ? r - half_mod : r + qv - half_mod;
    }
    if (ntt_) ntt_forward(tmp.data(), basis.ntt(i));
    sub_mul_const_vec(limb(i), tmp.data(), inv, limb(i), n_, qi);  // (x - tmp) / q_l mod q_i
  }
  drop_limbs(1);
}

void RnsPoly::set_zero() {
  if (data_.size()) std::memset(data_.data(), 0, data_.size() * sizeof(u64));
}

void RnsPoly::wipe() {
  data_.wipe();  // the whole capacity: limbs dropped by drop_limbs / rescale still hold old residues
  limbs_ = 0;
}

bool operator==(const RnsPoly& a, const RnsPoly& b) {
  if (a.n_ != b.n_ || a.limbs_ != b.limbs_ || a.ntt_ != b.ntt_) return false;
  return a.limbs_ == 0 || std::memcmp(a.data(), b.data(), a.n_ * a.limbs_ * sizeof(u64)) == 0;
}

}  // namespace heal::math
