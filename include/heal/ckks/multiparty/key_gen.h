// Collective key generation (Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, ePrint 2020/304):
// n parties with secrets s_i (ideal secret s = sum_i s_i, never assembled anywhere) build the
// public key, relinearization key and Galois keys of s from a common reference string (a public
// 32-byte CRS seed that expands to the uniform `a` polynomials). Only the local steps live here;
// moving shares between parties is the caller's business (they are public, except Shamir ones).
#pragma once

#include <memory>
#include <span>

#include "heal/ckks/keys.h"
#include "heal/ckks/multiparty/shares.h"
#include "heal/ckks/params.h"
#include "heal/core/rng.h"

namespace heal::ckks::multiparty {

/// Sums shares of one kind (same layout); InvalidArgument-style HEAL_REQUIRE on a mismatch.
KeyShare sum_key_shares(const Context& ctx, std::span<const KeyShare> shares);

/// Collective public key (protocol CKG): p_i = -a s_i + e_i; pk = (sum_i p_i, a).
class CollectivePublicKeyGen {
 public:
  CollectivePublicKeyGen(ContextPtr ctx, const Seed& crs);
  /// Party step: the share of secret s_i.
  KeyShare gen_share(PartyId party, const SecretKey& s_i, Rng& noise_rng) const;
  /// Sum of shares (of all parties, or partial sums).
  KeyShare aggregate_shares(std::span<const KeyShare> shares) const;
  /// The public key from the sum of every party's share.
  PublicKey finalize(const KeyShare& aggregate) const;

 private:
  ContextPtr ctx_;
  Seed crs_;
};

/// A party's ephemeral secret between the two rounds of the relinearization-key protocol.
class RelinKeyGenState {
 public:
  RelinKeyGenState() = default;
  ~RelinKeyGenState() { u_.wipe(); }
  RelinKeyGenState(const RelinKeyGenState&) = delete;
  RelinKeyGenState& operator=(const RelinKeyGenState&) = delete;
  RelinKeyGenState(RelinKeyGenState&&) noexcept = default;
  RelinKeyGenState& operator=(RelinKeyGenState&&) noexcept = default;
  bool ready() const { return !u_.empty(); }

 private:
  friend class CollectiveRelinKeyGen;
  math::RnsPoly u_;
};

/// Collective relinearization key (two-round protocol RKG of ePrint 2020/304), with the hybrid
/// gadget w_j = P * [digit j indicator] of the context:
///   round 1: h0_i = -u_i a + s_i w + e0_i,   h1_i = s_i a + e1_i        (a from the CRS)
///   round 2: h0'_i = s_i h0 + e2_i,          h1'_i = (u_i - s_i) h1 + e3_i  (h0, h1 = round-1 sums)
///   key: b = h0' + h1', a' = h1, so b + a' s = s^2 w + small.
class CollectiveRelinKeyGen {
 public:
  CollectiveRelinKeyGen(ContextPtr ctx, const Seed& crs);
  /// Round 1 of party `party`; fills `state` with its ephemeral secret u_i.
  KeyShare gen_share(PartyId party, const SecretKey& s_i, RelinKeyGenState& state, Rng& rng) const;
  /// Round 2 of party `party` given the aggregated round-1 share; consumes (wipes) `state`.
  KeyShare gen_share_round2(PartyId party, const SecretKey& s_i, RelinKeyGenState& state,
                            const KeyShare& round1_aggregate, Rng& noise_rng) const;
  /// Sum of round-1 or of round-2 shares.
  KeyShare aggregate_shares(std::span<const KeyShare> shares) const;
  /// The relinearization key from both aggregates.
  RelinKey finalize(const KeyShare& round1_aggregate, const KeyShare& round2_aggregate) const;

 private:
  ContextPtr ctx_;
  Seed crs_;
};

/// Collective Galois (rotation/conjugation) keys (protocol RTG of ePrint 2020/304):
/// h_i = -a s_i + e_i + w sigma_g(s_i); key = (sum_i h_i, a), a from a per-element CRS seed.
class CollectiveGaloisKeyGen {
 public:
  CollectiveGaloisKeyGen(ContextPtr ctx, const Seed& crs);
  /// Party step for Galois element g.
  KeyShare gen_share(PartyId party, const SecretKey& s_i, std::uint64_t galois_elt, Rng& noise_rng) const;
  KeyShare aggregate_shares(std::span<const KeyShare> shares) const;
  /// Adds the key of the aggregate's Galois element to `keys`.
  void finalize(const KeyShare& aggregate, GaloisKeys& keys) const;
  /// The seed the `a` polynomials of element g expand from (BLAKE2b of CRS and g).
  Seed element_seed(std::uint64_t galois_elt) const;

 private:
  ContextPtr ctx_;
  Seed crs_;
};

}  // namespace heal::ckks::multiparty
