// Feature extraction with a frozen backbone: a trained ModelIr run by the reference forward pass up
// to a chosen layer (by default the input of the last dense layer), and the pipeline that writes
// the feature matrix of every split of a dataset to a `.npz` file (for a classifier trained on top,
// e.g. under CKKS). Format of the file: docs/features.md.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/io/dataset.h"
#include "heal/nn/model_ir.h"

namespace heal::nn {

/// Where features are taken: the output of one layer, flattened (channel-major, as dense layers see it).
struct FeatureTap {
  std::size_t layer = 0;    // index of the layer whose output is the feature vector
  Shape shape;              // that output's shape
  std::size_t dim = 0;      // shape.size(): the feature dimension
  std::string description;  // e.g. "layer 6 'act1' (poly_act, 16x1x1), the input of dense layer 7 'fc2'"
};

/// Resolves a tap from its spec:
///  - "penultimate": the input of the last dense layer (the output of the layer it reads), so the
///    features times that layer's weights plus its bias are the model's logits when it is the last layer;
///  - a decimal layer index 0 .. layers-1 (the last layer gives the logits themselves);
///  - a layer name, which must name exactly one layer.
/// InvalidArgument with what was expected (the valid indices and names) otherwise, or if the model
/// does not validate, has no dense layer ("penultimate"), or its last dense layer reads the model input.
Result<FeatureTap> resolve_feature_tap(const ModelIr& m, std::string_view spec);

/// Features of n images (image-major, as io::SplitData::images): n x tap.dim floats, row-major.
/// Computed in double precision by forward_to (layers after the tap are not run), rounded to float.
/// @throws std::invalid_argument if the model does not validate, the tap does not fit the model, or
/// images.size() != n * m.input.size().
std::vector<float> extract_features(const ModelIr& m, const FeatureTap& tap, std::span<const float> images,
                                    std::size_t n);

/// Options of export_features.
struct FeatureExportOptions {
  std::string layer = "penultimate";  // resolve_feature_tap spec
  std::vector<io::Split> splits = {io::Split::kTrain, io::Split::kVal, io::Split::kTest};
  std::size_t chunk = 64;  // images per forward call (and per progress callback)
  /// Called after each chunk with the number of images just done (e.g. ProgressBar::tick).
  std::function<void(std::size_t)> on_images;
};

/// One split in the written file.
struct SplitFeatures {
  io::Split split = io::Split::kTrain;
  std::size_t images = 0;
  std::vector<std::size_t> class_counts;  // indexed by label, dataset's num_classes entries
  double seconds = 0;                     // forward time
  double mean_abs = 0;                    // mean |feature| over the split (0 if empty), a sanity figure
};

/// What export_features wrote.
struct FeatureExportReport {
  FeatureTap tap;
  Digest backbone_blake2b{};  // BLAKE2b-256 of serialize_model(backbone), i.e. of its `.heal` file
  std::vector<SplitFeatures> splits;
  std::vector<std::string> arrays;  // array names in the file, in order
  std::size_t file_bytes = 0;
};

/// Images of every requested split -> features at the tap -> one `.npz` at `out_path`, written
/// atomically (nothing is written on error). Arrays: `<split>_x` float32 (n, D), `<split>_y` int64
/// (n,), and metadata `feature_dim`, `layer_index`, `num_classes` (int64 scalars) and
/// `backbone_blake2b256` (uint8 (32,)). Errors (Status): the tap (see resolve_feature_tap), a split
/// asked twice, images whose shape differs from the model input, a non-finite feature (image named),
/// and any write error. The dataset may have another number of classes than the backbone.
Result<FeatureExportReport> export_features(const ModelIr& backbone, const io::Dataset& ds, const std::string& out_path,
                                            const FeatureExportOptions& opts = {});

}  // namespace heal::nn
