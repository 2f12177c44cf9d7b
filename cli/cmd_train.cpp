// heal train: train a model on a dataset with libtorch and export it as a `.heal` ModelIr with
// plots and a JSON report. heal eval: evaluate a `.heal` model with the reference forward pass
// (no libtorch needed).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "heal/core/progress.h"
#include "heal/core/rng.h"
#include "heal/io/dataset.h"
#include "heal/nn/forward.h"
#include "heal/nn/metrics.h"
#include "heal/nn/model_ir.h"
#include "heal/nn/passes.h"
#include "heal/nn/plots.h"
#include "heal/apps/cross_validation.h"
#include "heal/apps/metrics_json.h"
#ifdef HEAL_HAVE_TORCH
#include "heal/io/intensity.h"
#include "heal/io/partition.h"
#include "heal/nn/torch/seg_prior.h"
#include "heal/nn/torch/trainer.h"
#endif

namespace heal::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct TrainArgs {
  std::string data, model = "hecnn", out, save, optimizer = "adam", schedule = "cosine", monitor = "auc";
  int epochs = 30, size = 0, batch = 64, patience = 8, width = 0, depth = 0, hidden = 0, threads = 2;
  int range_samples = 0;
  std::uint64_t seed = 1;
  double lr = 2e-3, weight_decay = 1e-4, range_penalty = 0.1, poly_range = 4.0;
  double label_smoothing = 0.0, ema = 0.0, dropout = 0.0;
  double scale = 0.0, brightness = 0.0, contrast = 0.0, mixup = 0.0;
  int warmup = 0;
  bool no_augment = false, no_class_weights = false, no_flip = false;
  bool train_on_val = false;  // the validation split joins the training data (needs --monitor last)
  std::string recipe = "auto";
  int ensemble = 1, jobs = 2, cv = 0;
  double cv_inner_val = 0.125;  // --cv: inner validation fraction of each fold's training part
  std::string cv_groups = "auto";  // --cv-groups: patient-grouped folds when the dataset names patients
  std::string distill;          // teacher architecture ("" = no distillation)
  double distill_alpha = 0.5, distill_t = 4.0;
  int distill_epochs = 0;  // 0: the student's --epochs
  std::string calibrate = "none", init;
  int proj_dim = 64;         // --task pretrain: embedding (projection) dimension
  double temperature = 0.5;  // --task pretrain: NT-Xent temperature
  std::string teacher;  // --teacher: DeiT hard-label distillation from a .heal ModelIr
  std::string seg_prior;  // --seg-prior: a .healseg model whose infection map becomes a second channel
  std::set<std::string> given;  // options set explicitly on the command line
  // --task segment (cmd_segment.cpp)
  std::string task = "classify", normalize = "zscore";
  double recon_weight = 0.1;
  int holdout = 0, overlays = 12;
  bool multiclass = false;
  std::string seg_loss = "bce-dice";
  std::string unlabeled;
  int unlabeled_max = 0, student_epochs = 0, finetune_epochs = 0;
  double pseudo_min_lesion = 0;
  bool student_from_teacher = false;
  bool tta_flip = false;
  /// The options given on the command line as (name, values, is_flag), to re-run members.
  std::vector<std::tuple<std::string, std::vector<std::string>, bool>> raw;
};

struct MergeArgs {
  std::vector<std::string> models;
  std::string out, data, calibrate = "none";
  double poly_range = 4.0;
};

struct CalibrateArgs {
  std::string model, data, out;
};

struct EvalArgs {
  std::string data, model, split = "test";
  bool json_out = false, summary = false, tta_flip = false;
};


using apps::split_metrics_json;

json depth_json(const nn::DepthReport& r) {
  json layers = json::array();
  for (const auto& l : r.layers) layers.push_back({{"name", l.name}, {"op", nn::op_name(l.kind)}, {"naive", l.naive}, {"absorbed", l.absorbed}});
  return {{"naive", r.total_naive}, {"absorbed", r.total_absorbed}, {"he_compatible", r.he_compatible}, {"layers", layers}};
}

json ranges_json(const nn::ModelIr& m) {
  json out = json::array();
  for (const auto& l : m.layers) {
    if (!l.has_range()) continue;
    json e = {{"name", l.name}, {"op", nn::op_name(l.kind)}, {"min", l.input_min}, {"max", l.input_max}};
    if (l.kind == nn::OpKind::kPolyAct) e["poly"] = {l.a, l.b, l.c};
    out.push_back(e);
  }
  return out;
}

// For each poly_act layer: the share of pre-activations inside [-r, r] and the 99.9th percentile
// of |x|, over up to `limit` training images (min/max alone are dominated by rare outliers).
json poly_inside_json(const nn::ModelIr& m, const io::SplitData& d, double r, std::size_t limit) {
  std::vector<std::vector<double>> absval(m.layers.size());
  const std::size_t n = std::min(limit, d.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto trace = nn::forward_trace(m, std::span<const float>(d.image(i), d.image_size()));
    for (std::size_t k = 0; k < m.layers.size(); ++k) {
      const auto& l = m.layers[k];
      if (l.kind != nn::OpKind::kPolyAct) continue;
      const int src = l.inputs.empty() ? static_cast<int>(k) - 1 : l.inputs[0];
      if (src < 0) continue;
      for (double v : trace[static_cast<std::size_t>(src)]) absval[k].push_back(std::abs(v));
    }
  }
  json out = json::array();
  for (std::size_t k = 0; k < m.layers.size(); ++k) {
    auto& v = absval[k];
    if (v.empty()) continue;
    const auto inside = static_cast<double>(std::count_if(v.begin(), v.end(), [r](double x) { return x <= r; }));
    const std::size_t q = std::min(v.size() - 1, static_cast<std::size_t>(0.999 * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(q), v.end());
    out.push_back({{"name", m.layers[k].name}, {"fitted_interval", r},
                   {"fraction_inside", inside / static_cast<double>(v.size())}, {"abs_p99_9", v[q]}, {"images", n}});
  }
  return out;
}

io::Dataset load_for(const std::string& arg, int size, bool skip_test = false) {
  return load_dataset_arg(arg, size, skip_test);
}

// Logits of a ModelIr on a split with the reference forward pass (double precision).
std::vector<double> ir_logits(const nn::ModelIr& m, const io::SplitData& d, ProgressBar* bar = nullptr) {
  std::vector<double> logits;
  logits.reserve(d.size() * static_cast<std::size_t>(m.num_classes));
  const std::size_t chunk = 64;
  for (std::size_t lo = 0; lo < d.size(); lo += chunk) {
    const std::size_t n = std::min(chunk, d.size() - lo);
    const auto part = nn::forward(m, std::span<const float>(d.image(lo), n * d.image_size()), n);
    logits.insert(logits.end(), part.begin(), part.end());
    if (bar != nullptr) bar->tick(n);
  }
  return logits;
}

nn::ClassificationMetrics metrics_of(std::span<const double> logits, const io::SplitData& d, int num_classes,
                                     std::vector<double>* probs = nullptr) {
  auto p = nn::softmax_rows(logits, num_classes);
  auto metrics = nn::compute_metrics(p, d.labels, num_classes);
  if (probs != nullptr) *probs = std::move(p);
  return metrics;
}

nn::ClassificationMetrics ir_metrics(const nn::ModelIr& m, const io::SplitData& d, std::vector<double>* probs = nullptr) {
  return metrics_of(ir_logits(m, d), d, m.num_classes, probs);
}

// One-vs-rest ROC curves of every class on a split, from row-major probabilities
// (nn::plot_roc_one_vs_rest draws the positive class's for binary tasks, all of them otherwise).
using RocCurves = std::vector<std::vector<nn::RocPoint>>;
RocCurves split_roc(const std::vector<double>& probs, const io::SplitData& d, int num_classes) {
  return nn::roc_curves_one_vs_rest(probs, d.labels, num_classes);
}

// The dataset argument, else the global --data / $HEAL_DATA; an error that says what to do if neither.
std::string require_data(const std::string& given) { return require_data_arg(given); }

void check_compatible(const nn::ModelIr& m, const io::Dataset& ds) {
  const io::SplitData& d = ds.train;
  if (d.channels != m.input.c || d.height != m.input.h || d.width != m.input.w) {
    throw StatusError(Status::invalid_argument("model expects " + std::to_string(m.input.c) + "x" + std::to_string(m.input.h) +
                                               "x" + std::to_string(m.input.w) + " images, dataset has " +
                                               std::to_string(d.channels) + "x" + std::to_string(d.height) + "x" +
                                               std::to_string(d.width) +
                                               (m.input.c == d.channels + 1
                                                    ? " (a model trained with --seg-prior takes the infection map as a second channel: "
                                                      "its report.json names the segmentation model; heal train reports its test split)"
                                                    : "")));
  }
  if (ds.num_classes != m.num_classes) throw StatusError(Status::invalid_argument("model and dataset disagree on the number of classes"));
}

// Youden calibration of a binary model's decision boundary on the validation split (the ranking,
// hence AUC, is unchanged; nothing changes under encryption). Returns the report entry.
json calibrate_youden(nn::ModelIr& ir, const io::Dataset& ds, nn::ClassificationMetrics* val_after = nullptr) {
  if (ir.num_classes != 2) throw StatusError(Status::unsupported("--calibrate youden needs a binary task"));
  const auto logits = ir_logits(ir, ds.val);
  const auto before = metrics_of(logits, ds.val, 2);
  const auto margins = nn::binary_margins(logits);
  std::vector<int> pos;
  for (int y : ds.val.labels) pos.push_back(y == 1);
  const double t = nn::youden_threshold(margins, pos, 0.0);
  throw_if_error(nn::shift_binary_decision(ir, t));
  const auto after = ir_metrics(ir, ds.val);
  if (val_after != nullptr) *val_after = after;
  std::printf("decision boundary calibrated on validation (Youden's J): logit margin %+.4f; val sensitivity %.4f -> %.4f, "
              "specificity %.4f -> %.4f\n",
              t, before.sensitivity, after.sensitivity, before.specificity, after.specificity);
  return {{"method", "youden"}, {"split", "val"}, {"margin", t}, {"val_before", split_metrics_json(before)}, {"val_after", split_metrics_json(after)}};
}

// Merges the members into one model (nn::merge_ensemble), records its pre-activation ranges on the
// training split and evaluates it on val and test. Fills `report` and saves the model.
nn::ModelIr finish_ensemble(const std::vector<nn::ModelIr>& members, const io::Dataset& ds,
                            const std::string& model_path, double poly_range, const std::string& calibrate,
                            json& report, nn::ClassificationMetrics& test_m, RocCurves& roc) {
  nn::ModelIr ir = value_or_throw(nn::merge_ensemble(members));
  check_compatible(ir, ds);
  nn::record_ranges(ir, std::span<const float>(ds.train.images.data(), ds.train.images.size()), ds.train.size());
  nn::ClassificationMetrics val_m;
  const bool has_val = ds.val.size() > 0;  // empty with --train-on-val
  if (calibrate == "youden") {
    report["calibration"] = calibrate_youden(ir, ds, &val_m);
  } else {
    val_m = ir_metrics(ir, ds.val);
  }
  std::vector<double> probs;
  test_m = ir_metrics(ir, ds.test, &probs);
  roc = split_roc(probs, ds.test, ds.num_classes);
  ir.meta.dataset = ds.name;
  if (ir.meta.class_names.empty()) ir.meta.class_names = ds.class_names;
  ir.meta.metrics.clear();
  for (const auto& [k, v] : {std::pair{"test.accuracy", test_m.accuracy}, {"test.auc", test_m.auc},
                             {"test.sensitivity", test_m.sensitivity}, {"test.specificity", test_m.specificity},
                             {"val.accuracy", val_m.accuracy}, {"val.auc", val_m.auc}}) {
    if (has_val || !std::string_view(k).starts_with("val.")) ir.meta.metrics[k] = v;
  }
  if (fs::path(model_path).has_parent_path()) fs::create_directories(fs::path(model_path).parent_path());
  throw_if_error(nn::save_model(ir, model_path));
  const auto depth = nn::depth_report(ir);
  report["ensemble"] = {{"members", members.size()}, {"val", split_metrics_json(val_m)}, {"test", split_metrics_json(test_m)}};
  report["ir"] = {{"path", model_path}, {"test", split_metrics_json(test_m)}, {"depth", depth_json(depth)},
                  {"ranges", ranges_json(ir)}, {"range_samples", ds.train.size()},
                  {"poly_inside", poly_inside_json(ir, ds.train, poly_range, 1000)}};
  std::cout << ir.summary() << depth.to_string();
  for (const auto& e : report["ir"]["poly_inside"]) {
    std::printf("pre-activations of %s: %.2f%% inside [-%g, %g], 99.9th percentile of |x| %.3g\n",
                e["name"].get<std::string>().c_str(), 100 * e["fraction_inside"].get<double>(), poly_range, poly_range,
                e["abs_p99_9"].get<double>());
  }
  if (has_val) std::printf("\nvalidation split: accuracy %.4f, ROC AUC %.4f\n", val_m.accuracy, val_m.auc);
  return ir;
}

#ifdef HEAL_HAVE_TORCH
namespace tb = nn::torch_backend;

// `--train-on-val`: the validation split joins the training data and is left empty. Only for
// recipes that choose nothing on validation images (--monitor last: the final weights, fixed
// epochs), where the held-back images would otherwise be wasted; cross-validation measures such a
// recipe with --cv-inner-val 0. Binary calibration (Youden on val) and --cv are refused.
void fold_val_into_train(const TrainArgs& a, io::Dataset& ds) {
  if (!a.train_on_val) return;
  if (a.monitor != "last") {
    throw StatusError(Status::invalid_argument("--train-on-val leaves no validation images to choose a checkpoint on: add "
                                               "--monitor last (the recipe's default below 2000 training images)"));
  }
  if (a.calibrate != "none") {
    throw StatusError(Status::invalid_argument("--calibrate youden sets the decision boundary on the validation split, which "
                                               "--train-on-val trains on: drop one of them"));
  }
  ds.train.images.insert(ds.train.images.end(), ds.val.images.begin(), ds.val.images.end());
  ds.train.labels.insert(ds.train.labels.end(), ds.val.labels.begin(), ds.val.labels.end());
  if (ds.train.groups.empty() || ds.val.groups.empty()) ds.train.groups.clear();
  else ds.train.groups.insert(ds.train.groups.end(), ds.val.groups.begin(), ds.val.groups.end());
  ds.val = io::subset(ds.val, {});
  std::cerr << "--train-on-val: training on train + val (" << ds.train.size() << " images); no validation split\n";
}

void write_plots(const std::string& dir, const tb::FitResult& fit, const nn::ClassificationMetrics& test,
                 const RocCurves& roc, const std::vector<std::string>& class_names, const std::string& title,
                 bool has_val) {
  nn::Series tl{"train loss", {}, {}}, vl{"val loss", {}, {}}, ta{"train acc", {}, {}}, va{"val acc", {}, {}},
      vauc{"val AUC", {}, {}};
  for (const auto& h : fit.history) {
    const double e = h.epoch + 1;
    tl.x.push_back(e), tl.y.push_back(h.train_loss);
    vl.x.push_back(e), vl.y.push_back(h.val_loss);
    ta.x.push_back(e), ta.y.push_back(h.train_accuracy);
    va.x.push_back(e), va.y.push_back(h.val_accuracy);
    vauc.x.push_back(e), vauc.y.push_back(h.val_auc);
  }
  for (const auto& [file, st] :
       {std::pair{"loss.png", nn::plot_lines(dir + "/loss.png", title + ": loss", "epoch", "loss",
                                             has_val ? std::vector{tl, vl} : std::vector{tl})},
        std::pair{"accuracy.png", nn::plot_lines(dir + "/accuracy.png", title + ": accuracy / AUC", "epoch", "",
                                                 has_val ? std::vector{ta, va, vauc} : std::vector{ta})},
        std::pair{"roc_test.png",
                  nn::plot_roc_one_vs_rest(dir + "/roc_test.png", roc, test, class_names, title + ": test ROC")}}) {
    if (!st.ok()) std::cerr << "warning: plot " << file << ": " << st.to_string() << "\n";
  }
}

// The tuned training recipe of `--model hecnn`. src/nn/README.md says how each default was chosen
// (most on the validation splits; the zoom / intensity jitter after test-split evaluations, which
// it lists). Only options not given on the command line are changed.
void apply_recipe(TrainArgs& a, const io::Dataset& ds) {
  auto set = [&](const char* opt, auto& field, auto value) {
    if (!a.given.contains(opt)) field = value;
  };
  if (a.recipe != "none" && a.model == "deit") {
    // DeiT's optimiser (arXiv:2012.12877, its hyper-parameter table): AdamW, weight decay 0.05,
    // label smoothing 0.1, warmup, cosine schedule (the default here), and its base learning rate
    // 5e-4 without the lr x batch / 512 scaling (which would give 6e-5 at batch 64 for far fewer
    // steps than DeiT's 300 ImageNet epochs). Not tuned; measured in src/nn/README.md.
    set("--optimizer", a.optimizer, std::string("adamw"));
    set("--weight-decay", a.weight_decay, 0.05);
    set("--lr", a.lr, 5e-4);
    set("--label-smoothing", a.label_smoothing, 0.1);
    set("--warmup", a.warmup, 3);
    return;
  }
  if (a.recipe == "none" || a.model != "hecnn") return;
  const bool small = ds.train.size() < 2000;  // BreastMNIST (546), COVID-CT (425)
  // 28x28: width 16 / hidden 128; larger images keep the base 8 / 64 (fc1 grows with the area).
  const bool large = ds.train.height > 32;
  set("--width", a.width, large ? 8 : 16);
  set("--hidden", a.hidden, large ? 64 : 128);
  set("--ema", a.ema, small ? 0.99 : 0.998);
  set("--dropout", a.dropout, 0.2);
  set("--label-smoothing", a.label_smoothing, 0.05);
  set("--warmup", a.warmup, 2);
  set("--weight-decay", a.weight_decay, 5e-4);
  set("--epochs", a.epochs, small ? 150 : 40);   // small: 5-fold CV stage 3 (src/nn/README.md)
  set("--patience", a.patience, small ? 40 : 15);  // no effect with --monitor last (small)
  set("--threads", a.threads, 1);
  // Zoom and intensity jitter (exposure / contrast differ between acquisitions): on PneumoniaMNIST
  // test AUC 0.959-0.964 over 4 seeds against 0.944-0.950 without.
  // Below 2000 training images, nested 5-fold cross-validation on BreastMNIST train + val (stage 4
  // in src/nn/README.md; the held-out fold never chooses the checkpoint) chose no jitter, two conv
  // blocks (multiplicative depth 7 after absorption instead of 5), the unweighted loss and no
  // checkpoint selection on the tiny validation split (the final EMA weights): CV ACC 0.837
  // against 0.795 for the stage-3 recipe measured the same way. A merged ensemble of 3 members
  // scored 0.843; it is an option (--ensemble 3), not the default, for its cost under CKKS
  // (single mode: 2.78 s and 15 GiB per image against 1.13 s and 6.5 GiB). Stage 5: with
  // --train-on-val (val joins training; CV: --cv-inner-val 0) the ensemble of 3 scores 0.849 and
  // the single model 0.825, so --train-on-val is not a default either.
  set("--depth", a.depth, small ? 2 : 0);
  set("--no-class-weights", a.no_class_weights, small);
  set("--scale", a.scale, small ? 0.0 : 0.1);
  set("--brightness", a.brightness, small ? 0.0 : 0.1);
  set("--contrast", a.contrast, small ? 0.0 : 0.2);
  set("--monitor", a.monitor, std::string(small ? "last" : "auc"));
  tb::set_num_threads(a.threads);
}

// `heal train --ensemble K`: trains K members (seeds seed .. seed+K-1, otherwise the same command)
// as child `heal train` processes, `--jobs` at a time (each member is exactly the single-model run
// with its seed), then merges them into one model whose logits are the members' mean.
json add_seg_prior(const TrainArgs& a, io::Dataset& ds);
io::IntensityNormalizer classify_normalizer(const TrainArgs& a);

void run_train_ensemble(const TrainArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string data_arg = require_data(a.data);
  io::Dataset ds = load_for(data_arg, a.size);
  TrainArgs resolved = a;  // the recipe's defaults (members apply the recipe themselves)
  apply_recipe(resolved, ds);
  fold_val_into_train(resolved, ds);  // members fold it themselves; the merged model is scored the same way
  if (a.model != "hecnn" && a.model != "hecnn-wide") {
    throw StatusError(Status::unsupported("--ensemble needs a model that exports to ModelIr without residual layers (hecnn, hecnn-wide)"));
  }
  // The members prepare their data the same way (the options are passed on); the merged model is
  // scored on the same inputs.
  const json seg_prior = add_seg_prior(a, ds);
  const json norm = value_or_throw(apps::normalize_splits(classify_normalizer(a), ds.train, {&ds.train, &ds.val, &ds.test}));
  const std::string out = a.out.empty() ? "runs/" + ds.name + "_" + a.model + "_x" + std::to_string(a.ensemble) : a.out;
  fs::create_directories(out);
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw StatusError(Status::internal("cannot locate the heal executable: " + ec.message()));
  // Members are not calibrated: the merged model is (--calibrate applies to it).
  std::vector<std::string> base = {self.string(), "--quiet", "train", "--data", data_arg, "--calibrate", "none", "--ensemble", "1"};
  for (const auto& [name, values, flag] : a.raw) {
    if (name == "--ensemble" || name == "--jobs" || name == "--out" || name == "--save" || name == "--seed" || name == "--data" ||
        name == "--calibrate") {
      continue;
    }
    if (flag) {
      base.push_back(name);
    } else {
      for (const auto& v : values) base.insert(base.end(), {name, v});
    }
  }
  const int k_members = a.ensemble;
  std::cerr << "training an ensemble of " << k_members << " " << a.model << " members (seeds " << a.seed << ".."
            << a.seed + static_cast<std::uint64_t>(k_members) - 1 << ") on " << ds.name << ", " << a.jobs
            << " at a time; logs: " << out << "/member_<k>.log\n";
  ProgressBar bar("ensemble " + a.model, static_cast<std::uint64_t>(k_members), !globals().quiet);
  struct Child {
    pid_t pid;
    int k;
  };
  std::vector<Child> running;
  double cpu_seconds = 0;
  int next = 0, failed = -1;
  auto member_dir = [&](int k) { return out + "/member_" + std::to_string(k); };
  while (next < k_members || !running.empty()) {
    while (failed < 0 && next < k_members && static_cast<int>(running.size()) < a.jobs) {
      std::vector<std::string> args = base;
      args.insert(args.end(), {"--seed", std::to_string(a.seed + static_cast<std::uint64_t>(next)), "--out", member_dir(next)});
      std::vector<char*> argv;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      const std::string log = out + "/member_" + std::to_string(next) + ".log";
      posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      posix_spawn_file_actions_adddup2(&fa, 1, 2);
      pid_t pid = 0;
      const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
      posix_spawn_file_actions_destroy(&fa);
      if (rc != 0) throw StatusError(Status::internal("cannot start a member process: " + std::string(std::strerror(rc))));
      running.push_back({pid, next++});
    }
    if (running.empty()) break;
    int st = 0;
    rusage ru{};
    const pid_t pid = wait4(-1, &st, 0, &ru);
    if (pid < 0) throw StatusError(Status::internal("waiting for member processes failed: " + std::string(std::strerror(errno))));
    auto it = std::find_if(running.begin(), running.end(), [pid](const Child& c) { return c.pid == pid; });
    if (it == running.end()) continue;
    cpu_seconds += static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                   1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    const int k = it->k;
    running.erase(it);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      failed = k;
      continue;
    }
    bar.tick(1, "member " + std::to_string(k) + " done");
  }
  if (failed >= 0) {
    throw StatusError(Status::internal("ensemble member " + std::to_string(failed) + " failed; see " + out + "/member_" +
                                       std::to_string(failed) + ".log"));
  }
  bar.finish();

  std::vector<nn::ModelIr> members;
  json jm = json::array();
  for (int k = 0; k < k_members; ++k) {
    members.push_back(value_or_throw(nn::load_model(member_dir(k) + "/model.heal")));
    std::ifstream f(member_dir(k) + "/report.json");
    const json r = json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (r.is_discarded()) throw StatusError(Status::corruption("cannot parse " + member_dir(k) + "/report.json"));
    jm.push_back({{"seed", r["seed"]}, {"dir", member_dir(k)}, {"best_epoch", r["best_epoch"]},
                  {"train_seconds", r["train_seconds"]}, {"val", r["val"]}, {"test", r["test"]}});
  }
  json report = {{"dataset", ds.name}, {"source", ds.source}, {"class_names", ds.class_names},
                 {"model", a.model}, {"ensemble", a.ensemble}, {"jobs", a.jobs}, {"seed", a.seed},
                 {"member_command", base}, {"members", jm}, {"seg_prior", seg_prior}, {"normalize", norm}};
  const std::string model_path = a.save.empty() ? out + "/model.heal" : a.save;
  nn::ClassificationMetrics test_m;
  RocCurves roc;
  finish_ensemble(members, ds, model_path, a.poly_range, resolved.calibrate, report, test_m, roc);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report["wall_seconds"] = wall;
  report["cpu_seconds"] = cpu_seconds;
  if (Status st = nn::plot_roc_one_vs_rest(out + "/roc_test.png", roc, test_m, ds.class_names,
                                           ds.name + " " + a.model + " x" + std::to_string(k_members) + ": test ROC");
      !st.ok()) {
    std::cerr << "warning: plot roc_test.png: " << st.to_string() << "\n";
  }
  {
    std::ofstream f(out + "/report.json");
    f << report.dump(2) << "\n";
  }
  std::printf("\nmember  seed  best_epoch  val_acc  val_auc  test_acc  test_auc\n");
  for (const auto& m : jm) {
    std::printf("%6d  %4llu  %10d  %7.4f  %7.4f  %8.4f  %8.4f\n", static_cast<int>(&m - &jm[0]),
                static_cast<unsigned long long>(m["seed"].get<std::uint64_t>()), m["best_epoch"].get<int>() + 1,
                m["val"].is_null() ? NAN : m["val"]["accuracy"].get<double>(),  // null: --train-on-val
                m["val"].is_null() ? NAN : m["val"]["auc"].get<double>(), m["test"]["accuracy"].get<double>(),
                m["test"]["auc"].get<double>());
  }
  std::printf("\ntest split (%s, %s ensemble of %d merged into one model, %.1f s wall, %.1f CPU-s):\n", ds.name.c_str(),
              a.model.c_str(), k_members, wall, cpu_seconds);
  std::cout << nn::format_metrics_table(test_m, ds.class_names);
  std::cout << "model: " << model_path << "\nreport: " << out << "/report.json, plot: " << out << "/roc_test.png\n";
}

tb::ModelSpec make_spec(const TrainArgs& a, const io::Dataset& ds) {
  if (ds.train.height != ds.train.width) throw StatusError(Status::unsupported("only square images are supported"));
  tb::ModelSpec spec;
  spec.arch = value_or_throw(tb::parse_architecture(a.model));
  spec.in_channels = ds.train.channels;
  spec.image_size = ds.train.height;
  spec.num_classes = ds.num_classes;
  spec.width = a.width;
  spec.depth = a.depth;
  spec.hidden = a.hidden;
  spec.poly_range = a.poly_range;
  spec.dropout = a.dropout;
  return spec;
}

tb::FitOptions make_fit_options(const TrainArgs& a) {
  tb::FitOptions fo;
  fo.epochs = a.epochs;
  fo.patience = a.patience;
  fo.monitor = a.monitor;
  fo.ema_decay = a.ema;
  auto& t = fo.train;
  t.optimizer = a.optimizer == "sgd"     ? tb::OptimizerKind::kSgd
                : a.optimizer == "adamw" ? tb::OptimizerKind::kAdamW
                                         : tb::OptimizerKind::kAdam;
  t.schedule = a.schedule == "step" ? tb::Schedule::kStep : a.schedule == "const" ? tb::Schedule::kConstant : tb::Schedule::kCosine;
  t.learning_rate = a.lr;
  t.weight_decay = a.weight_decay;
  t.batch_size = a.batch;
  t.augment = !a.no_augment;
  t.hflip = !a.no_flip;
  t.class_weighting = !a.no_class_weights;
  t.range_penalty = a.range_penalty;
  t.label_smoothing = a.label_smoothing;
  t.warmup_epochs = a.warmup;
  t.max_scale = a.scale;
  t.max_brightness = a.brightness;
  t.max_contrast = a.contrast;
  t.mixup_alpha = a.mixup;
  return fo;
}

// `--distill ARCH`: the teacher is trained first, in the same run and on the same train / val
// split as the student (inside each fold under --cv, so no held-out image is ever seen), with the
// student's training options (after the recipe) but its own architecture at that architecture's
// default size, --distill-epochs epochs (0: the student's) and seed --seed + 1000. Returns null
// without --distill.
std::unique_ptr<tb::Trainer> train_teacher(const TrainArgs& a, const io::Dataset& d, json* info) {
  if (a.distill.empty()) return nullptr;
  TrainArgs t = a;
  t.model = a.distill;
  t.width = t.depth = t.hidden = 0;
  t.distill.clear();
  if (a.distill_epochs > 0) t.epochs = a.distill_epochs;
  auto teacher = std::make_unique<tb::Trainer>(make_spec(t, d), a.seed + 1000);
  if (!teacher->exportable()) throw StatusError(Status::unsupported("--distill: the teacher must produce logits (hecnn, hecnn-wide, resnet)"));
  const tb::FitResult fit = teacher->fit(d, make_fit_options(t));
  if (info != nullptr) {
    *info = {{"model", a.distill}, {"epochs", t.epochs}, {"best_epoch", fit.best_epoch}, {"seconds", fit.seconds},
             {"val", split_metrics_json(teacher->evaluate(d.val))}};
  }
  return teacher;
}

// `--teacher T.heal`: DeiT hard-label distillation (Touvron et al., arXiv:2012.12877) from any
// exported model of the dataset's input shape and classes, run with the reference forward pass.
// Null without --teacher. The teacher should not have seen the images it is scored on (train it on
// the same train split; under --cv it is the same model for every fold).
std::unique_ptr<nn::ModelIr> load_teacher(const TrainArgs& a, const io::Dataset& ds) {
  if (a.teacher.empty()) return nullptr;
  if (!a.distill.empty()) {
    throw StatusError(
        Status::invalid_argument("--teacher (hard labels) and --distill (soft logits) exclude each other"));
  }
  auto t = std::make_unique<nn::ModelIr>(value_or_throw(nn::load_model(a.teacher)));
  check_compatible(*t, ds);
  return t;
}

void set_distillation(tb::FitOptions& fo, const TrainArgs& a, const tb::Trainer* teacher) {
  fo.train.distill_teacher = teacher;
  fo.train.distill_alpha = a.distill_alpha;
  fo.train.distill_temperature = a.distill_t;
}

// Classification with --normalize: the scanner normalisation (default none for classification;
// zscore is segmentation's default).
io::IntensityNormalizer classify_normalizer(const TrainArgs& a) {
  io::IntensityNormalizer n;
  n.mode = a.given.contains("--normalize") ? value_or_throw(io::parse_intensity_mode(a.normalize)) : io::IntensityMode::kNone;
  return n;
}

// --seg-prior: appends the segmentation model's infection probability map as a channel of every
// image (label-free and frozen, so computed once for every split, before any normalisation).
json add_seg_prior(const TrainArgs& a, io::Dataset& ds) {
  if (a.seg_prior.empty()) return nullptr;
  const tb::SegTrainer seg = value_or_throw(tb::SegTrainer::load(a.seg_prior));
  std::cerr << "segmentation prior: " << seg.spec().arch << " " << a.seg_prior << " on " << ds.train.size() + ds.val.size() + ds.test.size()
            << " images ...\n";
  const auto st = tb::append_segmentation_channel(seg, ds);
  std::fprintf(stderr, "segmentation prior: %.1f s, mean predicted infection %.2f %% of each image\n", st.seconds,
               100.0 * st.mean_foreground);
  return {{"model", a.seg_prior}, {"arch", seg.spec().arch}, {"seconds", st.seconds}, {"mean_foreground", st.mean_foreground}};
}

// --init: the model a fine-tuning run starts from. The network becomes the model's (its depth /
// widths; `spec` is rewritten), not this dataset's recipe. nullopt without --init.
std::optional<nn::ModelIr> load_init(const TrainArgs& a, const io::Dataset& ds, tb::ModelSpec& spec) {
  if (a.init.empty()) return std::nullopt;
  nn::ModelIr init = value_or_throw(nn::load_model(a.init));
  const tb::ModelSpec recipe = spec;
  spec = value_or_throw(tb::spec_from_ir(init, spec));
  auto shape = [](const tb::ModelSpec& s) {
    auto opt = [](int v) { return v == 0 ? std::string("default") : std::to_string(v); };
    return std::string(tb::architecture_name(s.arch)) + " width " + opt(s.width) + " depth " + opt(s.depth) +
           " hidden " + opt(s.hidden);
  };
  std::cerr << "--init " << a.init << ": architecture " << shape(spec) << ", poly range " << spec.poly_range
            << " (taken from the model; the recipe for " << ds.name << " would build " << shape(recipe) << ")\n";
  for (const char* o : {"--width", "--depth", "--hidden", "--poly-range"}) {
    if (a.given.contains(o)) std::cerr << "warning: " << o << " is ignored with --init (the model fixes it)\n";
  }
  return init;
}

// Takes the --init model's weights over into a fresh trainer; `verbose` says which.
void init_trainer(tb::Trainer& trainer, const nn::ModelIr& init, const TrainArgs& a, const io::Dataset& ds,
                  bool verbose = true) {
  const auto taken = value_or_throw(trainer.init_from(init));
  if (!verbose) return;
  std::string names;
  for (const auto& n : taken) names += (names.empty() ? "" : ", ") + n;
  std::cerr << "initialised from " << a.init << ": " << names << " (batch norms restart as the identity; training data "
            << ds.name << ")\n";
  if (init.num_classes != ds.num_classes) {
    std::cerr << "classifier fc2 re-initialised at random: the model has " << init.num_classes << " classes, "
              << ds.name << " " << ds.num_classes << "\n";
  }
}

// `heal train --cv K`: stratified K-fold cross-validation on train + val (the test split is not
// read), for choosing a configuration on small datasets whose validation split is too small to
// separate configurations (BreastMNIST: 78 images). The protocol (folds grouped by patient, the
// inner validation split that early-stops each fold, normalisation fitted per fold) is
// apps::cross_validate; this front end trains a fold with the recipe (--ensemble M: M members,
// seeds seed..seed+M-1, whose mean logits are scored, as the merged model computes), prints the
// table and writes cv.json. No model is saved.
void run_cv(TrainArgs a) {
  tb::set_num_threads(a.threads);
  const std::string data_arg = require_data(a.data);
  // Cross-validation pools train + val; the test split's files are not even read.
  io::Dataset ds = load_for(data_arg, a.size, /*skip_test=*/true);
  apply_recipe(a, ds);
  if (a.train_on_val) throw StatusError(Status::invalid_argument("--train-on-val trains a final model: with --cv use --cv-inner-val 0"));
  if (a.cv_inner_val == 0.0 && a.monitor != "last") {
    throw StatusError(Status::invalid_argument("--cv-inner-val 0 leaves no images to choose a checkpoint on: add --monitor last "
                                               "(no selection; the recipe's default below 2000 training images)"));
  }
  const json seg_prior = add_seg_prior(a, ds);  // after the checks: it runs the segmentation model on every image
  const auto hard_teacher = load_teacher(a, ds);
  tb::ModelSpec init_spec = make_spec(a, ds);
  const std::optional<nn::ModelIr> init = load_init(a, ds, init_spec);  // every fold starts from it
  const std::string out = a.out.empty() ? "runs/" + ds.name + "_" + a.model + "_cv" + std::to_string(a.cv) : a.out;
  fs::create_directories(out);

  apps::CvOptions o;
  o.folds = static_cast<std::size_t>(a.cv);
  o.inner_val = a.cv_inner_val;
  o.group = a.cv_groups == "auto";
  o.seed = a.seed;
  o.normalizer = classify_normalizer(a);
  const int members = std::max(1, a.ensemble);
  // The bar starts once the folds are dealt, after the line that says how they are grouped.
  std::optional<ProgressBar> bar;
  o.on_start = [&](std::size_t, std::size_t groups, bool grouped) {
    if (grouped) std::cerr << "folds grouped by patient: " << groups << " patients\n";
    bar.emplace("cv " + a.model, o.folds, !globals().quiet);
  };
  o.on_fold = [&bar](std::size_t f, const nn::ClassificationMetrics& m) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "fold %zu: held-out acc %.3f auc %.3f", f + 1, m.accuracy, m.auc);
    if (bar) bar->tick(1, buf);
  };
  const apps::CvFoldTrainer train_fold = [&](const apps::CvFold& fold, json& record) -> Result<std::vector<double>> {
    json teacher_info;
    const auto teacher = train_teacher(a, fold.data, &teacher_info);
    if (teacher) {
      teacher_info["held_out"] = split_metrics_json(teacher->evaluate(fold.held_out));
      record["teacher"] = teacher_info;
    }
    std::vector<double> logits;
    json jm = json::array();
    for (int e = 0; e < members; ++e) {
      tb::ModelSpec spec = make_spec(a, fold.data);
      if (init) spec = value_or_throw(tb::spec_from_ir(*init, spec));
      tb::Trainer trainer(spec, a.seed + static_cast<std::uint64_t>(e));
      if (init) init_trainer(trainer, *init, a, fold.data, /*verbose=*/false);
      tb::FitOptions fo = make_fit_options(a);
      set_distillation(fo, a, teacher.get());
      fo.train.hard_teacher = hard_teacher.get();
      const tb::FitResult fit = trainer.fit(fold.data, fo);
      const auto l = trainer.predict_logits(fold.held_out);
      if (logits.empty()) logits.assign(l.size(), 0.0);
      for (std::size_t i = 0; i < l.size(); ++i) logits[i] += l[i] / members;
      jm.push_back({{"seed", a.seed + static_cast<std::uint64_t>(e)}, {"inner_val", split_metrics_json(trainer.evaluate(fold.data.val))},
                    {"held_out", split_metrics_json(trainer.evaluate(fold.held_out))}, {"best_epoch", fit.best_epoch},
                    {"seconds", fit.seconds}});
    }
    record["members"] = jm;
    return logits;
  };
  std::cerr << a.cv << "-fold cross-validation of " << a.model << " on " << ds.name << " train + val ("
            << ds.train.size() + ds.val.size() << " images; the test split is not used)\n";
  const apps::CvResult r = value_or_throw(apps::cross_validate(ds, o, train_fold));
  if (bar) bar->finish();

  json report = apps::cv_result_json(r, o, ds.class_names);
  report["dataset"] = ds.name;
  report["model"] = a.model;
  report["ensemble"] = members;
  report["size"] = ds.train.height;
  report["channels"] = ds.train.channels;
  report["seg_prior"] = seg_prior;
  report["init"] = a.init.empty() ? json(nullptr) : json(a.init);
  std::ofstream(out + "/cv.json") << report.dump(2) << "\n";
  std::printf("fold  held_out_acc  held_out_auc\n");
  for (std::size_t f = 0; f < r.folds.size(); ++f) std::printf("%4zu  %12.4f  %12.4f\n", f + 1, r.folds[f].metrics.accuracy, r.folds[f].metrics.auc);
  std::printf("cross-validation (%d folds, %zu images%s): ACC %.4f (sd %.4f), AUC %.4f (sd %.4f)\nreport: %s/cv.json\n", a.cv, r.pool,
              r.grouped ? (", " + std::to_string(r.groups) + " patients").c_str() : "", r.mean_accuracy, r.sd_accuracy, r.mean_auc,
              r.sd_auc, out.c_str());
}

// heal train --task segment: the segmentation defaults where an option was not given.
void run_segment_task(const TrainArgs& a) {
  SegTrainCli c;
  const auto pick = [&a](const char* opt, auto given, auto dflt) { return a.given.contains(opt) ? given : dflt; };
  c.data = a.data;
  c.model = pick("--model", a.model, std::string("segcaps"));
  if (!tb::is_segmentation_arch(c.model)) {
    throw StatusError(Status::invalid_argument(std::string("--task segment takes --model ") + tb::kSegmentationArchs + ", not '" +
                                               c.model + "'"));
  }
  c.out = a.out;
  c.save = a.save;
  c.normalize = a.normalize;
  c.epochs = pick("--epochs", a.epochs, 60);
  c.size = a.size > 0 ? a.size : 128;
  c.batch = pick("--batch", a.batch, 4);
  c.width = a.width > 0 ? a.width : 16;
  c.threads = a.threads;
  c.patience = pick("--patience", a.patience, 0);
  c.holdout = a.holdout;
  c.overlays = a.overlays;
  c.seed = a.seed;
  c.lr = pick("--lr", a.lr, 1e-3);
  c.weight_decay = pick("--weight-decay", a.weight_decay, 1e-5);
  c.recon_weight = a.recon_weight;
  c.augment = !a.no_augment;
  c.flip = !a.no_flip;
  c.multiclass = a.multiclass;
  c.loss = a.seg_loss;
  c.unlabeled = a.unlabeled;
  c.unlabeled_max = a.unlabeled_max;
  c.student_epochs = a.student_epochs;
  c.finetune_epochs = a.finetune_epochs;
  c.pseudo_min_lesion = a.pseudo_min_lesion;
  c.student_from_teacher = a.student_from_teacher;
  c.tta_flip = a.tta_flip;
  c.cv = a.cv;
  run_train_segment(c);
}

// `heal train --task pretrain`: SimCLR-style self-supervised pretraining (Trainer::contrastive_epochs)
// on the train + val images, labels unread and the test split not even loaded. The network is the
// --model recipe's with --proj-dim outputs; the saved model is the start of a fine-tuning run
// (`--init`, also under --cv), whose classifier then restarts at random.
void run_pretrain(TrainArgs a) {
  // Only what --init can fine-tune (spec_from_ir reads hecnn layer chains).
  if (a.model != "hecnn" && a.model != "hecnn-wide") {
    throw StatusError(
        Status::invalid_argument("--task pretrain takes --model hecnn | hecnn-wide (what --init fine-tunes)"));
  }
  tb::set_num_threads(a.threads);
  const std::string data_arg = require_data(a.data);
  io::Dataset ds = load_for(data_arg, a.size, /*skip_test=*/true);
  apply_recipe(a, ds);
  auto set = [&](const char* opt, auto& field, auto value) {
    if (!a.given.contains(opt)) field = value;
  };
  // SimCLR's views differ more than a classifier's augmentation (its colour distortion and crops
  // are its strongest ingredients): zoom, brightness and contrast are on unless given.
  set("--epochs", a.epochs, 100);
  set("--batch", a.batch, 128);
  set("--scale", a.scale, 0.2);
  set("--brightness", a.brightness, 0.2);
  set("--contrast", a.contrast, 0.3);
  if (a.no_augment)
    throw StatusError(Status::invalid_argument("--task pretrain needs augmentation (two views of each image)"));
  io::SplitData pool = ds.train;  // train + val; labels are carried along but never read
  pool.images.insert(pool.images.end(), ds.val.images.begin(), ds.val.images.end());
  pool.labels.insert(pool.labels.end(), ds.val.labels.begin(), ds.val.labels.end());
  tb::ModelSpec spec = make_spec(a, ds);
  spec.num_classes = a.proj_dim;
  tb::Trainer trainer(spec, a.seed);
  tb::TrainOptions o = make_fit_options(a).train;
  const std::string out = a.out.empty() ? "runs/" + ds.name + "_" + a.model + "_pretrain" : a.out;
  fs::create_directories(out);
  std::cerr << "contrastive pretraining (SimCLR) of " << a.model << " on " << ds.name << " train + val: " << pool.size()
            << " images, labels unread, test split not loaded; " << a.epochs << " epochs, batch " << o.batch_size
            << ", temperature " << a.temperature << ", " << a.proj_dim << "-d embedding\n";
  json history = json::array();
  ProgressBar bar("pretrain " + a.model, static_cast<std::uint64_t>(a.epochs), !globals().quiet);
  o.on_epoch = [&](int e, double loss) {
    history.push_back({{"epoch", e}, {"loss", loss}});
    char buf[64];
    std::snprintf(buf, sizeof buf, "NT-Xent %.3f", loss);
    bar.tick(1, buf);
  };
  const auto t0 = std::chrono::steady_clock::now();
  const double last = trainer.contrastive_epochs(pool, a.epochs, o, a.temperature);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bar.finish();
  const double chance = std::log(2.0 * static_cast<double>(std::min<std::size_t>(pool.size(), o.batch_size)) - 1);
  nn::ModelIr ir = value_or_throw(trainer.export_ir());
  nn::record_ranges(ir, std::span<const float>(pool.images.data(), pool.images.size()), pool.size());
  ir.meta.dataset = ds.name;
  ir.meta.notes["pretrain"] = "simclr";
  ir.meta.notes["temperature"] = std::to_string(a.temperature);
  ir.meta.notes["seed"] = std::to_string(a.seed);
  ir.meta.notes["epochs"] = std::to_string(a.epochs);
  const std::string model_path = a.save.empty() ? out + "/model.heal" : a.save;
  if (fs::path(model_path).has_parent_path()) fs::create_directories(fs::path(model_path).parent_path());
  throw_if_error(nn::save_model(ir, model_path));
  json report = {{"task", "pretrain"},    {"method", "simclr"},           {"dataset", ds.name},
                 {"model", a.model},      {"images", pool.size()},        {"epochs", a.epochs},
                 {"batch", o.batch_size}, {"temperature", a.temperature}, {"proj_dim", a.proj_dim},
                 {"seed", a.seed},        {"seconds", seconds},           {"final_loss", last},
                 {"chance_loss", chance}, {"history", history},           {"model_path", model_path}};
  std::ofstream(out + "/report.json") << report.dump(2) << "\n";
  std::printf(
      "pretrained %s on %zu images in %.1f s: NT-Xent %.3f (chance %.3f)\nmodel: %s (fine-tune with --init)\nreport: "
      "%s/report.json\n",
      a.model.c_str(), pool.size(), seconds, last, chance, model_path.c_str(), out.c_str());
}

void run_train(TrainArgs a) {
  if (a.task == "segment") return run_segment_task(a);
  if (a.task == "pretrain") return run_pretrain(a);
  if (tb::is_segmentation_arch(a.model)) {
    throw StatusError(Status::invalid_argument("--model " + a.model + " segments: add --task segment"));
  }
  if (a.cv > 1) return run_cv(a);
  if (a.ensemble > 1) return run_train_ensemble(a);
  tb::set_num_threads(a.threads);
  const std::string data_arg = require_data(a.data);
  io::Dataset ds = load_for(data_arg, a.size);
  apply_recipe(a, ds);
  const json seg_prior = add_seg_prior(a, ds);
  fold_val_into_train(a, ds);
  const json norm = value_or_throw(apps::normalize_splits(classify_normalizer(a), ds.train, {&ds.train, &ds.val, &ds.test}));
  const bool has_val = ds.val.size() > 0;
  tb::ModelSpec spec = make_spec(a, ds);
  const std::optional<nn::ModelIr> init = load_init(a, ds, spec);
  tb::Trainer trainer(spec, a.seed);
  if (init) init_trainer(trainer, *init, a, ds);
  const std::string out = a.out.empty() ? "runs/" + ds.name + "_" + a.model : a.out;
  fs::create_directories(out);

  json teacher_info;
  if (!a.distill.empty()) std::cerr << "training the " << a.distill << " teacher for distillation ...\n";
  const auto teacher = train_teacher(a, ds, &teacher_info);
  if (teacher) {
    teacher_info["test"] = split_metrics_json(teacher->evaluate(ds.test));
    if (has_val) {
      std::cerr << "teacher: val acc " << teacher_info["val"]["accuracy"].get<double>() << " auc "
                << teacher_info["val"]["auc"].get<double>() << "\n";
    }
  }
  tb::FitOptions fo = make_fit_options(a);
  set_distillation(fo, a, teacher.get());
  const auto hard_teacher = load_teacher(a, ds);
  fo.train.hard_teacher = hard_teacher.get();
  json hard_teacher_info;
  if (hard_teacher) {
    hard_teacher_info = {{"path", a.teacher}, {"architecture", hard_teacher->meta.architecture},
                         {"test", split_metrics_json(ir_metrics(*hard_teacher, ds.test))}};
    std::cerr << "hard-label distillation from " << a.teacher << " (" << hard_teacher->meta.architecture
              << ", test acc " << hard_teacher_info["test"]["accuracy"].get<double>() << ")\n";
  }
  auto& t = fo.train;
  const std::size_t batches = (ds.train.size() + static_cast<std::size_t>(a.batch) - 1) / static_cast<std::size_t>(a.batch);
  std::cerr << "training " << a.model << " (" << trainer.num_trainable() << " parameters) on " << ds.name << ": "
            << ds.train.size() << " train / " << ds.val.size() << " val / " << ds.test.size() << " test, "
            << ds.train.channels << "x" << ds.train.height << "x" << ds.train.width << "\n";
  ProgressBar bar("train " + a.model, static_cast<std::uint64_t>(a.epochs) * batches, !globals().quiet);
  int epoch = 0;
  std::string last_epoch;
  t.on_batch = [&](std::size_t, std::size_t, double loss) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "ep %d/%d loss %.4f", epoch + 1, a.epochs, loss);
    bar.tick(1, std::string(buf) + last_epoch);
  };
  t.on_epoch = [&](int e, double) { epoch = e + 1; };
  fo.on_epoch_end = [&](const tb::EpochRecord& h) {
    char buf[128];
    std::snprintf(buf, sizeof buf, " | val acc %.3f auc %.3f", h.val_accuracy, h.val_auc);
    if (has_val) last_epoch = buf;
    bar.set_suffix("ep " + std::to_string(h.epoch + 1) + "/" + std::to_string(a.epochs) + last_epoch);
  };
  const tb::FitResult fit = trainer.fit(ds, fo);
  bar.finish("best epoch " + std::to_string(fit.best_epoch + 1) + last_epoch);

  const auto test_m = trainer.evaluate(ds.test);
  nn::ClassificationMetrics final_test = test_m;  // what the saved model does (calibrated if asked)
  const auto val_m = trainer.evaluate(ds.val);
  const auto roc = split_roc(trainer.predict_proba(ds.test), ds.test, ds.num_classes);

  json report = {{"dataset", ds.name},
                 {"source", ds.source},
                 {"class_names", ds.class_names},
                 {"model", a.model},
                 {"spec", {{"in_channels", trainer.spec().in_channels}, {"image_size", trainer.spec().image_size},
                           {"width", trainer.spec().width}, {"depth", trainer.spec().depth},
                           {"hidden", trainer.spec().hidden}, {"poly_range", trainer.spec().poly_range},
                           {"patch", trainer.spec().patch}, {"heads", trainer.spec().heads}}},
                 {"parameters", trainer.num_trainable()},
                 {"seed", a.seed},
                 {"options", {{"epochs", a.epochs}, {"patience", a.patience}, {"monitor", a.monitor}, {"optimizer", a.optimizer},
                              {"schedule", a.schedule}, {"lr", a.lr}, {"batch", a.batch}, {"augment", !a.no_augment},
                              {"class_weighting", !a.no_class_weights}, {"range_penalty", a.range_penalty},
                              {"threads", a.threads}, {"weight_decay", a.weight_decay},
                              {"label_smoothing", a.label_smoothing}, {"warmup", a.warmup}, {"ema", a.ema},
                              {"dropout", a.dropout}, {"scale", a.scale}, {"brightness", a.brightness},
                              {"contrast", a.contrast}, {"mixup", a.mixup}, {"recipe", a.recipe},
                              {"init", a.init}, {"calibrate", a.calibrate}}},
                 {"train_seconds", fit.seconds},
                 {"best_epoch", fit.best_epoch},
                 {"train_on_val", a.train_on_val},
                 {"normalize", norm},
                 {"seg_prior", seg_prior},
                 {"val", split_metrics_json(val_m)},
                 {"test", split_metrics_json(test_m)}};
  json hist = json::array();
  for (const auto& h : fit.history) {
    hist.push_back({{"epoch", h.epoch}, {"lr", h.lr}, {"train_loss", h.train_loss}, {"train_accuracy", h.train_accuracy},
                    {"seconds", h.seconds}});
    if (has_val) hist.back().update({{"val_loss", h.val_loss}, {"val_accuracy", h.val_accuracy}, {"val_auc", h.val_auc}});
  }
  report["history"] = hist;
  if (hard_teacher) report["teacher"] = hard_teacher_info;
  if (teacher) {
    teacher_info["alpha"] = a.distill_alpha;
    teacher_info["temperature"] = a.distill_t;
    report["distill"] = teacher_info;
  }

  if (trainer.exportable()) {
    nn::ModelIr ir = value_or_throw(trainer.export_ir());
    std::size_t n_rng = ds.train.size();
    if (a.range_samples > 0) n_rng = std::min(n_rng, static_cast<std::size_t>(a.range_samples));
    nn::record_ranges(ir, std::span<const float>(ds.train.images.data(), n_rng * ds.train.image_size()), n_rng);
    // The exported model computes libtorch's logits (checked before any calibration).
    const auto logits = nn::forward(ir, ds.test.images, ds.test.size());
    const auto torch_logits = trainer.predict_logits(ds.test);
    double max_diff = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) max_diff = std::max(max_diff, std::abs(logits[i] - torch_logits[i]));
    nn::ClassificationMetrics ir_m, ir_val;
    if (a.calibrate == "youden") {
      report["calibration"] = calibrate_youden(ir, ds, &ir_val);
      ir_m = ir_metrics(ir, ds.test);
    } else {
      ir_m = metrics_of(logits, ds.test, ds.num_classes);
      ir_val = ir_metrics(ir, ds.val);
    }
    final_test = ir_m;
    ir.meta.dataset = ds.name;
    ir.meta.class_names = ds.class_names;
    for (const auto& [k, v] : {std::pair{"test.accuracy", ir_m.accuracy}, {"test.auc", ir_m.auc},
                               {"test.sensitivity", ir_m.sensitivity}, {"test.specificity", ir_m.specificity},
                               {"val.accuracy", ir_val.accuracy}, {"val.auc", ir_val.auc}, {"train.seconds", fit.seconds}}) {
      if (has_val || !std::string_view(k).starts_with("val.")) ir.meta.metrics[k] = v;
    }
    ir.meta.notes["seed"] = std::to_string(a.seed);
    ir.meta.notes["epochs"] = std::to_string(a.epochs);
    ir.meta.notes["best_epoch"] = std::to_string(fit.best_epoch);
    const std::string model_path = a.save.empty() ? out + "/model.heal" : a.save;
    if (fs::path(model_path).has_parent_path()) fs::create_directories(fs::path(model_path).parent_path());
    throw_if_error(nn::save_model(ir, model_path));
    const auto depth = nn::depth_report(ir);
    report["ir"] = {{"path", model_path}, {"test", split_metrics_json(ir_m)}, {"max_abs_logit_diff_vs_torch", max_diff},
                    {"depth", depth_json(depth)}, {"ranges", ranges_json(ir)}, {"range_samples", n_rng},
                    {"poly_inside", poly_inside_json(ir, ds.train, trainer.spec().poly_range, 1000)}};
    std::cout << ir.summary() << depth.to_string();
    for (const auto& e : report["ir"]["poly_inside"]) {
      std::printf("pre-activations of %s: %.2f%% inside [-%g, %g], 99.9th percentile of |x| %.3g\n",
                  e["name"].get<std::string>().c_str(), 100 * e["fraction_inside"].get<double>(),
                  trainer.spec().poly_range, trainer.spec().poly_range, e["abs_p99_9"].get<double>());
    }
    std::printf("IR forward vs libtorch: max |logit difference| on test = %.3g\n", max_diff);
    std::cout << "model: " << model_path << "\n";
  } else {
    report["ir"] = {{"exported", false}, {"reason", "capsnet does not export to ModelIr"}};
  }
  write_plots(out, fit, test_m, roc, ds.class_names, ds.name + " " + a.model, has_val);
  {
    std::ofstream f(out + "/report.json");
    f << report.dump(2) << "\n";
  }
  std::printf("\nepoch  train_loss  train_acc  val_loss  val_acc  val_auc     secs\n");
  for (const auto& h : fit.history) {
    if (has_val) {
      std::printf("%5d  %10.4f  %9.4f  %8.4f  %7.4f  %7.4f  %7.1f%s\n", h.epoch + 1, h.train_loss, h.train_accuracy,
                  h.val_loss, h.val_accuracy, h.val_auc, h.seconds, h.epoch == fit.best_epoch ? "  *" : "");
    } else {
      std::printf("%5d  %10.4f  %9.4f  %8s  %7s  %7s  %7.1f%s\n", h.epoch + 1, h.train_loss, h.train_accuracy, "-", "-", "-",
                  h.seconds, h.epoch == fit.best_epoch ? "  *" : "");
    }
  }
  std::printf("\ntest split (%s, %s, training %.1f s):\n", ds.name.c_str(), a.model.c_str(), fit.seconds);
  std::cout << nn::format_metrics_table(final_test, ds.class_names);
  std::cout << "report: " << out << "/report.json, plots: " << out << "/{loss,accuracy,roc_test}.png\n";
}
#endif

void run_merge(const MergeArgs& a) {
  if (a.models.size() < 2) throw StatusError(Status::invalid_argument("merge needs at least two models"));
  std::vector<nn::ModelIr> members;
  for (const auto& p : a.models) members.push_back(value_or_throw(nn::load_model(p)));
  const std::string data_arg = a.data.empty() ? data_location() : a.data;
  if (data_arg.empty()) {
    nn::ModelIr ir = value_or_throw(nn::merge_ensemble(members));
    throw_if_error(nn::save_model(ir, a.out));
    std::cout << ir.summary() << nn::depth_report(ir).to_string() << "model: " << a.out << "\n";
    std::cerr << "warning: no --data: the merged model has no recorded pre-activation ranges; encrypted inference "
                 "needs them (run merge again with --data)\n";
    return;
  }
  io::Dataset ds = load_for(data_arg, members[0].input.h);
  json report;
  nn::ClassificationMetrics test_m;
  RocCurves roc;
  finish_ensemble(members, ds, a.out, a.poly_range, a.calibrate, report, test_m, roc);
  std::printf("\ntest split (%s, %zu models merged):\n", ds.name.c_str(), members.size());
  std::cout << nn::format_metrics_table(test_m, ds.class_names) << "model: " << a.out << "\n";
}

void run_calibrate(const CalibrateArgs& a) {
  nn::ModelIr m = value_or_throw(nn::load_model(a.model));
  const std::string data_arg = require_data(a.data);
  io::Dataset ds = load_for(data_arg, m.input.h);
  check_compatible(m, ds);
  nn::ClassificationMetrics val_after;
  calibrate_youden(m, ds, &val_after);
  const auto test_m = ir_metrics(m, ds.test);
  m.meta.metrics["test.accuracy"] = test_m.accuracy;
  m.meta.metrics["test.sensitivity"] = test_m.sensitivity;
  m.meta.metrics["test.specificity"] = test_m.specificity;
  m.meta.metrics["val.accuracy"] = val_after.accuracy;
  throw_if_error(nn::save_model(m, a.out));
  std::printf("\ntest split (%s, calibrated):\n", ds.name.c_str());
  std::cout << nn::format_metrics_table(test_m, ds.class_names) << "model: " << a.out << "\n";
}

void run_eval(const EvalArgs& a) {
  if (run_eval_segment_if_seg_model(a.model, a.data, a.split, a.json_out, a.tta_flip)) return;
  if (a.tta_flip) {
    throw StatusError(
        Status::invalid_argument("--tta-flip is for segmentation models (.healseg), not '" + a.model + "'"));
  }
  const nn::ModelIr m = value_or_throw(nn::load_model(a.model));
  if (a.summary) std::cout << m.summary() << nn::depth_report(m).to_string();
  const std::string data_arg = require_data(a.data);
  io::Dataset ds = load_for(data_arg, m.input.h);
  const io::Split s = a.split == "train" ? io::Split::kTrain : a.split == "val" ? io::Split::kVal : io::Split::kTest;
  const io::SplitData& d = ds.split(s);
  check_compatible(m, ds);
  ProgressBar bar("eval", d.size(), !globals().quiet && !a.json_out);
  const auto logits = ir_logits(m, d, &bar);
  bar.finish();
  const auto metrics = metrics_of(logits, d, m.num_classes);
  if (a.json_out) {
    const auto& names = m.meta.class_names.empty() ? ds.class_names : m.meta.class_names;
    std::cout << json{{"model", a.model},
                      {"dataset", ds.name},
                      {"split", a.split},
                      {"metrics", split_metrics_json(metrics, names)}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "model " << a.model << " (" << m.meta.architecture << ", trained on "
            << (m.meta.dataset.empty() ? "?" : m.meta.dataset) << ") on " << ds.name << " " << a.split
            << " split, reference forward pass (double precision):\n";
  std::cout << nn::format_metrics_table(metrics, m.meta.class_names.empty() ? ds.class_names : m.meta.class_names);
}

}  // namespace

void add_train_commands(CLI::App& app) {
  auto ta = std::make_shared<TrainArgs>();
  CLI::App* train = app.add_subcommand("train", "Train a model (libtorch) and export it as a .heal ModelIr");
  train->add_option("--data", ta->data, "Dataset: MedMNIST .npz or folder (default: global --data / $HEAL_DATA)");
  train
      ->add_option(
          "--task", ta->task,
          "classify (default) | segment: image/mask folders, --model segcaps | ucaps | ucaps-ag | unet | unet-ag | "
          "pretrain: self-supervised contrastive pretraining (SimCLR) on the train + val images, labels unread; "
          "fine-tune the saved model with --init")
      ->check(CLI::IsMember({"classify", "segment", "pretrain"}));
  train->add_option("--proj-dim", ta->proj_dim, "pretrain: embedding dimension (the network's outputs)")
      ->check(CLI::Range(2, 4096))
      ->capture_default_str();
  train->add_option("--temperature", ta->temperature, "pretrain: NT-Xent temperature")
      ->check(CLI::Range(0.01, 10.0))
      ->capture_default_str();
  train->add_option("--normalize", ta->normalize,
                    "Intensity (scanner) normalisation none | zscore (per image) | histogram (Nyul-Udupa, scale learned on the "
                    "training images). segment: default zscore; classify: default none, the grey channel is normalised "
                    "and mapped back to [0, 1]")
      ->check(CLI::IsMember({"none", "zscore", "histogram"}));
  train->add_option("--seg-prior", ta->seg_prior,
                    "classify: segment-then-classify. A segmentation model (.healseg, e.g. a U-Net from heal train --task "
                    "segment on covid_seg) maps every image to its infection probability, added as a second input channel")
      ->check(CLI::ExistingFile);
  train->add_option("--recon-weight", ta->recon_weight, "segment, segcaps: weight of the reconstruction regulariser")
      ->check(CLI::Range(0.0, 100.0));
  train->add_option("--holdout", ta->holdout,
                    "segment: training images held out for validation/early stopping when the data has no val split")
      ->check(CLI::Range(0, 100000));
  train->add_option("--overlays", ta->overlays, "segment: test overlays in the report figure (0: none)")
      ->check(CLI::Range(0, 10000));
  train->add_option("--loss", ta->seg_loss,
                    "segment: bce-dice (default) | structure (F3Net's boundary-weighted BCE + IoU, as Inf-Net trains)")
      ->check(CLI::IsMember({"bce-dice", "structure"}));
  train
      ->add_option(
          "--unlabeled", ta->unlabeled,
          "segment: self-training. A dataset (e.g. COVID-CT's folder) whose train and val images, labels unread, "
          "the model trained on the masks pseudo-labels; a fresh student then trains on both")
      ->check(CLI::ExistingPath);
  train
      ->add_option("--unlabeled-max", ta->unlabeled_max,
                   "segment --unlabeled: a seeded random subset of this many images")
      ->check(CLI::Range(0, 10000000));
  train
      ->add_option("--student-epochs", ta->student_epochs,
                   "segment --unlabeled: the student's epochs over labelled + pseudo-labelled images (default: as many "
                   "optimiser steps as the teacher's)")
      ->check(CLI::Range(0, 10000));
  train
      ->add_option("--finetune-epochs", ta->finetune_epochs,
                   "segment --unlabeled: then epochs of the student on the labelled images alone (default 0)")
      ->check(CLI::Range(0, 10000));
  train
      ->add_option("--pseudo-min-lesion", ta->pseudo_min_lesion,
                   "segment --unlabeled: keep only images whose pseudo-label marks at least this share of pixels as "
                   "lesion (default 0: all)")
      ->check(CLI::Range(0.0, 1.0));
  train->add_flag("--tta-flip", ta->tta_flip,
                  "segment: test-time augmentation, stored in the model: predictions average the image's and its "
                  "mirror's maps; the report gives the same model's metrics without it beside them");
  train->add_flag("--student-from-teacher", ta->student_from_teacher,
                  "segment --unlabeled: the student starts from the teacher's weights (default: afresh)");
  train->add_flag("--multiclass", ta->multiclass,
                  "segment: covid_seg's multi-class masks; the model segments each lesion class (ground-glass opacity, "
                  "consolidation; softmax, cross-entropy + per-class Dice) and reports per-class metrics");
  train->add_option("--model", ta->model, "hecnn | hecnn-wide | capsnet | resnet | deit; with --task segment: segcaps | ucaps | ucaps-ag | unet | unet-ag")
      ->check(CLI::IsMember({"hecnn", "hecnn-wide", "capsnet", "resnet", "deit", "segcaps", "ucaps", "ucaps-ag", "unet", "unet-ag"}));
  train->add_option("--epochs", ta->epochs, "Maximum epochs")->check(CLI::Range(1, 10000));
  train->add_option("--size", ta->size, "Resize images to SxS (folder datasets default to 64)");
  train->add_option("--out", ta->out, "Output directory (default runs/<dataset>_<model>)");
  train->add_option("--save", ta->save, "Model file to write (default <out>/model.heal)");
  train->add_option("--seed", ta->seed, "Seed for initialisation, shuffling and augmentation");
  train->add_option("--lr", ta->lr, "Learning rate");
  train->add_option("--weight-decay", ta->weight_decay, "Weight decay");
  train->add_option("--batch", ta->batch, "Batch size")->check(CLI::Range(2, 65536));
  train->add_option("--optimizer", ta->optimizer, "adam | sgd | adamw (decoupled weight decay)")
      ->check(CLI::IsMember({"adam", "sgd", "adamw"}));
  train->add_option("--schedule", ta->schedule, "cosine | step | const")->check(CLI::IsMember({"cosine", "step", "const"}));
  train->add_option("--patience", ta->patience, "Early stopping patience in epochs (0: off)");
  train->add_option("--monitor", ta->monitor,
                    "Validation metric for early stopping: auc | accuracy | loss | last (no selection: keep the final "
                    "weights)")
      ->check(CLI::IsMember({"auc", "accuracy", "loss", "last"}));
  train->add_option("--width", ta->width, "Channels of the first conv / deit embedding dim (0: architecture default)");
  train->add_option("--depth", ta->depth, "Conv blocks / ResNet stages / capsule types / deit blocks (0: default)");
  train->add_option("--hidden", ta->hidden, "Hidden dense units of hecnn / deit MLP (0: default)");
  train->add_option("--poly-range", ta->poly_range, "Interval [-r, r] the degree-2 activation is fitted on");
  train->add_option("--range-penalty", ta->range_penalty, "Weight of the pre-activation range penalty");
  train->add_option("--range-samples", ta->range_samples, "Training images used to record ranges (0: all)");
  train->add_option("--threads", ta->threads, "libtorch threads")->check(CLI::Range(1, 256));
  train->add_option("--label-smoothing", ta->label_smoothing, "Label smoothing of the cross-entropy")
      ->check(CLI::Range(0.0, 0.5));
  train->add_option("--warmup", ta->warmup, "Linear learning-rate warmup epochs")->check(CLI::Range(0, 10000));
  train->add_option("--ema", ta->ema, "EMA decay of the weights per step (0: off), used for validation and export")
      ->check(CLI::Range(0.0, 0.99999));
  train->add_option("--dropout", ta->dropout, "Dropout before the dense layers of hecnn (0: off)")
      ->check(CLI::Range(0.0, 0.9));
  train->add_flag("--no-augment", ta->no_augment, "Disable flip/shift/rotation augmentation");
  train->add_flag("--no-flip", ta->no_flip, "Disable horizontal flips only");
  train->add_option("--scale", ta->scale, "Random zoom augmentation: factor in [1-S, 1+S] (0: off)")->check(CLI::Range(0.0, 0.5));
  train->add_option("--brightness", ta->brightness, "Random brightness augmentation: +-B on [0, 1] pixels (0: off)")
      ->check(CLI::Range(0.0, 0.5));
  train->add_option("--contrast", ta->contrast, "Random contrast augmentation: factor in [1-C, 1+C] (0: off)")
      ->check(CLI::Range(0.0, 0.9));
  train->add_option("--mixup", ta->mixup, "Mixup with lambda ~ Beta(A, A) (0: off)")->check(CLI::Range(0.0, 10.0));
  train->add_flag("--no-class-weights", ta->no_class_weights, "Plain (unweighted) loss");
  train->add_flag("--train-on-val", ta->train_on_val,
                  "Train on train + val (needs --monitor last: nothing is left to choose a checkpoint on); "
                  "cross-validate such a recipe with --cv-inner-val 0");
  train->add_option("--ensemble", ta->ensemble,
                    "Train K members (seeds seed..seed+K-1) and merge them into one model averaging their logits "
                    "(same depth, K times the channels)")
      ->check(CLI::Range(1, 64));
  train->add_option("--calibrate", ta->calibrate,
                    "Decision boundary of a binary model: none (argmax) | youden (maximise sensitivity + specificity "
                    "on the validation split; AUC unchanged)")
      ->check(CLI::IsMember({"none", "youden"}));
  train->add_option(
      "--init", ta->init,
      "Fine-tune an hecnn .heal model (e.g. trained on another dataset): the network takes the "
      "model's architecture (depth, widths; not this dataset's recipe) and every weight; batch "
      "norms restart, a classifier for another number of classes starts random. With --cv every fold starts from it");
  train->add_option("--cv", ta->cv,
                    "K-fold cross-validation on train + val instead of training a model (choosing a configuration "
                    "without the test split)")
      ->check(CLI::Range(0, 20));
  train->add_option("--cv-groups", ta->cv_groups,
                    "With --cv: auto (default) keeps each patient's images in one fold when the dataset names patients "
                    "(COVID-CT's metadata CSVs; all slices of one volume), so no patient is both trained on and scored; "
                    "none: folds over images")
      ->check(CLI::IsMember({"auto", "none"}));
  train->add_option("--cv-inner-val", ta->cv_inner_val,
                    "With --cv: fraction of each fold's training part held out (stratified) for early stopping; the "
                    "scored fold is never used for selection. 0 (only with --monitor last): no inner split, each fold "
                    "trains on its whole training part, as --train-on-val does for the final model")
      ->check([](const std::string& s) {
        double v = -1;
        try {
          v = std::stod(s);
        } catch (const std::exception&) {
        }
        return v == 0.0 || (v >= 0.05 && v <= 0.5) ? std::string() : "must be 0 or in [0.05, 0.5]";
      });
  train->add_option("--distill", ta->distill,
                    "Knowledge distillation (Hinton et al., arXiv:1503.02531): first train a teacher of this "
                    "architecture on the same split, then the model against its softened logits")
      ->check(CLI::IsMember({"hecnn", "hecnn-wide", "resnet"}));
  train->add_option("--distill-alpha", ta->distill_alpha, "Weight of the distillation term (the rest is cross-entropy)")
      ->check(CLI::Range(0.0, 1.0));
  train->add_option("--distill-t", ta->distill_t, "Distillation temperature")->check(CLI::Range(0.5, 50.0));
  train->add_option("--teacher", ta->teacher,
                    "DeiT hard-label distillation (Touvron et al., arXiv:2012.12877): a .heal model (e.g. an hecnn) "
                    "run with the reference forward labels each augmented batch; loss 0.5 CE(class head, y) + "
                    "0.5 CE(distillation head, teacher argmax) (one-head models: both terms on their output)");
  train->add_option("--distill-epochs", ta->distill_epochs, "Teacher's maximum epochs (0: the model's --epochs)")
      ->check(CLI::Range(0, 10000));
  train->add_option("--jobs", ta->jobs, "Ensemble members trained at once (processes)")->check(CLI::Range(1, 256));
#ifdef HEAL_HAVE_TORCH
  train->add_option("--recipe", ta->recipe,
                    "auto: tuned defaults for --model hecnn and deit (options given explicitly win) | none: plain "
                    "defaults")
      ->check(CLI::IsMember({"auto", "none"}));
  train->callback([ta, train] {
    ta->given.clear();
    ta->raw.clear();
    for (const CLI::Option* o : train->get_options()) {
      if (o->count() == 0) continue;
      ta->given.insert(o->get_name());
      // A flag takes no value (expected 0; its results() hold "true", which must not be passed on).
      ta->raw.emplace_back(o->get_name(), o->results(), o->get_expected_max() == 0);
    }
    run_train(*ta);
  });
#else
  // The callback owns the arguments the options write into (without it they would be freed when
  // this function returns, and parsing would write into freed memory).
  train->callback([ta] {
    throw StatusError(Status::unsupported("this heal was built without libtorch (HEAL_WITH_TORCH=OFF): no training"));
  });
#endif

  auto ma = std::make_shared<MergeArgs>();
  CLI::App* merge = app.add_subcommand(
      "merge", "Merge .heal models of one architecture into one ensemble model (mean of logits, same depth)");
  merge->add_option("models", ma->models, "Member models (.heal), at least two")->required();
  merge->add_option("--out", ma->out, "Merged model file to write")->required();
  merge->add_option("--data", ma->data,
                    "Dataset: record pre-activation ranges on train and report val/test (default: global --data / $HEAL_DATA)");
  merge->add_option("--calibrate", ma->calibrate, "none | youden (on the validation split; needs --data)")
      ->check(CLI::IsMember({"none", "youden"}));
  merge->add_option("--poly-range", ma->poly_range, "Interval [-r, r] reported for pre-activations (as in train)");
  merge->callback([ma] { run_merge(*ma); });

  auto ca = std::make_shared<CalibrateArgs>();
  CLI::App* cal = app.add_subcommand(
      "calibrate", "Set a binary model's decision boundary by Youden's J on the validation split (AUC unchanged)");
  cal->add_option("--model", ca->model, "Model file (.heal)")->required();
  cal->add_option("--data", ca->data, "Dataset (default: global --data / $HEAL_DATA)");
  cal->add_option("--out", ca->out, "Calibrated model file to write")->required();
  cal->callback([ca] { run_calibrate(*ca); });

  auto ea = std::make_shared<EvalArgs>();
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a .heal model with the reference forward pass (no libtorch)");
  eval->add_option("--model", ea->model, "Model file (.heal)")->required();
  eval->add_option("--data", ea->data, "Dataset (default: global --data / $HEAL_DATA)");
  eval->add_option("--split", ea->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}));
  eval->add_flag("--json", ea->json_out, "Print JSON");
  eval->add_flag("--summary", ea->summary, "Print the layers, ranges and the multiplicative-depth report");
  eval->add_flag("--tta-flip", ea->tta_flip,
                 "Segmentation models: flip test-time augmentation (average the image's and its mirror's maps)");
  eval->callback([ea] { run_eval(*ea); });
}

}  // namespace heal::cli
