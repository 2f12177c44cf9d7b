// Feature extraction with a frozen backbone (reference forward pass up to a tap) and the
// dataset -> features -> `.npz` pipeline.
#include "heal/nn/features.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <set>

#include "heal/core/check.h"
#include "heal/io/npy.h"
#include "heal/nn/forward.h"

namespace heal::nn {

namespace {

std::string shape_text(const Shape& s) {
  return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

std::string layer_text(const ModelIr& m, std::size_t i) {
  const Layer& l = m.layers[i];
  std::string s = "layer " + std::to_string(i);
  if (!l.name.empty()) s += " '" + l.name + "'";
  return s + " (" + op_name(l.kind) + ")";
}

// The value index a layer reads first: the previous layer by default.
int first_input(const ModelIr& m, std::size_t i) {
  const Layer& l = m.layers[i];
  return l.inputs.empty() ? static_cast<int>(i) - 1 : l.inputs[0];
}

std::string choices(const ModelIr& m) {
  std::string s = "'penultimate', a layer index 0.." + std::to_string(m.layers.size() - 1);
  std::vector<std::string> names;
  for (const Layer& l : m.layers) {
    if (!l.name.empty() && std::find(names.begin(), names.end(), l.name) == names.end()) names.push_back(l.name);
  }
  if (!names.empty()) {
    s += " or a layer name (";
    for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
    s += ")";
  }
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<FeatureTap> resolve_feature_tap(const ModelIr& m, std::string_view spec) {
  auto shapes = m.infer_shapes();
  if (!shapes.ok()) return Status::invalid_argument("backbone does not validate: " + shapes.status().to_string());
  const std::size_t count = m.layers.size();
  FeatureTap tap;
  std::string why;
  if (spec == "penultimate") {
    std::size_t j = count;
    for (std::size_t i = count; i-- > 0;) {
      if (m.layers[i].kind == OpKind::kDense) {
        j = i;
        break;
      }
    }
    if (j == count) {
      const std::string what =
          "layer 'penultimate' is the input of the last dense layer; this model has no dense layer";
      return Status::invalid_argument(what + "; choose " + choices(m));
    }
    const int src = first_input(m, j);
    if (src == kInputValue) {
      return Status::invalid_argument("layer 'penultimate': the last dense layer (" + layer_text(m, j) +
                                      ") reads the model input, so there is no backbone before it; choose " +
                                      choices(m));
    }
    tap.layer = static_cast<std::size_t>(src);
    why = ", the input of dense " + layer_text(m, j);
  } else if (all_digits(spec)) {
    if (spec.size() > 9 || std::stoull(std::string(spec)) >= count) {
      return Status::invalid_argument("layer " + std::string(spec) + " is out of range: the model has " +
                                      std::to_string(count) + " layers; choose " + choices(m));
    }
    tap.layer = static_cast<std::size_t>(std::stoull(std::string(spec)));
  } else {
    std::vector<std::size_t> hits;
    for (std::size_t i = 0; i < count; ++i) {
      if (!spec.empty() && m.layers[i].name == spec) hits.push_back(i);
    }
    if (hits.empty()) {
      return Status::invalid_argument("no layer '" + std::string(spec) + "' in the model; choose " + choices(m));
    }
    if (hits.size() > 1) {
      std::string idx;
      for (std::size_t h : hits) idx += (idx.empty() ? "" : ", ") + std::to_string(h);
      return Status::invalid_argument("layer name '" + std::string(spec) + "' is ambiguous (layers " + idx +
                                      "); give the layer index instead");
    }
    tap.layer = hits[0];
  }
  if (tap.layer + 1 == count && why.empty()) why = ", the model's output (logits)";
  tap.shape = (*shapes)[tap.layer];
  tap.dim = tap.shape.size();
  tap.description = layer_text(m, tap.layer) + ", output " + shape_text(tap.shape) + why;
  return tap;
}

std::vector<float> extract_features(const ModelIr& m, const FeatureTap& tap, std::span<const float> images,
                                    std::size_t n) {
  HEAL_REQUIRE(tap.layer < m.layers.size(),
               "extract_features: tap layer " << tap.layer << " of a model with " << m.layers.size() << " layers");
  const std::vector<double> f = forward_to(m, tap.layer, images, n);
  HEAL_REQUIRE(f.size() == n * tap.dim, "extract_features: the tap's dimension " << tap.dim << " does not match layer "
                                                                                 << tap.layer << " of this model");
  std::vector<float> out(f.size());
  std::transform(f.begin(), f.end(), out.begin(), [](double v) { return static_cast<float>(v); });
  return out;
}

Result<FeatureExportReport> export_features(const ModelIr& backbone, const io::Dataset& ds, const std::string& out_path,
                                            const FeatureExportOptions& opts) {
  FeatureExportReport report;
  HEAL_ASSIGN_OR_RETURN(report.tap, resolve_feature_tap(backbone, opts.layer));
  if (opts.splits.empty()) return Status::invalid_argument("no split to extract features from");
  std::set<io::Split> seen;
  for (io::Split s : opts.splits) {
    if (!seen.insert(s).second) {
      return Status::invalid_argument(std::string("split '") + io::split_name(s) + "' asked for twice");
    }
  }
  for (io::Split s : opts.splits) {
    const io::SplitData& d = ds.split(s);
    if (d.size() == 0) continue;  // an empty split has no shape to check
    if (d.channels != backbone.input.c || d.height != backbone.input.h || d.width != backbone.input.w) {
      return Status::invalid_argument("the backbone expects " + shape_text(backbone.input) + " images, the " +
                                      io::split_name(s) + " split of " + ds.name + " has " +
                                      shape_text({d.channels, d.height, d.width}));
    }
  }
  report.backbone_blake2b = blake2b_256(serialize_model(backbone));
  const std::size_t dim = report.tap.dim;
  const std::size_t chunk = std::max<std::size_t>(1, opts.chunk);

  io::NpzWriter npz;
  for (io::Split s : opts.splits) {
    const io::SplitData& d = ds.split(s);
    const std::string name = io::split_name(s);
    SplitFeatures sf;
    sf.split = s;
    sf.images = d.size();
    sf.class_counts = d.class_counts(ds.num_classes);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<float> x;
    x.reserve(d.size() * dim);
    for (std::size_t lo = 0; lo < d.size(); lo += chunk) {
      const std::size_t n = std::min(chunk, d.size() - lo);
      const auto part =
          extract_features(backbone, report.tap, std::span<const float>(d.image(lo), n * d.image_size()), n);
      x.insert(x.end(), part.begin(), part.end());
      if (opts.on_images) opts.on_images(n);
    }
    sf.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double sum_abs = 0;
    for (std::size_t k = 0; k < x.size(); ++k) {
      if (!std::isfinite(x[k])) {
        return Status::out_of_range("feature " + std::to_string(k % dim) + " of " + name + " image " +
                                    std::to_string(k / dim) + " is not finite (the backbone overflows on it)");
      }
      sum_abs += std::abs(static_cast<double>(x[k]));
    }
    sf.mean_abs = x.empty() ? 0.0 : sum_abs / static_cast<double>(x.size());
    const std::vector<std::int64_t> y(d.labels.begin(), d.labels.end());
    HEAL_RETURN_IF_ERROR(npz.add(name + "_x", x, {d.size(), dim}));
    HEAL_RETURN_IF_ERROR(npz.add(name + "_y", y, {d.size()}));
    report.splits.push_back(std::move(sf));
  }
  const std::vector<std::int64_t> feature_dim = {static_cast<std::int64_t>(dim)};
  const std::vector<std::int64_t> layer_index = {static_cast<std::int64_t>(report.tap.layer)};
  const std::vector<std::int64_t> num_classes = {ds.num_classes};
  HEAL_RETURN_IF_ERROR(npz.add("feature_dim", feature_dim, {}));
  HEAL_RETURN_IF_ERROR(npz.add("layer_index", layer_index, {}));
  HEAL_RETURN_IF_ERROR(npz.add("num_classes", num_classes, {}));
  HEAL_RETURN_IF_ERROR(npz.add("backbone_blake2b256", report.backbone_blake2b, {report.backbone_blake2b.size()}));
  HEAL_ASSIGN_OR_RETURN(Bytes bytes, npz.to_bytes());
  HEAL_RETURN_IF_ERROR(write_file(out_path, bytes));
  report.arrays = npz.names();
  report.file_bytes = bytes.size();
  return report;
}

}  // namespace heal::nn
