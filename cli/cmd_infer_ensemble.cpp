// heal infer ensemble --model a.heal --model b.heal [--weights 0.4,0.6] [--mode smpc|he]
//                     (IMAGE... | --data DATASET [--split test] [--limit N]) [--check-plaintext] [--json]
// Secure ensemble diagnosis (include/heal/apps/ensemble_diagnosis.h): the querier learns only the
// weighted ensemble's output. SMPC mode: members see the images and answer through secure aggregation;
// HE mode: members evaluate under the querier's CKKS key and never see the images.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "commands.h"
#include "heal/apps/ensemble_diagnosis.h"
#include "heal/core/rng.h"
#include "heal/io/image.h"
#include "heal/nn/metrics.h"
#include "infer_ensemble_cli.h"
#include "heal/apps/metrics_json.h"

namespace heal::cli {

namespace {

using nlohmann::json;
namespace ens = apps::ensemble;

struct EnsembleArgs {
  std::vector<std::string> models, images;
  std::string weights, mode = "smpc", data, split = "test";
  int limit = 0, threads = 2, log_n = 0;
  bool json_out = false, check_plaintext = false, allow_insecure = false;
};

std::vector<double> parse_weights(const std::string& s) {
  std::vector<double> w;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      std::size_t used = 0;
      w.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw StatusError(Status::invalid_argument("--weights: '" + item + "' is not a number"));
    }
  }
  return w;
}

void run_ensemble(const EnsembleArgs& a) {
  if (a.mode != "smpc" && a.mode != "he")
    throw StatusError(Status::invalid_argument("--mode must be smpc or he, got '" + a.mode + "'"));
  std::vector<nn::ModelIr> models;
  for (const auto& p : a.models) models.push_back(value_or_throw(nn::load_model(p)));
  std::vector<const nn::ModelIr*> ptrs;
  for (const auto& m : models) ptrs.push_back(&m);
  const nn::Shape in = models[0].input;

  // Inputs: image files, or a dataset split (labels give metrics).
  std::vector<float> images;
  std::vector<int> labels;
  std::vector<std::string> names, class_names = models[0].meta.class_names;
  std::string source;
  if (!a.images.empty()) {
    if (!a.data.empty()) throw StatusError(Status::invalid_argument("give image files or --data, not both"));
    io::ImageOptions o;
    o.resize_width = in.w;
    o.resize_height = in.h;
    o.grayscale = in.c == 1;
    o.dicom = dicom_options();
    for (const auto& p : a.images) {
      const io::Image img = value_or_throw(io::load_image(p, o));
      if (img.size() != in.size())
        throw StatusError(Status::invalid_argument(p + ": " + std::to_string(img.channels) +
                                                   " channels, the models take " + std::to_string(in.c)));
      images.insert(images.end(), img.pixels.begin(), img.pixels.end());
      names.push_back(p);
    }
    source = std::to_string(a.images.size()) + " image file(s)";
  } else {
    const io::Dataset ds = load_dataset_arg(require_data_arg(a.data), in.h);
    const io::Split s = a.split == "train" ? io::Split::kTrain : a.split == "val" ? io::Split::kVal : io::Split::kTest;
    io::SplitData d = ds.split(s);
    if (d.image_size() != in.size())
      throw StatusError(Status::invalid_argument("the models take " + std::to_string(in.size()) +
                                                 " inputs, the dataset's images have " +
                                                 std::to_string(d.image_size())));
    std::size_t count = d.size();
    if (a.limit > 0) count = std::min(count, static_cast<std::size_t>(a.limit));
    images.assign(d.images.begin(), d.images.begin() + static_cast<long>(count * d.image_size()));
    labels.assign(d.labels.begin(), d.labels.begin() + static_cast<long>(count));
    for (std::size_t i = 0; i < count; ++i) names.push_back(a.split + "[" + std::to_string(i) + "]");
    if (!ds.class_names.empty()) class_names = ds.class_names;
    source = ds.name + " " + a.split + ", " + std::to_string(count) + " images";
  }
  const std::size_t count = names.size();

  ens::ModelDiagnosisOptions o;
  o.mode = a.mode == "he" ? ens::DiagnosisMode::kHe : ens::DiagnosisMode::kSmpc;
  if (!a.weights.empty()) o.weights = parse_weights(a.weights);
  o.threads = a.threads;
  o.he.plan.log_n = a.log_n;
  o.he.plan.allow_insecure = a.allow_insecure;
  o.plaintext_reference = a.check_plaintext;
  SystemRng rng;
  ens::ModelDiagnosis r;
  try {
    r = value_or_throw(ens::diagnose_with_models(ptrs, images, count, o, rng));
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    const bool member_problem = msg.find("HE-evaluable") != std::string::npos || msg.find("depth") != std::string::npos;
    if (o.mode != ens::DiagnosisMode::kHe || !member_problem) throw StatusError(Status::invalid_argument(msg));
    throw StatusError(
        Status::invalid_argument(msg + "; HE mode needs HE-evaluable members (polynomial activations, no "
                                       "ReLU / residual / transformer ops) of the same depth: use --mode smpc"));
  }

  const bool he = o.mode == ens::DiagnosisMode::kHe;
  const std::size_t k = r.secure.num_classes;
  const std::string header =
      he ? "HE mode: members evaluate under the querier's CKKS key and never see the images; the querier learns "
           "the weighted logit sum"
         : "SMPC mode: members SEE THE IMAGES (each runs its model in the clear); the querier learns only the "
           "weighted mean of their probabilities (secure aggregation)";
  const ens::RunStats& st = r.stats;
  json rows = json::array();
  for (std::size_t i = 0; i < count; ++i) {
    const std::vector<double> v(r.secure.mean.begin() + static_cast<long>(i * k),
                                r.secure.mean.begin() + static_cast<long>((i + 1) * k));
    json row = {{"input", names[i]}, {he ? "logits" : "probabilities", v}, {"predicted", r.predicted[i]}};
    if (!labels.empty()) row["label"] = labels[i];
    rows.push_back(row);
  }
  json out = {{"mode", a.mode},
              {"who_learns_what", header},
              {"models", a.models},
              {"weights", r.weights},
              {"inputs", source},
              {"images", count},
              {"results", rows},
              {"seconds", st.seconds},
              {"querier_seconds", st.querier_seconds},
              {"members_seconds", st.member_seconds},
              {"bytes",
               {{"querier_sent", st.querier_sent},
                {"querier_received", st.querier_received},
                {"member_sent", st.member_sent},
                {"member_received", st.member_received},
                {"aggregator_sent", st.aggregator_sent},
                {"aggregator_received", st.aggregator_received},
                {"key_bundle_per_member", st.setup_bytes}}}};
  if (he) out["params"] = st.params;
  nn::ClassificationMetrics metrics;
  if (!labels.empty()) {
    metrics = nn::compute_metrics(r.probabilities, labels, static_cast<int>(k));
    out["metrics"] = apps::classification_metrics_json(metrics, class_names);
  }
  if (a.check_plaintext) {
    out["plaintext"] = r.plaintext;
    out["max_abs_diff_plaintext"] = r.max_abs_diff;
  }
  if (a.json_out) {
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << header << "\n" << source << ", " << ptrs.size() << " members, weights";
  for (double w : r.weights) std::cout << " " << w;
  std::cout << "\n" << std::fixed << std::setprecision(4);
  for (std::size_t i = 0; i < count; ++i) {
    std::cout << "  " << names[i] << (he ? "  logits" : "  probabilities");
    for (std::size_t j = 0; j < k; ++j) std::cout << " " << r.secure.mean[i * k + j];
    std::cout << "  -> class " << r.predicted[i];
    if (!labels.empty()) std::cout << " (label " << labels[i] << ")";
    std::cout << "\n";
  }
  if (!labels.empty()) std::cout << "ensemble ACC " << metrics.accuracy << "  AUC " << metrics.auc << "\n";
  if (a.check_plaintext)
    std::cout << "plaintext ensemble (all models in one place, a check): max |secure - plaintext| = " << std::scientific
              << r.max_abs_diff << std::fixed << "\n";
  std::cout << "time " << st.seconds << " s (querier " << st.querier_seconds << " s, members " << st.member_seconds
            << " s)\nbytes: querier sent " << st.querier_sent << ", received " << st.querier_received << "\n";
  for (std::size_t i = 0; i < st.member_sent.size(); ++i)
    std::cout << "  member " << i + 1 << " (" << a.models[i] << "): sent " << st.member_sent[i] << ", received "
              << st.member_received[i] << "\n";
  if (he)
    std::cout << "  aggregator: received " << st.aggregator_received << ", sent " << st.aggregator_sent
              << "; key bundle " << st.setup_bytes << " per member\nparameters: " << st.params << "\n";
}

}  // namespace

void add_infer_ensemble_command(CLI::App& infer) {
  auto a = std::make_shared<EnsembleArgs>();
  CLI::App* c = infer.add_subcommand(
      "ensemble", "Secure ensemble diagnosis: the querier learns only the weighted ensemble's output (SMPC or HE)");
  c->add_option("images", a->images, "Image files (PNG, JPEG, DICOM, NIfTI), resized to the models' input");
  c->add_option("--model", a->models, "A member's model (.heal); repeat for every member")
      ->required()
      ->allow_extra_args(false);
  c->add_option("--weights", a->weights, "Comma-separated member weights (default equal; normalised to sum 1)");
  c->add_option("--mode", a->mode, "smpc (any model; members see the images) | he (HE-friendly models; they do not)");
  c->add_option("--data", a->data, "Dataset instead of image files (default: global --data / $HEAL_DATA)");
  c->add_option("--split", a->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}));
  c->add_option("--limit", a->limit, "Use only the first N images of the split");
  c->add_option("--threads", a->threads, "HE mode: threads per member")->check(CLI::Range(1, 256));
  c->add_option("--log-n", a->log_n, "HE mode: force the ring degree 2^k (must stay 128-bit secure)");
  c->add_flag("--allow-insecure", a->allow_insecure, "HE mode with --log-n below 128-bit security (tests only)");
  c->add_flag("--check-plaintext", a->check_plaintext,
              "Also compute the ensemble in the clear from all models (a check) and print the difference");
  c->add_flag("--json", a->json_out, "Print a JSON report");
  c->callback([a] { run_ensemble(*a); });
}

}  // namespace heal::cli
