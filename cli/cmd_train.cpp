// heal train: train a model on a dataset with libtorch and export it as a `.heal` ModelIr with
// plots and a JSON report. heal eval: evaluate a `.heal` model with the reference forward pass
// (no libtorch needed).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "commands.h"
#include "heal/core/progress.h"
#include "heal/io/dataset.h"
#include "heal/nn/forward.h"
#include "heal/nn/metrics.h"
#include "heal/nn/model_ir.h"
#include "heal/nn/passes.h"
#include "heal/nn/plots.h"
#ifdef HEAL_HAVE_TORCH
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
  int warmup = 0;
  bool no_augment = false, no_class_weights = false, no_flip = false;
  std::string recipe = "auto";
  std::set<std::string> given;  // options set explicitly on the command line
};

struct EvalArgs {
  std::string data, model, split = "test";
  bool json_out = false, summary = false;
};

template <typename T>
T value_or_throw(Result<T> r) {
  if (!r.ok()) throw StatusError(r.status());
  return std::move(r).value();
}

json metrics_json(const nn::ClassificationMetrics& m) {
  return {{"n", m.n},           {"accuracy", m.accuracy},       {"auc", m.auc},
          {"sensitivity", m.sensitivity}, {"specificity", m.specificity}, {"loss", m.loss},
          {"confusion", m.confusion}};
}

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

io::Dataset load_for(const std::string& arg, int size) {
  const std::string path = value_or_throw(io::resolve_dataset_path(arg, data_location()));
  const io::DatasetKind kind = value_or_throw(io::detect_dataset_kind(path));
  io::LoadOptions opts;
  opts.resize_to = size;
  if (kind != io::DatasetKind::kNpz && opts.resize_to == 0) opts.resize_to = 64;
  return value_or_throw(io::load_dataset(path, opts));
}

#ifdef HEAL_HAVE_TORCH
namespace tb = nn::torch_backend;

void write_plots(const std::string& dir, const tb::FitResult& fit, const nn::ClassificationMetrics& test,
                 const std::vector<nn::RocPoint>& roc, const std::string& title) {
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
       {std::pair{"loss.png", nn::plot_lines(dir + "/loss.png", title + ": loss", "epoch", "loss", {tl, vl})},
        std::pair{"accuracy.png",
                  nn::plot_lines(dir + "/accuracy.png", title + ": accuracy / AUC", "epoch", "", {ta, va, vauc})},
        std::pair{"roc_test.png", nn::plot_roc(dir + "/roc_test.png", roc, test.auc, title + ": test ROC")}}) {
    if (!st.ok()) std::cerr << "warning: plot " << file << ": " << st.to_string() << "\n";
  }
}

// The tuned training recipe of `--model hecnn` (selected on the validation splits, see
// src/nn/README.md). Only options not given on the command line are changed.
void apply_recipe(TrainArgs& a, const io::Dataset& ds) {
  if (a.recipe == "none" || a.model != "hecnn") return;
  auto set = [&](const char* opt, auto& field, auto value) {
    if (!a.given.contains(opt)) field = value;
  };
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
  set("--epochs", a.epochs, small ? 80 : 40);
  set("--patience", a.patience, small ? 25 : 15);
  set("--threads", a.threads, 1);
  tb::set_num_threads(a.threads);
}

void run_train(TrainArgs a) {
  tb::set_num_threads(a.threads);
  const std::string data_arg = a.data.empty() ? data_location() : a.data;
  if (data_arg.empty()) throw StatusError(Status::invalid_argument("no dataset: pass --data PATH or set HEAL_DATA"));
  io::Dataset ds = load_for(data_arg, a.size);
  apply_recipe(a, ds);
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
  if (ds.train.height != ds.train.width) throw StatusError(Status::unsupported("only square images are supported"));
  tb::Trainer trainer(spec, a.seed);
  const std::string out = a.out.empty() ? "runs/" + ds.name + "_" + a.model : a.out;
  fs::create_directories(out);

  tb::FitOptions fo;
  fo.epochs = a.epochs;
  fo.patience = a.patience;
  fo.monitor = a.monitor;
  fo.ema_decay = a.ema;
  auto& t = fo.train;
  t.optimizer = a.optimizer == "sgd" ? tb::OptimizerKind::kSgd : tb::OptimizerKind::kAdam;
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
    last_epoch = buf;
    bar.set_suffix("ep " + std::to_string(h.epoch + 1) + "/" + std::to_string(a.epochs) + last_epoch);
  };
  const tb::FitResult fit = trainer.fit(ds, fo);
  bar.finish("best epoch " + std::to_string(fit.best_epoch + 1) + last_epoch);

  const auto test_m = trainer.evaluate(ds.test);
  const auto val_m = trainer.evaluate(ds.val);
  const auto probs = trainer.predict_proba(ds.test);
  std::vector<double> pos_scores;
  std::vector<int> pos;
  for (std::size_t i = 0; i < ds.test.size(); ++i) {
    pos_scores.push_back(probs[i * static_cast<std::size_t>(ds.num_classes) + 1]);
    pos.push_back(ds.test.labels[i] == 1);
  }
  const auto roc = nn::roc_curve(pos_scores, pos);

  json report = {{"dataset", ds.name},
                 {"source", ds.source},
                 {"class_names", ds.class_names},
                 {"model", a.model},
                 {"spec", {{"in_channels", trainer.spec().in_channels}, {"image_size", trainer.spec().image_size},
                           {"width", trainer.spec().width}, {"depth", trainer.spec().depth},
                           {"hidden", trainer.spec().hidden}, {"poly_range", trainer.spec().poly_range}}},
                 {"parameters", trainer.num_trainable()},
                 {"seed", a.seed},
                 {"options", {{"epochs", a.epochs}, {"patience", a.patience}, {"optimizer", a.optimizer},
                              {"schedule", a.schedule}, {"lr", a.lr}, {"batch", a.batch}, {"augment", !a.no_augment},
                              {"class_weighting", !a.no_class_weights}, {"range_penalty", a.range_penalty},
                              {"threads", a.threads}, {"weight_decay", a.weight_decay},
                              {"label_smoothing", a.label_smoothing}, {"warmup", a.warmup}, {"ema", a.ema},
                              {"dropout", a.dropout}, {"recipe", a.recipe}}},
                 {"train_seconds", fit.seconds},
                 {"best_epoch", fit.best_epoch},
                 {"val", metrics_json(val_m)},
                 {"test", metrics_json(test_m)}};
  json hist = json::array();
  for (const auto& h : fit.history) {
    hist.push_back({{"epoch", h.epoch}, {"lr", h.lr}, {"train_loss", h.train_loss}, {"train_accuracy", h.train_accuracy},
                    {"val_loss", h.val_loss}, {"val_accuracy", h.val_accuracy}, {"val_auc", h.val_auc}, {"seconds", h.seconds}});
  }
  report["history"] = hist;

  if (trainer.exportable()) {
    nn::ModelIr ir = value_or_throw(trainer.export_ir());
    std::size_t n_rng = ds.train.size();
    if (a.range_samples > 0) n_rng = std::min(n_rng, static_cast<std::size_t>(a.range_samples));
    nn::record_ranges(ir, std::span<const float>(ds.train.images.data(), n_rng * ds.train.image_size()), n_rng);
    const auto logits = nn::forward(ir, ds.test.images, ds.test.size());
    const auto ir_m = nn::compute_metrics(nn::softmax_rows(logits, ds.num_classes), ds.test.labels, ds.num_classes);
    const auto torch_logits = trainer.predict_logits(ds.test);
    double max_diff = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) max_diff = std::max(max_diff, std::abs(logits[i] - torch_logits[i]));
    ir.meta.dataset = ds.name;
    ir.meta.class_names = ds.class_names;
    for (const auto& [k, v] : {std::pair{"test.accuracy", ir_m.accuracy}, {"test.auc", ir_m.auc},
                               {"test.sensitivity", ir_m.sensitivity}, {"test.specificity", ir_m.specificity},
                               {"val.accuracy", val_m.accuracy}, {"val.auc", val_m.auc}, {"train.seconds", fit.seconds}}) {
      ir.meta.metrics[k] = v;
    }
    ir.meta.notes["seed"] = std::to_string(a.seed);
    ir.meta.notes["epochs"] = std::to_string(a.epochs);
    ir.meta.notes["best_epoch"] = std::to_string(fit.best_epoch);
    const std::string model_path = a.save.empty() ? out + "/model.heal" : a.save;
    if (fs::path(model_path).has_parent_path()) fs::create_directories(fs::path(model_path).parent_path());
    throw_if_error(nn::save_model(ir, model_path));
    const auto depth = nn::depth_report(ir);
    report["ir"] = {{"path", model_path}, {"test", metrics_json(ir_m)}, {"max_abs_logit_diff_vs_torch", max_diff},
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
  write_plots(out, fit, test_m, roc, ds.name + " " + a.model);
  {
    std::ofstream f(out + "/report.json");
    f << report.dump(2) << "\n";
  }
  std::printf("\nepoch  train_loss  train_acc  val_loss  val_acc  val_auc     secs\n");
  for (const auto& h : fit.history) {
    std::printf("%5d  %10.4f  %9.4f  %8.4f  %7.4f  %7.4f  %7.1f%s\n", h.epoch + 1, h.train_loss, h.train_accuracy,
                h.val_loss, h.val_accuracy, h.val_auc, h.seconds, h.epoch == fit.best_epoch ? "  *" : "");
  }
  std::printf("\ntest split (%s, %s, training %.1f s):\n", ds.name.c_str(), a.model.c_str(), fit.seconds);
  std::cout << nn::format_metrics_table(test_m, ds.class_names);
  std::cout << "report: " << out << "/report.json, plots: " << out << "/{loss,accuracy,roc_test}.png\n";
}
#endif

void run_eval(const EvalArgs& a) {
  const nn::ModelIr m = value_or_throw(nn::load_model(a.model));
  if (a.summary) std::cout << m.summary() << nn::depth_report(m).to_string();
  const std::string data_arg = a.data.empty() ? data_location() : a.data;
  if (data_arg.empty()) throw StatusError(Status::invalid_argument("no dataset: pass --data PATH or set HEAL_DATA"));
  io::Dataset ds = load_for(data_arg, m.input.h);
  const io::Split s = a.split == "train" ? io::Split::kTrain : a.split == "val" ? io::Split::kVal : io::Split::kTest;
  const io::SplitData& d = ds.split(s);
  if (d.channels != m.input.c || d.height != m.input.h || d.width != m.input.w) {
    throw StatusError(Status::invalid_argument("model expects " + std::to_string(m.input.c) + "x" + std::to_string(m.input.h) +
                                               "x" + std::to_string(m.input.w) + " images, dataset has " +
                                               std::to_string(d.channels) + "x" + std::to_string(d.height) + "x" +
                                               std::to_string(d.width)));
  }
  if (ds.num_classes != m.num_classes) throw StatusError(Status::invalid_argument("model and dataset disagree on the number of classes"));
  ProgressBar bar("eval", d.size(), !globals().quiet && !a.json_out);
  std::vector<double> logits;
  logits.reserve(d.size() * static_cast<std::size_t>(m.num_classes));
  const std::size_t chunk = 64;
  for (std::size_t lo = 0; lo < d.size(); lo += chunk) {
    const std::size_t n = std::min(chunk, d.size() - lo);
    const auto part = nn::forward(m, std::span<const float>(d.image(lo), n * d.image_size()), n);
    logits.insert(logits.end(), part.begin(), part.end());
    bar.tick(n);
  }
  bar.finish();
  const auto metrics = nn::compute_metrics(nn::softmax_rows(logits, m.num_classes), d.labels, m.num_classes);
  if (a.json_out) {
    std::cout << json{{"model", a.model}, {"dataset", ds.name}, {"split", a.split}, {"metrics", metrics_json(metrics)}}.dump(2) << "\n";
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
  train->add_option("--model", ta->model, "hecnn | hecnn-wide | capsnet | resnet")
      ->check(CLI::IsMember({"hecnn", "hecnn-wide", "capsnet", "resnet"}));
  train->add_option("--epochs", ta->epochs, "Maximum epochs")->check(CLI::Range(1, 10000));
  train->add_option("--size", ta->size, "Resize images to SxS (folder datasets default to 64)");
  train->add_option("--out", ta->out, "Output directory (default runs/<dataset>_<model>)");
  train->add_option("--save", ta->save, "Model file to write (default <out>/model.heal)");
  train->add_option("--seed", ta->seed, "Seed for initialisation, shuffling and augmentation");
  train->add_option("--lr", ta->lr, "Learning rate");
  train->add_option("--weight-decay", ta->weight_decay, "Weight decay");
  train->add_option("--batch", ta->batch, "Batch size")->check(CLI::Range(2, 65536));
  train->add_option("--optimizer", ta->optimizer, "adam | sgd")->check(CLI::IsMember({"adam", "sgd"}));
  train->add_option("--schedule", ta->schedule, "cosine | step | const")->check(CLI::IsMember({"cosine", "step", "const"}));
  train->add_option("--patience", ta->patience, "Early stopping patience in epochs (0: off)");
  train->add_option("--monitor", ta->monitor, "Validation metric for early stopping: auc | accuracy | loss")
      ->check(CLI::IsMember({"auc", "accuracy", "loss"}));
  train->add_option("--width", ta->width, "Channels of the first conv (0: architecture default)");
  train->add_option("--depth", ta->depth, "Conv blocks / ResNet stages / capsule types (0: default)");
  train->add_option("--hidden", ta->hidden, "Hidden dense units of hecnn (0: default)");
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
  train->add_flag("--no-class-weights", ta->no_class_weights, "Plain (unweighted) loss");
#ifdef HEAL_HAVE_TORCH
  train->add_option("--recipe", ta->recipe,
                    "auto: tuned defaults for --model hecnn (options given explicitly win) | none: plain defaults")
      ->check(CLI::IsMember({"auto", "none"}));
  train->callback([ta, train] {
    ta->given.clear();
    for (const CLI::Option* o : train->get_options()) {
      if (o->count() > 0) ta->given.insert(o->get_name());
    }
    run_train(*ta);
  });
#else
  train->callback([] {
    throw StatusError(Status::unsupported("this heal was built without libtorch (HEAL_WITH_TORCH=OFF): no training"));
  });
#endif

  auto ea = std::make_shared<EvalArgs>();
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a .heal model with the reference forward pass (no libtorch)");
  eval->add_option("--model", ea->model, "Model file (.heal)")->required();
  eval->add_option("--data", ea->data, "Dataset (default: global --data / $HEAL_DATA)");
  eval->add_option("--split", ea->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}));
  eval->add_flag("--json", ea->json_out, "Print JSON");
  eval->add_flag("--summary", ea->summary, "Print the layers, ranges and the multiplicative-depth report");
  eval->callback([ea] { run_eval(*ea); });
}

}  // namespace heal::cli
