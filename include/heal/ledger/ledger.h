// The Ledger interface: an append-only, hash-chained log of signed records (see block.h).
// Backends (src/ledger/backends/*) store blocks; validation and queries live here so every
// backend checks the same rules.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/ledger/block.h"
#include "heal/ledger/chain_validator.h"
#include "heal/ledger/record.h"

namespace heal::ledger {

/// Outcome of a full verification.
struct VerifyReport {
  bool ok = true;
  ChainCounts counts;                        // of the blocks that verified
  std::optional<std::uint64_t> bad_height;   // the FIRST block that failed
  std::string reason;                        // why it failed
  Digest head_hash{};                        // hash of the last good block
  /// "OK: 12 blocks ..." or "FAILED at height 7: signature 0 does not verify".
  std::string summary() const;
};

/// One row of the model-version history (`heal ledger log`).
struct ModelHistoryEntry {
  std::uint64_t version = 0;
  std::uint64_t round = 0;
  std::uint64_t height = 0;
  Digest model_hash{};
  std::vector<std::uint32_t> participants;  // contributors of the round that produced it
  std::string metrics_json;
  std::uint64_t issued_at_ms = 0;
};

/// One row of an ensemble member's version history.
struct MemberHistoryEntry {
  MemberVersion version;
  std::uint64_t height = 0;
  std::uint64_t issued_at_ms = 0;
};

/// Time this handle spent on the ledger (appends include their catch-up, validation and the
/// backend's write; reads are the other catch-ups, e.g. a hospital checking a model). Measures what a ledger adds to a round.
struct LedgerTiming {
  std::uint64_t appends = 0;
  double append_seconds = 0;
  double read_seconds = 0;
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  /// Validates `sr` against the verified chain (signatures, federation rules) and appends it as the
  /// next block. FailedPrecondition if the stored chain itself fails verification; Corruption /
  /// InvalidArgument if the record is not acceptable; IoError from the store.
  Result<Block> append(const SignedRecord& sr);

  /// Number of blocks stored (heights 0 .. size-1).
  virtual Result<std::uint64_t> size() const = 0;
  /// The stored block at `height`, parsed but not validated. NotFound past the end; Corruption if
  /// the stored row is malformed.
  virtual Result<Block> block(std::uint64_t height) const = 0;

  /// The last block (NotFound if empty).
  Result<Block> head() const;
  /// Calls `fn` on every block in height order; stops at the first non-ok Status and returns it.
  Status for_each(const std::function<Status(const Block&)>& fn) const;
  /// Re-verifies everything from the genesis block; names the first bad block. If `expected_head`
  /// is given, the last block's hash must equal it (detects truncation).
  VerifyReport verify(const std::optional<Digest>& expected_head = std::nullopt) const;

  /// Checks a received global model against the ledger: ok iff a ModelVersion record for
  /// `version` exists in the verified chain and its hash equals `model_hash`. NotFound if there
  /// is no such version; Corruption if the hash differs or the chain fails verification.
  /// Verifies only blocks this object has not verified before (the replica trusts itself).
  Status check_model(std::uint64_t version, const Digest& model_hash) const;
  /// Latest model version recorded (NotFound if none).
  Result<std::uint64_t> latest_model_version() const;
  /// Model versions with the round that produced them (`heal ledger log`).
  Result<std::vector<ModelHistoryEntry>> model_history() const;
  /// Verified commitments of `round`: party -> contribution hash.
  Result<std::map<std::uint32_t, Digest>> commitments(std::uint64_t round) const;
  /// The commitment of `party` in `round` (NotFound if none).
  Result<UpdateCommitment> commitment(std::uint64_t round, std::uint32_t party) const;
  /// The contributor set posted for `round` (NotFound if none).
  Result<ContributorSet> contributor_set(std::uint64_t round) const;
  /// The round currently open (NotFound if none).
  Result<RoundOpen> open_round() const;
  /// The setup currently in force (after catching up on unverified blocks).
  Result<RoundSetup> current_setup() const;
  /// The SMPC ensemble setup (fl/ensemble; NotFound if none).
  Result<EnsembleSetup> ensemble_setup() const;
  /// Every MemberVersion record in height order, optionally of one institution only (`heal ledger
  /// log` of an ensemble: the per-member version history).
  Result<std::vector<MemberHistoryEntry>> member_history(std::optional<std::uint32_t> institution = {}) const;
  /// The EnsembleRound record of `round` (NotFound if none): what a node checks a received
  /// consensus against.
  Result<EnsembleRound> ensemble_round(std::uint64_t round) const;
  /// Every EnsembleRound record in height order.
  Result<std::vector<EnsembleRound>> ensemble_rounds() const;

  /// Tells the backend that this process holds `signer`'s key (the object must outlive the ledger).
  /// A backend that authenticates writers itself (an EVM chain: a block is a transaction from its
  /// signer's account) sends a record from the key of its signer; SQLite needs no key and ignores it.
  virtual void add_local_signer(const Signer& signer) { (void)signer; }

  /// Time spent in append() and in catching up so far.
  const LedgerTiming& timing() const { return timing_; }

 protected:
  /// Stores `b` (already validated) as the next block.
  virtual Status store(const Block& b) = 0;
  /// True for a backend whose store() may land `b` at a later height than b.height and then fail
  /// (EVM: the contract orders concurrent writers' transactions): append() then looks for the block
  /// after catching up instead of appending it again.
  virtual bool assigns_heights() const { return false; }

 private:
  /// sync(), timed as a read (readers' catch-ups).
  Status catch_up() const;
  /// Brings `validator_` up to the stored head.
  Status sync() const;
  /// append() without its timing.
  Result<Block> append_block(const SignedRecord& sr);
  mutable ChainValidator validator_;
  mutable LedgerTiming timing_;
};

}  // namespace heal::ledger
