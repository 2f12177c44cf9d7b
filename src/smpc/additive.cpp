#include "heal/smpc/additive.h"

#include <algorithm>
#include <string>

#include "heal/core/check.h"
#include "heal/math/modulus.h"
#include "heal/math/shamir.h"

namespace heal::smpc {

std::vector<std::vector<std::uint64_t>> additive_share(std::span<const std::uint64_t> secret, std::size_t n, Rng& rng) {
  HEAL_REQUIRE(n >= 1, "additive_share: need at least one share");
  std::vector<std::vector<std::uint64_t>> shares(n, std::vector<std::uint64_t>(secret.size()));
  std::vector<std::uint64_t>& last = shares[n - 1];
  std::copy(secret.begin(), secret.end(), last.begin());
  for (std::size_t j = 0; j + 1 < n; ++j) {
    rng.fill({reinterpret_cast<std::uint8_t*>(shares[j].data()), shares[j].size() * sizeof(std::uint64_t)});
    for (std::size_t i = 0; i < secret.size(); ++i) last[i] -= shares[j][i];
  }
  return shares;
}

std::vector<std::uint64_t> additive_reconstruct(std::span<const std::vector<std::uint64_t>> shares) {
  HEAL_REQUIRE(!shares.empty(), "additive_reconstruct: no shares");
  std::vector<std::uint64_t> out(shares[0].size(), 0);
  for (const auto& s : shares) {
    HEAL_REQUIRE(s.size() == out.size(), "additive_reconstruct: shares of different lengths");
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += s[i];
  }
  return out;
}

namespace {

const math::Modulus& field() {
  static const math::Modulus p(kShamirPrime);
  return p;
}

std::uint64_t load_limb(std::span<const std::uint8_t> s, std::size_t k) {
  std::uint64_t v = 0;
  const std::size_t begin = k * kShamirLimbBytes, end = std::min(s.size(), begin + kShamirLimbBytes);
  for (std::size_t i = end; i > begin; --i) v = (v << 8) | s[i - 1];
  return v;
}

// f(x) for the polynomial through (xs[j], ys[j]): Lagrange at 0 of the points shifted by -x.
std::uint64_t interpolate_at(std::span<const std::uint64_t> xs, std::span<const std::uint64_t> ys, std::uint64_t x) {
  const auto& p = field();
  std::vector<std::uint64_t> shifted(xs.size());
  for (std::size_t j = 0; j < xs.size(); ++j) shifted[j] = p.sub(xs[j], x);
  std::uint64_t acc = 0;
  for (std::size_t j = 0; j < xs.size(); ++j) acc = p.add(acc, p.mul(math::lagrange_at_zero(shifted, j, p), ys[j]));
  return acc;
}

}  // namespace

std::vector<ByteShare> shamir_share_bytes(std::span<const std::uint8_t> secret, std::span<const std::uint64_t> xs,
                                          std::size_t t, Rng& rng) {
  HEAL_REQUIRE(!secret.empty(), "shamir_share_bytes: empty secret");
  HEAL_REQUIRE(t >= 1 && t <= xs.size(), "shamir_share_bytes: threshold " << t << " not in [1, " << xs.size() << "]");
  for (std::size_t j = 0; j < xs.size(); ++j) {
    HEAL_REQUIRE(xs[j] != 0 && xs[j] < kShamirPrime, "shamir_share_bytes: point " << xs[j] << " not in [1, p)");
    for (std::size_t m = 0; m < j; ++m) HEAL_REQUIRE(xs[m] != xs[j], "shamir_share_bytes: repeated point " << xs[j]);
  }
  const std::size_t limbs = shamir_limbs(secret.size());
  std::vector<ByteShare> out(xs.size());
  for (std::size_t j = 0; j < xs.size(); ++j) {
    out[j].x = xs[j];
    out[j].limbs.resize(limbs);
  }
  for (std::size_t k = 0; k < limbs; ++k) {
    std::uint64_t limb = load_limb(secret, k);
    const auto sh = math::shamir_share(limb, xs, t, field(), rng);
    for (std::size_t j = 0; j < xs.size(); ++j) out[j].limbs[k] = sh[j];
    secure_wipe(&limb, sizeof limb);
  }
  return out;
}

Result<SecretBytes> shamir_reconstruct_bytes(std::span<const ByteShare> shares, std::size_t t, std::size_t secret_len) {
  HEAL_REQUIRE(t >= 1 && secret_len >= 1, "shamir_reconstruct_bytes: t and secret_len must be positive");
  if (shares.size() < t) {
    return Status::failed_precondition("Shamir: " + std::to_string(shares.size()) + " shares, threshold is " +
                                       std::to_string(t));
  }
  const std::size_t limbs = shamir_limbs(secret_len);
  std::vector<std::uint64_t> xs(shares.size());
  for (std::size_t j = 0; j < shares.size(); ++j) {
    const ByteShare& s = shares[j];
    if (s.x == 0 || s.x >= kShamirPrime) return Status::corruption("Shamir: share point out of range");
    for (std::size_t m = 0; m < j; ++m)
      if (xs[m] == s.x) return Status::corruption("Shamir: two shares for point " + std::to_string(s.x));
    if (s.limbs.size() != limbs) return Status::corruption("Shamir: share has the wrong number of limbs");
    for (std::uint64_t v : s.limbs)
      if (v >= kShamirPrime) return Status::corruption("Shamir: share value not in the field");
    xs[j] = s.x;
  }
  const std::span<const std::uint64_t> base_x(xs.data(), t);
  Bytes out(secret_len);
  std::vector<std::uint64_t> ys(t);
  for (std::size_t k = 0; k < limbs; ++k) {
    for (std::size_t j = 0; j < t; ++j) ys[j] = shares[j].limbs[k];
    for (std::size_t j = t; j < shares.size(); ++j) {
      if (interpolate_at(base_x, ys, xs[j]) != shares[j].limbs[k]) {
        secure_wipe(out);
        return Status::corruption("Shamir: share of point " + std::to_string(xs[j]) +
                                  " is inconsistent with the others");
      }
    }
    std::uint64_t limb = math::shamir_reconstruct(base_x, ys, field());
    const std::size_t begin = k * kShamirLimbBytes, n = std::min(secret_len - begin, kShamirLimbBytes);
    if (n < 8 && (limb >> (8 * n)) != 0) {
      secure_wipe(out);
      return Status::corruption("Shamir: reconstructed value out of range (wrong or mismatched shares)");
    }
    for (std::size_t i = 0; i < n; ++i) out[begin + i] = static_cast<std::uint8_t>(limb >> (8 * i));
    secure_wipe(&limb, sizeof limb);
  }
  secure_wipe(ys.data(), ys.size() * sizeof(std::uint64_t));
  return SecretBytes(std::move(out));
}

}  // namespace heal::smpc
