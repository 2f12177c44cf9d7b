// Internals of the HE aggregator: shared public state, per-party secret material and the wire
// format of contributions / aggregates / decryption shares (he_wire.cpp). Encoding, encryption
// and share combination are the ckks layer's (ckks::Encoder, ckks::Encryptor,
// ckks::multiparty::combine_decryption_shares).
//
// Wire format (HEAL header ObjectType::kFlUpdate, version 3 = kRoundWireVersion; PlainAggregator
// uses version 1, the setup messages of he_keygen.cpp version 2; version-2 round messages, whose
// chunks were uncompressed, are refused):
//   u8 kind (3 contribution, 4 aggregate, 5 decryption share), u64 round, 32-byte parameter hash,
//   u32 count + count u32 fl party ids (contribution: the contributor; aggregate: the sorted
//   contributor set C; share: the producer), u64 length (weights), u32 chunks,
//   then per chunk u64 size + a ckks object: kCkksCompactSeededCiphertext (contribution: the
//   per-round chunk seed and c0 without its Shared::drop_bits low bits), kCkksSeededCiphertext
//   (aggregate: the exact sum, bit-packed residues) or kCkksCompactDecryptionShare (share, also
//   without drop_bits low bits). drop_bits is derived from the public parameters (he_aggregator.cpp
//   compute_drop_bits) and every reader refuses chunks compressed with another value.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/multiparty/flooding.h"
#include "heal/ckks/multiparty/shares.h"
#include "heal/ckks/params.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/node_store.h"

namespace heal::fl::he {

constexpr std::uint16_t kWireVersion = 2;       // setup messages (he_keygen.cpp)
constexpr std::uint16_t kRoundWireVersion = 3;  // contributions, aggregates, decryption shares
constexpr std::uint8_t kContribution = 3;
constexpr std::uint8_t kAggregate = 4;
constexpr std::uint8_t kShare = 5;

/// Public state every party and the aggregator agree on at setup.
struct Shared {
  HeAggregatorConfig config;
  ckks::ContextPtr ctx;
  std::shared_ptr<const ckks::Encoder> encoder;  // coefficient encoding at scale delta
  std::size_t parties = 0;
  std::uint32_t threshold = 0;
  std::uint32_t colluders = 0;    // colluders tolerated (threshold rules, he_aggregator.cpp)
  std::uint32_t min_parties = 0;  // the fewest contributors a key holder decrypts a sum over
  Seed crs{};
  double delta = 1;
  Digest params_hash{};
  Digest cpk_hash{};
  ckks::multiparty::FloodingParams flooding;
  /// Low bits dropped from contributions (c0) and decryption shares (ckks::save_compact).
  int drop_bits = 0;
};

/// A contribution's chunk (compact, drop_bits checked) and an aggregate's chunk (exact).
Result<ckks::SeededCiphertext> load_contribution_chunk(const Shared& sh, std::span<const std::uint8_t> bytes);
Result<ckks::multiparty::DecryptionShare> load_share_chunk(const Shared& sh, std::span<const std::uint8_t> bytes);

/// One party's secret material (simulation: created at setup, handed to the party object).
struct Material {
  ckks::SecretKey secret;                             // additive secret s_i (key basis, NTT)
  std::vector<ckks::multiparty::KeyShare> received;   // f_sender(x_i), indexed by sender fl id
};

/// The public state of `config` with `num_parties` parties, CRS derived from config.seed (the
/// simulation's); the dealer-free setup overwrites crs. Throws std::invalid_argument on a bad config.
std::shared_ptr<Shared> make_shared_state(const HeAggregatorConfig& config, std::size_t num_parties);

/// Seed of a_{round, chunk}: BLAKE2b("HEAL-fl-he-a" || crs || round || chunk).
Seed chunk_seed(const Seed& crs, std::uint64_t round, std::uint64_t chunk);

/// A parsed message (chunks as raw ckks object bytes, not yet loaded).
struct Parsed {
  std::uint8_t kind = 0;
  std::uint64_t round = 0;
  std::vector<PartyId> ids;
  std::uint64_t length = 0;
  std::vector<std::span<const std::uint8_t>> chunks;
};

Bytes write_message(const Shared& sh, std::uint8_t kind, std::uint64_t round, std::span<const PartyId> ids,
                    std::uint64_t length, std::span<const Bytes> chunks);
/// Validates header, kind, round, parameter hash, length and chunk count against `sh`.
Result<Parsed> read_message(const Shared& sh, std::span<const std::uint8_t> bytes, std::uint8_t kind,
                            std::uint64_t round, std::size_t length);

/// Number of ciphertexts for `length` weights.
inline std::size_t chunk_count(const Shared& sh, std::size_t length) { return (length + sh.ctx->n() - 1) / sh.ctx->n(); }

/// The party object (he_aggregator_party.cpp). With a `store`, it records every contribution and
/// decryption share there before making it and refuses what the store refuses (node_store.h).
std::unique_ptr<AggregationParty> make_party(std::shared_ptr<const Shared> sh, PartyId id, Material material,
                                             std::shared_ptr<NodeStore> store = nullptr);

/// Party `id`'s material as the secret bytes of its node store (he_material.cpp): u16 version 1,
/// u32 party, u64 length + ckks secret key, u32 count, then per sender u64 length + ckks key share.
SecretBytes save_material(const Shared& sh, PartyId id, const Material& material);
/// Parses and checks material read back from a store (party, share count, ckks objects).
Result<Material> load_material(const Shared& sh, PartyId id, std::span<const std::uint8_t> bytes);

}  // namespace heal::fl::he
