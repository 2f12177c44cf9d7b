// heal fl ensemble simulate: K hospitals with different architectures learn together by federated
// distillation on a reference set; parses options, runs apps::ensemble::run_ensemble_simulation, prints
// the per-round table and writes report.json and accuracy.png.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "fl_ensemble_cli.h"

#ifdef HEAL_HAVE_TORCH
#include "heal/apps/ensemble_simulation.h"
#include "heal/ledger/uri.h"
#include "heal/nn/torch/trainer.h"
#endif

namespace heal::cli {

namespace {

struct EnsembleArgs {
  std::string data, partition = "dirichlet:0.5", archs = "hecnn,resnet,capsnet", out = "heal-ensemble",
                    central_arch = "hecnn", config, lr_schedule = "constant", ledger;
  int hospitals = 4, rounds = 10, local_epochs = 2, distill_epochs = 1, batch = 64, threads = 2, size = 0;
  double reference_fraction = 0.2, lr = 2e-3, distill_lr = 1e-3, sharpen = 1.0, joint_distill = 0.0;
  bool balance_consensus = false;
  std::uint64_t seed = 1;
  bool json = false, no_local = false, no_central = false;
};

#ifdef HEAL_HAVE_TORCH
std::string fmt3(double v) {
  if (!std::isfinite(v)) return "  -  ";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

// {"institutions": [{"name": "A", "arch": "hecnn", "sites": 2}, ...]}
std::vector<apps::ensemble::InstitutionPlan> read_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw StatusError(Status::io_error("cannot read the ensemble config " + path));
  const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  const auto bad = [&](const std::string& why) {
    return StatusError(Status::invalid_argument(
        path + ": " + why +
        " (expected {\"institutions\": [{\"name\": \"A\", \"arch\": \"hecnn\", \"sites\": 2}, ...]})"));
  };
  if (j.is_discarded() || !j.is_object() || !j.contains("institutions") || !j["institutions"].is_array()) {
    throw bad("not a JSON object with an \"institutions\" array");
  }
  std::vector<apps::ensemble::InstitutionPlan> out;
  for (const auto& e : j["institutions"]) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("arch") ||
        !e["arch"].is_string()) {
      throw bad("every institution needs a \"name\" and an \"arch\" string");
    }
    apps::ensemble::InstitutionPlan p{e["name"].get<std::string>(), e["arch"].get<std::string>(), 1};
    // A model file is relative to the consortium file.
    if (apps::ensemble::is_member_model_file(p.arch) && std::filesystem::path(p.arch).is_relative()) {
      p.arch = (std::filesystem::path(path).parent_path() / p.arch).lexically_normal().string();
    }
    if (e.contains("sites")) {
      if (!e["sites"].is_number_integer() || e["sites"].get<int>() < 1 || e["sites"].get<int>() > 64) {
        throw bad("\"sites\" of " + p.name + " must be an integer in 1..64");
      }
      p.sites = e["sites"].get<int>();
    }
    out.push_back(p);
  }
  return out;
}

void run(const EnsembleArgs& a) {
  namespace ae = apps::ensemble;
  nn::torch_backend::set_num_threads(a.threads);
  const auto path = require_data_arg(a.data);
  const io::Dataset data = load_dataset_arg(path, a.size);
  ae::EnsembleSimulationOptions o;
  o.hospitals = a.hospitals;
  o.archs.clear();
  std::stringstream ss(a.archs);
  for (std::string s; std::getline(ss, s, ',');) {
    if (!s.empty()) o.archs.push_back(s);
  }
  if (!a.config.empty()) o.institutions = read_config(a.config);
  if (auto st = io::parse_partition_scheme(a.partition, &o.partition); !st.ok()) throw StatusError(st);
  o.reference_fraction = a.reference_fraction;
  o.rounds = a.rounds;
  o.member = value_or_throw(ae::member_options({.local_epochs = a.local_epochs,
                                                .distill_epochs = a.distill_epochs,
                                                .batch = a.batch,
                                                .lr = a.lr,
                                                .distill_lr = a.distill_lr,
                                                .sharpen = a.sharpen,
                                                .joint_distill = a.joint_distill,
                                                .lr_schedule = a.lr_schedule,
                                                .rounds = static_cast<std::uint64_t>(a.rounds),
                                                .balance_consensus = a.balance_consensus}));
  o.local_baseline = !a.no_local;
  o.central_baseline = !a.no_central;
  o.central_arch = a.central_arch;
  o.seed = a.seed;
  std::filesystem::create_directories(a.out);
  if (a.ledger.empty()) {
    o.ledger_path = (std::filesystem::path(a.out) / "ledger.db").string();
    std::filesystem::remove(o.ledger_path);
  } else {
    // A given SQLite file must be new (an ensemble starts a new ledger); an evm:// URI gets a fresh contract.
    const auto uri = value_or_throw(ledger::parse_ledger_uri(a.ledger));
    if (uri.scheme == "sqlite" && std::filesystem::exists(uri.path)) {
      throw std::invalid_argument("--ledger " + a.ledger + " exists; an ensemble starts a new ledger");
    }
    o.ledger_path = a.ledger;
  }
  if (!a.json && !globals().quiet) o.on_progress = [](const std::string& s) { std::cerr << s << "\n"; };
  const auto rep =
      value_or_throw(ae::run_ensemble_simulation(data, std::filesystem::path(path).filename().string(), o));
  const auto json = ae::ensemble_report_json(rep);
  std::ofstream(std::filesystem::path(a.out) / "report.json") << json << "\n";
  const auto png = (std::filesystem::path(a.out) / "accuracy.png").string();
  const Status plotted = ae::plot_ensemble_report(rep, png);
  if (a.json) {
    std::cout << json << "\n";
    return;
  }
  int sites = 0;
  for (const auto& m : rep.members) sites += m.sites;
  std::printf("Ensemble FL on %s: %zu institutions (%d sites), reference set %zu images (hash %.16s...)\n",
              rep.dataset.c_str(), rep.members.size(), sites, rep.reference_size, rep.reference_hash.c_str());
  std::printf("\n%-6s", "round");
  for (const auto& m : rep.members) std::printf("  %-12.12s", m.institution.c_str());
  std::printf("  ensemble  secagg s  round s  up/inst (B)  plain (B)\n%-6s", "");
  for (std::size_t i = 0; i < rep.members.size(); ++i) std::printf("  %-12s", "val ACC  w");
  std::printf("\n");
  for (const auto& row : rep.rounds) {
    std::printf("%-6d", row.round);
    for (const auto& m : row.members) std::printf("  %s %.2f  ", fmt3(m.val_accuracy).c_str(), m.weight);
    std::uint64_t up = 0;
    for (auto b : row.bytes_up) up = std::max(up, b);
    std::printf("  %s     %8.3f  %7.1f  %11llu  %9llu\n", fmt3(row.ensemble_val_accuracy).c_str(), row.secagg_seconds,
                row.seconds, static_cast<unsigned long long>(up), static_cast<unsigned long long>(row.plaintext_bytes));
  }
  std::printf("\n%-12s %-5s %-58s %9s %9s %11s %7s\n", "institution", "sites", "architecture", "test ACC", "test AUC",
              "local-only", "gain");
  for (const auto& m : rep.members) {
    const double gain = m.test_accuracy - m.local_test_accuracy;  // NaN without the local-only baseline
    char g[32] = "      -";
    if (std::isfinite(gain)) std::snprintf(g, sizeof g, "%+7.3f", gain);
    std::printf("%-12.12s %-5d %-58s %9s %9s %11s %7s\n", m.institution.c_str(), m.sites, m.architecture.c_str(),
                fmt3(m.test_accuracy).c_str(), fmt3(m.test_auc).c_str(), fmt3(m.local_test_accuracy).c_str(), g);
  }
  std::printf("%-12s %-5s %-58s %9s %9s %11s\n", "ensemble", "", "weighted mean of the members' probabilities",
              fmt3(rep.ensemble_test_accuracy).c_str(), fmt3(rep.ensemble_test_auc).c_str(),
              fmt3(rep.local_ensemble_test_accuracy).c_str());
  std::printf("%-12s %-5s %-58s %9s   (max |secure - plaintext| %.1e, %.2f s)\n", "secure", "",
              "the same ensemble by secure diagnosis (SMPC)", fmt3(rep.secure_test_accuracy).c_str(),
              rep.secure_max_abs_diff, rep.secure_seconds);
  if (!a.no_central) {
    std::printf("%-12s %-5s %-58s %9s %9s\n", "central", "", rep.central_architecture.c_str(),
                fmt3(rep.central_test_accuracy).c_str(), fmt3(rep.central_test_auc).c_str());
  }
  if (rep.plaintext_upload_per_round > 0) {
    std::printf(
        "\nupload per institution per round: %.0f B with secure aggregation (its key setup spread over the "
        "rounds it serves), %.0f B as float32 in the clear (%.2fx)\n",
        rep.amortised_upload_per_round, rep.plaintext_upload_per_round,
        rep.amortised_upload_per_round / rep.plaintext_upload_per_round);
  }
  if (rep.ledger_backend == "evm") {
    std::printf(
        "\nchain: %.1f transactions and %.0f gas per round (setup with deployment: %llu gas); audit: heal "
        "ledger verify --ledger '%s'\n",
        rep.chain_transactions_per_round, rep.chain_gas_per_round, static_cast<unsigned long long>(rep.chain_setup_gas),
        rep.ledger_uri.c_str());
  }
  std::printf("\nledger: %s; report: %s/report.json; plot: %s (%.0f s)\n",
              rep.ledger_verified ? "verified" : "not verified", a.out.c_str(),
              plotted.ok() ? png.c_str() : plotted.message().c_str(), rep.seconds);
}
#endif

}  // namespace

void add_fl_ensemble_commands(CLI::App& fl) {
  auto* ens = fl.add_subcommand("ensemble", "Ensemble FL of different architectures by secure federated distillation");
  ens->require_subcommand(1);
  auto a = std::make_shared<EnsembleArgs>();
  auto* sim = ens->add_subcommand("simulate", "Run K hospitals with their own architectures in one process");
  sim->add_option("--data", a->data, "Dataset (default: global --data / $HEAL_DATA)");
  sim->add_option("--hospitals", a->hospitals,
                  "Number of hospitals K (one-site institutions), at least 3: a consensus of two would give each the "
                  "other's predictions")
      ->capture_default_str();
  sim->add_option("--config", a->config,
                  "JSON file of institutions, sites and architectures (hierarchical): "
                  "{\"institutions\": [{\"name\": \"A\", \"arch\": \"hecnn\", \"sites\": 2}, ...]}");
  sim->add_option("--archs", a->archs,
                  "Architecture per hospital, cycled: hecnn, hecnn-wide, resnet, capsnet, deit, NAME:WIDTH, "
                  "NAME:WIDTHxDEPTH (e.g. hecnn:16x2), or a .heal model file the member starts from "
                  "(an HE CNN, e.g. from heal train --save)")
      ->capture_default_str();
  sim->add_option("--partition", a->partition, "iid | dirichlet:ALPHA | quantity:ALPHA")->capture_default_str();
  sim->add_option("--rounds", a->rounds, "Rounds")->capture_default_str();
  sim->add_option("--local-epochs", a->local_epochs, "Private epochs per round")->capture_default_str();
  sim->add_option("--distill-epochs", a->distill_epochs, "Distillation epochs on the reference set per round")
      ->capture_default_str();
  sim->add_option("--reference-fraction", a->reference_fraction,
                  "Share of the training split held out as the unlabelled reference set")
      ->capture_default_str();
  sim->add_option("--lr", a->lr, "Private training learning rate (Adam)")->capture_default_str();
  sim->add_option("--distill-lr", a->distill_lr, "Distillation learning rate (Adam, constant)")->capture_default_str();
  sim->add_option("--lr-schedule", a->lr_schedule,
                  "Both learning rates per round: constant | cosine (decays over --rounds; the central baseline "
                  "follows it per block of --local-epochs)")
      ->check(CLI::IsMember({"constant", "cosine"}))
      ->capture_default_str();
  sim->add_option("--sharpen", a->sharpen, "Sharpen the consensus as c^(1/T) before distilling (1: off)")
      ->check(CLI::Range(0.05, 1.0))
      ->capture_default_str();
  sim->add_option("--joint-distill", a->joint_distill,
                  "Weight of the consensus term in every private step from round 2 on (private training and the "
                  "latest consensus together; 0: off, distillation only in the digest step)")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  sim->add_flag("--balance-consensus", a->balance_consensus,
                "Distil a class-balanced consensus: divide it by its class prior on the reference set and "
                "renormalise (the soft counterpart of private training's 1/frequency class weights)");
  sim->add_option("--batch", a->batch, "Batch size")->capture_default_str();
  sim->add_option("--size", a->size, "Resize images to SIZE (0: the dataset's)")->capture_default_str();
  sim->add_option("--central-arch", a->central_arch, "Architecture of the central baseline")->capture_default_str();
  sim->add_flag("--no-local-baseline", a->no_local, "Skip the local-only baseline");
  sim->add_flag("--no-central", a->no_central, "Skip the central baseline");
  sim->add_option("--threads", a->threads, "libtorch threads")->capture_default_str();
  sim->add_option("--seed", a->seed, "Seed (reference set, partition, model init)")->capture_default_str();
  sim->add_option("--out", a->out, "Output directory (report.json, accuracy.png, ledger.db)")->capture_default_str();
  sim->add_option("--ledger", a->ledger,
                  "Ledger: a new SQLite file (default OUT/ledger.db) or evm://HOST:PORT?key=HEX (a fresh "
                  "HealFederation contract for the consortium, >= 3 institutions)");
  sim->add_flag("--json", a->json, "Print the JSON report instead of the table");
  sim->callback([a] {
#ifdef HEAL_HAVE_TORCH
    run(*a);
#else
    throw StatusError(Status::unsupported("heal fl ensemble needs libtorch: this heal was built without it"));
#endif
  });
}

}  // namespace heal::cli
