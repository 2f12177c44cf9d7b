// Messages of the multiparty CKKS protocols (Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux,
// "Multiparty homomorphic encryption from ring-learning-with-errors", ePrint 2020/304).
// Every protocol object has the same three verbs: gen_share (a party's local step),
// aggregate_shares (anyone: sums shares) and finalize (anyone: builds the result). Shares are
// serialized as ObjectType::kCkksKeyShare / kCkksDecryptionShare / kCkksRefreshShare
// (heal/ckks/serialization.h).
#pragma once

#include <cstdint>
#include <vector>

#include "heal/core/rng.h"
#include "heal/math/rns_poly.h"

namespace heal::ckks::multiparty {

/// Identifier of a party; also its Shamir evaluation point, so it must be >= 1.
using PartyId = std::uint32_t;

/// Which protocol a key share belongs to (part of the serialized format: never renumber).
enum class ShareKind : std::uint8_t {
  kPublicKey = 1,     ///< polys = {p_i} over the key basis
  kRelinRound1 = 2,   ///< polys = {h0_0..h0_{d-1}, h1_0..h1_{d-1}} over the key basis
  kRelinRound2 = 3,   ///< same layout as round 1
  kGaloisKey = 4,     ///< polys = {h_0..h_{d-1}} over the key basis; galois_elt set
  kShamirSecret = 5,  ///< polys = {f_sender(x_recipient)} over the key basis: SECRET, send privately
};

/// A party's (or an aggregated) contribution to a collective key. Wiped on destruction.
struct KeyShare {
  ShareKind kind = ShareKind::kPublicKey;
  PartyId party = 0;             ///< sender (0 for an aggregate of several parties)
  PartyId recipient = 0;         ///< kShamirSecret only: the party this share is for
  std::uint64_t galois_elt = 0;  ///< kGaloisKey only
  std::vector<math::RnsPoly> polys;

  KeyShare() = default;
  KeyShare(const KeyShare&) = default;
  KeyShare& operator=(const KeyShare&) = default;
  KeyShare(KeyShare&&) noexcept = default;
  KeyShare& operator=(KeyShare&&) noexcept = default;
  ~KeyShare() {
    for (auto& p : polys) p.wipe();
  }
};

/// A partial decryption c1 * s_i + e_flood (NTT form over q_0..q_level), or the sum of several.
struct DecryptionShare {
  PartyId party = 0;               ///< producer (0 for an aggregate)
  std::vector<PartyId> parties;    ///< every party whose share is included (sorted)
  math::RnsPoly h;
};

/// A party's (or an aggregated) collective-bootstrapping share (CollectiveBootstrapper):
/// h0 = s_i c1 + M_i + e0_i over q_0..q_l (the input's level) and h1 = -s_i a' - M_i + e1_i over
/// q_0..q_L, both NTT form. Each alone is masked; the mask M_i cancels only in the sum.
struct RefreshShare {
  PartyId party = 0;             ///< producer (0 for an aggregate)
  std::vector<PartyId> parties;  ///< every party whose share is included (sorted)
  std::vector<PartyId> quorum;   ///< t-of-n: the quorum the shares were made for (sorted); empty for n-of-n
  std::uint64_t session = 0;     ///< the caller's session number, input of the a' seed
  Seed seed{};                   ///< seed of a' (CollectiveBootstrapper::refresh_seed of the ciphertext)
  math::RnsPoly h0, h1;
};

}  // namespace heal::ckks::multiparty
