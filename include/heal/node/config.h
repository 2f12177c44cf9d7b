// A node's configuration (docs/deployment.md, "Running the nodes"): one JSON file per process, read
// as outside bytes (every field checked, unknown keys refused, Status errors naming the field).
// Secrets never appear in it: the node store's passphrase comes from an environment variable named in
// the file, the TLS key from a 0600 file.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "heal/core/status.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/model.h"

namespace heal::node {

enum class NodeRole : std::uint8_t { kCoordinator, kHospital };

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
