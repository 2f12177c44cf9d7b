// A node's state at rest: its secret key material and the safeguards its party applies, in one
// passphrase-encrypted vault file (heal/core/vault.h: Argon2id + XChaCha20-Poly1305, mode 0600,
// written atomically). Design: src/fl/README.md, "Node state at rest".
//
// The safeguards exist because a party that forgets them after a restart can be tricked:
//   - encrypting twice under the same round's public a_{r,k} reveals the difference of the two
//     updates, so the party keeps the highest round it has contributed to (high-water mark);
//   - a second aggregate decrypted in a round is a decryption oracle, so it keeps the round and the
//     hash of the one aggregate it agreed to decrypt (rounds before it are refused);
//   - flooded decryption shares are secure only up to a budget D per key epoch, so it keeps the
//     number of ciphertexts it has decrypted.
// Each record_* call checks, then writes the new state durably (write + fsync + rename + fsync of
// the directory) BEFORE returning OK, and only then may the caller act (write-ahead): a crash
// after the record and before the message leaves costs a round or some budget, never a repeat.
//
// Two more ways to lose the safeguards are closed here:
//   - rollback: an older valid copy of the file put back (an attacker, a backup restore) forgets
//     rounds. The ledger is append-only and signed, and records what the party did (its update
//     commitments, the rounds whose result lists it as a decryptor), always AFTER the store
//     recorded it (write-ahead), so "the ledger shows more than the store" means a rolled-back
//     store: check_ledger() / bind_ledger() refuse to act (src/fl/README.md, "Rollback").
//   - two processes on one store: each NodeStore holds an exclusive flock on `<path>.lock` for its
//     lifetime; a second open or create of the same path fails (FailedPrecondition, "in use").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/core/vault.h"
#include "heal/fl/model.h"

namespace heal::ledger {
class Ledger;
}  // namespace heal::ledger

namespace heal::fl {

inline constexpr std::uint16_t kNodeStateVersion = 1;

/// What a party has done in one key epoch (everything in it is checked before it acts again).
struct PartySafeguards {
  PartyId party = 0;
  Digest key_epoch{};                   ///< the epoch's collective public key hash: binds the state to the keys
  std::uint64_t decryption_budget = 0;  ///< D: flooded ciphertext decryptions allowed (0: unlimited)
  std::uint64_t decryptions_used = 0;   ///< ciphertexts decrypted so far in this epoch
  std::optional<std::uint64_t> contributed_round;  ///< highest round it encrypted under
  std::optional<std::uint64_t> decrypted_round;    ///< latest round it produced a share in
  Digest decrypted_aggregate{};                    ///< BLAKE2b-256 of the aggregate it agreed to decrypt then
  std::uint32_t shares_in_round = 0;               ///< shares made for decrypted_round (one per quorum)
  std::uint64_t writes = 0;                        ///< times the file was written (a generation counter)

  bool operator==(const PartySafeguards&) const = default;
};

/// The plaintext inside the vault: HEAL header (ObjectType::kFlNodeState, version 1), u32 party,
/// 32-byte key epoch, u64 budget, u64 used, u8 flags (1: contributed, 2: decrypted), u64
/// contributed round, u64 decrypted round, 32-byte aggregate hash, u32 shares in round, u64 writes,
/// u64 length + secret material (opaque here; the HE aggregator's format is he::save_material).
struct NodeState {
  PartySafeguards safeguards;
  SecretBytes material;
};
SecretBytes encode_node_state(const NodeState& state);
/// Parses outside bytes (fuzzed): Corruption / Unsupported / InvalidArgument, never a crash.
Result<NodeState> decode_node_state(std::span<const std::uint8_t> bytes);

/// What the ledger records that `party` did under one key epoch: the records after the setup whose
/// collective public key hash is `key_epoch` (other epochs are ignored; a new epoch has a new store).
struct LedgerActivity {
  std::optional<std::uint64_t> contributed_round;  ///< highest round with the party's signed commitment
  std::optional<std::uint64_t> decrypted_round;    ///< highest round whose result lists it as a decryptor
  bool operator==(const LedgerActivity&) const = default;
};
/// Reads `ledger` (verifying the blocks it has not verified yet). Errors: the ledger's own.
Result<LedgerActivity> ledger_activity(const ledger::Ledger& ledger, PartyId party, const Digest& key_epoch);

class NodeStore {
 public:
  /// Creates the store file at `path` (refuses to replace an existing file: AlreadyExists-like
  /// FailedPrecondition; FailedPrecondition "in use by another process" when `<path>.lock` is held) holding `material`
  /// and fresh safeguards for (party, key_epoch, budget).
  static Result<std::unique_ptr<NodeStore>> create(const std::string& path, std::string_view passphrase, PartyId party,
                                                   const Digest& key_epoch, std::uint64_t decryption_budget,
                                                   SecretBytes material, const VaultKdf& kdf = VaultKdf::moderate());
  /// Opens an existing store (read_vault_file: refuses a group/world-accessible file, a wrong
  /// passphrase, a tampered or truncated file, another version). Takes the lock first:
  /// FailedPrecondition "node store <path> is in use by another process" while another NodeStore
  /// (in any process) holds it. The lock file `<path>.lock` (0600, empty) is left in place.
  static Result<std::unique_ptr<NodeStore>> open(const std::string& path, std::string_view passphrase,
                                                 const VaultOpenOptions& options = {});
  ~NodeStore();
  NodeStore(const NodeStore&) = delete;
  NodeStore& operator=(const NodeStore&) = delete;

  const std::string& path() const { return path_; }
  const PartySafeguards& safeguards() const { return state_.safeguards; }
  /// The secret key material (stays in wiped-on-destruction memory).
  std::span<const std::uint8_t> material() const { return state_.material.span(); }

  /// May this party encrypt under round `round`'s public polynomials? InvalidArgument if it already
  /// did in this round or a later one.
  Status check_contribution(std::uint64_t round) const;
  /// check_contribution, then records `round` durably. On a write error the stricter state is kept
  /// in memory and the error returned: the caller must not contribute.
  Status record_contribution(std::uint64_t round);

  /// May this party make a share for `ciphertexts` ciphertexts of the aggregate with hash
  /// `aggregate` in `round`? InvalidArgument for an earlier round or another aggregate in the same
  /// round; OutOfRange when the budget D would be exceeded; OutOfRange when `max_shares_in_round`
  /// (0: no limit) shares were already made this round.
  Status check_decryption(std::uint64_t round, const Digest& aggregate, std::uint64_t ciphertexts,
                          std::uint32_t max_shares_in_round = 0) const;
  /// check_decryption, then records it (budget spent, round, aggregate) durably, like
  /// record_contribution.
  Status record_decryption(std::uint64_t round, const Digest& aggregate, std::uint64_t ciphertexts,
                           std::uint32_t max_shares_in_round = 0);

  /// Rollback detection: FailedPrecondition "node store is older than the ledger: possible
  /// rollback; ..." when `ledger` shows this party (under this key epoch) committed an update or
  /// took part in a decryption in a later round than the store records. The store never knows less
  /// than the ledger otherwise: it records before the party acts, the ledger after.
  Status check_ledger(const ledger::Ledger& ledger) const;
  /// Binds the store to the ledger its party acts on (`ledger` must outlive the store): runs
  /// check_ledger now and again in every record_* before anything is written or done, so the party
  /// refuses every round while the ledger shows more than the store. Returns the first check; the
  /// store stays bound when it fails.
  Status bind_ledger(const ledger::Ledger& ledger);

 private:
  NodeStore(std::string path, VaultKey key, NodeState state, int lock_fd);
  Status persist();
  Status check_bound_ledger() const;

  std::string path_;
  VaultKey key_;
  NodeState state_;
  int lock_fd_ = -1;                        // flock(LOCK_EX) on <path>.lock, released by the destructor
  const ledger::Ledger* ledger_ = nullptr;  // bind_ledger
};

}  // namespace heal::fl
