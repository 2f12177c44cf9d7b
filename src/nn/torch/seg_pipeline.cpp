// Segmentation pipelines (see heal/nn/torch/seg_pipeline.h).
#include "heal/nn/torch/seg_pipeline.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <utility>

#include "heal/core/rng.h"
#include "heal/io/dataset.h"
#include "heal/io/partition.h"

namespace fs = std::filesystem;

namespace heal::nn::torch_backend {
namespace {

nlohmann::json infnet_json(const InfNetMetrics& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : infnet_fields(m)) j[k] = v;
  return j;
}

nlohmann::json metrics_json(const SegImageMetrics& m) {
  return {{"id", m.id},           {"dice", m.dice},         {"iou", m.iou},
          {"sensitivity", m.sensitivity}, {"specificity", m.specificity}, {"mae", m.mae},
          {"truth_pixels", m.truth_pixels}, {"predicted_pixels", m.predicted_pixels}, {"infnet", infnet_json(m.infnet)}};
}

Status make_dir(const std::string& d) {
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) return Status::io_error("cannot create '" + d + "': " + ec.message());
  return {};
}

std::vector<std::uint8_t> threshold(const std::vector<float>& p) {
  std::vector<std::uint8_t> m(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) m[i] = p[i] > 0.5f ? 1 : 0;
  return m;
}

// The model spec of a run: cfg.model, with the dataset's classes when the run is multi-class; the
// structure loss is binary.
Result<SegModelSpec> run_spec(const SegRunConfig& cfg, const io::SegDataset& ds) {
  SegModelSpec spec = cfg.model;
  spec.classes = cfg.load.multiclass ? ds.num_classes : 2;
  if (spec.classes > 2 && cfg.fit.train.loss != SegLoss::kBceDice) {
    return Status::invalid_argument(
        "the structure loss is binary: multi-class segmentation trains with bce-dice "
        "(cross-entropy + the Dice of each lesion class)");
  }
  if (spec.classes > 2 && spec.arch == "segcaps") {
    return Status::invalid_argument(
        "segcaps segments one foreground class: use --model unet, unet-ag, ucaps or "
        "ucaps-ag for the multi-class masks");
  }
  return spec;
}

// Lesion class names of a multi-class dataset (class 0 is background).
std::vector<std::string> lesion_names(const io::SegDataset& ds, int classes) {
  std::vector<std::string> names;
  for (int k = 1; k < classes; ++k) {
    const auto i = static_cast<std::size_t>(k);
    names.push_back(i < ds.class_names.size() ? ds.class_names[i] : "class " + std::to_string(k));
  }
  return names;
}

nlohmann::json per_class_json(const std::vector<std::string>& names, const std::vector<SegMetrics>& m) {
  nlohmann::json a = nlohmann::json::array();
  for (std::size_t k = 0; k < m.size(); ++k) {
    a.push_back({{"class", k + 1},
                 {"name", k < names.size() ? names[k] : ""},
                 {"dice", m[k].dice},
                 {"dice_sd", m[k].dice_sd},
                 {"iou", m[k].iou},
                 {"sensitivity", m[k].sensitivity},
                 {"specificity", m[k].specificity},
                 {"mae", m[k].mae},
                 {"infnet", infnet_json(m[k].infnet)}});
  }
  return a;
}

// The model fields every segmentation report names alike.
nlohmann::json model_json(const SegModelSpec& m, int classes) {
  return {{"arch", m.arch},
          {"width", m.width},
          {"image_size", m.image_size},
          {"recon_weight", m.recon_weight},
          {"normalization", io::intensity_mode_name(m.normalizer.mode)},
          {"tta_flip", m.tta_flip},
          {"classes", classes}};
}

// The training fields every segmentation report names alike.
nlohmann::json training_json(const SegTrainOptions& t, std::uint64_t seed) {
  return {{"epochs", t.epochs},
          {"batch", t.batch_size},
          {"lr", t.learning_rate},
          {"weight_decay", t.weight_decay},
          {"loss", seg_loss_name(t.loss)},
          {"augment", t.augment},
          {"seed", seed}};
}

// Means over images (foreground) and, for multi-class models, per lesion class.
nlohmann::json summary_json(const SegMetrics& m, const std::vector<std::string>& names,
                            const std::vector<SegMetrics>& classes) {
  return {{"dice", m.dice},
          {"dice_sd", m.dice_sd},
          {"iou", m.iou},
          {"sensitivity", m.sensitivity},
          {"specificity", m.specificity},
          {"mae", m.mae},
          {"infnet", infnet_json(m.infnet)},
          {"per_class", per_class_json(names, classes)}};
}

// The unlabelled images of self-training: the train and val images of st.unlabeled, grey, at
// side x side (the network's input side; SegTrainer resizes to it anyway). A seeded subset when
// st.max_images is set.
Result<std::vector<io::Image>> load_unlabeled(const SegSelfTraining& st, int side, int threads, std::uint64_t seed) {
  io::LoadOptions lo;
  lo.resize_to = side;
  lo.grayscale = true;
  lo.threads = threads;
  lo.skip_test = true;  // only train and val images are pseudo-labelled; the test files are not read
  auto ds = io::load_dataset(st.unlabeled, lo);
  if (!ds.ok()) return ds.status().with_context("unlabelled images for self-training");
  std::vector<io::Image> out;
  for (const io::SplitData* sp : {&ds->train, &ds->val}) {
    for (std::size_t i = 0; i < sp->size(); ++i) {
      io::Image im;
      im.width = im.original_width = sp->width;
      im.height = im.original_height = sp->height;
      im.channels = sp->channels;
      im.pixels.assign(sp->image(i), sp->image(i) + sp->image_size());
      out.push_back(im.channels == 1 ? std::move(im) : io::to_grayscale(im));
    }
  }
  if (out.empty()) {
    return Status::invalid_argument("'" + st.unlabeled + "' has no train or val images to pseudo-label");
  }
  if (st.max_images > 0 && st.max_images < out.size()) {
    std::vector<std::size_t> order(out.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    SeededRng rng(seed_from_u64(seed), 79);
    shuffle(std::span(order), rng);
    std::vector<io::Image> sub;
    for (std::size_t k = 0; k < st.max_images; ++k) sub.push_back(std::move(out[order[k]]));
    out = std::move(sub);
  }
  return out;
}

// One model trained by the run's recipe: plainly, or, with self-training, a teacher on the labelled
// images, then a student on the labelled and pseudo-labelled ones (SegSelfTraining).
struct Trained {
  SegTrainer model;                   // the final model (the student under self-training)
  SegFitResult fit;                   // its training (student, then fine-tuning, one history)
  std::optional<SegTrainer> teacher;  // self-training only
  std::optional<SegSelfTrainingReport> report;
};

Trained train_model(const SegRunConfig& cfg, const SegModelSpec& spec, const std::vector<io::SegSample>& train,
                    const std::vector<io::SegSample>& val, const std::vector<io::Image>& unlabeled) {
  const auto stage = [&cfg](const char* name, int epochs) {
    if (cfg.on_stage) cfg.on_stage(name, epochs);
  };
  if (!cfg.self_training.enabled()) {
    Trained t{SegTrainer(spec, cfg.seed), {}, std::nullopt, std::nullopt};
    stage("train", cfg.fit.train.epochs);
    t.fit = t.model.fit(train, val, cfg.fit);
    return t;
  }
  const SegSelfTraining& st = cfg.self_training;
  SegSelfTrainingReport rep;
  SegTrainer teacher(spec, cfg.seed);
  stage("teacher", cfg.fit.train.epochs);
  rep.teacher_seconds = teacher.fit(train, val, cfg.fit).seconds;
  // Hard pseudo-labels: the teacher's label map of each unlabelled image.
  std::vector<io::SegSample> all = train;
  double fg = 0;
  for (std::size_t i = 0; i < unlabeled.size(); ++i) {
    io::SegSample s;
    s.id = "unlabeled-" + std::to_string(i);
    s.image = unlabeled[i];
    s.mask = argmax_labels(teacher.predict_classes(s.image));
    const double share = static_cast<double>(s.foreground_pixels()) / static_cast<double>(s.mask.size());
    fg += share;
    if (share >= st.min_lesion) all.push_back(std::move(s));
  }
  rep.kept = all.size() - train.size();
  rep.unlabeled = unlabeled.size();
  rep.pseudo_foreground = unlabeled.empty() ? 0.0 : fg / static_cast<double>(unlabeled.size());
  const auto steps = static_cast<std::size_t>(cfg.fit.train.epochs) * train.size();
  rep.student_epochs =
      st.student_epochs > 0 ? st.student_epochs : static_cast<int>((steps + all.size() - 1) / all.size());
  rep.finetune_epochs = st.finetune_epochs;
  // The student's seed differs from the teacher's, so it starts from other weights.
  Trained t{SegTrainer(spec, cfg.seed + 7919), {}, std::move(teacher), std::nullopt};
  if (st.from_teacher) t.model.set_weights(t.teacher->get_weights());
  SegFitOptions fo = cfg.fit;
  fo.train.epochs = rep.student_epochs;
  stage("student", fo.train.epochs);
  t.fit = t.model.fit(all, val, fo);
  if (st.finetune_epochs > 0) {
    fo.train.epochs = st.finetune_epochs;
    stage("finetune", fo.train.epochs);
    const SegFitResult ft = t.model.fit(train, val, fo);
    for (SegEpochRecord e : ft.history) {
      e.epoch += rep.student_epochs;
      t.fit.history.push_back(e);
    }
    if (ft.best_epoch >= 0) t.fit.best_epoch = ft.best_epoch + rep.student_epochs;
    t.fit.seconds += ft.seconds;
  }
  rep.student_seconds = t.fit.seconds;
  t.report = rep;
  return t;
}

nlohmann::json self_training_json(const SegSelfTraining& st, const SegSelfTrainingReport& r) {
  return {{"unlabeled", st.unlabeled},
          {"max_images", st.max_images},
          {"images", r.unlabeled},
          {"min_lesion", st.min_lesion},
          {"kept", r.kept},
          {"from_teacher", st.from_teacher},
          {"pseudo_foreground", r.pseudo_foreground},
          {"student_epochs", r.student_epochs},
          {"finetune_epochs", r.finetune_epochs},
          {"teacher_seconds", r.teacher_seconds},
          {"student_seconds", r.student_seconds}};
}

}  // namespace

namespace {

// Writes <dir>/<id>_overlay.png for each sample, drawn by draw(sample index), and returns them.
template <class Draw>
Result<std::vector<io::Image>> write_each(const std::vector<io::SegSample>& samples, const std::string& dir,
                                          Draw draw) {
  HEAL_RETURN_IF_ERROR(make_dir(dir));
  std::vector<io::Image> out;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    io::Image ov = draw(i);
    HEAL_RETURN_IF_ERROR(io::save_png(ov, (fs::path(dir) / (samples[i].id + "_overlay.png")).string()));
    out.push_back(std::move(ov));
  }
  return out;
}

}  // namespace

Result<std::vector<io::Image>> write_label_overlays(const std::vector<io::SegSample>& samples,
                                                    const std::vector<std::vector<std::uint8_t>>& labels,
                                                    const std::string& dir) {
  if (labels.size() != samples.size()) return Status::invalid_argument("write_label_overlays: one map per sample");
  return write_each(samples, dir, [&](std::size_t i) {
    return overlay_label_contours(samples[i].image, labels[i], samples[i].mask);
  });
}

Result<std::vector<io::Image>> write_overlays(const std::vector<io::SegSample>& samples,
                                              const std::vector<std::vector<float>>& probabilities,
                                              const std::string& dir) {
  if (probabilities.size() != samples.size()) return Status::invalid_argument("write_overlays: one map per sample");
  return write_each(samples, dir, [&](std::size_t i) {
    return overlay_contours(samples[i].image, threshold(probabilities[i]), samples[i].mask);
  });
}

std::string seg_report_json(const SegRunConfig& cfg, const SegRunReport& r) {
  nlohmann::json hist = nlohmann::json::array();
  for (const auto& e : r.fit.history) {
    hist.push_back({{"epoch", e.epoch}, {"lr", e.lr}, {"train_loss", e.train_loss}, {"val_dice", e.val_dice},
                    {"seconds", e.seconds}});
  }
  nlohmann::json per = nlohmann::json::array();
  for (const auto& m : r.test.images) per.push_back(metrics_json(m));
  const auto& m = cfg.model;
  const auto& t = cfg.fit.train;
  nlohmann::json test = summary_json(r.test, r.class_names, r.test_classes);
  test["images"] = r.test_images;
  test["per_image"] = per;
  nlohmann::json model = model_json(m, r.classes);
  model["parameters"] = r.parameters;
  nlohmann::json training = training_json(t, cfg.seed);
  training["holdout"] = cfg.holdout;
  training["patience"] = cfg.fit.patience;
  training["train_images"] = r.train_images;
  training["val_images"] = r.val_images;
  training["best_epoch"] = r.fit.best_epoch;
  training["seconds"] = r.fit.seconds;
  if (r.self_training) {
    nlohmann::json st = self_training_json(cfg.self_training, *r.self_training);
    st["teacher_test"] = summary_json(r.teacher_test, {}, {});
    training["self_training"] = st;
  }
  if (r.test_without_tta) test["without_tta"] = summary_json(*r.test_without_tta, {}, {});
  nlohmann::json j = {
      {"task", "segment"},
      {"dataset", r.dataset},
      {"data", cfg.data},
      {"model", model},
      {"training", training},
      {"history", hist},
      {"test", test},
      {"metric_definition",
       "per image at native resolution, threshold 0.5, mean over images; \"infnet\": the Inf-Net evaluation toolbox's "
       "protocol (arXiv 2004.14133; 8-bit map stretched to [0, 1], Dice/Sen/Spec/E-phi averaged over 256 thresholds, "
       "S-alpha and MAE of the stretched map), the one its Table II uses. Multi-class models: the top-level values are "
       "the foreground's (1 - P(background) at 0.5 against any lesion class); per_class holds each lesion class k "
       "one-vs-rest against mask == k, as Inf-Net's Table IV scores ground-glass opacity and consolidation: Dice, IoU, "
       "Sen, Spec of the argmax label map's class k, MAE and \"infnet\" of P(k)"},
      {"model_path", r.model_path},
      {"figure", r.figure_path}};
  return j.dump(2);
}

Result<SegRunReport> run_segmentation_training(const SegRunConfig& cfg) {
  HEAL_ASSIGN_OR_RETURN(io::SegDataset ds, io::load_seg_dataset(cfg.data, cfg.load));
  if (ds.test.empty()) return Status::invalid_argument("segmentation dataset '" + cfg.data + "' has no test split");
  std::vector<io::SegSample> train = std::move(ds.train), val = std::move(ds.val);
  if (val.empty() && cfg.holdout > 0) {
    if (static_cast<std::size_t>(cfg.holdout) >= train.size()) {
      return Status::invalid_argument("--holdout must leave training images (" + std::to_string(train.size()) + " in all)");
    }
    std::vector<std::size_t> order(train.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    SeededRng rng(seed_from_u64(cfg.seed), 77);
    shuffle(std::span(order), rng);
    std::vector<io::SegSample> tr;
    for (std::size_t k = 0; k < order.size(); ++k) {
      (k < static_cast<std::size_t>(cfg.holdout) ? val : tr).push_back(std::move(train[order[k]]));
    }
    train = std::move(tr);
  }
  HEAL_ASSIGN_OR_RETURN(const SegModelSpec spec, run_spec(cfg, ds));
  HEAL_RETURN_IF_ERROR(make_dir(cfg.out_dir));
  SegRunReport r;
  r.dataset = ds.name;
  r.train_images = train.size();
  r.val_images = val.size();
  r.test_images = ds.test.size();
  r.classes = spec.classes;
  if (spec.classes > 2) r.class_names = lesion_names(ds, spec.classes);
  std::vector<io::Image> unlabeled;
  if (cfg.self_training.enabled()) {
    HEAL_ASSIGN_OR_RETURN(unlabeled, load_unlabeled(cfg.self_training, spec.image_size, cfg.load.threads, cfg.seed));
  }
  Trained trained = train_model(cfg, spec, train, val, unlabeled);
  SegTrainer& model = trained.model;
  r.parameters = model.num_parameters();
  r.fit = std::move(trained.fit);
  if (trained.teacher) {
    r.self_training = trained.report;
    r.teacher_test = trained.teacher->evaluate(ds.test);
  }
  // One prediction per test slice serves the metrics (SegTrainer::evaluate's and evaluate_classes')
  // and the overlays.
  std::vector<std::vector<float>> probs;
  std::vector<std::vector<std::uint8_t>> labels;
  std::vector<SegImageMetrics> per;
  std::vector<std::vector<SegImageMetrics>> per_class(static_cast<std::size_t>(spec.classes - 1));
  for (const auto& s : ds.test) {
    std::vector<std::vector<float>> maps = model.predict_classes(s.image);
    SegClassEvaluation e = evaluate_map(maps, s);
    per.push_back(std::move(e.foreground));
    for (std::size_t k = 0; k < e.per_class.size(); ++k) per_class[k].push_back(std::move(e.per_class[k]));
    if (spec.classes > 2)
      labels.push_back(argmax_labels(maps));
    else
      probs.push_back(std::move(maps[1]));
  }
  r.test = summarize(std::move(per));
  if (spec.classes > 2) {
    for (auto& v : per_class) r.test_classes.push_back(summarize(std::move(v)));
  }
  if (spec.tta_flip) {
    model.set_tta_flip(false);
    r.test_without_tta = model.evaluate(ds.test);
    model.set_tta_flip(true);
  }
  r.model_path = cfg.model_path.empty() ? (fs::path(cfg.out_dir) / "model.healseg").string() : cfg.model_path;
  HEAL_RETURN_IF_ERROR(model.save(r.model_path));
  if (cfg.overlays > 0) {
    const std::string dir = (fs::path(cfg.out_dir) / "overlays").string();
    HEAL_ASSIGN_OR_RETURN(
        auto ovs, spec.classes > 2 ? write_label_overlays(ds.test, labels, dir) : write_overlays(ds.test, probs, dir));
    ovs.resize(std::min<std::size_t>(ovs.size(), static_cast<std::size_t>(cfg.overlays)));
    r.figure_path = (fs::path(cfg.out_dir) / "test_overlays.png").string();
    HEAL_RETURN_IF_ERROR(io::save_png(tile_images(ovs, 4, 256), r.figure_path));
  }
  r.report_path = (fs::path(cfg.out_dir) / "report.json").string();
  std::ofstream f(r.report_path);
  f << seg_report_json(cfg, r) << "\n";
  if (!f) return Status::io_error("cannot write '" + r.report_path + "'");
  return r;
}

Result<SegCvReport> run_segmentation_cv(const SegRunConfig& cfg, int folds,
                                        const std::function<void(int, const SegMetrics&)>& on_fold) {
  if (folds < 2) return Status::invalid_argument("cross-validation needs at least 2 folds");
  io::SegLoadOptions load = cfg.load;
  load.skip_test = true;
  HEAL_ASSIGN_OR_RETURN(io::SegDataset ds, io::load_seg_dataset(cfg.data, load));
  std::vector<io::SegSample> pool = std::move(ds.train);
  for (auto& s : ds.val) pool.push_back(std::move(s));
  if (static_cast<std::size_t>(folds) > pool.size()) {
    return Status::invalid_argument(std::to_string(folds) + " folds but only " + std::to_string(pool.size()) +
                                    " training images");
  }
  HEAL_ASSIGN_OR_RETURN(const SegModelSpec spec, run_spec(cfg, ds));
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<io::Image> unlabeled;
  if (cfg.self_training.enabled()) {
    HEAL_ASSIGN_OR_RETURN(unlabeled, load_unlabeled(cfg.self_training, spec.image_size, cfg.load.threads, cfg.seed));
  }
  SegCvReport r;
  if (spec.classes > 2) r.class_names = lesion_names(ds, spec.classes);
  r.folds = folds;
  r.pool = pool.size();
  r.fold_of.assign(pool.size(), 0);
  {  // io's folds with a single class: the slices in a seeded shuffle, dealt round-robin
    SeededRng rng(seed_from_u64(cfg.seed), 78);
    const auto sets = io::cv_folds(std::vector<int>(pool.size(), 0), {}, 1, static_cast<std::size_t>(folds), rng);
    for (std::size_t f = 0; f < sets.size(); ++f) {
      for (std::size_t i : sets[f]) r.fold_of[i] = static_cast<int>(f);
    }
  }
  std::vector<SegImageMetrics> all;
  std::vector<std::vector<SegImageMetrics>> all_classes(static_cast<std::size_t>(spec.classes - 1));
  for (int f = 0; f < folds; ++f) {
    std::vector<io::SegSample> train, held;
    for (std::size_t i = 0; i < pool.size(); ++i) (r.fold_of[i] == f ? held : train).push_back(pool[i]);
    Trained trained = train_model(cfg, spec, train, {}, unlabeled);
    SegTrainer& model = trained.model;
    if (trained.teacher) {
      r.self_training.push_back(*trained.report);
      r.teacher_fold_metrics.push_back(trained.teacher->evaluate(held));
    }
    std::vector<SegImageMetrics> per;
    for (const auto& s : held) {
      SegClassEvaluation e = evaluate_map(model.predict_classes(s.image), s);
      per.push_back(std::move(e.foreground));
      for (std::size_t k = 0; k < e.per_class.size(); ++k) all_classes[k].push_back(std::move(e.per_class[k]));
    }
    all.insert(all.end(), per.begin(), per.end());
    r.fold_metrics.push_back(summarize(std::move(per)));
    if (spec.tta_flip) {
      model.set_tta_flip(false);
      r.no_tta_fold_metrics.push_back(model.evaluate(held));
      model.set_tta_flip(true);
    }
    if (on_fold) on_fold(f, r.fold_metrics.back());
  }
  r.pooled = summarize(std::move(all));
  if (spec.classes > 2) {
    for (auto& v : all_classes) r.pooled_classes.push_back(summarize(std::move(v)));
  }
  // Mean and sample sd over the folds (folds >= 2) of one of their Dice values.
  const auto mean_sd = [](const std::vector<SegMetrics>& folds, auto dice_of) {
    const auto n = static_cast<double>(folds.size());
    double mean = 0, ss = 0;
    for (const auto& m : folds) mean += dice_of(m) / n;
    for (const auto& m : folds) ss += (dice_of(m) - mean) * (dice_of(m) - mean);
    return std::pair{mean, std::sqrt(ss / (n - 1))};
  };
  const auto dice = [](const SegMetrics& m) { return m.dice; };
  const auto toolbox = [](const SegMetrics& m) { return m.infnet.dice; };
  std::tie(r.mean_dice, r.sd_dice) = mean_sd(r.fold_metrics, dice);
  std::tie(r.mean_toolbox_dice, r.sd_toolbox_dice) = mean_sd(r.fold_metrics, toolbox);
  if (!r.teacher_fold_metrics.empty()) {
    r.teacher_mean_dice = mean_sd(r.teacher_fold_metrics, dice).first;
    r.teacher_mean_toolbox_dice = mean_sd(r.teacher_fold_metrics, toolbox).first;
  }
  if (!r.no_tta_fold_metrics.empty()) {
    r.no_tta_mean_dice = mean_sd(r.no_tta_fold_metrics, dice).first;
    r.no_tta_mean_toolbox_dice = mean_sd(r.no_tta_fold_metrics, toolbox).first;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  HEAL_RETURN_IF_ERROR(make_dir(cfg.out_dir));
  r.report_path = (fs::path(cfg.out_dir) / "cv.json").string();
  std::ofstream f(r.report_path);
  f << seg_cv_json(cfg, r) << "\n";
  if (!f) return Status::io_error("cannot write '" + r.report_path + "'");
  return r;
}

std::string seg_cv_json(const SegRunConfig& cfg, const SegCvReport& r) {
  const auto& m = cfg.model;
  const auto& t = cfg.fit.train;
  nlohmann::json folds = nlohmann::json::array();
  for (std::size_t f = 0; f < r.fold_metrics.size(); ++f) {
    const auto& fm = r.fold_metrics[f];
    nlohmann::json per = nlohmann::json::array();
    for (const auto& im : fm.images) per.push_back(metrics_json(im));
    folds.push_back({{"fold", f + 1}, {"images", fm.images.size()}, {"dice", fm.dice}, {"iou", fm.iou},
                     {"infnet", infnet_json(fm.infnet)}, {"per_image", per}});
  }
  nlohmann::json j = {
      {"task", "segment-cv"},
      {"data", cfg.data},
      {"model", model_json(m, r.class_names.empty() ? 2 : static_cast<int>(r.class_names.size()) + 1)},
      {"training", training_json(t, cfg.seed)},
      {"folds", r.folds},
      {"pool_images", r.pool},
      {"mean_dice", r.mean_dice},
      {"sd_dice", r.sd_dice},
      {"mean_toolbox_dice", r.mean_toolbox_dice},
      {"sd_toolbox_dice", r.sd_toolbox_dice},
      {"pooled",
       {{"dice", r.pooled.dice},
        {"iou", r.pooled.iou},
        {"sensitivity", r.pooled.sensitivity},
        {"specificity", r.pooled.specificity},
        {"infnet", infnet_json(r.pooled.infnet)},
        {"per_class", per_class_json(r.class_names, r.pooled_classes)}}},
      {"per_fold", folds},
      {"seconds", r.seconds},
      {"note",
       "the training split only (train + val pooled); the test split is not read. Means and sd are over "
       "folds; pooled: every held-out image once"}};
  if (!r.teacher_fold_metrics.empty()) {
    // The student's values are the ones above; the teacher's, fold by fold, sit beside them.
    nlohmann::json st = nlohmann::json::array();
    for (std::size_t f = 0; f < r.self_training.size(); ++f) {
      nlohmann::json e = self_training_json(cfg.self_training, r.self_training[f]);
      e["fold"] = f + 1;
      e["teacher_dice"] = r.teacher_fold_metrics[f].dice;
      e["teacher_toolbox_dice"] = r.teacher_fold_metrics[f].infnet.dice;
      st.push_back(e);
    }
    j["self_training"] = {{"per_fold", st},
                          {"teacher_mean_dice", r.teacher_mean_dice},
                          {"teacher_mean_toolbox_dice", r.teacher_mean_toolbox_dice}};
  }
  if (!r.no_tta_fold_metrics.empty()) {
    // The same models predicted without the mirror, fold by fold (the values above are with it).
    nlohmann::json nt = nlohmann::json::array();
    for (std::size_t f = 0; f < r.no_tta_fold_metrics.size(); ++f) {
      nt.push_back({{"fold", f + 1},
                    {"dice", r.no_tta_fold_metrics[f].dice},
                    {"toolbox_dice", r.no_tta_fold_metrics[f].infnet.dice}});
    }
    j["without_tta"] = {
        {"per_fold", nt}, {"mean_dice", r.no_tta_mean_dice}, {"mean_toolbox_dice", r.no_tta_mean_toolbox_dice}};
  }
  return j.dump(2);
}

Result<SegEvalReport> evaluate_segmentation_model(const std::string& model_path, const std::string& data,
                                                  const std::string& split, bool tta_flip) {
  HEAL_ASSIGN_OR_RETURN(SegTrainer m, SegTrainer::load(model_path));
  if (tta_flip) m.set_tta_flip(true);
  io::SegLoadOptions lo;
  lo.multiclass = m.spec().classes > 2;  // a multi-class model is scored on the class masks
  HEAL_ASSIGN_OR_RETURN(const io::SegDataset ds, io::load_seg_dataset(data, lo));
  if (lo.multiclass && ds.num_classes != m.spec().classes) {
    return Status::invalid_argument("the model segments " + std::to_string(m.spec().classes) + " classes but '" + data +
                                    "' has " + std::to_string(ds.num_classes));
  }
  const auto& samples = split == "train" ? ds.train : split == "val" ? ds.val : ds.test;
  if (samples.empty()) return Status::invalid_argument("the " + split + " split of '" + data + "' is empty");
  SegEvalReport r;
  r.model_path = model_path;
  r.dataset = ds.name;
  r.split = split;
  r.arch = m.spec().arch;
  r.image_size = m.spec().image_size;
  r.tta_flip = m.spec().tta_flip;
  SegEvaluation e = m.evaluate_all(samples);  // one prediction per slice for both
  r.foreground = std::move(e.foreground);
  r.classes = std::move(e.classes);
  if (!r.classes.empty()) r.class_names = lesion_names(ds, m.spec().classes);
  return r;
}

std::string seg_eval_json(const SegEvalReport& r) {
  nlohmann::json per = nlohmann::json::array();
  for (const auto& i : r.foreground.images) per.push_back(metrics_json(i));
  nlohmann::json j = summary_json(r.foreground, r.class_names, r.classes);
  j["model"] = r.model_path;
  j["dataset"] = r.dataset;
  j["split"] = r.split;
  j["tta_flip"] = r.tta_flip;
  j["per_image"] = per;
  return j.dump(2);
}

Result<SegmentFileResult> segment_file(const SegTrainer& model, const std::string& image_path, const std::string& out_dir,
                                       const std::string& truth_path) {
  io::ImageOptions io_opts;
  io_opts.grayscale = true;
  auto img = io::load_image(image_path, io_opts);
  if (!img.ok()) return Status(img.status().code(), "'" + image_path + "': " + img.status().message());
  SegmentFileResult r;
  r.input = image_path;
  r.width = img->width;
  r.height = img->height;
  const int k = model.spec().classes;
  const std::vector<std::vector<float>> maps = model.predict_classes(*img);
  // The label map: the foreground at 0.5 (binary), or the most probable class.
  const std::vector<std::uint8_t> pred = k == 2 ? threshold(maps[1]) : argmax_labels(maps);
  std::vector<std::uint8_t> truth;
  if (!truth_path.empty()) {
    HEAL_ASSIGN_OR_RETURN(truth, io::load_mask(truth_path, img->width, img->height, k == 2 ? 255 : k));
    r.has_truth = true;
    io::SegSample sample;
    sample.id = fs::path(image_path).stem().string();
    sample.image = *img;
    sample.mask = truth;
    SegClassEvaluation e = evaluate_map(maps, sample);
    r.metrics = std::move(e.foreground);
    r.class_metrics = std::move(e.per_class);
  }
  std::vector<std::size_t> count(static_cast<std::size_t>(k), 0);
  for (auto v : pred) ++count[std::min<std::size_t>(v, count.size() - 1)];
  const auto n = static_cast<double>(pred.size());
  r.foreground_fraction = 1.0 - static_cast<double>(count[0]) / n;
  if (k > 2) {
    for (int c = 1; c < k; ++c)
      r.class_fractions.push_back(static_cast<double>(count[static_cast<std::size_t>(c)]) / n);
  }
  HEAL_RETURN_IF_ERROR(make_dir(out_dir));
  const std::string stem = fs::path(image_path).stem().string();
  io::Image mask;
  mask.width = mask.original_width = img->width;
  mask.height = mask.original_height = img->height;
  mask.pixels.resize(pred.size());
  for (std::size_t i = 0; i < pred.size(); ++i)
    mask.pixels[i] = static_cast<float>(pred[i]) / static_cast<float>(k - 1);
  r.mask_path = (fs::path(out_dir) / (stem + "_mask.png")).string();
  r.overlay_path = (fs::path(out_dir) / (stem + "_overlay.png")).string();
  HEAL_RETURN_IF_ERROR(io::save_png(mask, r.mask_path));
  HEAL_RETURN_IF_ERROR(io::save_png(
      k == 2 ? overlay_contours(*img, pred, truth) : overlay_label_contours(*img, pred, truth), r.overlay_path));
  return r;
}

}  // namespace heal::nn::torch_backend
