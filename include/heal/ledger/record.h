// Typed ledger records and their canonical byte encoding (docs/formats/ledger.md).
//
// A record is what one party asserts: a federation setup, a hospital's commitment to its
// encrypted update, the outcome of a round, a new model version. Records carry hashes and
// scalars only, never weights or ciphertexts. The encoding is canonical: decode() accepts only
// bytes that encode() would produce, so a record has exactly one byte string and one hash.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/ledger/identity.h"

namespace heal::ledger {

/// Format version of ledger records written by this build.
inline constexpr std::uint16_t kRecordFormatVersion = 1;
/// Largest encoded record accepted (metrics JSON included).
inline constexpr std::size_t kMaxRecordBytes = std::size_t{1} << 20;

/// Record kinds. Values are part of the on-disk format: never renumber.
enum class RecordType : std::uint8_t {
  kRoundSetup = 1,
  kUpdateCommitment = 2,
  kRoundResult = 3,
  kModelVersion = 4,
  kRoundOpen = 5,
  kContributorSet = 6,
  kEnsembleSetup = 7,
  kMemberVersion = 8,
  kEnsembleRound = 9,
};
std::string_view record_type_name(RecordType t);

/// What a participant does in the federation.
enum class Role : std::uint8_t {
  kHospital = 1,     // trains locally, contributes updates, holds a decryption key share
  kCoordinator = 2,  // aggregation committee member: aggregates, writes round results and models
};
std::string_view role_name(Role r);

/// One member of the federation and the key that signs for it.
struct Participant {
  std::uint32_t party_id = 0;
  Role role = Role::kHospital;
  std::string name;
  Identity identity;
  friend bool operator==(const Participant&, const Participant&) = default;
};

/// Federation setup for one key epoch: who participates with which key, which HE parameters,
/// which collective public key, and the quorum rules.
struct RoundSetup {
  std::uint32_t key_epoch = 0;
  std::string secure_mode;          // "none" | "threshold-ckks" | ...
  std::string params_id;            // parameter-set id, e.g. "ckks-n13-fl" ("" if none)
  Digest params_hash{};             // BLAKE2b-256 of the serialized parameters (zeros if none)
  Digest collective_public_key_hash{};  // BLAKE2b-256 of the collective public key (zeros if none)
  std::uint32_t min_contributors = 1;   // contributions needed for a round to complete
  std::uint32_t decryption_threshold = 0;  // partial decryptions needed (t of n; 0 if none)
  std::string strategy;             // e.g. "fedadam(lr=0.01,beta1=0.9,beta2=0.99,tau=0.001)"
  double clip_norm = 0;             // L2 bound applied by clients to their update (0 = off)
  std::vector<Participant> participants;
  friend bool operator==(const RoundSetup&, const RoundSetup&) = default;
};

/// A hospital's signed commitment to what it submitted in a round: the model it trained on
/// and the hash of its opaque (encrypted) contribution.
struct UpdateCommitment {
  std::uint64_t round = 0;
  std::uint32_t party_id = 0;
  std::uint64_t model_version = 0;  // global model version the hospital trained on
  Digest model_hash{};              // hash of that model as received (checked against the ledger)
  Digest contribution_hash{};       // BLAKE2b-256 of the contribution bytes sent
  std::uint64_t num_samples = 0;
  double clip_norm = 0;
  friend bool operator==(const UpdateCommitment&, const UpdateCommitment&) = default;
};

/// One contribution accepted into a round's aggregate.
struct Contribution {
  std::uint32_t party_id = 0;
  Digest contribution_hash{};
  std::uint64_t num_samples = 0;
  friend bool operator==(const Contribution&, const Contribution&) = default;
};

enum class RoundStatus : std::uint8_t { kCompleted = 1, kFailed = 2 };

/// The outcome of one round, written by a coordinator.
struct RoundResult {
  std::uint64_t round = 0;
  std::uint32_t key_epoch = 0;
  RoundStatus status = RoundStatus::kCompleted;
  std::string failure_reason;                // "" when completed
  std::vector<std::uint32_t> selected;       // hospitals asked to train
  std::vector<Contribution> contributions;   // accepted into the aggregate
  std::vector<std::uint32_t> decryptors;     // parties whose decryption shares were combined
  Digest aggregate_hash{};                   // BLAKE2b-256 of the aggregate bytes (zeros if failed)
  std::uint64_t model_version_in = 0;
  Digest model_hash_in{};
  std::uint64_t model_version_out = 0;       // == model_version_in when the round failed
  Digest model_hash_out{};
  std::string strategy;
  double clip_norm = 0;
  std::string metrics_json;                  // e.g. {"train_loss":0.12,"val_auc":0.91}
  friend bool operator==(const RoundResult&, const RoundResult&) = default;
};

/// A global model version: the hash every hospital checks the broadcast model against.
struct ModelVersion {
  std::uint64_t version = 0;
  std::uint64_t round = 0;           // round that produced it (0 for the initial model)
  std::uint64_t parent_version = 0;  // == version for the initial model
  Digest model_hash{};
  std::uint64_t num_parameters = 0;
  std::string metrics_json;
  friend bool operator==(const ModelVersion&, const ModelVersion&) = default;
};

/// The opening of a round, written by a coordinator before the model is broadcast: which model
/// the round trains, under which HE parameters, and which hospitals are asked. Commitments are
/// accepted only while their round is open.
struct RoundOpen {
  std::uint64_t round = 0;             // the last closed round + 1 (rounds start at 1)
  std::uint32_t key_epoch = 0;         // the setup in force
  Digest params_hash{};                // the setup's HE parameter hash (zeros if none)
  std::uint64_t model_version = 0;     // the latest model version on the ledger
  Digest model_hash{};
  std::vector<std::uint32_t> selected;  // hospitals asked to train (distinct)
  friend bool operator==(const RoundOpen&, const RoundOpen&) = default;
};

/// The one contributor set of a round, written by a coordinator after aggregating and BEFORE any
/// decryption share is requested. Key holders decrypt only the aggregate named here, so a
/// coordinator cannot have two different subsets decrypted in one round (whose difference would be
/// one hospital's update). Contributions are sorted by party id, each committed in the round.
struct ContributorSet {
  std::uint64_t round = 0;
  std::vector<Contribution> contributions;
  Digest aggregate_hash{};  // BLAKE2b-256 of the aggregate bytes the quorum is asked to decrypt
  friend bool operator==(const ContributorSet&, const ContributorSet&) = default;
};

/// One institution of an SMPC ensemble (fl/ensemble): its architecture and how many sites it FedAvgs.
struct EnsembleMemberInfo {
  std::uint32_t institution = 0;  // a hospital of the setup
  std::string architecture;       // e.g. "logreg(features=0-3)", "hecnn(width=8)"
  std::uint32_t num_sites = 1;
  friend bool operator==(const EnsembleMemberInfo&, const EnsembleMemberInfo&) = default;
};

/// The setup of an SMPC ensemble (written once by a coordinator): members sorted by institution,
/// the hash of the reference set every member predicts on, the SecAgg threshold t (n/2 < t <= n).
struct EnsembleSetup {
  std::vector<EnsembleMemberInfo> members;
  Digest reference_hash{};
  std::uint64_t reference_size = 0;  // images in the reference set
  std::uint32_t num_classes = 0;
  std::uint32_t secagg_threshold = 0;
  std::int32_t frac_bits = 16;  // fixed-point fraction bits of the secure aggregation
  std::string weight_rule;      // e.g. "max(acc-1/C,0.01)"
  friend bool operator==(const EnsembleSetup&, const EnsembleSetup&) = default;
};

/// A new version of one institution's model, signed by that institution: version 1, 2, ... per
/// institution, model hash = BLAKE2b-256(model_bytes()).
struct MemberVersion {
  std::uint32_t institution = 0;
  std::uint64_t version = 0;
  std::string architecture;  // equal to the institution's entry in the ensemble setup
  Digest model_hash{};
  std::uint64_t round = 0;   // ensemble round after which the model was distilled (0: initial)
  std::uint64_t num_parameters = 0;
  friend bool operator==(const MemberVersion&, const MemberVersion&) = default;
};

/// One institution's contribution to an ensemble round (public by design: the weight is recorded).
struct EnsembleContribution {
  std::uint32_t institution = 0;
  double weight = 0;          // ensemble weight w_i (> 0), from validation accuracy
  double val_accuracy = 0;    // the accuracy it came from, in [0, 1]
  Digest masked_input_hash{};  // BLAKE2b-256 of the SecAgg masked-input message bytes
  friend bool operator==(const EnsembleContribution&, const EnsembleContribution&) = default;
};

/// The outcome of one ensemble round, written by a coordinator: contributors (the SecAgg survivor
/// set U3, sorted by institution), their weights, the hash of the consensus broadcast.
struct EnsembleRound {
  std::uint64_t round = 0;  // 1, 2, ... (consecutive)
  std::vector<EnsembleContribution> contributors;
  Digest consensus_hash{};  // BLAKE2b-256 of the consensus message payload
  friend bool operator==(const EnsembleRound&, const EnsembleRound&) = default;
};

using RecordBody = std::variant<RoundSetup, UpdateCommitment, RoundResult, ModelVersion, RoundOpen, ContributorSet,
                                EnsembleSetup, MemberVersion, EnsembleRound>;

/// A record with the fields every record carries.
struct Record {
  std::string federation_id;       // names the federation; equal in every block of a ledger
  std::uint64_t issued_at_ms = 0;  // Unix time in ms, as claimed by the signer
  RecordBody body;

  RecordType type() const;
  friend bool operator==(const Record&, const Record&) = default;
};

/// Canonical bytes: HEAL header (ObjectType::kLedgerRecord, version 1) + payload.
Bytes encode_record(const Record& r);
/// Strict decoder: Corruption/Unsupported/InvalidArgument on anything encode() would not write
/// (bad header, unknown type, out-of-range enum, non-finite number, over-limit length, trailing
/// bytes). Never crashes.
Result<Record> decode_record(std::span<const std::uint8_t> bytes);

/// A short human summary ("round 3 completed: 4 contributions, model v3 1a2b…").
std::string describe(const Record& r);

/// Current Unix time in milliseconds.
std::uint64_t now_ms();

}  // namespace heal::ledger
