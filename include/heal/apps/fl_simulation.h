// A whole federation in one process on a real dataset (what `heal fl simulate` and `heal demo` run):
// one libtorch trainer per hospital on its partition of the training split, the fl round protocol
// (fl::Federation: coordinator and hospitals over an in-process Transport), threshold-CKKS or
// plaintext aggregation, and a ledger (a new SQLite file, or a contract on an EVM chain). Tasks:
// classification (nn::torch_backend::Trainer) and segmentation (SegTrainer, Inf-Net metrics).
// Writes OUT/report.json and OUT/accuracy.png; returns the report and the texts a front end prints.
// Part of heal_apps_fl, which exists only when libtorch is built (HEAL_WITH_TORCH).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/io/dataset.h"

namespace heal::apps {

/// Options of a simulated federation (the flags of `heal fl simulate`).
struct FlSimulationOptions {
  int hospitals = 3;
  std::string data_path;      // a resolved dataset path (file or directory)
  io::DicomOptions dicom;     // how DICOM inputs are read (classification)
  io::SliceSelection slices;  // which slices of a volume are used (classification)
  std::string partition = "dirichlet:0.5";
  std::uint64_t rounds = 5;
  std::string secure = "he";         // he | none
  std::string keygen = "simulated";  // HE key setup: simulated (one seeded dealer) | distributed
  std::string strategy = "fedavg";
  int local_epochs = 1;
  std::string model = "hecnn";
  std::string task = "classify";   // classify | segment (segmentation datasets; model segcaps | ucaps | unet)
  int size = 128;                  // segment: network input side
  std::string seg_loss = "bce-dice";  // segment: bce-dice | structure (nn::torch_backend::SegLoss)
  bool multiclass = false;  // segment: covid_seg's multi-class masks, one output per class (heal train --multiclass)
  std::uint32_t threshold = 0;     // t of the HE key; 0: a majority, K / 2 + 1 (t >= 2, t > K / 2 enforced)
  std::vector<std::string> drops;  // HOSPITAL@ROUND[:before|after]
  std::string ledger;              // ledger path or URI; default OUT/ledger.db
  std::string out = "heal-fl-out";
  std::uint64_t seed = 1;
  bool centralized = false;  // also train the same model on the pooled data
  double clip = 0;
  std::uint32_t min_contributors = 0;
  int threads = 2;
  double lr = 2e-3;
  std::string lr_schedule = "constant";  // the hospitals' rate per round: constant | cosine (fl_torch_trainer.h)
  int batch = 64;
  double mu = 0.01;  // FedProx
  double server_lr = 1.0;
  double max_abs_update = 256;  // HE encoding bound on |update_k|
  /// HE flooding budget: flooded decryptions per key holder and key epoch (the flooding noise grows
  /// as its square root; the setup checks the precision still holds).
  std::uint64_t max_decryptions = 4096;
  bool progress = false;  // a progress bar with ETA on stderr during the rounds
  /// Called once the federation is set up, before the rounds, with the setup description (dataset,
  /// partition table, HE parameters, ledger contract); may be empty.
  std::function<void(const std::string&)> on_setup;
};

/// What a run produced.
struct FlSimulationResult {
  std::string ledger_path;  // the ledger (a SQLite path, or the chain audit URI)
  std::string report_path;  // OUT/report.json
  std::string report_json;  // its content
  std::string plot_path;    // OUT/accuracy.png
  Status plot_status;       // whether the plot was written
  std::vector<float> final_model;
  std::uint64_t model_version = 0;
  double test_accuracy = 0, test_auc = 0;  // classification only
  bool ledger_verified = false;
  Digest ledger_head{};
  std::string round_table;  // the per-round table (fixed-width text)
  std::string summary;      // final model, central baseline, HE overhead, ledger and report lines
};

/// Runs the simulation. InvalidArgument for bad options (hospitals < 2, an unknown mode, a
/// segmentation model on a classification dataset, a ledger file that already exists, ...),
/// NotFound / Corruption from the dataset loaders, and the federation's errors.
Result<FlSimulationResult> run_fl_simulation(const FlSimulationOptions& options);

}  // namespace heal::apps
