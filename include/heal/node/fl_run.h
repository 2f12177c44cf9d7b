// One party of a federation of libtorch trainers in its own process: what `heal node run --config`
// runs (docs/deployment.md, "Running the nodes"). The node configuration's "training" section names
// the dataset, partition, model and seed; a hospital builds the trainer of its own partition and runs
// node::run_hospital_node; the coordinator builds model v0, runs node::run_coordinator_node, scores
// the final model on the test split and writes the same per-round table and report.json as
// `heal fl simulate`, with the round times and bytes of the real network. Target
// heal_node_torch (src/node/torch): built with libtorch and the gRPC transport only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/node/config.h"

namespace heal::node {

struct FlNodeRunOptions {
  std::string out = "heal-node-out";  ///< coordinator: report.json and accuracy.png go here
  /// Called with the setup description, then with one table row per round (coordinator); may be empty.
  std::function<void(const std::string&)> on_text;
};

struct FlNodeRunResult {
  bool coordinator = false;
  // Coordinator only:
  std::string round_table, summary, report_json, report_path, plot_path;
  double test_accuracy = 0, test_auc = 0;
  std::vector<float> final_model;
  bool ledger_verified = false;
  Digest ledger_head{};
  std::string ledger;  ///< the SQLite file, or the contract's audit URI (evm://host:port?contract=...)
};

/// Runs the node until the federation ends. InvalidArgument when the configuration has no
/// "training" section or names an unknown model or dataset kind; the runtime's errors otherwise.
Result<FlNodeRunResult> run_fl_node(NodeConfig config, const FlNodeRunOptions& options = {});

}  // namespace heal::node
