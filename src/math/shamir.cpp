// Shamir secret sharing over Z_q and over RNS bases (see shamir.h).
#include "heal/math/shamir.h"

#include "heal/math/sampler.h"

namespace heal::math {

namespace {
void check_points(std::span<const u64> xs, const Modulus& q) {
  for (std::size_t i = 0; i < xs.size(); ++i) {
    HEAL_REQUIRE(q.reduce(xs[i]) != 0, "shamir: evaluation point " << xs[i] << " is 0 mod q");
    for (std::size_t j = 0; j < i; ++j) {
      HEAL_REQUIRE(q.reduce(xs[i]) != q.reduce(xs[j]), "shamir: evaluation points must be distinct (" << xs[i] << ")");
    }
  }
}
}  // namespace

u64 lagrange_at_zero(std::span<const u64> xs, std::size_t index, const Modulus& q) {
  HEAL_REQUIRE(index < xs.size(), "lagrange_at_zero: index out of range");
  check_points(xs, q);
  const u64 xi = q.reduce(xs[index]);
  u64 num = 1, den = 1;
  for (std::size_t m = 0; m < xs.size(); ++m) {
    if (m == index) continue;
    const u64 xm = q.reduce(xs[m]);
    num = q.mul(num, xm);
    den = q.mul(den, q.sub(xm, xi));
  }
  return q.mul(num, q.inv(den));
}

std::vector<u64> shamir_share(u64 secret, std::span<const u64> xs, std::size_t t, const Modulus& q, Rng& rng) {
  HEAL_REQUIRE(t >= 1 && t <= xs.size(), "shamir_share: threshold " << t << " must be in [1, " << xs.size() << "]");
  HEAL_REQUIRE(secret < q.value(), "shamir_share: secret must be reduced mod q");
  check_points(xs, q);
  std::vector<u64> coeffs(t);
  coeffs[0] = secret;
  for (std::size_t k = 1; k < t; ++k) coeffs[k] = sample_uniform_mod(rng, q);
  std::vector<u64> out(xs.size());
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const u64 x = q.reduce(xs[j]);
    u64 acc = 0;
    for (std::size_t k = t; k-- > 0;) acc = q.add(q.mul(acc, x), coeffs[k]);  // Horner
    out[j] = acc;
  }
  secure_wipe(coeffs.data(), coeffs.size() * sizeof(u64));
  return out;
}

u64 shamir_reconstruct(std::span<const u64> xs, std::span<const u64> shares, const Modulus& q) {
  HEAL_REQUIRE(xs.size() == shares.size() && !xs.empty(), "shamir_reconstruct: need one share per point");
  u64 acc = 0;
  for (std::size_t j = 0; j < xs.size(); ++j) acc = q.add(acc, q.mul(lagrange_at_zero(xs, j, q), shares[j]));
  return acc;
}

std::vector<RnsPoly> shamir_share_poly(const RnsPoly& secret, const RnsBasis& basis, std::span<const u64> xs,
                                       std::size_t t, Rng& rng) {
  HEAL_REQUIRE(t >= 1 && t <= xs.size(), "shamir_share_poly: threshold " << t << " must be in [1, " << xs.size() << "]");
  HEAL_REQUIRE(secret.num_limbs() <= basis.size() && secret.n() == basis.n(), "shamir_share_poly: secret does not fit the basis");
  const std::size_t n = secret.n(), limbs = secret.num_limbs();
  std::vector<RnsPoly> out;
  for (std::size_t j = 0; j < xs.size(); ++j) out.emplace_back(n, limbs, secret.is_ntt());
  std::vector<u64> coeffs(t);
  for (std::size_t i = 0; i < limbs; ++i) {
    const Modulus& q = basis.modulus(i);
    check_points(xs, q);
    std::vector<u64> x(xs.size());
    for (std::size_t j = 0; j < xs.size(); ++j) x[j] = q.reduce(xs[j]);
    const u64* s = secret.limb(i);
    for (std::size_t c = 0; c < n; ++c) {
      coeffs[0] = s[c];
      for (std::size_t k = 1; k < t; ++k) coeffs[k] = sample_uniform_mod(rng, q);
      for (std::size_t j = 0; j < xs.size(); ++j) {
        u64 acc = 0;
        for (std::size_t k = t; k-- > 0;) acc = q.add(q.mul(acc, x[j]), coeffs[k]);
        out[j].limb(i)[c] = acc;
      }
    }
  }
  secure_wipe(coeffs.data(), coeffs.size() * sizeof(u64));
  return out;
}

RnsPoly lagrange_scale_poly(const RnsPoly& share, std::span<const u64> xs, std::size_t index, const RnsBasis& basis) {
  HEAL_REQUIRE(share.num_limbs() <= basis.size(), "lagrange_scale_poly: share does not fit the basis");
  std::vector<u64> lam(share.num_limbs());
  for (std::size_t i = 0; i < lam.size(); ++i) lam[i] = lagrange_at_zero(xs, index, basis.modulus(i));
  RnsPoly out = share;
  out.mul_scalar_inplace(lam, basis);
  return out;
}

RnsPoly shamir_reconstruct_poly(std::span<const u64> xs, std::span<const RnsPoly> shares, const RnsBasis& basis) {
  HEAL_REQUIRE(xs.size() == shares.size() && !xs.empty(), "shamir_reconstruct_poly: need one share per point");
  RnsPoly acc(shares[0].n(), shares[0].num_limbs(), shares[0].is_ntt());
  for (std::size_t j = 0; j < xs.size(); ++j) {
    HEAL_REQUIRE(shares[j].n() == acc.n() && shares[j].num_limbs() == acc.num_limbs() && shares[j].is_ntt() == acc.is_ntt(),
                 "shamir_reconstruct_poly: shares have different shapes");
    acc.add_inplace(lagrange_scale_poly(shares[j], xs, j, basis), basis);
  }
  return acc;
}

}  // namespace heal::math
