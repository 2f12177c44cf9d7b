// Shamir secret sharing (Shamir, "How to share a secret", CACM 1979) over Z_q and, limb by limb,
// over an RNS basis: an RnsPoly secret s is shared with a random polynomial
// f(X) = s + a_1 X + ... + a_{t-1} X^{t-1} per coefficient and per prime q_i; party j receives
// f(x_j). Independent sharings per prime are, by the CRT, one sharing over Z_Q with uniform
// coefficients. Any t shares reconstruct s = sum_j lambda_j f(x_j) (Lagrange coefficients at 0);
// any t-1 shares are uniformly distributed and reveal nothing about s.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "heal/core/rng.h"
#include "heal/math/modulus.h"
#include "heal/math/rns_poly.h"

namespace heal::math {

/// Lagrange coefficient at 0 of point `xs[index]` for the set `xs` modulo q:
/// prod_{m != index} x_m / (x_m - x_index). Requires distinct nonzero points mod q.
u64 lagrange_at_zero(std::span<const u64> xs, std::size_t index, const Modulus& q);

/// Shares the scalar `secret` (< q) among the points `xs` with threshold t (1 <= t <= |xs|).
std::vector<u64> shamir_share(u64 secret, std::span<const u64> xs, std::size_t t, const Modulus& q, Rng& rng);

/// Reconstructs the secret from (xs[j], shares[j]) for at least t points (all points are used).
u64 shamir_reconstruct(std::span<const u64> xs, std::span<const u64> shares, const Modulus& q);

/// Shares every residue of `secret` (its first num_limbs() primes of `basis`) with threshold t:
/// returns one polynomial per point, same shape and form (NTT or not) as the secret.
std::vector<RnsPoly> shamir_share_poly(const RnsPoly& secret, const RnsBasis& basis, std::span<const u64> xs,
                                       std::size_t t, Rng& rng);

/// Reconstructs a shared polynomial from the shares of the points xs (all used).
RnsPoly shamir_reconstruct_poly(std::span<const u64> xs, std::span<const RnsPoly> shares, const RnsBasis& basis);

/// share * lambda_index(xs) limb by limb: the additive share of party xs[index] for the quorum xs.
RnsPoly lagrange_scale_poly(const RnsPoly& share, std::span<const u64> xs, std::size_t index, const RnsBasis& basis);

}  // namespace heal::math
