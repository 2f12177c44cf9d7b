// `heal fl simulate` and `heal demo`: the flags of a simulated federation, handed to the pipeline
// apps::run_fl_simulation (heal/apps/fl_simulation.h), whose tables and report this prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace heal::cli {

/// Options of a simulation (the CLI flags of `heal fl simulate`).
struct SimArgs {
  int hospitals = 3;
  std::string data;                      // dataset path or name (else --data / HEAL_DATA)
  std::string partition = "dirichlet:0.5";
  std::uint64_t rounds = 5;
  std::string secure = "he";             // he | none
  std::string keygen = "simulated";      // he key setup: simulated (one seeded dealer) | distributed
  std::string strategy = "fedavg";
  int local_epochs = 1;
  std::string model = "hecnn";
  std::string task = "classify";         // classify | segment (segmentation datasets; --model segcaps | unet)
  int size = 128;                        // segment: network input side
  std::uint32_t threshold = 0;           // 0: a majority, K / 2 + 1 (t >= 2 and t > K / 2 enforced)
  std::vector<std::string> drops;        // HOSPITAL@ROUND[:after]
  std::string ledger;                    // default OUT/ledger.db
  std::string out = "heal-fl-out";
  std::uint64_t seed = 1;
  bool json = false;
  bool centralized = false;              // also train the same model on the pooled data
  double clip = 0;
  std::uint32_t min_contributors = 0;
  int threads = 2;
  double lr = 2e-3;
  int batch = 64;
  double mu = 0.01;                      // FedProx
  double server_lr = 1.0;
  double max_abs_update = 256;           // HE encoding bound on |update_k|
};

/// What the caller may still want after the run (the demo verifies the ledger).
struct SimOutcome {
  std::string ledger_path;
  std::string report_path;
  std::vector<float> final_model;
  double test_accuracy = 0, test_auc = 0;
};

/// Runs apps::run_fl_simulation and prints its setup, per-round table and summary (or the JSON
/// report). Throws StatusError on bad input or missing data (the CLI's error handler prints it).
SimOutcome run_fl_simulation(const SimArgs& args);

}  // namespace heal::cli
