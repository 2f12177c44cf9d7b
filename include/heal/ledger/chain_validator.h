// Block-by-block validation of a ledger: chain links, hashes, record decoding, signatures and the
// federation rules (who may sign what). Used by verify(), by backends before appending, and by
// check_model(). Rules are listed in docs/formats/ledger.md ("Validation").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/ledger/block.h"
#include "heal/ledger/record.h"

namespace heal::ledger {

/// Counts of verified records.
struct ChainCounts {
  std::uint64_t blocks = 0;
  std::uint64_t setups = 0;
  std::uint64_t commitments = 0;
  std::uint64_t rounds_completed = 0;
  std::uint64_t rounds_failed = 0;
  std::uint64_t model_versions = 0;
  std::uint64_t rounds_opened = 0;
  std::uint64_t contributor_sets = 0;
  std::uint64_t signatures = 0;
  std::uint64_t ensemble_records = 0;  // ensemble setup, member versions, ensemble rounds
};

/// Feeds blocks in height order; the first one that breaks a rule returns its reason, after which
/// the validator refuses everything (it describes a broken chain).
class ChainValidator {
 public:
  /// Validates `b` as the next block. Corruption with the reason if it is not acceptable.
  Status accept(const Block& b);
  /// Validates a candidate record + signatures as the next block without changing state.
  Status check_candidate(const SignedRecord& sr) const;

  std::uint64_t next_height() const { return next_height_; }
  const Digest& head_hash() const { return head_; }
  const ChainCounts& counts() const { return counts_; }
  bool broken() const { return broken_; }
  /// Hash of model `version` if a ModelVersion record for it has been accepted.
  std::optional<Digest> model_hash(std::uint64_t version) const;
  /// The setup currently in force (nullopt before the genesis block).
  const std::optional<RoundSetup>& setup() const { return setup_; }
  /// Commitments accepted for `round`: party -> contribution hash.
  std::map<std::uint32_t, Digest> commitments(std::uint64_t round) const;
  /// The commitment accepted for (`round`, `party`), if any.
  std::optional<UpdateCommitment> commitment(std::uint64_t round, std::uint32_t party) const;
  /// Highest model version accepted so far (nullopt if none).
  std::optional<std::uint64_t> latest_model_version() const;
  /// The round currently open (opened, no result yet), if any.
  const std::optional<RoundOpen>& open_round() const { return open_; }
  /// The contributor set posted for `round`, if any.
  std::optional<ContributorSet> contributor_set(std::uint64_t round) const;
  /// The ensemble setup (fl/ensemble), if one has been accepted.
  const std::optional<EnsembleSetup>& ensemble_setup() const { return ensemble_; }
  /// The EnsembleRound record of `round`, if accepted.
  std::optional<EnsembleRound> ensemble_round(std::uint64_t round) const;

 private:
  Status check_record(const Record& r, const std::vector<RecordSignature>& sigs) const;
  void apply(const Record& r, std::size_t num_signatures);

  std::uint64_t next_height_ = 0;
  Digest head_{};
  bool broken_ = false;
  std::optional<RoundSetup> setup_;
  std::string federation_id_;
  std::optional<std::uint64_t> last_round_;  // last closed round
  std::optional<RoundOpen> open_;
  std::map<std::uint64_t, ContributorSet> contributor_sets_;
  std::map<std::uint64_t, Digest> models_;
  std::map<std::pair<std::uint64_t, std::uint32_t>, UpdateCommitment> commitments_;  // (round, party) ->
  ChainCounts counts_;
  std::optional<EnsembleSetup> ensemble_;
  std::map<std::uint32_t, MemberVersion> member_versions_;  // latest per institution
  std::optional<std::uint64_t> last_ensemble_round_;
  std::map<std::uint64_t, EnsembleRound> ensemble_rounds_;
};

}  // namespace heal::ledger
