// Labelled image datasets with official train/val/test splits (MedMNIST .npz, folder datasets).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/image.h"
#include "heal/io/volume.h"

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
  /// Optional: the group (patient) of each image, for cross-validation that keeps a patient's
  /// images in one fold. Empty when the source does not say (MedMNIST); otherwise one per image.
  /// Folder datasets: COVID-CT's patient IDs from its metadata CSVs, else the source file or
  /// volume (all slices of one volume share it).
  std::vector<std::string> groups;

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
  int threads = 0;        // folder datasets: decoding threads (0: hardware concurrency)
  DicomOptions dicom;     // folder datasets: window, frame and pixel spacing of DICOM images
  /// Folder datasets: which slices of a volume (NIfTI file, DICOM series folder) become images, each
  /// labelled with the volume's class. Default kAuto: a NIfTI file's middle slice, every slice of a
  /// series. kMask: SliceSelection::mask is a folder mirroring the dataset (the mask of
  /// `<root>/<rel>` is `<mask>/<rel>`). See docs/dicom-series.md.
  SliceSelection slices;
  /// Protocols that must not touch the test split (cross-validation, self-training's unlabelled
  /// images): folder datasets do not read the test split's files at all; a MedMNIST `.npz` drops its
  /// test arrays after parsing. The test split stays empty, with the dataset's image shape.
  bool skip_test = false;
};

/// What a dataset path holds, as detected by load_dataset.
/// kPacs: a `dicomweb://`, `dicomwebs://` or `dimse://` URL with `?labels=CSV` (heal/io/pacs.h).
enum class DatasetKind { kNpz, kCovidCt, kSplitFolders, kCsv, kImageFile, kPacs };
/// "npz", "covid-ct", "split-folders", "csv", "image", "pacs".
const char* dataset_kind_name(DatasetKind k);
/// Detects the kind from the path's contents (magic bytes, folder layout); NotFound / Unsupported.
Result<DatasetKind> detect_dataset_kind(const std::string& path);

/// Loads any supported dataset from a path: a MedMNIST `.npz` file, a folder dataset
/// (e.g. COVID-CT with its Data-split lists) or a PACS URL (load_pacs_dataset, no local copy).
/// A clear Status on anything malformed.
Result<Dataset> load_dataset(const std::string& path, const LoadOptions& opts = {});

/// MedMNIST `.npz` (zip of .npy arrays train/val/test_images and _labels).
Result<Dataset> load_medmnist_npz(const std::string& path, const LoadOptions& opts = {});

/// MedMNIST `.npz` held in memory (same checks; used by the fuzzer). `name` becomes Dataset::name.
Result<Dataset> load_medmnist_npz_bytes(std::vector<std::uint8_t> bytes, const std::string& name,
                                        const LoadOptions& opts = {});

/// MedMNIST from members already taken out of an archive ("train_images.npy" -> .npy bytes);
/// the same checks as the file loaders (used by the fuzzer to reach past the zip CRCs).
Result<Dataset> load_medmnist_members(const std::map<std::string, std::vector<std::uint8_t>>& members,
                                     const std::string& name, const LoadOptions& opts = {});

/// Folder dataset: COVID-CT (Data-split lists; class 0 = NonCOVID, 1 = COVID),
/// `<root>/<split>/<class_name>/*.png|jpg|dcm` (classes numbered in sorted name order), or a CSV
/// file `path,label,split` (paths relative to the CSV). Images are decoded in parallel. Class folders
/// (and CSV paths) may also name volumes: NIfTI files and folders holding one DICOM series, which
/// give one image per slice picked by LoadOptions::slices.
Result<Dataset> load_folder_dataset(const std::string& path, const LoadOptions& opts = {});

/// Finds a dataset named on the command line: `arg` as given if it exists, else relative to
/// `data_location` (a directory; `name` and `name.npz` are tried), else NotFound with a message
/// saying how to get the data and point HEAL at it (--data / HEAL_DATA / `heal data fetch`).
Result<std::string> resolve_dataset_path(const std::string& arg, const std::string& data_location);

/// Patient IDs of a metadata CSV (RFC 4180: quoted fields may hold commas, doubled quotes and line
/// breaks): the columns named `file_column` and `patient_column` in the header row (names compared
/// case-insensitively, surrounding blanks ignored) give file name -> patient ID. COVID-CT ships two:
/// COVID-CT-MetaInfo.csv ("File name", "Patient ID") and NonCOVID-CT-MetaInfo.csv ("image name",
/// "patient id"). Corruption naming the line for an unterminated quote, a missing column, an empty
/// file name or patient ID, or a file listed twice with different patients; at most 1 MiB of text.
Result<std::map<std::string, std::string>> parse_patient_csv(std::string_view text, std::string_view file_column,
                                                             std::string_view patient_column);

/// The rows of `split` at `indices`, in that order (e.g. one hospital's share).
SplitData subset(const SplitData& split, const std::vector<std::size_t>& indices);

}  // namespace heal::io
