// heal features: a frozen backbone (.heal ModelIr, reference forward pass) turns every split of a
// dataset into a feature matrix, written as one .npz (nn::export_features; docs/features.md).
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "heal/core/progress.h"
#include "heal/nn/features.h"
#include "heal/nn/model_ir.h"

namespace heal::cli {
namespace {

struct FeaturesArgs {
  std::string backbone, data, out, layer = "penultimate";
  std::vector<std::string> splits = {"train", "val", "test"};
};

io::Split split_of(const std::string& s) {
  return s == "train" ? io::Split::kTrain : s == "val" ? io::Split::kVal : io::Split::kTest;
}

void run_features(const FeaturesArgs& a) {
  auto model = nn::load_model(a.backbone);
  if (!model.ok()) throw StatusError(model.status().with_context("--backbone"));
  const nn::ModelIr& m = *model;
  // The tap first: a bad --layer fails before the dataset is loaded.
  auto tap = nn::resolve_feature_tap(m, a.layer);
  if (!tap.ok()) throw StatusError(tap.status().with_context("--layer"));
  const io::Dataset ds = load_dataset_arg(require_data_arg(a.data), m.input.h);

  nn::FeatureExportOptions opts;
  opts.layer = a.layer;
  opts.splits.clear();
  std::uint64_t total = 0;
  for (const auto& s : a.splits) {
    opts.splits.push_back(split_of(s));
    total += ds.split(split_of(s)).size();
  }
  ProgressBar bar("features", total, !globals().quiet);
  opts.on_images = [&bar](std::size_t n) { bar.tick(n); };
  auto report = nn::export_features(m, ds, a.out, opts);
  if (!report.ok()) throw StatusError(report.status());
  bar.finish();

  const nn::FeatureExportReport& r = *report;
  std::cout << "features of " << ds.name << " from " << a.backbone << " ("
            << (m.meta.architecture.empty() ? "?" : m.meta.architecture) << "): " << r.tap.description << "\n";
  std::cout << "  " << std::left << std::setw(6) << "split" << std::right << std::setw(8) << "images" << std::setw(7)
            << "dim" << std::setw(10) << "mean|x|" << std::setw(9) << "seconds"
            << "  class counts\n";
  for (const auto& s : r.splits) {
    std::ostringstream counts;
    for (std::size_t c = 0; c < s.class_counts.size(); ++c) counts << (c ? " / " : "") << s.class_counts[c];
    std::cout << "  " << std::left << std::setw(6) << io::split_name(s.split) << std::right << std::setw(8) << s.images
              << std::setw(7) << r.tap.dim << std::setw(10) << std::setprecision(4) << s.mean_abs << std::setw(9)
              << std::fixed << std::setprecision(2) << s.seconds << std::defaultfloat << "  " << counts.str() << "\n";
  }
  std::cout << "wrote " << a.out << " (" << r.file_bytes << " bytes):";
  for (const auto& n : r.arrays) std::cout << " " << n;
  std::cout << "\nbackbone BLAKE2b-256 " << digest_hex(r.backbone_blake2b) << "\n";
}

}  // namespace

void add_features_command(CLI::App& app) {
  auto fa = std::make_shared<FeaturesArgs>();
  CLI::App* f = app.add_subcommand(
      "features", "Write the feature matrix of each split under a frozen .heal backbone (reference forward pass)");
  f->add_option("--backbone", fa->backbone, "Backbone model (.heal), e.g. a model from heal train")->required();
  f->add_option("--data", fa->data, "Dataset, as heal train / eval take it (default: global --data / $HEAL_DATA)");
  f->add_option("--out", fa->out, "Output .npz: <split>_x (float32 n x D), <split>_y (int64 n), metadata")->required();
  f->add_option("--layer", fa->layer,
                "Where features are taken: penultimate (the input of the last dense layer; default), a layer "
                "index, or a layer name (heal eval --summary lists them)");
  f->add_option("--split", fa->splits, "Splits, comma separated (default train,val,test)")
      ->delimiter(',')
      ->check(CLI::IsMember({"train", "val", "test"}));
  f->callback([fa] { run_features(*fa); });
}

}  // namespace heal::cli
