// Secure aggregation behind one contract, so the round logic does not care whether updates are
// summed in the clear (PlainAggregator, secure mode "none") or under threshold CKKS (to come,
// in ckks/multiparty + an fl adapter):
//
//   each hospital:   contribution = party.contribute(update, weight)      (opaque bytes)
//   anyone:          aggregate    = aggregator.aggregate(contributions)    (opaque bytes)
//   quorum of t:     share_i      = party_i.decryption_share(aggregate, quorum, contributors)  (opaque bytes)
//   anyone:          sum          = aggregator.finalize(aggregate, shares) = sum_i weight_i * update_i
//
// Contribution and aggregate bytes are hashed onto the ledger (UpdateCommitment, RoundResult).
// All inputs are outside bytes: implementations validate them and return Status.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"
#include "heal/fl/model.h"

namespace heal::fl {

/// What a secure aggregator puts in the ledger's setup record.
struct AggregatorSetupInfo {
  std::string secure_mode;             // "none", "threshold-ckks", ...
  std::string params_id;               // parameter-set id ("" if none)
  Digest params_hash{};                // hash of the serialized parameters (zeros if none)
  Digest collective_public_key_hash{}; // hash of the collective public key (zeros if none)
  std::uint32_t decryption_threshold = 0;  // shares needed by finalize (0: none)
  /// The fewest contributions the key holders decrypt a sum over (0: no floor). A round quorum
  /// (CoordinatorConfig::min_contributors) below it is refused: such rounds could never decrypt.
  std::uint32_t min_contributors = 0;
};

/// One decryption share and who produced it.
struct DecryptionShare {
  PartyId party = 0;
  Bytes bytes;
};

/// The party side of the protocol. Holds that party's secret material (e.g. its CKKS secret-key
/// share), which never leaves it; implementations wipe it on destruction.
class AggregationParty {
 public:
  virtual ~AggregationParty() = default;
  virtual PartyId party() const = 0;
  /// Encodes (and for HE, encrypts) weight * update for round `round` as opaque bytes.
  virtual Result<Bytes> contribute(std::span<const float> update, double weight, std::uint64_t round, Rng& rng) = 0;
  /// This party's share for decrypting `aggregate` together with the other members of `quorum`
  /// (sorted distinct party ids including this party, exactly setup_info().decryption_threshold
  /// of them: t-of-n shares depend on the quorum through Lagrange coefficients, ePrint 2022/780).
  /// `contributors` is the round's contributor set as the ledger records it (sorted); an
  /// implementation whose aggregate names its contributors refuses one that names another set
  /// (the coordinator could otherwise list {0,1,2} on the ledger and have {0,1} decrypted).
  /// Empty bytes if the mode needs none. HE implementations flood the share with noise
  /// (IND-CPA^D, Li-Micciancio ePrint 2020/1533) and count it against the key epoch's budget.
  virtual Result<Bytes> decryption_share(std::span<const std::uint8_t> aggregate, std::span<const PartyId> quorum,
                                         std::span<const PartyId> contributors, std::uint64_t round, Rng& rng) = 0;
  /// Flooded ciphertext decryptions this party may make per key epoch (its noise-flooding budget
  /// D), 0 if unlimited. decryption_share() returns OutOfRange once the budget is spent.
  virtual std::uint64_t decryption_budget() const { return 0; }
};

/// The public side: combines contributions and decryption shares. Holds no secret.
class SecureAggregator {
 public:
  virtual ~SecureAggregator() = default;
  /// Setup information for the ledger.
  virtual AggregatorSetupInfo setup_info() const = 0;
  /// The party-side object of `party`. In a simulation the aggregator created every party's key
  /// material at setup and hands it out here; in a deployment each hospital builds its own from
  /// its key store. InvalidArgument for an unknown party.
  virtual Result<std::unique_ptr<AggregationParty>> party(PartyId party) = 0;
  /// Sums contributions (at least one) of `length` values each for round `round`.
  virtual Result<Bytes> aggregate(std::span<const Bytes> contributions, std::size_t length, std::uint64_t round) = 0;
  /// The party id a contribution names inside its bytes, if its format carries one (nullopt if
  /// not); an error if the bytes are malformed. The coordinator rejects a contribution whose id
  /// differs from its authenticated sender.
  virtual Result<std::optional<PartyId>> contributor(std::span<const std::uint8_t> contribution, std::size_t length,
                                                     std::uint64_t round) const {
    (void)contribution, (void)length, (void)round;
    return std::optional<PartyId>{};
  }
  /// Whether `share` parses as a decryption share made by `party` for round `round` (a share of
  /// another round, another producer or truncated bytes is refused); OK if the format carries none.
  virtual Status check_share(std::span<const std::uint8_t> share, PartyId party, std::size_t length,
                             std::uint64_t round) const {
    (void)share, (void)party, (void)length, (void)round;
    return {};
  }
  /// A bound on |x| for every coordinate x of the decrypted sum of an honest round whose
  /// contribution weights add up to `total_weight` (W * U plus the decryption noise bound);
  /// infinity if none is known. The coordinator fails a round whose decrypted sum exceeds it.
  virtual double sum_bound(double total_weight) const {
    (void)total_weight;
    return std::numeric_limits<double>::infinity();
  }
  /// Recovers sum_i weight_i * update_i from the aggregate and the shares of one quorum (every
  /// member's share, made for that quorum; ignored when the threshold is 0).
  virtual Result<std::vector<double>> finalize(std::span<const std::uint8_t> aggregate,
                                               std::span<const DecryptionShare> shares, std::size_t length,
                                               std::uint64_t round) = 0;
};

}  // namespace heal::fl

namespace heal::fl {

/// Which secure aggregator a federation uses (what `heal fl simulate --secure` selects).
struct SecureAggregationConfig {
  std::string mode = "none";        // "none" | "he" (alias "threshold-ckks")
  std::uint32_t threshold = 0;      // t for threshold modes (0: all hospitals)
  std::uint64_t seed = 1;           // simulation key generation
};

/// Builds the aggregator for `hospitals` parties (ids 0..hospitals-1): "none" gives a
/// PlainAggregator, "he" a HeAggregator with default CKKS parameters (simulated key setup from
/// `seed`); an unknown mode or a bad threshold is InvalidArgument.
Result<std::unique_ptr<SecureAggregator>> make_secure_aggregator(const SecureAggregationConfig& config,
                                                                 std::size_t hospitals);

}  // namespace heal::fl
