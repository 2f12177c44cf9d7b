// Dataset basics, kind detection, load_dataset dispatch and path resolution.
#include "heal/io/dataset.h"

#include <algorithm>
#include <filesystem>

#include "heal/core/check.h"
#include "heal/io/pacs.h"

namespace fs = std::filesystem;

namespace heal::io {

const char* split_name(Split s) {
  switch (s) {
    case Split::kTrain: return "train";
    case Split::kVal: return "val";
    case Split::kTest: return "test";
  }
  return "?";
}

std::vector<std::size_t> SplitData::class_counts(int num_classes) const {
  std::vector<std::size_t> c(static_cast<std::size_t>(std::max(num_classes, 0)), 0);
  for (int l : labels) {
    if (l >= 0 && l < num_classes) ++c[static_cast<std::size_t>(l)];
  }
  return c;
}

const SplitData& Dataset::split(Split s) const {
  return s == Split::kTrain ? train : s == Split::kVal ? val : test;
}
SplitData& Dataset::split(Split s) { return s == Split::kTrain ? train : s == Split::kVal ? val : test; }

SplitData subset(const SplitData& split, const std::vector<std::size_t>& indices) {
  SplitData out;
  out.channels = split.channels;
  out.height = split.height;
  out.width = split.width;
  const std::size_t sz = split.image_size();
  out.images.resize(indices.size() * sz);
  out.labels.resize(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const std::size_t i = indices[k];
    HEAL_REQUIRE(i < split.size(), "subset: index " << i << " is outside a split of " << split.size());
    std::copy(split.image(i), split.image(i) + sz, out.images.begin() + static_cast<std::ptrdiff_t>(k * sz));
    out.labels[k] = split.labels[i];
  }
  if (!split.groups.empty()) {
    HEAL_REQUIRE(split.groups.size() == split.size(), "subset: " << split.groups.size() << " groups for " << split.size() << " images");
    out.groups.reserve(indices.size());
    for (auto i : indices) out.groups.push_back(split.groups[i]);
  }
  return out;
}

const char* dataset_kind_name(DatasetKind k) {
  switch (k) {
    case DatasetKind::kNpz: return "npz";
    case DatasetKind::kCovidCt: return "covid-ct";
    case DatasetKind::kSplitFolders: return "split-folders";
    case DatasetKind::kCsv: return "csv";
    case DatasetKind::kImageFile: return "image";
    case DatasetKind::kPacs: return "pacs";
  }
  return "?";
}

Result<DatasetKind> detect_dataset_kind(const std::string& path) {
  if (is_pacs_url(path)) {
    HEAL_RETURN_IF_ERROR(parse_pacs_url(path).status());
    return DatasetKind::kPacs;
  }
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::not_found("'" + path + "' does not exist");
  if (fs::is_regular_file(path, ec)) {
    HEAL_ASSIGN_OR_RETURN(ImageFormat f, detect_file_format(path));
    if (f == ImageFormat::kZip) return DatasetKind::kNpz;
    if (f == ImageFormat::kPng || f == ImageFormat::kJpeg || f == ImageFormat::kDicom || f == ImageFormat::kNifti ||
        f == ImageFormat::kNiftiGz) {
      return DatasetKind::kImageFile;
    }
    if (fs::path(path).extension() == ".csv") return DatasetKind::kCsv;
    return Status::unsupported("'" + path + "' is neither a MedMNIST .npz, a CSV dataset nor an image (detected: " +
                               image_format_name(f) + ")");
  }
  const fs::path root(path);
  if (fs::is_directory(root / "Data-split" / "COVID", ec) && fs::is_directory(root / "Data-split" / "NonCOVID", ec)) {
    return DatasetKind::kCovidCt;
  }
  if (fs::is_directory(root / "train", ec)) return DatasetKind::kSplitFolders;
  for (const char* csv : {"dataset.csv", "labels.csv"}) {
    if (fs::is_regular_file(root / csv, ec)) return DatasetKind::kCsv;
  }
  return Status::unsupported("folder '" + path + "' has no known dataset layout (expected COVID-CT with Data-split/, "
                             "<root>/train|val|test/<class>/images, or dataset.csv / labels.csv with path,label,split)");
}

Result<Dataset> load_dataset(const std::string& path, const LoadOptions& opts) {
  HEAL_ASSIGN_OR_RETURN(DatasetKind kind, detect_dataset_kind(path));
  switch (kind) {
    case DatasetKind::kNpz: return load_medmnist_npz(path, opts);
    case DatasetKind::kPacs: return load_pacs_dataset(path, opts);
    case DatasetKind::kImageFile:
      return Status::invalid_argument("'" + path + "' is a single image, not a dataset (use load_image)");
    default: return load_folder_dataset(path, opts);
  }
}

Result<std::string> resolve_dataset_path(const std::string& arg, const std::string& data_location) {
  std::error_code ec;
  if (is_pacs_url(arg)) {
    HEAL_RETURN_IF_ERROR(parse_pacs_url(arg).status());
    return arg;
  }
  if (arg.empty() && is_pacs_url(data_location)) {
    HEAL_RETURN_IF_ERROR(parse_pacs_url(data_location).status());
    return data_location;
  }
  std::vector<std::string> tried;
  auto try_path = [&](const fs::path& p) {
    tried.push_back(p.string());
    return fs::exists(p, ec);
  };
  if (!arg.empty()) {
    if (try_path(arg)) return arg;
    if (!data_location.empty() && fs::is_directory(data_location, ec)) {
      if (try_path(fs::path(data_location) / arg)) return (fs::path(data_location) / arg).string();
      if (try_path(fs::path(data_location) / (arg + ".npz"))) return (fs::path(data_location) / (arg + ".npz")).string();
    }
    if (!data_location.empty() && fs::is_regular_file(data_location, ec) &&
        (fs::path(data_location).stem() == arg || fs::path(data_location).filename() == arg)) {
      return data_location;
    }
    if (fs::path(arg).extension().empty() && try_path(arg + ".npz")) return arg + ".npz";
  } else if (!data_location.empty()) {
    if (try_path(data_location)) return data_location;
  }
  std::string msg = "dataset '" + (arg.empty() ? std::string("(none given)") : arg) + "' not found";
  if (!tried.empty()) {
    msg += " (tried:";
    for (const auto& t : tried) msg += " " + t;
    msg += ")";
  }
  msg += data_location.empty() ? ". No data location is set" : ". Data location is '" + data_location + "'";
  msg += ". Put the dataset (a MedMNIST .npz file or a dataset folder) in a directory and point HEAL at it with "
         "`heal --data DIR ...` or `export HEAL_DATA=DIR`, then name it relative to that directory "
         "(e.g. `heal --data DIR data info pneumoniamnist`). MedMNIST files can be fetched with "
         "`heal data fetch medmnist NAME --dir DIR` or downloaded by hand from "
         "https://zenodo.org/records/10519652/files/NAME.npz";
  return Status::not_found(msg);
}

}  // namespace heal::io
