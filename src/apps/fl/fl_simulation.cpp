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

// What the final global model scores on the test split.
struct TestResult {
  double accuracy = 0, auc = 0;  // classification (FlSimulationResult)
  json report;                   // report.json's "test"
  std::string line;              // the summary line
};

// The task-specific half of a simulation: data, hospitals' trainers, initial weights, evaluation.
// The federation, aggregation, ledger and reporting around it are the same for every task.
struct Workload {
  std::string name, summary, partition_table, plot_title;
  std::vector<std::unique_ptr<fl::LocalTrainer>> trainers;
  std::vector<float> initial;
  double total_train = 0;  // training samples over all hospitals (HE weight bound)
  std::array<const char*, 2> val_keys{}, val_titles{};
  std::function<TestResult(const std::vector<float>&)> test;
  std::function<json(nn::Series&)> centralized;  // the same model trained on the pooled data
  std::function<std::string(const json&, const TestResult&)> central_line;
};

Workload classification_workload(const FlSimulationOptions& a, const std::string& path, const io::PartitionSpec& ps) {
  io::LoadOptions lo;
  lo.dicom = a.dicom;
  lo.slices = a.slices;
  if (io::detect_dataset_kind(path).value() != io::DatasetKind::kNpz) lo.resize_to = 64;
  auto ds = std::make_shared<io::Dataset>(io::load_dataset(path, lo).value());
  // Partition train and validation among the hospitals.
  const io::Partition train_part = io::partition(ds->train.labels, ds->num_classes, ps).value();
  io::PartitionSpec vs = ps;
  vs.min_per_hospital = 5;
  const io::Partition val_part = io::partition(ds->val.labels, ds->num_classes, vs).value();

  tb::ModelSpec spec;
  spec.arch = tb::parse_architecture(a.model).value();
  spec.in_channels = ds->train.channels;
  spec.image_size = ds->train.height;
  spec.num_classes = ds->num_classes;
  tb::TrainOptions topt;
  topt.learning_rate = a.lr;
  topt.batch_size = a.batch;
  topt.schedule = tb::Schedule::kConstant;

  Workload w;
  w.name = ds->name;
  w.summary = ds->name + " (" + std::to_string(ds->train.size()) + " train / " + std::to_string(ds->val.size()) +
              " val / " + std::to_string(ds->test.size()) + " test)";
  w.partition_table = io::format_partition_table(
      io::partition_class_counts(train_part, ds->train.labels, ds->num_classes), ds->class_names);
  w.plot_title = "validation accuracy per round";
  w.val_keys = {"accuracy", "auc"};
  w.val_titles = {"val ACC", "val AUC"};
  for (int h = 0; h < a.hospitals; ++h) {
    const auto hu = static_cast<std::size_t>(h);
    w.trainers.push_back(std::make_unique<TorchLocalTrainer>(ds, train_part.hospitals[hu],
                                                             io::subset(ds->val, val_part.hospitals[hu]), spec, topt,
                                                             a.local_epochs, a.seed + 1000 + hu));
    w.total_train += static_cast<double>(train_part.hospitals[hu].size());
  }
  auto init = std::make_shared<tb::Trainer>(spec, a.seed);
  w.initial = init->get_weights();
  w.test = [ds, init](const std::vector<float>& weights) {
    init->set_weights(weights);
    const nn::ClassificationMetrics m = init->evaluate(ds->test);
    std::ostringstream line;
    line << std::setprecision(4) << "test ACC " << m.accuracy << ", AUC " << m.auc << " (" << m.n << " images)";
    // accuracy, auc, n, kappa, per_class, ...
    return TestResult{m.accuracy, m.auc, classification_metrics_json(m, ds->class_names), line.str()};
  };
  w.centralized = [ds, spec, topt, a](nn::Series& c_acc) {
    tb::Trainer c(spec, a.seed);
    const auto t0 = std::chrono::steady_clock::now();
    json hist = json::array();
    for (std::uint64_t r = 1; r <= a.rounds; ++r) {
      c.train_epochs(ds->train, {}, a.local_epochs, topt);
      const auto vm = c.evaluate(ds->val);
      c_acc.x.push_back(static_cast<double>(r));
      c_acc.y.push_back(vm.accuracy);
      hist.push_back({{"epochs", r * static_cast<std::uint64_t>(a.local_epochs)},
                      {"val_accuracy", vm.accuracy},
                      {"val_auc", vm.auc}});
    }
    const auto tm = c.evaluate(ds->test);
    return json{{"epochs", a.rounds * static_cast<std::uint64_t>(a.local_epochs)},
                {"test_accuracy", tm.accuracy},
                {"test_auc", tm.auc},
                {"seconds", seconds_since(t0)},
                {"history", hist}};
  };
  w.central_line = [](const json& central, const TestResult& test) {
    std::ostringstream os;
    os << std::setprecision(4) << "centralized, same model and " << central["epochs"] << " epochs: test ACC "
       << central["test_accuracy"].get<double>() << ", AUC " << central["test_auc"].get<double>() << "  (gap "
       << std::setprecision(3) << 100 * (central["test_accuracy"].get<double>() - test.accuracy) << " points)";
    return os.str();
  };
  return w;
}

json seg_metrics_json(const nn::SegMetrics& m) {
  return {{"images", m.images.size()},
          {"dice", m.dice},
          {"dice_sd", m.dice_sd},
          {"iou", m.iou},
          {"sensitivity", m.sensitivity},
          {"specificity", m.specificity},
          {"mae", m.mae}};
}

// Federated segmentation (issue 20): the training slices are partitioned over the hospitals (the
// partition schemes see one class), each trains a SegTrainer; the test split is scored with the
// Inf-Net metrics.
Workload segmentation_workload(const FlSimulationOptions& a, const std::string& path, const io::PartitionSpec& ps) {
  if (!io::is_seg_dataset(path)) {
    throw StatusError(Status::invalid_argument("--task segment: '" + path + "' is no segmentation dataset"));
  }
  if (a.model != "segcaps" && a.model != "unet") {
    throw std::invalid_argument("--task segment takes --model segcaps or unet");
  }
  auto ds = std::make_shared<io::SegDataset>(io::load_seg_dataset(path).value());
  const std::vector<int> labels(ds->train.size(), 0);
  const io::Partition part = io::partition(labels, 1, ps).value();
  tb::SegModelSpec spec;
  spec.arch = a.model;
  spec.image_size = a.size;
  tb::SegTrainOptions topt;
  topt.learning_rate = a.lr;
  topt.batch_size = a.batch;
  Workload w;
  w.name = ds->name;
  w.summary = ds->name + " (" + std::to_string(ds->train.size()) + " train / " + std::to_string(ds->val.size()) +
              " val / " + std::to_string(ds->test.size()) + " test slices, " + std::to_string(a.size) + "x" +
              std::to_string(a.size) + ")";
  std::ostringstream pt;
  pt << "training slices per hospital:";
  for (const auto& h : part.hospitals) pt << " " << h.size();
  pt << "\n";
  w.partition_table = pt.str();
  const bool has_val = !ds->val.empty();
  w.plot_title = has_val ? "validation Dice per round" : "Dice on the hospitals' own training slices per round";
  w.val_keys = {has_val ? "dice" : "train_dice", "iou"};
  w.val_titles = {has_val ? "val Dice" : "trn Dice", has_val ? "val IoU" : "trn IoU"};
  for (int h = 0; h < a.hospitals; ++h) {
    const auto hu = static_cast<std::size_t>(h);
    std::vector<io::SegSample> val;
    w.trainers.push_back(std::make_unique<SegLocalTrainer>(ds, part.hospitals[hu], std::move(val), spec, topt,
                                                           a.local_epochs, a.seed + 1000 + hu));
    w.total_train += static_cast<double>(part.hospitals[hu].size());
  }
  auto init = std::make_shared<tb::SegTrainer>(spec, a.seed);
  w.initial = init->get_weights();
  w.test = [ds, init](const std::vector<float>& weights) {
    init->set_weights(weights);
    const nn::SegMetrics m = init->evaluate(ds->test);
    std::ostringstream line;
    line << std::setprecision(4) << "test Dice " << m.dice << " (sd " << m.dice_sd << "), IoU " << m.iou << ", Sen "
         << m.sensitivity << ", Spec " << m.specificity << ", MAE " << m.mae << " (" << m.images.size()
         << " slices, Inf-Net metrics)";
    return TestResult{0, 0, seg_metrics_json(m), line.str()};
  };
  w.centralized = [ds, spec, topt, a](nn::Series& c_acc) {
    tb::SegTrainer c(spec, a.seed);
    const auto t0 = std::chrono::steady_clock::now();
    json hist = json::array();
    for (std::uint64_t r = 1; r <= a.rounds; ++r) {
      c.train_epochs(ds->train, {}, a.local_epochs, topt);
      const nn::SegMetrics tr = c.evaluate(ds->val.empty() ? ds->train : ds->val);
      c_acc.x.push_back(static_cast<double>(r));
      c_acc.y.push_back(tr.dice);
      hist.push_back({{"epochs", r * static_cast<std::uint64_t>(a.local_epochs)}, {"dice", tr.dice}});
    }
    const nn::SegMetrics tm = c.evaluate(ds->test);
    json j = seg_metrics_json(tm);
    j["epochs"] = a.rounds * static_cast<std::uint64_t>(a.local_epochs);
    j["seconds"] = seconds_since(t0);
    j["history"] = hist;
    return j;
  };
  w.central_line = [](const json& central, const TestResult& test) {
    std::ostringstream os;
    os << std::setprecision(4) << "centralized, same model and " << central["epochs"] << " epochs: test Dice "
       << central["dice"].get<double>() << "  (gap " << std::setprecision(3)
       << central["dice"].get<double>() - test.report["dice"].get<double>() << ")";
    return os.str();
  };
  return w;
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
  Workload w = a.task == "segment" ? segmentation_workload(a, path, ps) : classification_workload(a, path, ps);
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
    const double total = w.total_train;
    hc.max_total_weight = std::exp2(std::ceil(std::log2(std::max(total, 2.0))));
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
               << "            " << a.rounds << " rounds x " << a.local_epochs << " local epoch(s), strategy "
               << a.strategy << ", secure aggregation: " << (a.secure == "he" ? "threshold CKKS" : "none (plaintext)")
               << "\n";
    setup_text << w.partition_table;
    if (!he_json.is_null()) {
      setup_text << "HE: " << he_json["params"].get<std::string>() << ", t = " << he_json["threshold"] << " of " << k
                 << ", scale 2^" << he_json["log_delta"] << ", flooding lambda = 40 (sigma 2^" << std::setprecision(3)
                 << he_json["log_flood_sigma"].get<double>() << "), predicted |error| per weighted-sum entry ~"
                 << he_json["predicted_abs_error_std"].get<double>() << "\n    encrypted update "
                 << human_bytes(he_json["contribution_bytes"].get<double>()) << " = " << std::setprecision(3)
                 << he_json["upload_ratio_vs_float32"].get<double>() << "x float32 ("
                 << he_json["ciphertexts_per_update"] << " ciphertexts of " << he_json["n"] << " weights)\n";
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
    std::vector<std::string> accounts;
    for (const auto& m : cons.members) accounts.push_back(m.address);
    if (Status s = evm->fund(accounts, 1'000'000'000'000'000'000ull); !s.ok()) throw StatusError(s);
    const std::string contract = evm->deploy(cons).value();
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
  json rounds_extra = json::array();
  double he_sum = 0, round_sum = 0, train_sum = 0, he_seq_sum = 0;
  std::ostringstream table;
  table << std::left << std::setw(6) << "round" << std::setw(6) << "ok" << std::setw(7) << "contr" << std::setw(9)
        << "loss" << std::setw(9) << w.val_titles[0] << std::setw(9) << w.val_titles[1] << std::setw(12) << "up/hosp"
        << std::setw(12) << "down/hosp" << std::setw(9) << "train s" << std::setw(9) << "enc s" << std::setw(9)
        << "agg s" << std::setw(9) << "dec s" << std::setw(9) << "round s"
        << "HE %\n";
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
          << std::setprecision(4) << metric(r.val_metrics, w.val_keys[0]) << std::setw(9)
          << metric(r.val_metrics, w.val_keys[1]) << std::setw(12) << human_bytes(up) << std::setw(12)
          << human_bytes(down) << std::setw(9) << std::setprecision(3) << r.train_seconds << std::setw(9)
          << r.encrypt_seconds << std::setw(9) << r.aggregate_seconds << std::setw(9) << r.decrypt_seconds
          << std::setw(9) << r.round_seconds << std::setprecision(3) << he_pct << "\n";
    if (!r.completed) table << "      failed: " << r.failure_reason << "\n";
    rounds_extra.push_back({{"round", r.round},
                            {"he_seconds", he},
                            {"he_percent_of_round", he_pct},
                            {"bytes_up_per_hospital", up},
                            {"bytes_down_per_hospital", down}});
  }
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
  j["he"] = he_json;
  j["test"] = test.report;
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
  out.round_table = table.str();

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
