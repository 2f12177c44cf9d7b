// A node's configuration (docs/deployment.md, "Running the nodes"): one JSON file per process, read
// as outside bytes (every field checked, unknown keys refused, Status errors naming the field).
// Secrets never appear in it: the node store's passphrase comes from an environment variable named in
// the file, the TLS key from a 0600 file.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "heal/core/status.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/model.h"

namespace heal::node {

/// A site (kSite) is one part of a multi-site institution of an SMPC ensemble (heal/node/ensemble.h):
/// it trains the institution's architecture on its own data and joins its institution's FedAvg through
/// a SecAgg group with the institution as aggregator; it talks only to its institution and its sibling
/// sites and writes nothing to the ledger.
enum class NodeRole : std::uint8_t { kCoordinator, kHospital, kSite };

/// Party ids of sites (as in fl::ensemble::EnsembleSimulation): site s of institution k is
/// 1000 (k + 1) + s, for institutions k < 99 (below fl::kCoordinatorId) and s < 1000.
inline constexpr fl::PartyId kSiteIdBase = 1000;
inline constexpr std::uint32_t kMaxSitesPerInstitution = 64;
inline fl::PartyId site_party_id(std::uint32_t institution, std::uint32_t site) {
  return kSiteIdBase * (institution + 1) + site;
}
/// The institution of a site's party id; nullopt if `id` is no site's id.
inline std::optional<std::uint32_t> site_institution(fl::PartyId id) {
  if (id < kSiteIdBase || id >= fl::kCoordinatorId) return std::nullopt;
  return id / kSiteIdBase - 1;
}

/// What a node trains and evaluates (the "training" section; read by the libtorch front end,
/// apps::run_fl_node). Every node of a federation names the same dataset, partition and seed: a
/// hospital trains on its own partition of the training split (the partition is a function of the
/// labels, the scheme and the seed), the coordinator only makes model v0 and scores the test split.
/// In a deployment each hospital's `data` is its own data; the shared-dataset split is how a
/// benchmark federation reproduces the in-process simulation.
struct NodeTraining {
  std::string data_path;          ///< dataset file or directory (relative to the config file)
  std::string task = "classify";  ///< classify | segment
  std::string model = "hecnn";    ///< architecture (nn/torch names)
  std::string partition = "dirichlet:0.5";
  std::uint64_t seed = 1;  ///< model init, partition and per-hospital training seeds
  double learning_rate = 2e-3;
  std::string lr_schedule = "constant";  ///< the rate per round: constant | cosine (over the run's rounds)
  std::uint32_t batch_size = 64;
  std::uint32_t local_epochs = 1;
  std::uint32_t image_size = 128;   ///< segment: network input side
  std::string seg_loss = "bce-dice";  ///< segment: bce-dice | structure (as heal fl simulate --loss)
  bool multiclass = false;            ///< segment: one output per lesion class (as heal fl simulate --multiclass)
  std::uint32_t threads = 1;        ///< libtorch intra-op threads of this process
  std::string strategy = "fedavg";  ///< coordinator: fedavg | fedprox | fedadam | fedyogi
  double server_lr = 1.0;
  double proximal_mu = 0.01;
  double clip_norm = 0;  ///< hospitals: clip the update's L2 norm (0: off)
  /// "fedavg" (one model, averaged under threshold CKKS) or "ensemble": every hospital is an
  /// institution of an SMPC ensemble with its own architecture (heal/node/ensemble.h; classify only).
  std::string federation = "fedavg";
  /// ensemble: the institutions' architectures, cycled over the party ids (institution i trains
  /// archs[i % size]; NAME or NAME:WIDTH as `heal fl ensemble simulate --archs`).
  std::vector<std::string> archs = {"hecnn", "resnet", "capsnet"};
  double reference_fraction = 0.2;   ///< ensemble: share of the training split held out as the reference set
  std::uint32_t distill_epochs = 1;  ///< ensemble: distillation epochs per round
  double distill_lr = 1e-3;          ///< ensemble: distillation learning rate (constant)
  double sharpen = 1.0;              ///< ensemble: consensus sharpening temperature (1: off)
  bool balance_consensus = false;    ///< ensemble: distil the class-balanced consensus (--balance-consensus)
  /// ensemble hierarchy: sites per institution (empty: one each). The training split is partitioned
  /// over all sites alike in every process (institution k's sites take the shares after those of
  /// institutions 0..k-1), as `heal fl ensemble simulate --config` does.
  std::vector<std::uint32_t> sites;
};

struct NodeConfig {
  NodeRole role = NodeRole::kHospital;
  /// The party's fl id: 0..hospitals-1 for a hospital, fl::kCoordinatorId for the coordinator.
  fl::PartyId party_id = 0;
  std::string listen_address;                     ///< host:port of this node's gRPC server
  std::map<fl::PartyId, std::string> peers;       ///< party id -> host:port (the coordinator as kCoordinatorId)
  std::string ca_cert_path, cert_path, key_path;  ///< consortium CA, own certificate, own key (mode 0600)
  /// SQLite ledger file shared by the nodes of one host, or an evm:// / evms:// URI (heal/ledger/uri.h:
  /// the coordinator's carries key=… to deploy; no node's may name contract=…)
  std::string ledger_path;
  std::string federation_id;
  std::uint32_t hospitals = 0;  ///< K
  std::uint64_t rounds = 1;
  fl::HeAggregatorConfig he;           ///< log_n, q_bits, threshold, max_decryptions, ...
  std::uint32_t min_contributors = 0;  ///< round quorum (0: all hospitals)
  std::string node_store_path;         ///< hospitals: the encrypted key store
  std::string passphrase_env;          ///< hospitals: the environment variable holding its passphrase
  std::chrono::milliseconds response_timeout{std::chrono::minutes(2)};
  std::chrono::milliseconds setup_timeout{std::chrono::minutes(2)};  ///< reaching the peers + key setup
  /// Quorum members recompute each aggregate from the contributions (which the coordinator then
  /// sends them) before they share: the coordinator is not trusted with the sum. Every node of a
  /// federation must agree (a hospital that verifies refuses a request without the contributions).
  bool verify_aggregate = true;
  std::optional<NodeTraining> training;  ///< what `heal node run` trains (absent: the caller supplies a trainer)
  /// Ensemble hierarchy, from the peers: an institution's sites, or a site's group (itself and its
  /// siblings), party ids ascending; empty for a one-site institution and for the coordinator.
  std::vector<fl::PartyId> sites;
  /// A site: its institution's party id.
  fl::PartyId institution = 0;
};

/// Parses a configuration (JSON text). Relative paths are taken relative to `base_dir`. Checks
/// values and consistency (ids in range, every peer a hospital needs, the coordinator's peers = the
/// hospitals); files are not opened here.
Result<NodeConfig> parse_node_config(std::string_view json_text, const std::string& base_dir = ".");
/// Reads and parses `path` (relative paths in it are relative to its directory).
Result<NodeConfig> load_node_config(const std::string& path);
/// The passphrase from the environment variable the configuration names (FailedPrecondition if
/// unset or empty).
Result<std::string> node_passphrase(const NodeConfig& config);

}  // namespace heal::node
