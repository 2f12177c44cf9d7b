// Segmentation datasets: images with pixel masks (issue 20). Two layouts are read:
//  - covid_seg (the labelled part of COVID-SemiSeg, Fan et al., arXiv 2004.14133):
//    TrainingSet/LungInfection-Train/Doctor-label/{Imgs,GT} and TestingSet/LungInfection-Test/{Imgs,GT}
//    (binary), or the MultiClassInfection-{Train,Test}/{Imgs,GT} folders (background, ground-glass
//    opacity, consolidation);
//  - the general `<root>/<split>/{images,masks}` with split in train, val, test.
// A mask has its image's file stem and is a PNG of the image's size: a greyscale mask is binary
// (value > 127 is foreground), a palette mask holds class indices.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/image.h"

namespace heal::io {

/// One image (one channel, [0, 1], native size) and its mask of class labels (0 = background),
/// same width and height.
struct SegSample {
  std::string id;  ///< file stem, e.g. "18"
  Image image;
  std::vector<std::uint8_t> mask;

  std::size_t foreground_pixels() const;
};

struct SegDataset {
  std::string name;    ///< e.g. "covid_seg"
  std::string source;  ///< path it was loaded from
  int num_classes = 2;  ///< including background
  std::vector<std::string> class_names;
  std::vector<SegSample> train, val, test;  ///< val may be empty (covid_seg has none)
};

struct SegLoadOptions {
  /// covid_seg: the multi-class masks (3 classes) instead of the binary infection masks.
  bool multiclass = false;
  int threads = 0;  ///< decoding threads (0: hardware concurrency)
  /// Leave the test split unread (SegDataset::test stays empty): for choosing a recipe on the
  /// training split, where no test image may even be decoded.
  bool skip_test = false;
};

/// True when `path` looks like a segmentation dataset of one of the two layouts.
bool is_seg_dataset(const std::string& path);

/// Loads every split. NotFound when the layout is absent; Corruption naming the file when an image
/// has no mask, a mask's size differs from its image's, a mask value is out of range, or a file does
/// not decode.
Result<SegDataset> load_seg_dataset(const std::string& path, const SegLoadOptions& opts = {});

/// Reads one mask file: greyscale -> {0, 1} by value > 127; palette -> indices, each < num_classes.
Result<std::vector<std::uint8_t>> load_mask(const std::string& path, int width, int height, int num_classes);

/// Nearest-neighbour resize of a label mask (for masks; images use io::resize).
std::vector<std::uint8_t> resize_mask_nearest(const std::vector<std::uint8_t>& mask, int width, int height,
                                              int new_width, int new_height);

}  // namespace heal::io
