// The shared workload of the simulated and the networked federation (workload.h).
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "heal/apps/fl_torch_trainer.h"
#include "heal/apps/fl_workload.h"
#include "heal/apps/metrics_json.h"
#include "heal/core/status.h"
#include "heal/io/dataset.h"
#include "heal/io/segmentation.h"
#include "heal/nn/torch/seg_trainer.h"
#include "heal/nn/torch/trainer.h"

namespace heal::apps::fl_workload {

using nlohmann::json;

namespace {
namespace tb = nn::torch_backend;
}  // namespace

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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

namespace {

Workload classification_workload(const FlSimulationOptions& a, const std::string& path, const io::PartitionSpec& ps,
                                 std::span<const int> only) {
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
  for (const auto& h : train_part.hospitals) w.total_train += static_cast<double>(h.size());
  const RoundSchedule sched = parse_round_schedule(a.lr_schedule, a.rounds).value();
  for (int h : only) {
    const auto hu = static_cast<std::size_t>(h);
    auto t = std::make_unique<TorchLocalTrainer>(ds, train_part.hospitals.at(hu),
                                                 io::subset(ds->val, val_part.hospitals.at(hu)), spec, topt,
                                                 a.local_epochs, a.seed + 1000 + hu);
    t->set_round_schedule(sched);
    w.trainers.push_back(std::move(t));
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
  // The same schedule as the federation: per round of local_epochs, a fresh optimiser at that round's rate.
  w.centralized = [ds, spec, topt, a, sched](nn::Series& c_acc) {
    tb::Trainer c(spec, a.seed);
    const auto t0 = std::chrono::steady_clock::now();
    json hist = json::array();
    for (std::uint64_t r = 1; r <= a.rounds; ++r) {
      tb::TrainOptions o = topt;
      o.learning_rate = round_learning_rate(a.lr, sched, r);
      c.train_epochs(ds->train, {}, a.local_epochs, o);
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
  json j = {{"images", m.images.size()},
            {"dice", m.dice},
            {"dice_sd", m.dice_sd},
            {"iou", m.iou},
            {"sensitivity", m.sensitivity},
            {"specificity", m.specificity},
            {"mae", m.mae}};
  if (m.infnet.computed) {
    json inf = json::object();
    for (const auto& [k, v] : nn::infnet_fields(m.infnet)) inf[k] = v;
    j["infnet"] = inf;
  }
  return j;
}

// Federated segmentation (issue 20): the training slices are partitioned over the hospitals (the
// partition schemes see one class), each trains a SegTrainer; the test split is scored with the
// Inf-Net metrics.
Workload segmentation_workload(const FlSimulationOptions& a, const std::string& path, const io::PartitionSpec& ps,
                               std::span<const int> only) {
  if (!io::is_seg_dataset(path)) {
    throw StatusError(Status::invalid_argument("--task segment: '" + path + "' is no segmentation dataset"));
  }
  if (!tb::is_segmentation_arch(a.model)) {
    throw std::invalid_argument(std::string("--task segment takes --model ") + tb::kSegmentationArchs);
  }
  io::SegLoadOptions lo;
  lo.multiclass = a.multiclass;
  auto ds = std::make_shared<io::SegDataset>(io::load_seg_dataset(path, lo).value());
  const std::vector<int> labels(ds->train.size(), 0);
  const io::Partition part = io::partition(labels, 1, ps).value();
  tb::SegModelSpec spec;
  spec.arch = a.model;
  spec.image_size = a.size;
  spec.classes = a.multiclass ? ds->num_classes : 2;  // as heal train --multiclass (seg_pipeline's run_spec)
  tb::SegTrainOptions topt;
  topt.learning_rate = a.lr;
  topt.batch_size = a.batch;
  topt.loss = tb::parse_seg_loss(a.seg_loss).value();
  if (spec.classes > 2 && topt.loss != tb::SegLoss::kBceDice) {
    throw StatusError(Status::invalid_argument("the structure loss is binary: --multiclass trains with bce-dice"));
  }
  if (spec.classes > 2 && spec.arch == "segcaps") {
    throw StatusError(Status::invalid_argument(
        "segcaps segments one foreground class: use --model unet, unet-ag, ucaps or ucaps-ag with --multiclass"));
  }
  std::vector<std::string> class_names;
  for (int k = 1; k < spec.classes && spec.classes > 2; ++k) {
    class_names.push_back(ds->class_names.at(static_cast<std::size_t>(k)));
  }
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
  for (const auto& h : part.hospitals) w.total_train += static_cast<double>(h.size());
  const RoundSchedule sched = parse_round_schedule(a.lr_schedule, a.rounds).value();
  for (int h : only) {
    const auto hu = static_cast<std::size_t>(h);
    std::vector<io::SegSample> val;
    auto t = std::make_unique<SegLocalTrainer>(ds, part.hospitals.at(hu), std::move(val), spec, topt, a.local_epochs,
                                               a.seed + 1000 + hu);
    t->set_round_schedule(sched);
    w.trainers.push_back(std::move(t));
  }
  auto init = std::make_shared<tb::SegTrainer>(spec, a.seed);
  w.initial = init->get_weights();
  w.test = [ds, init, class_names](const std::vector<float>& weights) {
    init->set_weights(weights);
    const tb::SegEvaluation ev = init->evaluate_all(ds->test);  // one prediction per slice
    const nn::SegMetrics& m = ev.foreground;
    std::ostringstream line;
    line << std::setprecision(4) << "test Dice " << m.dice << " (sd " << m.dice_sd << "), IoU " << m.iou << ", Sen "
         << m.sensitivity << ", Spec " << m.specificity << ", MAE " << m.mae << " (" << m.images.size()
         << " slices, threshold 0.5)";
    if (m.infnet.computed) line << "; Inf-Net toolbox Dice " << m.infnet.dice << ", S-alpha " << m.infnet.s_alpha;
    json report = seg_metrics_json(m);
    if (!class_names.empty()) {  // each lesion class, one-vs-rest
      const std::vector<nn::SegMetrics>& per = ev.classes;
      json pc = json::array();
      for (std::size_t k = 0; k < per.size(); ++k) {
        json c = seg_metrics_json(per[k]);
        c["class"] = k + 1;
        c["name"] = class_names.at(k);
        pc.push_back(c);
        line << "; " << class_names.at(k) << " Dice " << per[k].dice;
      }
      report["per_class"] = pc;
    }
    return TestResult{0, 0, report, line.str()};
  };
  // Constant schedule: the federation's schedule (per round, a fresh optimiser at the base rate).
  // Cosine: the central recipe of `heal train --task segment` (SegTrainer::fit: one optimiser, the
  // cosine decay per epoch over rounds x local_epochs epochs, the last epoch's weights), the
  // strongest centralised model for that many epochs, which the federation is compared with.
  w.centralized = [ds, spec, topt, a, sched](nn::Series& c_acc) {
    tb::SegTrainer c(spec, a.seed);
    const auto t0 = std::chrono::steady_clock::now();
    json hist = json::array();
    const std::vector<io::SegSample>& mon = ds->val.empty() ? ds->train : ds->val;
    const auto record = [&](std::uint64_t r) {
      const nn::SegMetrics tr = c.evaluate(mon);
      c_acc.x.push_back(static_cast<double>(r));
      c_acc.y.push_back(tr.dice);
      hist.push_back({{"epochs", r * static_cast<std::uint64_t>(a.local_epochs)}, {"dice", tr.dice}});
    };
    if (sched.cosine) {
      tb::SegFitOptions fo;
      fo.train = topt;
      fo.train.epochs = static_cast<int>(a.rounds) * a.local_epochs;
      fo.on_epoch_end = [&](const tb::SegEpochRecord& e) {
        if ((e.epoch + 1) % a.local_epochs == 0) record(static_cast<std::uint64_t>((e.epoch + 1) / a.local_epochs));
      };
      c.fit(ds->train, {}, fo);
    } else {
      for (std::uint64_t r = 1; r <= a.rounds; ++r) {
        c.train_epochs(ds->train, {}, a.local_epochs, topt);
        record(r);
      }
    }
    const nn::SegMetrics tm = c.evaluate(ds->test);
    json j = seg_metrics_json(tm);
    j["epochs"] = a.rounds * static_cast<std::uint64_t>(a.local_epochs);
    j["recipe"] = sched.cosine ? "fit: one optimiser, cosine per epoch" : "per round: fresh optimiser, constant rate";
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

}  // namespace

Workload make_workload(const FlSimulationOptions& a, const std::string& path, const io::PartitionSpec& ps,
                       std::span<const int> hospitals) {
  for (int h : hospitals) {
    if (h < 0 || h >= a.hospitals)
      throw std::invalid_argument("no hospital " + std::to_string(h) + " in the federation");
  }
  return a.task == "segment" ? segmentation_workload(a, path, ps, hospitals)
                             : classification_workload(a, path, ps, hospitals);
}

double max_total_weight(double total_train) { return std::exp2(std::ceil(std::log2(std::max(total_train, 2.0)))); }

RoundTable format_round_table(const fl::FederationReport& rep, const Workload& w) {
  RoundTable out;
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
    out.he_seconds += he;
    out.train_seconds += r.train_seconds;
    out.round_seconds += r.round_seconds;
    out.he_sequential_seconds += enc_seq + r.aggregate_seconds + dec_seq;
    table << std::left << std::setw(6) << r.round << std::setw(6) << (r.completed ? "yes" : "FAIL") << std::setw(7)
          << r.contributors << std::setw(9) << std::setprecision(4) << r.train_loss << std::setw(9)
          << std::setprecision(4) << metric(r.val_metrics, w.val_keys[0]) << std::setw(9)
          << metric(r.val_metrics, w.val_keys[1]) << std::setw(12) << human_bytes(up) << std::setw(12)
          << human_bytes(down) << std::setw(9) << std::setprecision(3) << r.train_seconds << std::setw(9)
          << r.encrypt_seconds << std::setw(9) << r.aggregate_seconds << std::setw(9) << r.decrypt_seconds
          << std::setw(9) << r.round_seconds << std::setprecision(3) << he_pct << "\n";
    if (!r.completed) table << "      failed: " << r.failure_reason << "\n";
    out.extra.push_back({{"round", r.round},
                         {"he_seconds", he},
                         {"he_percent_of_round", he_pct},
                         {"bytes_up_per_hospital", up},
                         {"bytes_down_per_hospital", down}});
  }
  out.text = table.str();
  return out;
}

}  // namespace heal::apps::fl_workload
