// The simulated federation pipeline (heal/apps/fl_simulation.h): the task-specific workload (data,
// one trainer per hospital, evaluation, central baseline), the aggregator, the ledger, the rounds and
// the report.
#include "heal/apps/fl_simulation.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "heal/apps/fl_torch_trainer.h"
#include "heal/apps/fl_workload.h"
#include "heal/apps/metrics_json.h"
#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/fl/federation.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/plain_aggregator.h"
#include "heal/io/dataset.h"
#include "heal/io/partition.h"
#include "heal/io/segmentation.h"
#include "heal/ledger/open.h"
#include "heal/ledger/uri.h"
#ifdef HEAL_HAVE_EVM
#include "heal/ledger/backends/evm_ledger.h"
#endif
#include "heal/nn/plots.h"
#include "heal/nn/torch/seg_trainer.h"
#include "heal/nn/torch/trainer.h"

namespace heal::apps {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "N decryptions per key holder and key epoch = R rounds of this model", with a warning when the run
// asks for more rounds (a key holder then refuses to share: the round fails and keys must rotate).
std::string budget_line(std::uint64_t max_decryptions, std::uint64_t per_key, std::uint64_t rounds) {
  std::string line = std::to_string(max_decryptions) + " decryptions per key holder = " + std::to_string(per_key) +
                     " rounds of this model";
  if (rounds > per_key) {
    line += "; WARNING: --rounds " + std::to_string(rounds) +
            " exceeds it, so a key holder that decrypts every round refuses from round " + std::to_string(per_key + 1) +
            " on (raise --max-decryptions: the flooding noise grows as its square root)";
  }
  return line;
}

namespace tb = nn::torch_backend;
using fl_workload::human_bytes;
using fl_workload::make_workload;
using fl_workload::metric;
using fl_workload::seconds_since;
using fl_workload::TestResult;
using fl_workload::Workload;

fl::DropoutEvent parse_drop(const std::string& s) {
  // HOSPITAL@ROUND or HOSPITAL@ROUND:after (crash after submitting: in the sum, cannot decrypt)
  const auto at = s.find('@');
  if (at == std::string::npos) throw std::invalid_argument("--drop expects HOSPITAL@ROUND[:after], got '" + s + "'");
  fl::DropoutEvent e;
  std::string rest = s.substr(at + 1);
  if (const auto colon = rest.find(':'); colon != std::string::npos) {
    const std::string phase = rest.substr(colon + 1);
    if (phase == "after") {
      e.phase = fl::DropPhase::kAfterSubmit;
    } else if (phase != "before") {
      throw std::invalid_argument("--drop phase must be 'before' or 'after', got '" + phase + "'");
    }
    rest = rest.substr(0, colon);
  }
  e.party = static_cast<fl::PartyId>(std::stoul(s.substr(0, at)));
  e.round = std::stoull(rest);
  return e;
}

FlSimulationResult simulate(const FlSimulationOptions& a) {
  if (a.hospitals < 2) throw std::invalid_argument("--hospitals must be >= 2");
  if (a.secure != "he" && a.secure != "none") throw std::invalid_argument("--secure must be 'he' or 'none'");
  if (a.keygen != "simulated" && a.keygen != "distributed") {
    throw std::invalid_argument("--keygen must be 'simulated' or 'distributed'");
  }
  if (a.keygen == "distributed" && a.secure != "he")
    throw std::invalid_argument("--keygen distributed needs --secure he");
  tb::set_num_threads(a.threads);
  if (a.data_path.empty()) {
    throw StatusError(Status::invalid_argument(
        "no dataset: pass --data PATH (e.g. pneumoniamnist.npz) or set HEAL_DATA (see `heal data fetch`)"));
  }
  const std::string& path = a.data_path;
  fs::create_directories(a.out);
  io::PartitionSpec ps;
  if (Status st = io::parse_partition_scheme(a.partition, &ps); !st.ok()) throw StatusError(st);
  ps.hospitals = a.hospitals;
  ps.seed = a.seed;
  std::vector<int> all(static_cast<std::size_t>(a.hospitals));
  for (int h = 0; h < a.hospitals; ++h) all[static_cast<std::size_t>(h)] = h;
  Workload w = make_workload(a, path, ps, all);
  const std::size_t params = w.initial.size();

  fl::FederationConfig cfg;
  cfg.federation_id = "heal-sim-" + w.name;
  cfg.rounds = a.rounds;
  cfg.strategy.name = a.strategy;
  cfg.strategy.proximal_mu = a.mu;
  cfg.strategy.server_lr = a.server_lr;
  cfg.clip_norm = a.clip;
  cfg.min_contributors = a.min_contributors;
  cfg.seed = a.seed;
  cfg.keygen = a.keygen == "distributed" ? fl::KeyGen::kDistributed : fl::KeyGen::kSimulated;
  for (const auto& d : a.drops) cfg.dropouts.push_back(parse_drop(d));

  std::unique_ptr<fl::SecureAggregator> aggregator;
  json he_json = nullptr;
  std::uint32_t decryption_threshold = 0;  // t of the HE key (0: plaintext aggregation)
  const auto k = static_cast<std::size_t>(a.hospitals);
  if (a.secure == "he") {
    fl::HeAggregatorConfig hc;
    hc.threshold = a.threshold;  // 0: a majority, K / 2 + 1 (rules: src/fl/README.md "Threshold rules")
    hc.seed = a.seed;
    hc.max_abs_update = a.max_abs_update;
    hc.max_decryptions = a.max_decryptions;
    hc.max_total_weight = fl_workload::max_total_weight(w.total_train);
    auto he = std::make_unique<fl::HeAggregator>(hc, k);
    decryption_threshold = he->threshold();
    const fl::HeBudget& b = he->budget();
    const std::size_t cbytes = he->contribution_bytes(params);
    he_json = {{"n", b.n},
               {"log_q", b.log_q},
               {"log_delta", b.log_delta},
               {"threshold", he->threshold()},
               {"keygen", a.keygen},
               {"colluders_tolerated", he->colluders_tolerated()},
               {"min_aggregate_parties", he->min_aggregate_parties()},
               {"flooding_bits", hc.flooding_bits},
               {"log_flood_sigma", b.log_flood_sigma},
               {"log_noise_std", b.log_noise_std},
               {"predicted_abs_error_std", b.abs_error_std},
               {"predicted_abs_error_std_uncompressed", b.abs_error_std_unrounded},
               {"dropped_low_bits", b.drop_bits},
               {"share_ratio_vs_float32", b.share_ratio},
               {"ciphertexts_per_update", he->chunks(params)},
               {"max_decryptions", hc.max_decryptions},
               {"rounds_per_key", hc.max_decryptions / std::max<std::size_t>(1, he->chunks(params))},
               {"contribution_bytes", cbytes},
               {"float32_bytes", 4 * params},
               {"upload_ratio_vs_float32", static_cast<double>(cbytes) / (4.0 * static_cast<double>(params))},
               {"params", he->context()->describe()}};
    aggregator = std::move(he);
  } else {
    std::set<fl::PartyId> ids;
    for (std::size_t i = 0; i < k; ++i) ids.insert(static_cast<fl::PartyId>(i));
    aggregator = std::make_unique<fl::PlainAggregator>(ids);
  }

  FlSimulationResult out;
  out.ledger_path = a.ledger.empty() ? (fs::path(a.out) / "ledger.db").string() : a.ledger;
  const ledger::LedgerUri uri = ledger::parse_ledger_uri(out.ledger_path).value();
  const bool on_chain = uri.scheme != "sqlite";
  if (on_chain && a.secure != "he") {
    throw std::invalid_argument("--ledger " + uri.redacted() +
                                " needs --secure he: the contract requires a "
                                "decryption threshold t >= 1");
  }
  // One identity scheme on every backend: each party's secp256k1 key signs its ledger records and,
  // on a chain, is its account.
  cfg.signature_scheme = ledger::SignatureScheme::kSecp256k1;
  if (uri.scheme == "sqlite" && fs::exists(uri.path)) {
    if (a.ledger.empty()) {
      fs::remove(uri.path);
    } else {
      throw std::invalid_argument("--ledger " + out.ledger_path + " exists; a federation starts a new ledger");
    }
  }
  std::unique_ptr<ledger::Ledger> ledger;
#ifdef HEAL_HAVE_EVM
  ledger::evm::EvmLedger* evm = nullptr;
  if (on_chain) {
    auto e = ledger::evm::EvmLedger::open(uri, /*read_only=*/false).value();
    evm = e.get();
    ledger = std::move(e);
  }
#endif
  if (!ledger) ledger = ledger::open(out.ledger_path, ledger::OpenMode::kReadWrite).value();

  std::ostringstream setup_text;
  {
    setup_text << "federation: " << a.hospitals << " hospitals, " << w.summary << ", partition "
               << io::partition_scheme_name(ps) << ", model " << a.model << " (" << params << " parameters)\n"
               << "            " << a.rounds << " rounds x " << a.local_epochs << " local epoch(s), lr " << a.lr << " ("
               << a.lr_schedule << "), strategy " << a.strategy
               << ", secure aggregation: " << (a.secure == "he" ? "threshold CKKS" : "none (plaintext)") << "\n";
    setup_text << w.partition_table;
    if (!he_json.is_null()) {
      setup_text << "HE: " << he_json["params"].get<std::string>() << ", t = " << he_json["threshold"] << " of " << k
                 << ", scale 2^" << he_json["log_delta"] << ", flooding lambda = 40 (sigma 2^" << std::setprecision(3)
                 << he_json["log_flood_sigma"].get<double>() << "), predicted |error| per weighted-sum entry ~"
                 << he_json["predicted_abs_error_std"].get<double>() << "\n    encrypted update "
                 << human_bytes(he_json["contribution_bytes"].get<double>()) << " = " << std::setprecision(3)
                 << he_json["upload_ratio_vs_float32"].get<double>() << "x float32 ("
                 << he_json["ciphertexts_per_update"] << " ciphertexts of " << he_json["n"] << " weights)\n"
                 << "    flooding budget "
                 << budget_line(he_json["max_decryptions"], he_json["rounds_per_key"], a.rounds) << "\n";
    }
  }

  fl::Federation fed(cfg, std::move(w.trainers), std::move(aggregator), *ledger, w.initial);
#ifdef HEAL_HAVE_EVM
  if (evm && evm->contract_address().empty()) {
    // A fresh contract for this simulated consortium, deployed from the URI's key, which also pays
    // the parties' gas on a dev chain (a QBFT network runs with zero gas price instead).
    const auto cons =
        ledger::evm::consortium_of(cfg.federation_id, fed.participants(), decryption_threshold,
                                   cfg.min_contributors != 0 ? cfg.min_contributors : static_cast<std::uint32_t>(k))
            .value();
    const std::string contract = evm->fund_and_deploy(cons).value();
    setup_text << "ledger: HealFederation deployed at " << contract << " (" << evm->audit_uri() << ")\n";
  }
  if (evm) out.ledger_path = evm->audit_uri();
#endif
  if (Status s = fed.setup(); !s.ok()) throw StatusError(s.with_context("federation setup"));
  if (a.on_setup) a.on_setup(setup_text.str());
  const ledger::LedgerTiming ledger_after_setup = ledger->timing();
#ifdef HEAL_HAVE_EVM
  const ledger::evm::TxStats chain_after_setup = evm ? evm->stats() : ledger::evm::TxStats{};
#endif
  const auto t_fl = std::chrono::steady_clock::now();
  fl::FederationReport rep = fed.run(a.progress).value();
  const double fl_seconds = seconds_since(t_fl);
  out.final_model = fed.global_model();

  // Final global model on the test split.
  const TestResult test = w.test(out.final_model);
  out.test_accuracy = test.accuracy;
  out.test_auc = test.auc;

  // Per-round table and HE overhead.
  const fl_workload::RoundTable rt = fl_workload::format_round_table(rep, w);
  const double he_sum = rt.he_seconds, train_sum = rt.train_seconds, round_sum = rt.round_seconds,
               he_seq_sum = rt.he_sequential_seconds;
  const double he_pct_total = train_sum + he_sum > 0 ? 100 * he_sum / (train_sum + he_sum) : 0;
  const double he_pct_sim = round_sum > 0 ? 100 * he_seq_sum / round_sum : 0;

  // Centralized baseline: same model and seed, same number of epochs on the pooled data.
  json central = nullptr;
  nn::Series fl_acc{"federated (val)", {}, {}}, c_acc{"centralized (val)", {}, {}};
  for (const auto& r : rep.rounds) {
    fl_acc.x.push_back(static_cast<double>(r.round));
    fl_acc.y.push_back(metric(r.val_metrics, w.val_keys[0]));
  }
  if (a.centralized) central = w.centralized(c_acc);

  std::vector<nn::Series> series{fl_acc};
  if (a.centralized) series.push_back(c_acc);
  const std::string png = (fs::path(a.out) / "accuracy.png").string();
  const Status plot = nn::plot_lines(png, w.plot_title, "round", w.val_titles[0], series);

  json j = json::parse(rep.to_json());
  j["task"] = a.task;
  j["dataset"] = w.name;
  j["partition"] = io::partition_scheme_name(ps);
  j["model"] = a.model;
  j["local_epochs"] = a.local_epochs;
  j["lr"] = a.lr;
  j["lr_schedule"] = a.lr_schedule;
  if (a.task == "segment") j["loss"] = a.seg_loss, j["multiclass"] = a.multiclass;
  j["he"] = he_json;
  j["test"] = test.report;
  j["centralized"] = central;
  j["rounds_extra"] = rt.extra;
  j["timing"] = {{"federation_seconds", fl_seconds},
                 {"he_seconds", he_sum},
                 {"he_percent_deployment", he_pct_total},
                 {"he_percent_simulation", he_pct_sim},
                 {"note", "shared 2-core machine: timings are pessimistic"}};
  {
    // What the ledger adds: every append (validation + write; on a chain: transaction + receipt)
    // and every catch-up, over the rounds (setup and deployment excluded).
    const ledger::LedgerTiming& lt = ledger->timing();
    const double ledger_s =
        (lt.append_seconds - ledger_after_setup.append_seconds) + (lt.read_seconds - ledger_after_setup.read_seconds);
    const double nr = static_cast<double>(std::max<std::size_t>(rep.rounds.size(), 1));
    json lj = {{"backend", uri.scheme == "sqlite" ? "sqlite" : "evm"},
               {"uri", out.ledger_path},
               {"appends_per_round", static_cast<double>(lt.appends - ledger_after_setup.appends) / nr},
               {"seconds_per_round", ledger_s / nr},
               {"percent_of_federation_time", fl_seconds > 0 ? 100 * ledger_s / fl_seconds : 0}};
#ifdef HEAL_HAVE_EVM
    if (evm) {
      const ledger::evm::TxStats st = evm->stats();
      lj["transactions_per_round"] = static_cast<double>(st.transactions - chain_after_setup.transactions) / nr;
      lj["gas_per_round"] = static_cast<double>(st.gas_used - chain_after_setup.gas_used) / nr;
      lj["calldata_bytes_per_round"] = static_cast<double>(st.calldata_bytes - chain_after_setup.calldata_bytes) / nr;
      lj["calldata_bytes_per_hospital_per_round"] =
          static_cast<double>(st.calldata_bytes - chain_after_setup.calldata_bytes) / nr / static_cast<double>(k);
      lj["setup_gas_including_deployment"] = chain_after_setup.gas_used;
    }
#endif
    j["ledger"] = lj;
  }
  out.report_path = (fs::path(a.out) / "report.json").string();
  out.report_json = j.dump(2);
  std::ofstream(out.report_path) << out.report_json << "\n";
  out.plot_path = png;
  out.plot_status = plot;
  out.model_version = fed.model_version();
  out.ledger_verified = rep.ledger_verified;
  out.ledger_head = rep.ledger_head;
  out.round_table = rt.text;

  std::ostringstream sum;
  sum << std::setprecision(4) << "final global model (v" << fed.model_version() << "): " << test.line << "\n";
  if (a.centralized) sum << w.central_line(central, test) << "\n";
  sum << std::setprecision(3) << "HE overhead (encrypt + aggregate + decrypt): " << he_sum << " s = " << he_pct_total
      << "% of round time with hospitals in parallel; " << he_pct_sim
      << "% of this sequential simulation's wall time\n";
  sum << "ledger " << out.ledger_path << ": " << (rep.ledger_verified ? "verified" : "NOT verified") << ", head "
      << digest_hex(rep.ledger_head).substr(0, 16) << "; " << std::setprecision(3)
      << j["ledger"]["seconds_per_round"].get<double>() << " s per round ("
      << j["ledger"]["percent_of_federation_time"].get<double>() << "% of the federation's time)";
  if (j["ledger"].contains("gas_per_round")) {
    sum << ", " << std::setprecision(6) << j["ledger"]["gas_per_round"].get<double>() << " gas and "
        << j["ledger"]["calldata_bytes_per_round"].get<double>() << " calldata bytes per round";
  }
  sum << "\n";
  out.summary = sum.str();
  return out;
}

}  // namespace

Result<FlSimulationResult> run_fl_simulation(const FlSimulationOptions& options) {
  try {
    return simulate(options);
  } catch (const StatusError& e) {
    return e.status();
  } catch (const std::invalid_argument& e) {
    return Status::invalid_argument(e.what());
  }
}

}  // namespace heal::apps
