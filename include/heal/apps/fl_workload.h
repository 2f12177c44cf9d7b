// The task-specific half of a federation of libtorch trainers, shared by the in-process simulation
// (src/apps/fl) and the node processes (src/node/torch): the dataset, its partition over the
// hospitals, one trainer per hospital this process runs, model v0, the test evaluation and the
// centralised baseline; plus the per-round table both print. Part of heal_apps_fl (libtorch).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "heal/apps/fl_simulation.h"
#include "heal/fl/coordinator.h"
#include "heal/fl/local_trainer.h"
#include "heal/io/partition.h"
#include "heal/nn/plots.h"

namespace heal::apps::fl_workload {

double seconds_since(std::chrono::steady_clock::time_point t0);
std::string human_bytes(double b);
double metric(const fl::Metrics& m, const char* k);

/// What the final global model scores on the test split.
struct TestResult {
  double accuracy = 0, auc = 0;  // classification (FlSimulationResult)
  nlohmann::json report;         // report.json's "test"
  std::string line;              // the summary line
};

struct Workload {
  std::string name, summary, partition_table, plot_title;
  /// One trainer per entry of the `hospitals` argument of make_workload, in that order.
  std::vector<std::unique_ptr<fl::LocalTrainer>> trainers;
  std::vector<float> initial;
  double total_train = 0;  // training samples over all hospitals (HE weight bound)
  std::array<const char*, 2> val_keys{}, val_titles{};
  std::function<TestResult(const std::vector<float>&)> test;
  std::function<nlohmann::json(nn::Series&)> centralized;  // the same model trained on the pooled data
  std::function<std::string(const nlohmann::json&, const TestResult&)> central_line;
};

/// Loads the dataset at `path`, partitions it over a.hospitals with `ps` and builds the trainers of
/// the listed hospitals only (all of them in a simulation, one in a hospital process, none in the
/// coordinator). The partition depends only on the labels, the scheme and its seed, so every
/// process computes the same one. Throws StatusError / std::invalid_argument on bad input.
Workload make_workload(const FlSimulationOptions& a, const std::string& path, const io::PartitionSpec& ps,
                       std::span<const int> hospitals);

/// Sum of the HE overhead over the rounds, for the summary line and the report.
struct RoundTable {
  std::string text;                                // fixed-width per-round table
  nlohmann::json extra = nlohmann::json::array();  // report.json's "rounds_extra"
  double he_seconds = 0, train_seconds = 0, round_seconds = 0, he_sequential_seconds = 0;
};
RoundTable format_round_table(const fl::FederationReport& report, const Workload& w);

/// The HE bound on the sum of contribution weights: total training samples rounded up to a power of 2.
double max_total_weight(double total_train);

}  // namespace heal::apps::fl_workload
