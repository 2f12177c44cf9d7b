// A federation party of libtorch trainers in its own process (heal/node/fl_run.h).
#include "heal/node/fl_run.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "heal/apps/ensemble_simulation.h"
#include "heal/apps/fl_workload.h"
#include "heal/fl/ensemble/roles.h"
#include "heal/io/partition.h"
#include "heal/nn/metrics.h"
#include "heal/nn/plots.h"
#include "heal/nn/torch/trainer.h"
#include "heal/node/ensemble.h"
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

// The coordinator's report.json in `dir`; the plot beside it goes to out.plot_path (accuracy.png).
void write_report(const json& j, const std::string& dir, FlNodeRunResult& out) {
  fs::create_directories(dir);
  out.report_path = (fs::path(dir) / "report.json").string();
  out.report_json = j.dump(2);
  std::ofstream(out.report_path) << out.report_json << "\n";
  out.plot_path = (fs::path(dir) / "accuracy.png").string();
}

// --- training.federation = "ensemble": every hospital an institution with its own architecture ---

namespace ae = apps::ensemble;

struct EnsembleWorkload {
  io::Dataset data;
  ae::EnsembleData split;
};

// Sites per institution (training.sites; one each when absent).
std::vector<std::uint32_t> sites_per_institution(const NodeConfig& c) {
  const NodeTraining& t = *c.training;
  return t.sites.empty() ? std::vector<std::uint32_t>(c.hospitals, 1) : t.sites;
}

// The share of the partition that site s of institution k holds: the shares are numbered over all
// sites, institution by institution (as in apps::ensemble::run_ensemble_simulation).
std::size_t global_site_index(const NodeConfig& c, std::uint32_t k, std::uint32_t s) {
  const auto per = sites_per_institution(c);
  std::size_t h = 0;
  for (std::uint32_t j = 0; j < k; ++j) h += per[j];
  return h + s;
}

// Every process loads the dataset and splits it alike (reference set, Dirichlet shares over all
// sites), as `heal fl ensemble simulate` does.
EnsembleWorkload ensemble_workload(const NodeConfig& c, const io::PartitionSpec& ps) {
  const NodeTraining& t = *c.training;
  io::LoadOptions lo;
  if (io::detect_dataset_kind(t.data_path).value() != io::DatasetKind::kNpz) lo.resize_to = 64;
  auto ds = io::load_dataset(t.data_path, lo);
  if (!ds.ok()) throw StatusError(ds.status().with_context("node config: training.data"));
  EnsembleWorkload w{std::move(*ds), {}};
  const auto per = sites_per_institution(c);
  const int total_sites = static_cast<int>(std::accumulate(per.begin(), per.end(), std::uint32_t{0}));
  auto split = ae::split_ensemble_data(w.data, total_sites, ps, t.reference_fraction, t.seed);
  if (!split.ok()) throw StatusError(split.status().with_context("node config: training"));
  w.split = std::move(*split);
  return w;
}

ae::TorchMemberOptions member_options(const NodeConfig& c) {
  const NodeTraining& t = *c.training;
  auto m = ae::member_options({.local_epochs = static_cast<int>(t.local_epochs),
                               .distill_epochs = static_cast<int>(t.distill_epochs),
                               .batch = static_cast<int>(t.batch_size),
                               .lr = t.learning_rate,
                               .distill_lr = t.distill_lr,
                               .sharpen = t.sharpen,
                               .lr_schedule = t.lr_schedule,
                               .rounds = c.rounds,
                               .balance_consensus = t.balance_consensus});
  if (!m.ok()) throw StatusError(m.status().with_context("node config: training"));
  return std::move(*m);
}

EnsembleNodeOptions ensemble_node_options(const NodeConfig& c) {
  EnsembleNodeOptions e;
  e.secagg_rounds_per_setup = static_cast<std::uint32_t>(std::min<std::uint64_t>(c.rounds, 20));
  return e;
}

FlNodeRunResult run_ensemble_institution(const NodeConfig& c, const io::PartitionSpec& ps, const FlNodeRunOptions& o) {
  const NodeTraining& t = *c.training;
  EnsembleWorkload w = ensemble_workload(c, ps);
  const std::size_t k = c.party_id;
  const std::string arch = t.archs[k % t.archs.size()];
  auto spec = ae::member_arch(arch, w.data);
  if (!spec.ok()) throw StatusError(spec.status().with_context("node config: training.archs"));
  // One site: the institution trains on its share. Several: the institution model holds its sites'
  // FedAvg and no data of its own (as in the simulation).
  const bool multi_site = !c.sites.empty();
  ae::TorchEnsembleMember member(w.split.pool,
                                 multi_site
                                     ? std::vector<std::size_t>{}
                                     : w.split.site_indices.at(global_site_index(c, static_cast<std::uint32_t>(k), 0)),
                                 w.split.reference, w.split.val, spec->spec, member_options(c),
                                 ae::member_seed(t.seed, k, 0), spec->init, spec->init_hash);
  if (o.on_text) {
    o.on_text("institution " + std::to_string(k) + ": " + w.data.name + ", " +
              (multi_site ? std::to_string(c.sites.size()) + " sites (FedAvg through SecAgg), no images of its own"
                          : std::to_string(member.num_train_samples()) + " private images") +
              ", reference set " + std::to_string(member.num_reference()) + " images, model " +
              member.describe().architecture + " (" + std::to_string(member.describe().num_parameters) +
              " parameters)\n");
  }
  EnsembleNodeOptions e = ensemble_node_options(c);
  // Early stopping as in the simulation (TorchEnsembleMember::end_round / deploy).
  e.on_node_round = [&](const fl::ensemble::NodeRound& r) {
    (void)member.end_round();
    if (!o.on_text) return;
    std::ostringstream os;
    os << std::setprecision(3) << "round " << r.round << ": val ACC " << r.val_accuracy << ", weight " << r.weight
       << (r.distilled ? ", distilled" : "") << (r.refusal.empty() ? "" : ", refused: " + r.refusal) << " (train "
       << r.train_seconds << " s, SecAgg " << r.secagg_seconds << " s, distil " << r.distill_seconds << " s)\n";
    o.on_text(os.str());
  };
  auto traffic = run_ensemble_institution_node(c, member, e);
  if (!traffic.ok()) throw StatusError(traffic.status());
  // The institution holds its own model: it scores it (the weights of its best validation state, as
  // the simulation deploys them) on the test split.
  // (A multi-site institution's model is scored at the rounds' ends only, as in the simulation.)
  auto deployed = member.deploy(/*with_intermediate=*/!multi_site);
  if (!deployed.ok()) throw StatusError(deployed.status().with_context("institution " + std::to_string(k)));
  const double best_val = *deployed;
  const auto m =
      nn::compute_metrics(member.trainer().predict_proba(w.data.test), w.data.test.labels, w.data.num_classes);
  FlNodeRunResult out;
  out.test_accuracy = m.accuracy;
  out.test_auc = m.auc;
  if (o.on_text) {
    std::ostringstream os;
    os << std::setprecision(4) << "institution " << k << " (" << arch << "): best val ACC " << best_val << "; test ACC "
       << m.accuracy << ", AUC " << m.auc << "\n"
       << "institution " << k << " sent " << traffic->bytes_to_coordinator << " B to the coordinator and "
       << traffic->bytes_to_peers << " B to its peers (announcements) over " << c.rounds << " rounds\n";
    if (multi_site) {
      os << "institution " << k << " sent " << traffic->bytes_to_sites << " B to its sites and received "
         << traffic->bytes_from_sites << " B from them (their FedAvg under SecAgg)\n";
    }
    o.on_text(os.str());
  }
  return out;
}

// A site of a multi-site institution: its own share of the data, the institution's architecture.
FlNodeRunResult run_ensemble_site(const NodeConfig& c, const io::PartitionSpec& ps, const FlNodeRunOptions& o) {
  const NodeTraining& t = *c.training;
  EnsembleWorkload w = ensemble_workload(c, ps);
  const std::uint32_t k = c.institution;
  const std::uint32_t s = c.party_id % kSiteIdBase;
  const std::string arch = t.archs[k % t.archs.size()];
  auto spec = ae::member_arch(arch, w.data);
  if (!spec.ok()) throw StatusError(spec.status().with_context("node config: training.archs"));
  ae::TorchEnsembleMember member(w.split.pool, w.split.site_indices.at(global_site_index(c, k, s)), w.split.reference,
                                 w.split.val, spec->spec, member_options(c), ae::member_seed(t.seed, k, s + 1),
                                 spec->init, spec->init_hash);
  if (o.on_text) {
    o.on_text("site " + std::to_string(c.party_id) + " of institution " + std::to_string(k) + ": " + w.data.name +
              ", " + std::to_string(member.num_train_samples()) + " private images, model " +
              member.describe().architecture + " (" + std::to_string(member.describe().num_parameters) +
              " parameters)\n");
  }
  EnsembleNodeOptions e = ensemble_node_options(c);
  e.on_site_round = [&](const fl::ensemble::SiteRound& r) {
    if (!o.on_text) return;
    std::ostringstream os;
    os << std::setprecision(3) << "round " << r.round << ": trained on " << r.train_samples << " images, val ACC "
       << r.val_accuracy << " (" << r.train_seconds << " s)"
       << (r.contributed ? ", contributing to the institution's FedAvg" : ", dropped out of this round") << "\n";
    o.on_text(os.str());
  };
  auto traffic = run_ensemble_site_node(c, member, e);
  if (!traffic.ok()) throw StatusError(traffic.status());
  if (o.on_text) {
    o.on_text("site " + std::to_string(c.party_id) + " sent " + std::to_string(traffic->bytes_to_institution) +
              " B to its institution and received " + std::to_string(traffic->bytes_from_institution) + " B\n");
  }
  return {};
}

FlNodeRunResult run_ensemble_coordinator(const NodeConfig& c, const io::PartitionSpec& ps, const FlNodeRunOptions& o) {
  const NodeTraining& t = *c.training;
  EnsembleWorkload w = ensemble_workload(c, ps);
  const auto& ref = *w.split.reference;
  const std::uint32_t classes = static_cast<std::uint32_t>(w.data.num_classes);
  if (o.on_text) {
    std::ostringstream os;
    os << "coordinator: ensemble of " << c.hospitals << " institution processes, " << w.data.name << ", partition "
       << io::partition_scheme_name(ps) << ", reference set " << ref.size() << " images (hash "
       << digest_hex(w.split.reference_hash).substr(0, 16) << "), " << c.rounds << " rounds\n";
    o.on_text(os.str());
  }
  EnsembleNodeOptions e = ensemble_node_options(c);
  std::ostringstream table;
  // Per institution: its validation accuracy after this round's private training (what its public
  // ensemble weight is computed from) and that weight.
  table << "round  contributors  ";
  for (std::uint32_t h = 0; h < c.hospitals; ++h) table << "val" << h << "   w" << h << "     ";
  table << "SecAgg s\n";
  auto row = [&](const fl::ensemble::CoordinatorRound& r) {
    std::ostringstream os;
    os << std::setw(5) << r.round << "  " << std::setw(12) << r.contributors.size() << "  " << std::fixed
       << std::setprecision(3);
    for (std::uint32_t h = 0; h < c.hospitals; ++h) {
      const auto a = r.accuracy.find(h);
      const auto wt = r.weight.find(h);
      if (a == r.accuracy.end()) {
        os << "-      -      ";
      } else {
        os << a->second << "  " << wt->second << "  ";
      }
    }
    os << std::setprecision(4) << r.secagg_seconds << (r.completed ? "" : "  FAILED: " + r.failure) << "\n";
    return os.str();
  };
  e.on_round = [&](const fl::ensemble::CoordinatorRound& r) {
    const std::string line = row(r);
    table << line;
    if (o.on_text) o.on_text(line);
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto res = run_ensemble_coordinator_node(c, w.split.reference_hash, ref.size(), classes, e);
  if (!res.ok()) throw StatusError(res.status());
  const double seconds = apps::fl_workload::seconds_since(t0);
  FlNodeRunResult out;
  out.coordinator = true;
  out.round_table = table.str();
  out.ledger_verified = res->ledger_verified;
  out.ledger_head = res->ledger_head;
  out.ledger = res->ledger;
  std::size_t completed = 0;
  double secagg = 0;
  for (const auto& r : res->rounds) {
    completed += r.completed;
    secagg += r.secagg_seconds;
  }
  const double nr = static_cast<double>(std::max<std::size_t>(res->rounds.size(), 1));
  const double plaintext = 4.0 * static_cast<double>(ref.size()) * classes;  // float32 predictions in the clear
  json inst = json::array();
  for (const auto& i : res->institutions) {
    inst.push_back({{"party", i.party},
                    {"architecture", i.architecture},
                    {"parameters", i.num_parameters},
                    {"bytes_up", res->bytes_up.at(i.party)},
                    {"bytes_down", res->bytes_down.at(i.party)},
                    {"bytes_up_per_round", static_cast<double>(res->bytes_up.at(i.party)) / nr}});
  }
  json rounds = json::array();
  std::vector<nn::Series> members;
  for (const auto& i : res->institutions)
    members.push_back({"institution " + std::to_string(i.party) + " (val)", {}, {}});
  for (const auto& r : res->rounds) {
    json acc = json::object(), wt = json::object();
    for (const auto& [p, a] : r.accuracy) acc[std::to_string(p)] = a;
    for (const auto& [p, x] : r.weight) wt[std::to_string(p)] = x;
    rounds.push_back({{"round", r.round},
                      {"completed", r.completed},
                      {"failure", r.failure},
                      {"contributors", r.contributors},
                      {"val_accuracy", acc},
                      {"weight", wt},
                      {"secagg_seconds", r.secagg_seconds}});
    for (std::size_t k = 0; k < members.size(); ++k) {
      const auto a = r.accuracy.find(static_cast<fl::PartyId>(k));
      if (a == r.accuracy.end()) continue;
      members[k].x.push_back(static_cast<double>(r.round));
      members[k].y.push_back(a->second);
    }
  }
  json j = {{"mode", "processes"},
            {"federation", "ensemble"},
            {"dataset", w.data.name},
            {"partition", io::partition_scheme_name(ps)},
            {"archs", t.archs},
            {"reference_images", ref.size()},
            {"reference_hash", digest_hex(w.split.reference_hash)},
            {"rounds", rounds},
            {"institutions", inst},
            {"completed_rounds", completed},
            {"secagg_server_seconds_per_round", secagg / nr},
            {"federation_seconds", seconds},
            {"plaintext_prediction_bytes", plaintext},
            {"ledger", {{"uri", out.ledger}, {"verified", out.ledger_verified}}},
            {"note",
             "bytes are protocol payloads counted by the coordinator's transport (TLS and HTTP/2 framing excluded); "
             "each institution scores its own model on the test split and prints it (the coordinator holds no model)"}};
  write_report(j, o.out, out);
  (void)nn::plot_lines(out.plot_path, w.data.name + ": ensemble members, validation", "round", "val ACC", members);
  std::ostringstream sum;
  double up = 0;
  for (const auto b : res->bytes_up) up += static_cast<double>(b);
  up /= static_cast<double>(std::max<std::size_t>(res->bytes_up.size(), 1)) * nr;
  sum << std::setprecision(4) << completed << " of " << res->rounds.size() << " rounds completed in " << seconds
      << " s; SecAgg server " << secagg / nr << " s per round\n"
      << "upload per institution per round " << apps::fl_workload::human_bytes(up) << " (" << up / plaintext
      << "x its float32 predictions, SecAgg setup included)\n"
      << "ledger " << out.ledger << ": " << (out.ledger_verified ? "verified" : "NOT verified") << ", head "
      << digest_hex(out.ledger_head).substr(0, 16) << "\n";
  out.summary = sum.str();
  return out;
}

FlNodeRunResult run(NodeConfig c, const FlNodeRunOptions& o) {
  if (!c.training) {
    throw StatusError(Status::invalid_argument(
        "node config: no \"training\" section: heal node run needs the dataset, model and partition to train"));
  }
  nn::torch_backend::set_num_threads(static_cast<int>(c.training->threads));
  io::PartitionSpec ps;
  if (Status st = io::parse_partition_scheme(c.training->partition, &ps); !st.ok()) {
    throw StatusError(st.with_context("node config: training.partition"));
  }
  if (c.training->federation == "ensemble") {
    if (c.role == NodeRole::kSite) return run_ensemble_site(c, ps, o);
    return c.role == NodeRole::kHospital ? run_ensemble_institution(c, ps, o) : run_ensemble_coordinator(c, ps, o);
  }
  if (c.role == NodeRole::kSite) {
    throw StatusError(Status::invalid_argument("node config: a site belongs to an ensemble (training.federation)"));
  }
  const apps::FlSimulationOptions a = workload_options(c);
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
  write_report(j, o.out, out);
  nn::Series fl_acc{"federated (val)", {}, {}};
  for (const auto& r : rep.rounds) {
    fl_acc.x.push_back(static_cast<double>(r.round));
    fl_acc.y.push_back(apps::fl_workload::metric(r.val_metrics, w.val_keys[0]));
  }
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
