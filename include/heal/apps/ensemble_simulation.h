// Ensemble federated learning of heterogeneous models, simulated on one host (issue 17): K hospitals,
// each with its own architecture and a Dirichlet label-skewed share of the training split, learn
// together by federated distillation on a reference set (FedMD, arXiv:1910.03581; FedDF,
// arXiv:2006.07242), with the consensus computed by the fl::ensemble protocol (secure aggregation,
// ledger records). Also runs the baselines the acceptance compares with: every member trained
// on its own data only (same schedule, no distillation) and one model trained centrally on all the
// data. The CLI (`heal fl ensemble simulate`) only parses options and prints this report.
//
// Data use: the reference set is a random fraction of the training split, held out from every
// hospital and used WITHOUT its labels (the consortium's public unlabelled images); the hospitals
// partition the rest. The ensemble weights are measured on the dataset's validation split, a public
// labelled set every member scores (a hospital's own label-skewed validation data would reward a
// member that predicts its majority class). Every model is early-stopped on it (the federation's
// institutions, the local-only members and the central model alike: the weights of the best
// validation round are the ones tested). The test split is only scored at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "heal/apps/torch_ensemble_member.h"
#include "heal/core/status.h"
#include "heal/io/dataset.h"
#include "heal/io/partition.h"

namespace heal::apps::ensemble {

/// One institution of a hierarchical consortium: `sites` sites (hospitals) that share one architecture
/// and FedAvg inside the institution (secure aggregation among the sites) before the institutions
/// form the ensemble.
struct InstitutionPlan {
  std::string name;
  std::string arch = "hecnn";
  int sites = 1;
};

struct EnsembleSimulationOptions {
  /// Either institutions (hierarchical), or `hospitals` one-site institutions with `archs` cycled.
  std::vector<InstitutionPlan> institutions;
  int hospitals = 4;
  /// Architecture of each hospital, cycled when shorter than `hospitals`: "hecnn", "hecnn-wide",
  /// "resnet", "capsnet", "deit", optionally with a width: "hecnn:4".
  std::vector<std::string> archs = {"hecnn", "resnet", "capsnet"};
  io::PartitionSpec partition{.scheme = io::PartitionScheme::kDirichlet, .alpha = 0.5};
  double reference_fraction = 0.2;
  int rounds = 10;
  TorchMemberOptions member;
  /// Baselines: each member on its own data with the same schedule; one central model of
  /// `central_arch` on the whole training split for central_epochs (0: rounds x local_epochs).
  bool local_baseline = true;
  bool central_baseline = true;
  std::string central_arch = "hecnn";
  int central_epochs = 0;
  std::uint64_t seed = 1;
  /// Ledger of the run (required): a new SQLite file, or evm://host:port?key=... (a fresh
  /// HealFederation contract is deployed for the consortium from that key, which also funds the
  /// parties' accounts on a dev chain; needs >= 3 institutions, the contract's threshold rules).
  /// Every party signs with a secp256k1 key, on a chain its account.
  std::string ledger_path;
  /// Progress: a line of text per event (round done, baseline done).
  std::function<void(const std::string&)> on_progress;
};

struct MemberRound {
  double val_accuracy = 0;  // after this round's distillation
  double weight = 0;        // ensemble weight of this round
};

struct RoundRow {
  int round = 0;
  std::vector<MemberRound> members;
  double ensemble_val_accuracy = 0;
  double seconds = 0;
  double secagg_seconds = 0;
  std::vector<std::uint64_t> bytes_up, bytes_down;  // per institution with the coordinator, this round
  /// Per institution: of bytes_up, the SecAgg key setup (first round of a SecAgg session only), and
  /// the upload with that setup spread over the rounds it serves (fl::ensemble::InstitutionRoundReport).
  std::vector<std::uint64_t> setup_bytes_up;
  std::vector<double> amortised_bytes_up;
  std::vector<std::uint64_t> site_bytes;  // per institution: its sites' traffic (up + down)
  std::uint64_t plaintext_bytes = 0;      // one institution's predictions in the clear
  std::vector<std::uint32_t> contributors;
};

struct MemberSummary {
  std::string institution;
  int sites = 1;
  std::string architecture;  // describe_spec()
  std::uint64_t num_parameters = 0;
  std::vector<std::size_t> class_counts;                      // over its sites
  double test_accuracy = 0, test_auc = 0;                     // after the federation
  double local_test_accuracy = 0, local_test_auc = 0;         // local-only baseline (NaN when not run)
  double weight = 0;                                          // final ensemble weight
  double best_val_accuracy = 0, local_best_val_accuracy = 0;  // the early-stopping scores (validation split)
  /// Per test image, row-major (test size x classes): after the federation, and with local training
  /// only (empty when that baseline was not run).
  std::vector<double> test_probabilities, local_test_probabilities;
};

/// The recipe a report came from (written into its JSON, so that a number can be traced to its
/// settings).
struct EnsembleRecipe {
  std::string partition;  // io::partition_scheme_name
  double reference_fraction = 0;
  int rounds = 0, local_epochs = 0, distill_epochs = 0;
  double lr = 0, distill_lr = 0, sharpen_temperature = 1, joint_distill_weight = 0;
  bool cosine = false;
  bool balance_consensus = false;
  std::string central_arch;
  std::uint64_t seed = 0;
};

struct EnsembleSimulationReport {
  std::string dataset;
  EnsembleRecipe recipe;
  std::vector<MemberSummary> members;
  std::vector<RoundRow> rounds;
  double ensemble_test_accuracy = 0, ensemble_test_auc = 0;
  double local_ensemble_test_accuracy = 0;  // the same weighted ensemble of the local-only members
  double central_test_accuracy = 0, central_test_auc = 0, central_best_val_accuracy = 0;
  double ensemble_val_accuracy = 0;  // the deployed ensemble (best checkpoints, final weights) on validation
  /// Balanced accuracy (mean per-class recall) on validation of the deployed ensemble and of the
  /// central model's deployed state: the objective private training weights classes for.
  double ensemble_val_balanced_accuracy = 0, central_val_balanced_accuracy = 0;
  /// The test split answered by secure ensemble diagnosis (apps/ensemble_diagnosis.h, SMPC mode: the
  /// querier learns only the weighted mean): its accuracy, the largest difference from the plaintext
  /// weighted mean (fixed-point error), its bytes and time.
  double secure_test_accuracy = 0, secure_max_abs_diff = 0, secure_seconds = 0;
  std::uint64_t secure_querier_bytes_received = 0;
  /// Institution 1's upload per round over the run, its SecAgg setups spread over the rounds they
  /// serve, and the same predictions as float32 in the clear (bytes).
  double amortised_upload_per_round = 0, plaintext_upload_per_round = 0;
  std::string central_architecture;
  std::size_t reference_size = 0;
  std::string reference_hash;  // hex
  bool ledger_verified = false;
  /// "sqlite" or "evm"; the ledger's URI (an EVM URI without its key, naming the contract).
  std::string ledger_backend, ledger_uri;
  /// On a chain, over the rounds (the setup and deployment excluded): transactions and gas per round;
  /// and the gas of the setup with the deployment.
  double chain_transactions_per_round = 0, chain_gas_per_round = 0;
  std::uint64_t chain_setup_gas = 0;
  double seconds = 0;
  /// The test split per image, for paired comparisons (scripts/ensemble_summary.py resamples the test
  /// images to put confidence intervals on the differences): its labels, and the plaintext ensemble's
  /// and the central model's probabilities (row-major, test size x classes; central empty when not run).
  std::vector<int> test_labels;
  std::vector<double> ensemble_test_probabilities, central_test_probabilities;
};

/// The consortium's data as run_ensemble_simulation splits it (and as every process of an ensemble
/// of nodes splits it alike, heal/node/fl_run.h): the reference set, a seeded random
/// `reference_fraction` of the training split with its labels dropped; the rest of the training split
/// (`pool`), label-skewed over `sites` sites by `partition` (seeded by `seed`); the validation split.
struct EnsembleData {
  std::shared_ptr<io::SplitData> reference, pool, val;
  std::vector<std::vector<std::size_t>> site_indices;  ///< per site, indices into pool
  Digest reference_hash{};                             ///< images_hash(*reference)
};
Result<EnsembleData> split_ensemble_data(const io::Dataset& data, int sites, io::PartitionSpec partition,
                                         double reference_fraction, std::uint64_t seed);
/// An institution's model: an architecture (NAME, NAME:WIDTH or NAME:WIDTHxDEPTH: "hecnn",
/// "resnet:32", "hecnn:16x2" -- width and depth as nn::torch_backend::ModelSpec has them, depth 1..8)
/// or a `.heal` model file (a path ending in ".heal", e.g. one `heal train --save` wrote): the
/// member then has that model's architecture and starts from its weights (Trainer::init_from; HE CNNs,
/// whose IR nn::torch_backend::spec_from_ir reads), as an institution that brings a model it trained
/// before. `init_hash` is the BLAKE2b-256 of the file's bytes (in the member's description, so the
/// ledger records which model it started from).
struct MemberArch {
  nn::torch_backend::ModelSpec spec;
  std::shared_ptr<const nn::ModelIr> init;  ///< null: random initialisation
  Digest init_hash{};
};
/// InvalidArgument naming the problem (unknown name, bad width or depth, an unreadable or
/// incompatible .heal file).
Result<MemberArch> member_arch(const std::string& arch, const io::Dataset& data);
/// True when member_arch reads `arch` as a model file (it ends in ".heal"), not as an architecture name.
bool is_member_model_file(const std::string& arch);
/// member_arch(arch, data).spec, for an architecture name.
Result<nn::torch_backend::ModelSpec> member_spec(const std::string& arch, const io::Dataset& data);
/// The training seed of institution k's site s (s = 0: a one-site institution's member, or a
/// multi-site institution's model).
std::uint64_t member_seed(std::uint64_t seed, std::size_t k, std::size_t site);

/// Runs the simulation. InvalidArgument on bad options (unknown architecture, too few samples).
Result<EnsembleSimulationReport> run_ensemble_simulation(const io::Dataset& data, const std::string& dataset_name,
                                                         const EnsembleSimulationOptions& options);

/// The report as JSON text (per-round table, members, baselines).
std::string ensemble_report_json(const EnsembleSimulationReport& r);
/// Validation accuracy per round, per member (after its distillation) and for the ensemble, with the
/// central model's best validation accuracy as a reference line, as a PNG. Unsupported when built
/// without PLplot.
Status plot_ensemble_report(const EnsembleSimulationReport& r, const std::string& png_path);

}  // namespace heal::apps::ensemble
