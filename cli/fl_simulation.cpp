// heal fl simulate / heal demo driver (see fl_simulation.h).
#include "fl_simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "commands.h"
#include "fl_torch_trainer.h"
#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/fl/federation.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/plain_aggregator.h"
#include "heal/io/dataset.h"
#include "heal/io/partition.h"
#include "heal/ledger/open.h"
#include "heal/ledger/uri.h"
#include "metrics_json.h"
#ifdef HEAL_HAVE_EVM
#include "heal/ledger/backends/evm_ledger.h"
#endif
#include "heal/nn/plots.h"

namespace heal::cli {

namespace fs = std::filesystem;
using nlohmann::json;

#ifndef HEAL_HAVE_TORCH

SimOutcome run_fl_simulation(const SimArgs&) {
  throw StatusError(Status::unsupported("heal fl simulate needs libtorch: rebuild with -DHEAL_WITH_TORCH=ON"));
}

#else

namespace {

namespace tb = nn::torch_backend;


double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

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

std::string human_bytes(double b) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1);
  if (b >= 1 << 20) {
    os << b / (1 << 20) << " MiB";
  } else if (b >= 1 << 10) {
    os << b / (1 << 10) << " KiB";
  } else {
    os << b << " B";
  }
  return os.str();
}

double metric(const fl::Metrics& m, const char* k) {
  auto it = m.find(k);
  return it == m.end() ? std::nan("") : it->second;
}

}  // namespace

SimOutcome run_fl_simulation(const SimArgs& a) {
  if (a.hospitals < 2) throw std::invalid_argument("--hospitals must be >= 2");
  if (a.secure != "he" && a.secure != "none") throw std::invalid_argument("--secure must be 'he' or 'none'");
  tb::set_num_threads(a.threads);
  const std::string data_arg = a.data.empty() ? data_location() : a.data;
  if (data_arg.empty()) {
    throw StatusError(Status::invalid_argument(
        "no dataset: pass --data PATH (e.g. pneumoniamnist.npz) or set HEAL_DATA (see `heal data fetch`)"));
  }
  const std::string path = value_or_throw(io::resolve_dataset_path(data_arg, data_location()));
  io::LoadOptions lo;
  lo.dicom = dicom_options();
  lo.slices = slice_selection();
  if (value_or_throw(io::detect_dataset_kind(path)) != io::DatasetKind::kNpz) lo.resize_to = 64;
  auto ds = std::make_shared<io::Dataset>(value_or_throw(io::load_dataset(path, lo)));
  fs::create_directories(a.out);

  // Partition train and validation among the hospitals.
  io::PartitionSpec ps;
  if (Status st = io::parse_partition_scheme(a.partition, &ps); !st.ok()) throw StatusError(st);
  ps.hospitals = a.hospitals;
  ps.seed = a.seed;
  const io::Partition train_part = value_or_throw(io::partition(ds->train.labels, ds->num_classes, ps));
  io::PartitionSpec vs = ps;
  vs.min_per_hospital = 5;
  const io::Partition val_part = value_or_throw(io::partition(ds->val.labels, ds->num_classes, vs));

  tb::ModelSpec spec;
  spec.arch = value_or_throw(tb::parse_architecture(a.model));
  spec.in_channels = ds->train.channels;
  spec.image_size = ds->train.height;
  spec.num_classes = ds->num_classes;
  tb::TrainOptions topt;
  topt.learning_rate = a.lr;
  topt.batch_size = a.batch;
  topt.schedule = tb::Schedule::kConstant;

  std::vector<std::unique_ptr<fl::LocalTrainer>> trainers;
  for (int h = 0; h < a.hospitals; ++h) {
    const auto hu = static_cast<std::size_t>(h);
    trainers.push_back(std::make_unique<TorchLocalTrainer>(ds, train_part.hospitals[hu],
                                                           io::subset(ds->val, val_part.hospitals[hu]), spec, topt,
                                                           a.local_epochs, a.seed + 1000 + hu));
  }
  tb::Trainer init(spec, a.seed);
  std::vector<float> initial = init.get_weights();
  const std::size_t params = initial.size();

  fl::FederationConfig cfg;
  cfg.federation_id = "heal-sim-" + ds->name;
  cfg.rounds = a.rounds;
  cfg.strategy.name = a.strategy;
  cfg.strategy.proximal_mu = a.mu;
  cfg.strategy.server_lr = a.server_lr;
  cfg.clip_norm = a.clip;
  cfg.min_contributors = a.min_contributors;
  cfg.seed = a.seed;
  for (const auto& d : a.drops) cfg.dropouts.push_back(parse_drop(d));

  std::unique_ptr<fl::SecureAggregator> aggregator;
  json he_json = nullptr;
  std::uint32_t decryption_threshold = 0;  // t of the HE key (0: plaintext aggregation)
  const auto k = static_cast<std::size_t>(a.hospitals);
  if (a.secure == "he") {
    fl::HeAggregatorConfig hc;
    hc.threshold = a.threshold != 0 ? a.threshold : static_cast<std::uint32_t>(k >= 3 ? k - 1 : k);
    decryption_threshold = hc.threshold;
    hc.seed = a.seed;
    hc.max_abs_update = a.max_abs_update;
    double total = 0;
    for (const auto& p : train_part.hospitals) total += static_cast<double>(p.size());
    hc.max_total_weight = std::exp2(std::ceil(std::log2(std::max(total, 2.0))));
    auto he = std::make_unique<fl::HeAggregator>(hc, k);
    const fl::HeBudget& b = he->budget();
    const std::size_t cbytes = he->contribution_bytes(params);
    he_json = {{"n", b.n},
               {"log_q", b.log_q},
               {"log_delta", b.log_delta},
               {"threshold", hc.threshold},
               {"flooding_bits", hc.flooding_bits},
               {"log_flood_sigma", b.log_flood_sigma},
               {"log_noise_std", b.log_noise_std},
               {"predicted_abs_error_std", b.abs_error_std},
               {"ciphertexts_per_update", he->chunks(params)},
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

  SimOutcome out;
  out.ledger_path = a.ledger.empty() ? (fs::path(a.out) / "ledger.db").string() : a.ledger;
  const ledger::LedgerUri uri = value_or_throw(ledger::parse_ledger_uri(out.ledger_path));
  const bool on_chain = uri.scheme != "sqlite";
  if (on_chain && a.secure != "he") {
    throw std::invalid_argument("--ledger " + uri.redacted() + " needs --secure he: the contract requires a "
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
    auto e = value_or_throw(ledger::evm::EvmLedger::open(uri, /*read_only=*/false));
    evm = e.get();
    ledger = std::move(e);
  }
#endif
  if (!ledger) ledger = value_or_throw(ledger::open(out.ledger_path, ledger::OpenMode::kReadWrite));

  if (!a.json) {
    std::cout << "federation: " << a.hospitals << " hospitals, " << ds->name << " (" << ds->train.size()
              << " train / " << ds->val.size() << " val / " << ds->test.size() << " test), partition "
              << io::partition_scheme_name(ps) << ", model " << a.model << " (" << params << " parameters)\n"
              << "            " << a.rounds << " rounds x " << a.local_epochs << " local epoch(s), strategy "
              << a.strategy << ", secure aggregation: " << (a.secure == "he" ? "threshold CKKS" : "none (plaintext)")
              << "\n";
    std::cout << io::format_partition_table(io::partition_class_counts(train_part, ds->train.labels, ds->num_classes),
                                            ds->class_names);
    if (!he_json.is_null()) {
      std::cout << "HE: " << he_json["params"].get<std::string>() << ", t = " << he_json["threshold"] << " of "
                << k << ", scale 2^" << he_json["log_delta"] << ", flooding lambda = 40 (sigma 2^" << std::setprecision(3)
                << he_json["log_flood_sigma"].get<double>() << "), predicted |error| per weighted-sum entry ~"
                << he_json["predicted_abs_error_std"].get<double>() << "\n    encrypted update "
                << human_bytes(he_json["contribution_bytes"].get<double>()) << " = " << std::setprecision(3)
                << he_json["upload_ratio_vs_float32"].get<double>() << "x float32 ("
                << he_json["ciphertexts_per_update"] << " ciphertexts of " << he_json["n"] << " weights)\n";
    }
  }

  fl::Federation fed(cfg, std::move(trainers), std::move(aggregator), *ledger, initial);
#ifdef HEAL_HAVE_EVM
  if (evm && evm->contract_address().empty()) {
    // A fresh contract for this simulated consortium, deployed from the URI's key, which also pays
    // the parties' gas on a dev chain (a QBFT network runs with zero gas price instead).
    const auto cons = value_or_throw(ledger::evm::consortium_of(
        cfg.federation_id, fed.participants(), decryption_threshold,
        cfg.min_contributors != 0 ? cfg.min_contributors : static_cast<std::uint32_t>(k)));
    std::vector<std::string> accounts;
    for (const auto& m : cons.members) accounts.push_back(m.address);
    if (Status s = evm->fund(accounts, 1'000'000'000'000'000'000ull); !s.ok()) throw StatusError(s);
    const std::string contract = value_or_throw(evm->deploy(cons));
    if (!a.json) std::cout << "ledger: HealFederation deployed at " << contract << " (" << evm->audit_uri() << ")\n";
  }
  if (evm) out.ledger_path = evm->audit_uri();
#endif
  if (Status s = fed.setup(); !s.ok()) throw StatusError(s.with_context("federation setup"));
  const ledger::LedgerTiming ledger_after_setup = ledger->timing();
#ifdef HEAL_HAVE_EVM
  const ledger::evm::TxStats chain_after_setup = evm ? evm->stats() : ledger::evm::TxStats{};
#endif
  const auto t_fl = std::chrono::steady_clock::now();
  fl::FederationReport rep = value_or_throw(fed.run(!globals().quiet && !a.json));
  const double fl_seconds = seconds_since(t_fl);
  out.final_model = fed.global_model();

  // Final global model on the test split.
  init.set_weights(out.final_model);
  const nn::ClassificationMetrics test = init.evaluate(ds->test);
  out.test_accuracy = test.accuracy;
  out.test_auc = test.auc;

  // Per-round table and HE overhead.
  json rounds_extra = json::array();
  double he_sum = 0, round_sum = 0, train_sum = 0, he_seq_sum = 0;
  std::ostringstream table;
  table << std::left << std::setw(6) << "round" << std::setw(6) << "ok" << std::setw(7) << "contr" << std::setw(9)
        << "loss" << std::setw(9) << "val ACC" << std::setw(9) << "val AUC" << std::setw(12) << "up/hosp"
        << std::setw(12) << "down/hosp" << std::setw(9) << "train s" << std::setw(9) << "enc s" << std::setw(9)
        << "agg s" << std::setw(9) << "dec s" << std::setw(9) << "round s" << "HE %\n";
  for (const auto& r : rep.rounds) {
    double up = 0, down = 0;
    std::size_t online = 0;
    double enc_seq = 0, dec_seq = 0;
    for (const auto& p : r.parties) {
      if (p.bytes_up + p.bytes_down == 0) continue;
      ++online;
      up += static_cast<double>(p.bytes_up);
      down += static_cast<double>(p.bytes_down);
      enc_seq += p.encrypt_seconds;
      dec_seq += p.decrypt_seconds;
    }
    up /= static_cast<double>(std::max<std::size_t>(online, 1));
    down /= static_cast<double>(std::max<std::size_t>(online, 1));
    const double he = r.encrypt_seconds + r.aggregate_seconds + r.decrypt_seconds;
    // Deployment round time: hospitals train and encrypt in parallel (slowest counts).
    const double deploy_round = r.train_seconds + he;
    const double he_pct = deploy_round > 0 ? 100 * he / deploy_round : 0;
    he_sum += he;
    train_sum += r.train_seconds;
    round_sum += r.round_seconds;
    he_seq_sum += enc_seq + r.aggregate_seconds + dec_seq;
    table << std::left << std::setw(6) << r.round << std::setw(6) << (r.completed ? "yes" : "FAIL") << std::setw(7)
          << r.contributors << std::setw(9) << std::setprecision(4) << r.train_loss << std::setw(9)
          << std::setprecision(4) << metric(r.val_metrics, "accuracy") << std::setw(9)
          << metric(r.val_metrics, "auc") << std::setw(12) << human_bytes(up) << std::setw(12) << human_bytes(down)
          << std::setw(9) << std::setprecision(3) << r.train_seconds << std::setw(9) << r.encrypt_seconds
          << std::setw(9) << r.aggregate_seconds << std::setw(9) << r.decrypt_seconds << std::setw(9)
          << r.round_seconds << std::setprecision(3) << he_pct << "\n";
    if (!r.completed) table << "      failed: " << r.failure_reason << "\n";
    rounds_extra.push_back({{"round", r.round}, {"he_seconds", he}, {"he_percent_of_round", he_pct},
                            {"bytes_up_per_hospital", up}, {"bytes_down_per_hospital", down}});
  }
  const double he_pct_total = train_sum + he_sum > 0 ? 100 * he_sum / (train_sum + he_sum) : 0;
  const double he_pct_sim = round_sum > 0 ? 100 * he_seq_sum / round_sum : 0;

  // Centralized baseline: same model and seed, same number of epochs on the pooled data.
  json central = nullptr;
  nn::Series fl_acc{"federated (val)", {}, {}}, c_acc{"centralized (val)", {}, {}};
  for (const auto& r : rep.rounds) {
    fl_acc.x.push_back(static_cast<double>(r.round));
    fl_acc.y.push_back(metric(r.val_metrics, "accuracy"));
  }
  if (a.centralized) {
    tb::Trainer c(spec, a.seed);
    const auto t0 = std::chrono::steady_clock::now();
    json hist = json::array();
    for (std::uint64_t r = 1; r <= a.rounds; ++r) {
      c.train_epochs(ds->train, {}, a.local_epochs, topt);
      const auto vm = c.evaluate(ds->val);
      c_acc.x.push_back(static_cast<double>(r));
      c_acc.y.push_back(vm.accuracy);
      hist.push_back({{"epochs", r * static_cast<std::uint64_t>(a.local_epochs)}, {"val_accuracy", vm.accuracy}, {"val_auc", vm.auc}});
    }
    const auto tm = c.evaluate(ds->test);
    central = {{"epochs", a.rounds * static_cast<std::uint64_t>(a.local_epochs)}, {"test_accuracy", tm.accuracy},
               {"test_auc", tm.auc}, {"seconds", seconds_since(t0)}, {"history", hist}};
  }

  std::vector<nn::Series> series{fl_acc};
  if (a.centralized) series.push_back(c_acc);
  const std::string png = (fs::path(a.out) / "accuracy.png").string();
  const Status plot = nn::plot_lines(png, "validation accuracy per round", "round", "accuracy", series);

  json j = json::parse(rep.to_json());
  j["dataset"] = ds->name;
  j["partition"] = io::partition_scheme_name(ps);
  j["model"] = a.model;
  j["local_epochs"] = a.local_epochs;
  j["he"] = he_json;
  j["test"] = classification_metrics_json(test, ds->class_names);  // accuracy, auc, n, kappa, per_class, ...
  j["centralized"] = central;
  j["rounds_extra"] = rounds_extra;
  j["timing"] = {{"federation_seconds", fl_seconds},
                 {"he_seconds", he_sum},
                 {"he_percent_deployment", he_pct_total},
                 {"he_percent_simulation", he_pct_sim},
                 {"note", "shared 2-core machine: timings are pessimistic"}};
  {
    // What the ledger adds: every append (validation + write; on a chain: transaction + receipt)
    // and every catch-up, over the rounds (setup and deployment excluded).
    const ledger::LedgerTiming& lt = ledger->timing();
    const double ledger_s = (lt.append_seconds - ledger_after_setup.append_seconds) +
                            (lt.read_seconds - ledger_after_setup.read_seconds);
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
  std::ofstream(out.report_path) << j.dump(2) << "\n";

  if (a.json) {
    std::cout << j.dump(2) << "\n";
    return out;
  }
  std::cout << "\n" << table.str();
  std::cout << std::setprecision(4) << "\nfinal global model (v" << fed.model_version() << "): test ACC " << test.accuracy
            << ", AUC " << test.auc << " (" << test.n << " images)\n";
  if (a.centralized) {
    std::cout << "centralized, same model and " << central["epochs"] << " epochs: test ACC "
              << central["test_accuracy"].get<double>() << ", AUC " << central["test_auc"].get<double>()
              << "  (gap " << std::setprecision(3) << 100 * (central["test_accuracy"].get<double>() - test.accuracy)
              << " points)\n";
  }
  std::cout << std::setprecision(3) << "HE overhead (encrypt + aggregate + decrypt): " << he_sum << " s = " << he_pct_total
            << "% of round time with hospitals in parallel; " << he_pct_sim
            << "% of this sequential simulation's wall time\n";
  std::cout << "ledger " << out.ledger_path << ": " << (rep.ledger_verified ? "verified" : "NOT verified") << ", head "
            << digest_hex(rep.ledger_head).substr(0, 16) << "; " << std::setprecision(3)
            << j["ledger"]["seconds_per_round"].get<double>() << " s per round ("
            << j["ledger"]["percent_of_federation_time"].get<double>() << "% of the federation's time)";
  if (j["ledger"].contains("gas_per_round")) {
    std::cout << ", " << std::setprecision(6) << j["ledger"]["gas_per_round"].get<double>() << " gas and "
              << j["ledger"]["calldata_bytes_per_round"].get<double>() << " calldata bytes per round";
  }
  std::cout << "\n";
  std::cout << "report " << out.report_path << (plot.ok() ? ", plot " + png : ", plot failed: " + plot.to_string())
            << "\n";
  return out;
}

#endif  // HEAL_HAVE_TORCH

}  // namespace heal::cli
