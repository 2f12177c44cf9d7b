// SMPC ensemble federated learning of heterogeneous models (issue 17; the source system is Stephanie,
// Khalil, Atiquzzaman, Yi, arXiv:2305.09209): the roles and their protocol. Every role talks only
// through `fl::Transport` (message kinds 20-26, transport.h) and the shared ledger; none reads
// another's memory. A launcher constructs the roles, calls `start_round` on the coordinator and then
// delivers messages by calling `poll()` on every role until nothing moves; when nothing moves but a
// round is not finished (a party crashed), it calls `on_idle()` -- first on the nodes (they close
// their sites' aggregations), then on the coordinator -- which closes the current SecAgg phase with
// the parties that answered (in a deployment: a deadline). simulation.h is one such launcher.
//
// One round (federated distillation after FedMD, arXiv:1910.03581, and FedDF, arXiv:2006.07242):
//  1. coordinator -> every institution: kEnsembleRoundStart (the SecAgg session, n, t, length, and
//     R, r: the session's setup serves R rounds and this is its round r; r = 1 runs the setup).
//  2. institution: checks its reference-set hash against the ledger's ensemble setup (refuses with
//     kEnsembleRefusal otherwise); trains: a 1-site institution calls train_local + validate on its
//     member; a multi-site institution sends kSiteRound (its model's weights) to its sites, each site
//     trains and validates, and a SecAgg among the sites with the institution as aggregator yields
//     sum n_s * w_s, sum n_s, sum correct_s, sum val_s (FedAvg + the pooled validation accuracy;
//     the institution learns only these sums). The institution's weight is
//        w_i = ensemble_weight(acc_i, C) = max(acc_i - 1/C, 0.01)
//     (accuracy above chance; public by design: the coordinator needs it to normalise, and it is
//     recorded on the ledger per round).
//  3. SecAgg (Bonawitz et al., ePrint 2017/281; multi-round: heal/smpc/secagg_multi.h, one key
//     setup per R rounds, run in the first round of each session) among the institutions with the
//     coordinator as untrusted server, input x_i = encode_f(w_i * p_i), p_i the n_ref x C soft
//     predictions, f = 16 fraction bits. The coordinator learns S = sum_{i in U3} x_i only, and
//     sends consensus = S / sum_{i in U3} w_i to the contributors (kEnsembleConsensus).
//     Error bound: each encoding rounds by <= 2^-(f+1), so |consensus - plaintext weighted mean|
//     <= |U3| * 2^-(f+1) / sum w <= 2^-(f+1) / 0.01 < 7.7e-4 per entry (typically ~1e-5).
//  4. institution: checks the consensus against the EnsembleRound record on the ledger (its hash, and
//     that it is listed as a contributor; the coordinator writes the record before sending), then
//     distils the consensus into its model (multi-site: into the institution model,
//     whose weights go to the sites with the next kSiteRound), and records a MemberVersion (model
//     hash = BLAKE2b-256(model_bytes())) signed by itself; the coordinator records an EnsembleRound
//     (weights, accuracies, hash of each masked-input message, contributors, consensus hash).
// Dropouts: SecAgg with t > n/2 completes as long as t institutions stay (a crash after the key
// sharing is recovered by the unmasking round). A failed round (fewer than t) changes no model and is
// not recorded on the ledger.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "heal/core/rng.h"
#include "heal/fl/ensemble/member.h"
#include "heal/fl/transport.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/ledger.h"
#include "heal/smpc/fixed_point.h"
#include "heal/smpc/secagg.h"

namespace heal::fl::ensemble {

inline constexpr double kMinEnsembleWeight = 0.01;
inline constexpr const char* kWeightRule = "max(acc-1/C,0.01)";
/// max(accuracy - 1/num_classes, kMinEnsembleWeight).
double ensemble_weight(double accuracy, std::size_t num_classes);

/// A SecAgg group: its parties in client-id order (SecAgg id i+1 is parties[i]), their Ed25519 verify
/// keys (a PKI every member knows) and the threshold t (n/2 < t <= n).
struct SecAggGroup {
  std::vector<PartyId> parties;
  std::vector<smpc::PublicKey> verify_keys;
  std::uint32_t threshold = 0;
};

/// What every role of one ensemble knows (public).
/// The fewest institutions' inputs a released consensus may contain (smpc::SecAggConfig::min_inputs,
/// set by the coordinator and by every institution for itself). The consensus is published to its
/// contributors with the public weights, so a sum of two inputs would give each contributor the
/// other's predictions: an ensemble needs >= 3 institutions, and a round with fewer than 3
/// contributors fails (as FedAvg's HE aggregation decrypts only sums of >= 3 updates).
inline constexpr std::uint32_t kEnsembleMinInputs = 3;

struct EnsembleConfig {
  std::string federation_id;
  SecAggGroup institutions;  // parties sorted ascending
  int frac_bits = smpc::kDefaultFracBits;
  /// R: ensemble rounds served by one SecAgg setup (secagg_multi.h); after R rounds, or when a
  /// setup fails, the next round starts a new session with a new setup.
  std::uint32_t secagg_rounds_per_setup = 20;
};

/// The coordinator's view of one finished round.
struct CoordinatorRound {
  std::uint64_t round = 0;
  bool completed = false;
  std::string failure;                         // when not completed
  std::vector<PartyId> contributors;           // U3
  std::vector<PartyId> refused;                // sent kEnsembleRefusal
  std::map<PartyId, double> accuracy, weight;  // of the contributors
  std::vector<double> consensus;               // n_ref x C
  double secagg_seconds = 0;                   // time in SecAggServer calls and decoding
};

/// The untrusted aggregator: runs a multi-round SecAgg server (one setup for R rounds), learns
/// only the weighted sum of each round.
class EnsembleCoordinator {
 public:
  /// `reference_size` x `num_classes` is the SecAgg vector length. The Rng draws session ids.
  EnsembleCoordinator(EnsembleConfig cfg, std::uint64_t reference_size, std::uint32_t num_classes, Transport& net,
                      ledger::Ledger& ledger, const ledger::Signer& signer, Rng& rng);
  ~EnsembleCoordinator();

  /// Writes the EnsembleSetup record (members sorted by institution; threshold and sizes from the config).
  Status write_setup(std::vector<ledger::EnsembleMemberInfo> members, const Digest& reference_hash);
  /// Opens round `round` (the previous one must be finished); launchers pass next_round().
  Status start_round(std::uint64_t round);
  /// The number the next round takes: completed rounds + 1. The ledger numbers the completed rounds
  /// consecutively and a failed round records nothing, so the attempt after a failure takes the
  /// failed round's number (with a fresh SecAgg round: nothing of the failed attempt is reused).
  std::uint64_t next_round() const { return completed_ + 1; }
  /// Handles every message waiting for the coordinator; true if it handled any.
  Result<bool> poll();
  /// Nothing moves: closes the current SecAgg phase with the parties that answered; true if it did.
  Result<bool> on_idle();
  bool round_finished() const;
  /// The last finished round.
  const CoordinatorRound& last_round() const { return last_; }

 private:
  struct State;
  struct Session;
  Status handle(const Message& m);
  Status advance(bool force);
  Status finish_round();
  void fail_round(const std::string& why);

  EnsembleConfig cfg_;
  std::uint64_t reference_size_;
  std::uint32_t num_classes_;
  Transport& net_;
  ledger::Ledger& ledger_;
  const ledger::Signer& signer_;
  Rng& rng_;
  std::unique_ptr<Session> session_;  // declared before st_: the round's driver refers to its server
  std::unique_ptr<State> st_;
  CoordinatorRound last_;
  std::uint64_t completed_ = 0;
};

/// A node's record of one round.
struct NodeRound {
  std::uint64_t round = 0;
  bool contributed = false;  // sent its masked input
  bool distilled = false;    // received the consensus and distilled it
  std::string refusal;       // why it refused, if it did
  double val_accuracy = 0;
  double weight = 0;
  double train_seconds = 0;   // local training + validation + prediction (all sites, institution model)
  double secagg_seconds = 0;  // SecAgg client calls + encoding (and the sites' aggregation, as server)
  double distill_seconds = 0;
  std::uint32_t secagg_round = 0;                // r: this round's index in its SecAgg session (1: with setup)
  std::uint32_t secagg_rounds_per_setup = 0;     // R of that session
  std::uint64_t secagg_setup_payload_bytes = 0;  // payload bytes of the setup messages sent this round
  std::uint32_t secagg_setup_messages = 0;       // how many (2 when this node took part in a setup)
  std::uint64_t member_version = 0;              // after this round
};

/// Test seams: a node that crashes at a given point of a round (stops answering for good).
enum class CrashPoint { kNever, kBeforeMaskedInput, kBeforeUnmask };

struct NodeOptions {
  PartyId id = 0;
  /// The institution's model. With sites, the model into which the sites' FedAvg is loaded, that
  /// predicts and distils (its weights go to the sites every round); without sites, the one member.
  EnsembleMember* model = nullptr;
  smpc::SecAggIdentity identity;  // this institution's SecAgg identity (verify key in cfg.institutions)
  /// Sites (the common case is none: a 1-site institution is its model). With >= 2 sites they form
  /// a SecAgg group with this node as aggregator.
  SecAggGroup sites;
  TrainConfig train;
  CrashPoint crash = CrashPoint::kNever;
  /// Called when this node ends a round: after it distilled the consensus and recorded its version,
  /// or when it refused (a launcher's progress output; may be empty).
  std::function<void(const NodeRound&)> on_round_end;
};

/// One institution: holds its model, the SecAggMultiClient of the current session, its identities.
class EnsembleNode {
 public:
  EnsembleNode(EnsembleConfig cfg, NodeOptions opt, Transport& net, ledger::Ledger& ledger,
               const ledger::Signer& signer, Rng& rng);
  ~EnsembleNode();

  PartyId id() const;
  /// Records version 1 of the institution's model (round 0). After the coordinator's write_setup.
  Status publish_initial_version();
  Result<bool> poll();
  /// Nothing moves: closes the current site-SecAgg phase with the sites that answered.
  Result<bool> on_idle();
  /// The node's record of its last round (valid once it started one).
  const NodeRound& last_round() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

/// A site's record of one round it trained in (for a launcher's progress output).
struct SiteRound {
  std::uint64_t round = 0;
  std::uint64_t train_samples = 0;
  double val_accuracy = 0;
  double train_seconds = 0;  // private training + validation
  bool contributed = false;  // its masked input is ready for the site SecAgg (false: it drops out)
};

/// One site of a multi-site institution: trains its member and contributes n_s * weights, n_s and
/// its validation counts through the site SecAgg.
class EnsembleSite {
 public:
  /// `group` is the institution's site group (this site is in it), `institution` its aggregator.
  EnsembleSite(PartyId id, PartyId institution, EnsembleMember& member, smpc::SecAggIdentity identity,
               SecAggGroup group, TrainConfig train, Transport& net, Rng& rng);
  ~EnsembleSite();
  Result<bool> poll();
  /// Crashes (stops answering) before sending its masked input from now on (test seam).
  void crash_before_masked_input();
  /// Called after the site trained and validated in a round (may be empty).
  void on_trained(std::function<void(const SiteRound&)> f);

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace heal::fl::ensemble
