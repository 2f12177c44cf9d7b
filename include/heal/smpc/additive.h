// Secret sharing for the smpc layer.
//
//  - n-of-n additive sharing over Z_{2^64}: a vector x is split into n vectors whose sum mod 2^64 is
//    x; n-1 of them are uniformly random (drawn from the caller's heal::Rng, a SystemRng in
//    production), the last is x minus their sum. Any n-1 shares are jointly uniform and independent
//    of x; all n are needed.
//  - t-of-n Shamir sharing of byte strings (32-byte seeds and X25519 secret keys in secagg.h) over
//    the prime field GF(p), p = 2^61 - 1 (a Mersenne prime, odd and < 2^62 as math::Modulus needs).
//    The string is cut into 7-byte little-endian limbs (each < 2^56 < p; the last limb holds the
//    remaining 1..7 bytes), and every limb is shared independently with heal::math::shamir_share
//    (Shamir, CACM 1979). A 32-byte seed is 5 limbs, so a share is 5 field elements (40 bytes).
//    Any t shares reconstruct; any t-1 shares are uniform in GF(p)^limbs and independent of the
//    string. Share points are the parties' nonzero ids (< p).
//
// This is not verifiable secret sharing: a wrong share from a malicious party is detected only
// when more than t shares are given (shamir_reconstruct_bytes checks that every extra share lies on
// the polynomial interpolated from the first t) or when a reconstructed limb is out of the 7-byte
// range; with exactly t shares a wrong share goes unnoticed here (secagg.h adds its own checks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"

namespace heal::smpc {

/// n additive shares of `secret` over Z_{2^64} (n >= 1); shares[i] has secret.size() words.
std::vector<std::vector<std::uint64_t>> additive_share(std::span<const std::uint64_t> secret, std::size_t n, Rng& rng);
/// Sum mod 2^64 of equally long shares.
std::vector<std::uint64_t> additive_reconstruct(std::span<const std::vector<std::uint64_t>> shares);

/// The Shamir field prime 2^61 - 1.
inline constexpr std::uint64_t kShamirPrime = (std::uint64_t{1} << 61) - 1;
/// Bytes per limb (7: every limb is < 2^56 < p).
inline constexpr std::size_t kShamirLimbBytes = 7;
/// Number of field elements in one share of an `secret_len`-byte string (ceil(len / 7)).
constexpr std::size_t shamir_limbs(std::size_t secret_len) {
  return (secret_len + kShamirLimbBytes - 1) / kShamirLimbBytes;
}

/// One party's share of a byte string: its point x and one field element per limb.
struct ByteShare {
  std::uint64_t x = 0;
  std::vector<std::uint64_t> limbs;
};

/// Shares `secret` (nonempty) among the points xs (distinct, nonzero, < p) with threshold t
/// (1 <= t <= |xs|); HEAL_REQUIRE on misuse. Returns one share per point, in the order of xs.
std::vector<ByteShare> shamir_share_bytes(std::span<const std::uint8_t> secret, std::span<const std::uint64_t> xs,
                                          std::size_t t, Rng& rng);

/// Reconstructs a `secret_len`-byte string from shares that may come from other parties (outside
/// input): Corruption/InvalidArgument, never a crash, when there are fewer than t shares, points
/// repeat or are 0 or >= p, a share has the wrong number of limbs or a limb >= p, an extra share
/// (beyond the first t) is inconsistent with the others, or a reconstructed limb does not fit its
/// byte range.
Result<SecretBytes> shamir_reconstruct_bytes(std::span<const ByteShare> shares, std::size_t t, std::size_t secret_len);

}  // namespace heal::smpc
