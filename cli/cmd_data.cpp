// heal data info|partition|fetch: inspect datasets, simulate hospital splits, download MedMNIST.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "heal/deid/deid.h"
#include "heal/io/dataset.h"
#include "heal/io/fetch.h"
#include "heal/io/nifti.h"
#include "heal/io/partition.h"

namespace heal::cli {
namespace {

using nlohmann::json;

struct DataArgs {
  std::string path;
  bool json_out = false;
  int size = 0;
  bool rgb = false;
  int hospitals = 3;
  std::string scheme = "dirichlet:0.5";
  std::uint64_t seed = 0;
  std::string split = "train";
  std::size_t min_per_hospital = 10;
  std::string source, name, dir;
};

// Folder datasets hold images of many sizes; loading them needs one common size.
constexpr int kDefaultFolderSize = 64;

template <typename T>
T value_or_throw(Result<T> r) {
  if (!r.ok()) throw StatusError(r.status());
  return std::move(r).value();
}

// Loads a dataset; returns the size actually used for folder datasets (0 for npz).
io::Dataset load(const std::string& path, io::DatasetKind kind, const DataArgs& a, int* used_size) {
  io::LoadOptions opts;
  opts.resize_to = a.size;
  opts.grayscale = !a.rgb;
  if (kind != io::DatasetKind::kNpz && opts.resize_to == 0) opts.resize_to = kDefaultFolderSize;
  *used_size = kind == io::DatasetKind::kNpz ? a.size : opts.resize_to;
  return value_or_throw(io::load_dataset(path, opts));
}

std::string class_label(const io::Dataset& ds, int c) {
  return c < static_cast<int>(ds.class_names.size()) ? ds.class_names[static_cast<std::size_t>(c)]
                                                     : "class " + std::to_string(c);
}

void info_image(const std::string& path, io::ImageFormat fmt, bool as_json) {
  json j = {{"path", path}, {"kind", "image"}, {"format", io::image_format_name(fmt)}};
  if (fmt == io::ImageFormat::kNifti || fmt == io::ImageFormat::kNiftiGz) {
    const io::NiftiInfo ni = value_or_throw(io::read_nifti_info(path));
    j["ndim"] = ni.ndim;
    j["dims"] = ni.dims;
    j["datatype"] = ni.datatype;
    j["slices"] = {{"axis0", ni.dims[0]}, {"axis1", ni.dims[1]}, {"axis2", ni.dims[2]}};
  }
  const io::Image img = value_or_throw(io::load_image(path));
  float lo = 1.0f, hi = 0.0f;
  double sum = 0.0;
  for (float v : img.pixels) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  j["width"] = img.width;
  j["height"] = img.height;
  j["channels"] = img.channels;
  j["min"] = lo;
  j["max"] = hi;
  j["mean"] = img.pixels.empty() ? 0.0 : sum / static_cast<double>(img.pixels.size());
  if (as_json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << path << ": " << io::image_format_name(fmt) << " image, " << img.width << "x" << img.height << ", "
            << img.channels << " channel(s), values in [" << lo << ", " << hi << "], mean " << j["mean"].get<double>()
            << "\n";
  if (j.contains("dims")) {
    std::cout << "  NIfTI " << j["datatype"].get<std::string>() << " volume, dims (x, y, z, t) = " << j["dims"].dump()
              << "; shown: middle slice along axis 2 (heal::io::load_nifti_slice reads any slice)\n";
  }
}

void info_dataset(const std::string& path, io::DatasetKind kind, const DataArgs& a) {
  int used_size = 0;
  const io::Dataset ds = load(path, kind, a, &used_size);
  json j = {{"path", path}, {"name", ds.name}, {"kind", io::dataset_kind_name(kind)}, {"num_classes", ds.num_classes},
            {"class_names", ds.class_names}};
  if (used_size > 0) j["resized_to"] = used_size;
  std::size_t total = 0;
  for (io::Split s : {io::Split::kTrain, io::Split::kVal, io::Split::kTest}) {
    const io::SplitData& sd = ds.split(s);
    total += sd.size();
    j["splits"][io::split_name(s)] = {{"count", sd.size()},
                                      {"shape", {sd.channels, sd.height, sd.width}},
                                      {"class_counts", sd.class_counts(ds.num_classes)}};
  }
  j["total"] = total;
  if (a.json_out) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << ds.name << " (" << io::dataset_kind_name(kind) << ", " << path << ")\n"
            << "  classes: " << ds.num_classes;
  for (int c = 0; c < ds.num_classes; ++c) std::cout << (c ? ", " : " (") << c << " = " << class_label(ds, c);
  std::cout << (ds.num_classes > 0 ? ")" : "") << "\n";
  if (kind != io::DatasetKind::kNpz) {
    std::cout << "  images resized to " << used_size << "x" << used_size << " on loading (native sizes vary; --size N)\n";
  }
  std::cout << "  split   images  shape (CxHxW)   class counts\n";
  for (io::Split s : {io::Split::kTrain, io::Split::kVal, io::Split::kTest}) {
    const io::SplitData& sd = ds.split(s);
    std::ostringstream shape, counts;
    shape << sd.channels << "x" << sd.height << "x" << sd.width;
    const auto cc = sd.class_counts(ds.num_classes);
    for (std::size_t c = 0; c < cc.size(); ++c) {
      counts << (c ? " / " : "") << cc[c];
      if (sd.size() > 0) {
        counts << " (" << std::fixed << std::setprecision(1)
               << 100.0 * static_cast<double>(cc[c]) / static_cast<double>(sd.size()) << "%)";
      }
    }
    std::cout << "  " << std::left << std::setw(6) << io::split_name(s) << std::right << std::setw(7) << sd.size()
              << "  " << std::left << std::setw(14) << shape.str() << std::right << "  " << counts.str() << "\n";
  }
  std::cout << "  total " << std::setw(8) << total << "\n";
}

void run_info(const DataArgs& a) {
  const std::string path = value_or_throw(io::resolve_dataset_path(a.path, data_location()));
  const io::DatasetKind kind = value_or_throw(io::detect_dataset_kind(path));
  if (kind == io::DatasetKind::kImageFile) {
    info_image(path, value_or_throw(io::detect_file_format(path)), a.json_out);
  } else {
    info_dataset(path, kind, a);
  }
}

void run_partition(const DataArgs& a) {
  io::PartitionSpec spec;
  throw_if_error(io::parse_partition_scheme(a.scheme, &spec));
  spec.hospitals = a.hospitals;
  spec.seed = a.seed;
  spec.min_per_hospital = a.min_per_hospital;
  io::Split split = io::Split::kTrain;
  if (a.split == "val") split = io::Split::kVal;
  if (a.split == "test") split = io::Split::kTest;
  const std::string path = value_or_throw(io::resolve_dataset_path(a.path, data_location()));
  const io::DatasetKind kind = value_or_throw(io::detect_dataset_kind(path));
  if (kind == io::DatasetKind::kImageFile) throw StatusError(Status::invalid_argument(path + " is a single image, not a dataset"));
  int used_size = 0;
  const io::Dataset ds = load(path, kind, a, &used_size);
  const io::SplitData& sd = ds.split(split);
  const io::Partition p = value_or_throw(io::partition(sd.labels, ds.num_classes, spec));
  const auto counts = io::partition_class_counts(p, sd.labels, ds.num_classes);
  if (a.json_out) {
    json j = json::parse(io::format_partition_json(counts));
    j["dataset"] = ds.name;
    j["split"] = io::split_name(split);
    j["scheme"] = io::partition_scheme_name(spec);
    j["seed"] = spec.seed;
    j["min_per_hospital"] = spec.min_per_hospital;
    j["class_names"] = ds.class_names;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << ds.name << " " << io::split_name(split) << " split (" << sd.size() << " images) among " << spec.hospitals
            << " hospitals, scheme " << io::partition_scheme_name(spec) << ", seed " << spec.seed
            << ", at least " << spec.min_per_hospital << " per hospital\n"
            << io::format_partition_table(counts, ds.class_names);
}

void run_fetch(const DataArgs& a) {
  if (a.source != "medmnist") {
    throw StatusError(Status::invalid_argument("unknown source '" + a.source + "' (supported: medmnist)"));
  }
  std::string dir = a.dir;
  if (dir.empty()) dir = data_location().empty() ? "data" : data_location();
  const std::string path = value_or_throw(io::fetch_medmnist(a.name, dir));
  std::cout << "ok: " << path;
  if (auto md5 = io::medmnist_md5(a.name)) std::cout << " (MD5 " << *md5 << " verified)";
  std::cout << "\nuse it with: heal --data " << dir << " data info " << a.name << "\n";
}

struct DeidArgs {
  std::string in, out, certificate;
  bool irreversible = false;
  bool json_out = false;
};

// heal data deid: the library does the work (heal/deid); this prints counts and paths, never a value.
void run_deid(const DeidArgs& a) {
  if (!a.certificate.empty() && a.irreversible) {
    throw StatusError(Status::invalid_argument("--certificate (reversible) and --irreversible exclude each other"));
  }
  if (a.certificate.empty() && !a.irreversible) {
    throw StatusError(Status::invalid_argument(
        "choose --certificate CERT.pem (reversible: originals encrypted for the holder of its private key) or "
        "--irreversible (originals discarded)"));
  }
  deid::DeidOptions opts;
  opts.mode = a.irreversible ? deid::DeidMode::kIrreversible : deid::DeidMode::kReversible;
  opts.certificate_pem = a.certificate;
  const deid::DeidReport r = value_or_throw(deid::deidentify(a.in, a.out, opts));
  const std::string mode = a.irreversible ? "irreversible" : "reversible";
  if (a.json_out) {
    json j = {{"in", a.in},
              {"out", a.out},
              {"mode", mode},
              {"deidentified", r.deidentified},
              {"skipped_not_dicom", r.skipped_not_dicom},
              {"skipped_dicomdir", r.skipped_dicomdir}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  const std::string how =
      a.irreversible ? "originals discarded" : "originals encrypted for the private key of " + a.certificate;
  std::cout << "de-identified " << r.deidentified << " DICOM file(s) into " << a.out << " (" << mode << ": " << how
            << ")\n";
  if (r.skipped_not_dicom > 0) std::cout << "skipped " << r.skipped_not_dicom << " file(s) that are not DICOM\n";
  if (r.skipped_dicomdir > 0) std::cout << "skipped " << r.skipped_dicomdir << " DICOMDIR index(es)\n";
}

}  // namespace

void add_data_commands(CLI::App& app) {
  auto args = std::make_shared<DataArgs>();
  CLI::App* data = app.add_subcommand("data", "Datasets: inspect, partition among hospitals, download");
  data->require_subcommand(1);

  CLI::App* info = data->add_subcommand("info", "Splits, counts, shapes and class balance of a dataset or image");
  info->add_option("path", args->path,
                   "MedMNIST .npz, dataset folder, CSV, or a PNG/JPEG/DICOM/NIfTI file (relative to --data/HEAL_DATA "
                   "if not found as given; default: --data/HEAL_DATA itself)");
  info->add_flag("--json", args->json_out, "Print JSON");
  info->add_option("--size", args->size, "Resize images to NxN on loading (folder datasets default to 64)");
  info->add_flag("--rgb", args->rgb, "Keep three colour channels (folder datasets)");
  info->callback([args] { run_info(*args); });

  CLI::App* part = data->add_subcommand("partition", "Split a dataset among simulated hospitals, print class table");
  part->add_option("path", args->path, "Dataset (as for `heal data info`)");
  part->add_option("--hospitals,-k", args->hospitals, "Number of hospitals")->check(CLI::Range(1, 10000));
  part->add_option("--scheme", args->scheme, "iid | dirichlet:ALPHA (label skew) | quantity:ALPHA (size skew)");
  part->add_option("--seed", args->seed, "Seed (same seed, same partition)");
  part->add_option("--split", args->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}));
  part->add_option("--min-per-hospital", args->min_per_hospital, "Every hospital gets at least this many samples");
  part->add_option("--size", args->size, "Resize images to NxN on loading (folder datasets default to 64)");
  part->add_flag("--json", args->json_out, "Print JSON");
  part->callback([args] { run_partition(*args); });

  CLI::App* fetch = data->add_subcommand("fetch", "Download a MedMNIST v2 .npz (Zenodo 10519652) and check its MD5");
  fetch->add_option("source", args->source, "medmnist")->required();
  fetch->add_option("name", args->name, "e.g. pneumoniamnist, breastmnist")->required();
  fetch->add_option("--dir", args->dir, "Target directory (default: --data/HEAL_DATA, else ./data)");
  fetch->callback([args] { run_fetch(*args); });

  auto dargs = std::make_shared<DeidArgs>();
  CLI::App* deid_cmd = data->add_subcommand(
      "deid", "De-identified copy of DICOM files (PS3.15 E.1.1 Basic Application Level Confidentiality Profile)");
  deid_cmd->add_option("--in", dargs->in, "A DICOM file or a folder (walked recursively)")->required();
  deid_cmd->add_option("--out", dargs->out, "Output folder (outside the input); relative paths are kept")->required();
  deid_cmd->add_option("--certificate", dargs->certificate,
                       "Recipient's X.509 certificate (PEM, RSA): originals encrypted for its private key");
  deid_cmd->add_flag("--irreversible,--dumb", dargs->irreversible, "No certificate: originals discarded");
  deid_cmd->add_flag("--json", dargs->json_out, "Print JSON");
  deid_cmd->callback([dargs] { run_deid(*dargs); });
}

}  // namespace heal::cli
