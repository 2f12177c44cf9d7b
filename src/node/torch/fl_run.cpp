// A federation party of libtorch trainers in its own process (heal/node/fl_run.h).
#include "heal/node/fl_run.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "heal/apps/fl_workload.h"
#include "heal/io/partition.h"
#include "heal/nn/torch/trainer.h"
#include "heal/node/runtime.h"

namespace heal::node {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

apps::FlSimulationOptions workload_options(const NodeConfig& c) {
  const NodeTraining& t = *c.training;
  apps::FlSimulationOptions a;
  a.hospitals = static_cast<int>(c.hospitals);
  a.data_path = t.data_path;
  a.task = t.task;
  a.model = t.model;
  a.partition = t.partition;
  a.seed = t.seed;
  a.lr = t.learning_rate;
  a.lr_schedule = t.lr_schedule;
  a.batch = static_cast<int>(t.batch_size);
  a.local_epochs = static_cast<int>(t.local_epochs);
  a.size = static_cast<int>(t.image_size);
  a.seg_loss = t.seg_loss;
  a.multiclass = t.multiclass;
  a.threads = static_cast<int>(t.threads);
  a.rounds = c.rounds;
  return a;
}

// Mean bytes sent and received per hospital that took part in the round (any traffic).
std::pair<double, double> bytes_per_hospital(const fl::RoundStats& r) {
  double up = 0, down = 0;
  std::size_t online = 0;
  for (const auto& p : r.parties) {
    if (p.bytes_up + p.bytes_down == 0) continue;
    ++online;
    up += static_cast<double>(p.bytes_up);
    down += static_cast<double>(p.bytes_down);
  }
  const double n = static_cast<double>(std::max<std::size_t>(online, 1));
  return {up / n, down / n};
}

std::string round_row(const fl::RoundStats& r, const apps::fl_workload::Workload& w) {
  const auto [up, down] = bytes_per_hospital(r);
  std::ostringstream os;
  os << std::setprecision(4) << "round " << r.round << (r.completed ? "" : " FAILED") << ": " << r.contributors
     << " contributions, " << w.val_titles[0] << " " << apps::fl_workload::metric(r.val_metrics, w.val_keys[0]) << ", "
     << std::setprecision(3) << r.round_seconds << " s, up " << apps::fl_workload::human_bytes(up) << " / down "
     << apps::fl_workload::human_bytes(down) << " per hospital";
  if (!r.completed) os << " (" << r.failure_reason << ")";
  os << "\n";
  return os.str();
}

FlNodeRunResult run(NodeConfig c, const FlNodeRunOptions& o) {
  if (!c.training) {
    throw StatusError(Status::invalid_argument(
        "node config: no \"training\" section: heal node run needs the dataset, model and partition to train"));
  }
  const apps::FlSimulationOptions a = workload_options(c);
  nn::torch_backend::set_num_threads(a.threads);
  io::PartitionSpec ps;
  if (Status st = io::parse_partition_scheme(a.partition, &ps); !st.ok()) {
    throw StatusError(st.with_context("node config: training.partition"));
  }
  ps.hospitals = a.hospitals;
  ps.seed = a.seed;
  FlNodeRunResult out;
  if (c.role == NodeRole::kHospital) {
    const int self = static_cast<int>(c.party_id);
    apps::fl_workload::Workload w =
        apps::fl_workload::make_workload(a, a.data_path, ps, std::span<const int>(&self, 1));
    c.he.max_total_weight = apps::fl_workload::max_total_weight(w.total_train);
    if (o.on_text) {
      o.on_text("hospital " + std::to_string(self) + ": " + w.summary + ", model " + a.model + " (" +
                std::to_string(w.initial.size()) + " parameters)\n");
    }
    if (Status st = run_hospital_node(c, std::move(w.trainers.at(0))); !st.ok()) throw StatusError(st);
    return out;
  }

  out.coordinator = true;
  apps::fl_workload::Workload w = apps::fl_workload::make_workload(a, a.data_path, ps, {});
  c.he.max_total_weight = apps::fl_workload::max_total_weight(w.total_train);
  const std::size_t params = w.initial.size();
  if (o.on_text) {
    std::ostringstream os;
    os << "coordinator: " << c.hospitals << " hospital processes, " << w.summary << ", partition "
       << io::partition_scheme_name(ps) << ", model " << a.model << " (" << params << " parameters), " << c.rounds
       << " rounds\n"
       << w.partition_table;
    o.on_text(os.str());
  }
  fl::StrategyConfig strategy;
  strategy.name = c.training->strategy;
  strategy.server_lr = c.training->server_lr;
  strategy.proximal_mu = c.training->proximal_mu;
  NodeOptions no;
  no.on_round = [&](const fl::RoundStats& r) {
    if (o.on_text) o.on_text(round_row(r, w));
  };
  const auto t0 = std::chrono::steady_clock::now();
  CoordinatorNodeResult res = run_coordinator_node(c, w.initial, strategy, no).value();
  const double fl_seconds = apps::fl_workload::seconds_since(t0);
  out.final_model = std::move(res.model);
  const apps::fl_workload::TestResult test = w.test(out.final_model);
  out.test_accuracy = test.accuracy;
  out.test_auc = test.auc;
  const fl::FederationReport& rep = res.report;
  const apps::fl_workload::RoundTable rt = apps::fl_workload::format_round_table(rep, w);
  out.round_table = rt.text;
  out.ledger_verified = rep.ledger_verified;
  out.ledger = res.ledger.empty() ? c.ledger_path : res.ledger;
  out.ledger_head = rep.ledger_head;

  // Where a round's wall time goes, over the network: the slowest hospital's training, the HE work
  // (slowest encryption, aggregation, slowest share + combining), and the rest (transfers, ledger
  // appends and reads, waiting for the slowest answer).
  double round_sum = 0, train_sum = 0, he_sum = 0, up_sum = 0, down_sum = 0;
  std::size_t completed = 0;
  for (const auto& r : rep.rounds) {
    if (!r.completed) continue;
    ++completed;
    round_sum += r.round_seconds;
    train_sum += r.train_seconds;
    he_sum += r.encrypt_seconds + r.aggregate_seconds + r.decrypt_seconds;
    const auto [up, down] = bytes_per_hospital(r);
    up_sum += up;
    down_sum += down;
  }
  const double nc = static_cast<double>(std::max<std::size_t>(completed, 1));
  const double other = std::max(0.0, round_sum - train_sum - he_sum);
  const auto pct = [&](double x) { return round_sum > 0 ? 100 * x / round_sum : 0.0; };
  json j = json::parse(rep.to_json());
  j["mode"] = "processes";
  j["task"] = a.task;
  j["dataset"] = w.name;
  j["partition"] = io::partition_scheme_name(ps);
  j["model"] = a.model;
  j["parameters"] = params;
  j["local_epochs"] = a.local_epochs;
  j["test"] = test.report;
  j["rounds_extra"] = rt.extra;
  j["ledger"] = {{"uri", res.ledger.empty() ? c.ledger_path : res.ledger}, {"verified", rep.ledger_verified}};
  j["network"] = {{"completed_rounds", completed},
                  {"bytes_up_per_hospital_per_round", up_sum / nc},
                  {"bytes_down_per_hospital_per_round", down_sum / nc},
                  {"float32_update_bytes", 4 * params},
                  {"upload_ratio_vs_float32", up_sum / nc / (4.0 * static_cast<double>(params))},
                  {"round_seconds_mean", round_sum / nc},
                  {"train_seconds_mean", train_sum / nc},
                  {"he_seconds_mean", he_sum / nc},
                  {"other_seconds_mean", other / nc},
                  {"he_percent_of_round", pct(he_sum)},
                  {"protocol_overhead_percent_of_round", pct(he_sum + other)},
                  {"federation_seconds", fl_seconds},
                  {"note",
                   "bytes are protocol payloads counted by the coordinator's transport (TLS and HTTP/2 framing "
                   "excluded); times are wall times of processes sharing one machine"}};
  fs::create_directories(o.out);
  out.report_path = (fs::path(o.out) / "report.json").string();
  out.report_json = j.dump(2);
  std::ofstream(out.report_path) << out.report_json << "\n";
  nn::Series fl_acc{"federated (val)", {}, {}};
  for (const auto& r : rep.rounds) {
    fl_acc.x.push_back(static_cast<double>(r.round));
    fl_acc.y.push_back(apps::fl_workload::metric(r.val_metrics, w.val_keys[0]));
  }
  out.plot_path = (fs::path(o.out) / "accuracy.png").string();
  (void)nn::plot_lines(out.plot_path, w.plot_title, "round", w.val_titles[0], {fl_acc});

  std::ostringstream sum;
  sum << std::setprecision(4) << "final global model: " << test.line << "\n"
      << std::setprecision(3) << "per round (mean of " << completed << " completed): " << round_sum / nc
      << " s wall = training " << train_sum / nc << " s + HE " << he_sum / nc << " s (" << pct(he_sum)
      << "%) + network, ledger and waiting " << other / nc << " s (" << pct(other) << "%)\n"
      << "bytes per hospital per round: up " << apps::fl_workload::human_bytes(up_sum / nc) << " ("
      << up_sum / nc / (4.0 * static_cast<double>(params)) << "x float32), down "
      << apps::fl_workload::human_bytes(down_sum / nc) << "\n"
      << "ledger " << out.ledger << ": " << (rep.ledger_verified ? "verified" : "NOT verified") << ", head "
      << digest_hex(rep.ledger_head).substr(0, 16) << "\n";
  out.summary = sum.str();
  return out;
}

}  // namespace

Result<FlNodeRunResult> run_fl_node(NodeConfig config, const FlNodeRunOptions& options) {
  try {
    return run(std::move(config), options);
  } catch (const StatusError& e) {
    return e.status();
  } catch (const std::invalid_argument& e) {
    return Status::invalid_argument(e.what());
  }
}

}  // namespace heal::node
