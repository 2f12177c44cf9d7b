// Labelled image datasets with official train/val/test splits (MedMNIST .npz, folder datasets).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/image.h"

namespace heal::io {

enum class Split { kTrain, kVal, kTest };
const char* split_name(Split s);

/// One split: N images of identical shape (channels x height x width) and N integer labels.
struct SplitData {
  int channels = 1;
  int height = 0;
  int width = 0;
  /// N * channels * height * width floats in [0, 1], image-major, planar channels.
  std::vector<float> images;
  std::vector<int> labels;

  std::size_t size() const { return labels.size(); }
  std::size_t image_size() const { return static_cast<std::size_t>(channels) * height * width; }
  const float* image(std::size_t i) const { return images.data() + i * image_size(); }
  /// Count of images per class, indexed by label (0 .. num_classes-1).
  std::vector<std::size_t> class_counts(int num_classes) const;
};

struct Dataset {
  std::string name;                 // e.g. "pneumoniamnist"
  std::string source;               // path it was loaded from
  int num_classes = 0;
  std::vector<std::string> class_names;  // may be empty
  SplitData train, val, test;

  const SplitData& split(Split s) const;
  SplitData& split(Split s);
};

struct LoadOptions {
  int resize_to = 0;      // 0: keep the dataset's native size; else square side in pixels
  bool grayscale = true;  // folder datasets: convert colour images to one channel
};

/// Loads any supported dataset from a path: a MedMNIST `.npz` file or a folder dataset
/// (e.g. COVID-CT with its Data-split lists). A clear Status on anything malformed.
Result<Dataset> load_dataset(const std::string& path, const LoadOptions& opts = {});

/// MedMNIST `.npz` (zip of .npy arrays train/val/test_images and _labels).
Result<Dataset> load_medmnist_npz(const std::string& path, const LoadOptions& opts = {});

}  // namespace heal::io
