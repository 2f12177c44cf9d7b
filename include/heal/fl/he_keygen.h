// Dealer-free key setup of secure mode "he" (design: src/fl/README.md, "Dealer-free key setup").
//
// Each hospital runs one HeKeyGenParty. There is no dealer: a party's additive CKKS secret s_i is
// drawn from the Rng it is given and never leaves it; the common reference string is derived from
// public data only (the federation id, e.g. the ledger genesis hash).
//
//   round 0  every party publishes its X25519 box public key (crypto_box_keypair), e.g. on the ledger.
//   round 1  party i sends
//              - its public CKG share p_i = -a s_i + e_i (ePrint 2020/304, protocol CKG; a from the CRS),
//              - to every other party j, f_i(x_j): its Shamir share of s_i on a random degree t-1
//                polynomial f_i with f_i(0) = s_i (ePrint 2022/780), sealed to j's box key
//                (crypto_box_seal) together with (federation, parameters, sender, recipient).
//   round 2  party j opens the shares addressed to it (refusing any bound to another federation,
//            parameter set, sender or recipient), keeps f_i(x_j) per sender i (S_C(x_j) for a
//            contributor set C is their sum) and sums the public shares into the collective public
//            key pk = (sum_i p_i, a); every party and the aggregator obtain the same pk hash.
//
// Sealed boxes hide the share from everyone but its recipient; they do not authenticate the sender
// (anyone holding j's public key can seal to j). Sender authenticity of round messages is the
// transport's / ledger's job (signed envelopes), as for every other fl message.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/node_store.h"

namespace heal::fl {

/// An X25519 public key for crypto_box_seal.
using BoxPublicKey = std::array<std::uint8_t, 32>;

/// CRS of a federation: BLAKE2b-256("HEAL-fl-he-crs-v1" || u64 size || federation_id). Public data only.
Seed he_crs_from_federation(std::span<const std::uint8_t> federation_id);

/// Round-1 output of one party: all of it may travel over an untrusted channel.
struct HeKeyGenRound1 {
  Bytes public_share;         ///< CKG share p_i (public)
  std::vector<Bytes> sealed;  ///< index: recipient fl id; sealed Shamir share (own entry empty)
};

/// Sums the parties' public CKG shares (index: sender) into the public setup of the aggregator:
/// no secret needed. Outside bytes: Status on anything malformed or bound to another setup.
Result<HePublicSetup> he_public_setup(const HeAggregatorConfig& config, std::size_t num_parties,
                                      std::span<const std::uint8_t> federation_id,
                                      std::span<const Bytes> public_shares);

/// A party's key material after round 2 (secret; wiped on destruction).
class HeKeyMaterial {
 public:
  HeKeyMaterial(HeKeyMaterial&&) noexcept;
  HeKeyMaterial& operator=(HeKeyMaterial&&) noexcept;
  ~HeKeyMaterial();

  PartyId party() const;
  /// The public setup (config, parties, CRS, collective public key hash) this party derived.
  const HePublicSetup& public_setup() const;
  /// BLAKE2b-256 of the serialized collective public key (what the ledger's setup record holds).
  const Digest& collective_public_key_hash() const;
  /// The collective public key (ckks serialization).
  const Bytes& collective_public_key() const;
  /// The party object (contributions and decryption shares, byte-compatible with HeAggregator);
  /// copies the key material, so this object may be destroyed afterwards.
  std::unique_ptr<AggregationParty> make_party() const;
  /// Writes this party's key material and fresh safeguards (epoch: the collective public key hash,
  /// budget: config.max_decryptions) to a new node store at `path` (refuses an existing file). A
  /// deployed hospital then acts only through HeAggregator(public_setup()).party_from_store(store),
  /// which records its safeguards write-ahead.
  Result<std::unique_ptr<NodeStore>> create_store(const std::string& path, std::string_view passphrase,
                                                  const VaultKdf& kdf = VaultKdf::moderate()) const;

  /// TESTING ONLY: the additive secret s_i (NTT form over Q, flattened limbs).
  std::vector<std::uint64_t> secret_for_testing() const;
  /// TESTING ONLY: the party's threshold share S(x_i) = sum_j f_j(x_i) (NTT form over Q, flattened limbs).
  std::vector<std::uint64_t> shamir_share_for_testing() const;

 private:
  friend class HeKeyGenParty;
  struct Impl;
  explicit HeKeyMaterial(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// One hospital's side of the dealer-free setup.
class HeKeyGenParty {
 public:
  /// Draws the additive secret s_i from `rng` (callers: SystemRng; tests may pass a SeededRng) and a
  /// fresh X25519 box key pair. `party` is the fl id (0..num_parties-1). Throws std::invalid_argument
  /// on a bad configuration, like HeAggregator.
  HeKeyGenParty(const HeAggregatorConfig& config, std::size_t num_parties, PartyId party,
                std::span<const std::uint8_t> federation_id, Rng& rng);
  ~HeKeyGenParty();
  HeKeyGenParty(const HeKeyGenParty&) = delete;
  HeKeyGenParty& operator=(const HeKeyGenParty&) = delete;

  PartyId party() const;
  const BoxPublicKey& box_public_key() const;
  /// Round 1 given every party's box public key (index: fl id). Noise and Shamir randomness come
  /// from `rng`. May be called once.
  Result<HeKeyGenRound1> round1(std::span<const BoxPublicKey> box_keys, Rng& rng);
  /// Round 2: `public_shares` (index: sender, every party's, own included) and `sealed_to_me`
  /// (index: sender; the entry of this party is ignored). Refuses with a Status naming the sender
  /// and the reason when anything is malformed, not addressed to this party or bound to another
  /// setup. Needs round1 first.
  Result<HeKeyMaterial> round2(std::span<const Bytes> public_shares, std::span<const Bytes> sealed_to_me);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Parses a sealed-share envelope without opening it (the fuzz target's entry): sender and
/// recipient as claimed by the envelope; Status on malformed bytes.
struct HeSealedEnvelope {
  Digest setup{};  ///< the setup digest it is bound to (CRS, parameters, parties, threshold)
  PartyId sender = 0;
  PartyId recipient = 0;
  std::span<const std::uint8_t> box;
};
Result<HeSealedEnvelope> he_parse_sealed_share(std::span<const std::uint8_t> bytes);

}  // namespace heal::fl
