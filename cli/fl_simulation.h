// `heal fl simulate` and `heal demo`: the flags of a simulated federation, handed to the pipeline
// apps::run_fl_simulation (heal/apps/fl_simulation.h), whose tables and report this prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heal/apps/fl_simulation.h"

namespace heal::cli {

/// The flags of `heal fl simulate` / `heal demo`: the pipeline's options plus what only the CLI knows.
struct SimArgs {
  apps::FlSimulationOptions sim;  // bound to the flags; data_path, dicom, slices and progress set by the CLI
  std::string data;               // dataset path or name (else --data / HEAL_DATA)
  bool json = false;              // print the JSON report instead of the tables
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
