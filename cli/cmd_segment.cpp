// heal train --task segment, heal segment, and heal eval of segmentation models (issue 20). The
// pipelines live in nn/torch/seg_pipeline.h; this file parses and prints.
#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "heal/core/progress.h"
#ifdef HEAL_HAVE_TORCH
#include "heal/nn/torch/seg_pipeline.h"
#include "heal/nn/torch/trainer.h"
#endif

namespace heal::cli {

namespace fs = std::filesystem;

#ifdef HEAL_HAVE_TORCH
namespace tb = nn::torch_backend;

namespace {

// One progress bar per training stage (tb::SegRunConfig::on_stage), ticking per epoch.
struct StageBars {
  std::unique_ptr<ProgressBar> bar;
  void attach(tb::SegRunConfig& cfg, const std::string& prefix, bool show) {
    cfg.on_stage = [this, prefix, show](const std::string& stage, int epochs) {
      if (bar) bar->finish();
      bar = std::make_unique<ProgressBar>(prefix + " " + stage, static_cast<std::uint64_t>(epochs), show);
    };
    cfg.fit.on_epoch_end = [this](const tb::SegEpochRecord& e) {
      char s[96];
      if (e.val_dice >= 0)
        std::snprintf(s, sizeof s, "loss %.4f val Dice %.4f", e.train_loss, e.val_dice);
      else
        std::snprintf(s, sizeof s, "loss %.4f", e.train_loss);
      if (bar) bar->tick(1, s);
    };
  }
  void finish() {
    if (bar) bar->finish();
  }
};

// --cv K: K-fold cross-validation on the training split; a table per fold and cv.json.
void run_segment_cv(tb::SegRunConfig& cfg, const SegTrainCli& a, bool show) {
  StageBars bars;
  int fold = 0;
  bars.attach(cfg, a.model, show);
  auto stage = cfg.on_stage;
  cfg.on_stage = [&fold, stage](const std::string& name, int epochs) {
    if (name == "train" || name == "teacher") ++fold;
    stage("fold " + std::to_string(fold) + " " + name, epochs);
  };
  if (show) {
    std::cerr << "segmentation cross-validation: " << a.cv << " folds of the training split, " << a.model << " "
              << a.size << "x" << a.size << ", loss " << a.loss << ", " << a.epochs
              << " epochs per fold (the test split is not used)\n";
  }
  const tb::SegCvReport r = value_or_throw(tb::run_segmentation_cv(cfg, a.cv));
  bars.finish();
  if (a.json) {
    std::cout << tb::seg_cv_json(cfg, r) << "\n";
    return;
  }
  const bool st = !r.teacher_fold_metrics.empty();
  std::printf(st ? "fold  images  dice@0.5  toolbox_dice  teacher:dice@0.5  toolbox_dice  pseudo-fg\n"
                 : "fold  images  dice@0.5  toolbox_dice\n");
  for (std::size_t f = 0; f < r.fold_metrics.size(); ++f) {
    std::printf("%4zu  %6zu  %8.4f  %12.4f", f + 1, r.fold_metrics[f].images.size(), r.fold_metrics[f].dice,
                r.fold_metrics[f].infnet.dice);
    if (st) {
      std::printf("  %16.4f  %12.4f  %8.2f%%", r.teacher_fold_metrics[f].dice, r.teacher_fold_metrics[f].infnet.dice,
                  100.0 * r.self_training[f].pseudo_foreground);
    }
    std::printf("\n");
  }
  if (st) {
    std::printf(
        "self-training (%zu unlabelled images, %zu kept, student %d epochs%s, fine-tuning %d): teacher Dice@0.5 %.4f, "
        "toolbox %.4f; student - teacher %+.4f, toolbox %+.4f (mean over folds)\n",
        r.self_training[0].unlabeled, r.self_training[0].kept, r.self_training[0].student_epochs,
        cfg.self_training.from_teacher ? " from the teacher" : "", r.self_training[0].finetune_epochs,
        r.teacher_mean_dice, r.teacher_mean_toolbox_dice, r.mean_dice - r.teacher_mean_dice,
        r.mean_toolbox_dice - r.teacher_mean_toolbox_dice);
  }
  std::printf(
      "cross-validation (%d folds, %zu training images, %s): Dice@0.5 %.4f (sd %.4f), toolbox Dice %.4f (sd %.4f)\n",
      r.folds, r.pool, format_duration(r.seconds).c_str(), r.mean_dice, r.sd_dice, r.mean_toolbox_dice,
      r.sd_toolbox_dice);
  if (!r.no_tta_fold_metrics.empty()) {
    std::printf(
        "flip test-time augmentation: the same models without it give Dice@0.5 %.4f, toolbox %.4f (with - without: "
        "%+.4f, toolbox %+.4f; per fold in cv.json)\n",
        r.no_tta_mean_dice, r.no_tta_mean_toolbox_dice, r.mean_dice - r.no_tta_mean_dice,
        r.mean_toolbox_dice - r.no_tta_mean_toolbox_dice);
  }
  if (!r.pooled_classes.empty()) {
    std::cout << "per lesion class, every held-out image once (one-vs-rest):\n"
              << nn::format_class_table(r.class_names, r.pooled_classes);
  }
  std::printf("report: %s\n", r.report_path.c_str());
}

}  // namespace

void run_train_segment(const SegTrainCli& a) {
  tb::set_num_threads(a.threads);
  tb::SegRunConfig cfg;
  cfg.data = require_data_arg(a.data);
  if (!io::is_seg_dataset(cfg.data)) {
    throw StatusError(Status::invalid_argument(
        "'" + cfg.data + "' is no segmentation dataset: give covid_seg's folder (TrainingSet/, TestingSet/) or a "
        "folder with train/{images,masks} (and test/{images,masks})"));
  }
  cfg.load.multiclass = a.multiclass;
  cfg.model.arch = a.model;
  cfg.model.width = a.width;
  cfg.model.image_size = a.size;
  cfg.model.recon_weight = a.recon_weight;
  cfg.model.normalizer.mode = value_or_throw(io::parse_intensity_mode(a.normalize));
  cfg.model.tta_flip = a.tta_flip;
  auto& t = cfg.fit.train;
  t.epochs = a.epochs;
  t.batch_size = a.batch;
  t.learning_rate = a.lr;
  t.weight_decay = a.weight_decay;
  t.loss = value_or_throw(tb::parse_seg_loss(a.loss));
  t.augment = a.augment;
  t.hflip = a.flip;
  cfg.fit.patience = a.patience;
  cfg.seed = a.seed;
  cfg.holdout = a.holdout;
  cfg.overlays = a.overlays;
  cfg.out_dir = a.out.empty() ? "runs/" + fs::path(cfg.data).filename().string() + "_" + a.model : a.out;
  cfg.model_path = a.save;
  cfg.self_training.unlabeled = a.unlabeled;
  cfg.self_training.max_images = static_cast<std::size_t>(a.unlabeled_max);
  cfg.self_training.student_epochs = a.student_epochs;
  cfg.self_training.finetune_epochs = a.finetune_epochs;
  cfg.self_training.min_lesion = a.pseudo_min_lesion;
  cfg.self_training.from_teacher = a.student_from_teacher;
  const bool show = !globals().quiet && !a.json;
  if (a.cv > 1) return run_segment_cv(cfg, a, show);
  StageBars bars;
  bars.attach(cfg, a.model, show);
  if (show) {
    std::cerr << "segmentation: " << a.model << " " << a.size << "x" << a.size << ", normalisation " << a.normalize
              << ", " << a.epochs << " epochs"
              << (a.unlabeled.empty() ? "" : "; self-training on the train and val images of " + a.unlabeled) << "\n";
  }
  const tb::SegRunReport r = value_or_throw(tb::run_segmentation_training(cfg));
  bars.finish();
  if (a.json) {
    std::cout << tb::seg_report_json(cfg, r) << "\n";
    return;
  }
  std::cout << r.dataset << ": " << r.train_images << " training, " << r.val_images << " validation, " << r.test_images
            << " test images; " << a.model << " with " << r.parameters << " parameters, trained in "
            << format_duration(r.fit.seconds) << (r.val_images > 0 ? " (best epoch " + std::to_string(r.fit.best_epoch + 1) + ")" : "")
            << "\n";
  std::cout << "test split, per image at native resolution, threshold 0.5, mean over images"
            << (r.test_classes.empty() ? "" : " (foreground: any lesion class)") << ":\n"
            << nn::format_seg_table(r.test);
  if (!r.test_classes.empty()) {
    std::cout << "per lesion class, one-vs-rest (Dice to Spec: the argmax label map; MAE, toolbox: P(class)):\n"
              << nn::format_class_table(r.class_names, r.test_classes);
  }
  if (r.self_training) {
    const auto& st = *r.self_training;
    std::printf(
        "self-training: the teacher (%s) labelled %zu images (%.2f %% of their pixels lesion); the student "
        "trained %d epochs on the labelled + %zu pseudo-labelled images%s (%s). Teacher on the test split: Dice@0.5 "
        "%.4f, toolbox %.4f; student (the saved model, above): %.4f, toolbox %.4f\n",
        format_duration(st.teacher_seconds).c_str(), st.unlabeled, 100.0 * st.pseudo_foreground, st.student_epochs,
        st.kept,
        st.finetune_epochs > 0 ? (", then " + std::to_string(st.finetune_epochs) + " on the labelled").c_str() : "",
        format_duration(st.student_seconds).c_str(), r.teacher_test.dice, r.teacher_test.infnet.dice, r.test.dice,
        r.test.infnet.dice);
  }
  if (r.test_without_tta) {
    std::printf("flip test-time augmentation: without it the same model gives Dice@0.5 %.4f, toolbox %.4f\n",
                r.test_without_tta->dice, r.test_without_tta->infnet.dice);
  }
  std::cout << "model  " << r.model_path << "\nreport " << r.report_path << "\n";
  if (!r.figure_path.empty()) {
    std::cout << "figure " << r.figure_path
              << (r.test_classes.empty()
                      ? " (prediction red, ground truth green)\n"
                      : " (prediction: class 1 red, class 2 magenta; truth: class 1 green, class 2 cyan)\n");
  }
}

bool run_eval_segment_if_seg_model(const std::string& model, const std::string& data, const std::string& split,
                                   bool json, bool tta_flip) {
  if (!tb::is_seg_model_file(model)) return false;
  const tb::SegEvalReport r =
      value_or_throw(tb::evaluate_segmentation_model(model, require_data_arg(data), split, tta_flip));
  if (json) {
    std::cout << tb::seg_eval_json(r) << "\n";
    return true;
  }
  std::cout << "segmentation model " << model << " (" << r.arch << ", " << r.image_size << "x" << r.image_size
            << (r.tta_flip ? ", flip test-time augmentation" : "") << ") on " << r.dataset << " " << split
            << " split:\n"
            << nn::format_seg_table(r.foreground, true);
  if (!r.classes.empty())
    std::cout << "per lesion class (one-vs-rest):\n" << nn::format_class_table(r.class_names, r.classes);
  return true;
}

namespace {
struct SegmentArgs {
  std::string model, out = ".", truth;
  std::vector<std::string> images;
  bool json = false, tta_flip = false;
};

void run_segment(const SegmentArgs& a) {
  tb::SegTrainer m = value_or_throw(tb::SegTrainer::load(a.model));
  if (a.tta_flip) m.set_tta_flip(true);
  if (!a.truth.empty() && a.images.size() != 1) {
    throw StatusError(Status::invalid_argument("--truth goes with exactly one image"));
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& img : a.images) {
    const tb::SegmentFileResult r = value_or_throw(tb::segment_file(m, img, a.out, a.truth));
    nlohmann::json j = {{"image", r.input}, {"width", r.width}, {"height", r.height},
                        {"foreground_fraction", r.foreground_fraction}, {"mask", r.mask_path},
                        {"overlay", r.overlay_path}};
    if (r.has_truth) j["dice"] = r.metrics.dice, j["iou"] = r.metrics.iou;
    if (!r.class_fractions.empty()) {
      j["class_fractions"] = r.class_fractions;
      if (r.has_truth) {
        std::vector<double> d;
        for (const auto& c : r.class_metrics) d.push_back(c.dice);
        j["class_dice"] = d;
      }
    }
    out.push_back(j);
    if (!a.json) {
      std::cout << r.input << ": " << r.width << "x" << r.height << ", infection " << 100.0 * r.foreground_fraction
                << " % of the image";
      for (std::size_t k = 0; k < r.class_fractions.size(); ++k) {
        std::cout << (k == 0 ? " (" : ", ") << "class " << k + 1 << " " << 100.0 * r.class_fractions[k] << " %"
                  << (k + 1 == r.class_fractions.size() ? ")" : "");
      }
      if (r.has_truth) std::cout << ", Dice " << r.metrics.dice << " IoU " << r.metrics.iou;
      for (std::size_t k = 0; k < r.class_metrics.size(); ++k)
        std::cout << ", class " << k + 1 << " Dice " << r.class_metrics[k].dice;
      const bool multi = !r.class_fractions.empty();
      std::cout << "\n  mask " << r.mask_path << "\n  overlay " << r.overlay_path
                << (multi ? " (prediction: class 1 red, class 2 magenta" : " (prediction red")
                << (r.has_truth ? (multi ? "; truth: class 1 green, class 2 cyan" : ", ground truth green") : "")
                << ")\n";
    }
  }
  if (a.json) std::cout << out.dump(2) << "\n";
}
}  // namespace

#else
void run_train_segment(const SegTrainCli&) {
  throw StatusError(Status::unsupported("this heal was built without libtorch (HEAL_WITH_TORCH=OFF): no segmentation"));
}
bool run_eval_segment_if_seg_model(const std::string&, const std::string&, const std::string&, bool, bool) {
  return false;
}
#endif

void add_segment_command(CLI::App& app) {
#ifdef HEAL_HAVE_TORCH
  auto a = std::make_shared<SegmentArgs>();
  CLI::App* c = app.add_subcommand("segment", "Segment images with a segmentation model (.healseg): mask + overlay PNG");
  c->add_option("--model", a->model, "Segmentation model file (from heal train --task segment)")->required();
  c->add_option("images", a->images, "Image files (PNG, JPEG, DICOM, NIfTI)")->required();
  c->add_option("--out", a->out, "Output folder for <stem>_mask.png and <stem>_overlay.png (default .)");
  c->add_option("--truth", a->truth, "Ground-truth mask PNG of the (single) image: its contour is drawn, Dice printed");
  c->add_flag("--tta-flip", a->tta_flip,
              "Flip test-time augmentation (average the image's and its mirror's maps), also for a model saved "
              "without it");
  c->add_flag("--json", a->json, "Print JSON");
  c->callback([a] { run_segment(*a); });
#else
  CLI::App* c = app.add_subcommand("segment", "Segment images (needs a heal built with libtorch)");
  c->allow_extras();
  c->callback([] {
    throw StatusError(Status::unsupported("this heal was built without libtorch (HEAL_WITH_TORCH=OFF): no segmentation"));
  });
#endif
}

}  // namespace heal::cli
