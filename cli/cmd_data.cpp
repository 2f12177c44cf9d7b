// heal data info|partition|fetch|pull: inspect datasets, simulate hospital splits, download MedMNIST, copy
// a labelled dataset from a PACS.
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "heal/deid/deid.h"
#include "heal/io/dataset.h"
#include "heal/io/fetch.h"
#include "heal/core/progress.h"
#include "heal/io/nifti.h"
#include "heal/io/pacs.h"
#include "heal/io/partition.h"
#include "heal/io/volume.h"

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
  bool uids = false;
  // pull
  std::string from, labels, out;
  std::vector<std::string> filters;
  double val = 0.1, test = 0.2;
};

// Folder datasets hold images of many sizes; loading them needs one common size.
constexpr int kDefaultFolderSize = 64;


// Loads a dataset; returns the size actually used for folder datasets (0 for npz).
io::Dataset load(const std::string& path, io::DatasetKind kind, const DataArgs& a, int* used_size) {
  io::LoadOptions opts;
  opts.resize_to = a.size;
  opts.grayscale = !a.rgb;
  opts.dicom = dicom_options();
  opts.slices = slice_selection();
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
  io::ImageOptions image_opts;
  image_opts.dicom = dicom_options();
  const io::Image img = value_or_throw(io::load_image(path, image_opts));
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
  if (kind != io::DatasetKind::kNpz) j["slices"] = io::slice_selection_name(slice_selection());  // volumes only
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

// A folder that is no dataset but holds DICOM files: the series found in it (UIDs only with --uids).
void info_series(const std::string& path, const DataArgs& a, const Status& not_dataset) {
  const io::SeriesScan scan = value_or_throw(io::scan_dicom_series(path));
  if (scan.series.empty()) {
    throw StatusError(Status(not_dataset.code(), not_dataset.message() + "; it holds no DICOM series either (" +
                                                     std::to_string(scan.dicom_files) + " DICOM files)"));
  }
  const io::SliceSelection sel = slice_selection();
  std::optional<io::Volume> mask;
  std::string mask_error;
  if (sel.kind == io::SliceSelection::Kind::kMask) {
    auto m = io::load_volume(sel.mask);
    if (m.ok()) mask = std::move(m).value();
    else mask_error = m.status().to_string();
  }
  json j = {{"path", path}, {"kind", "dicom-series"}, {"dicom_files", scan.dicom_files},
            {"other_files", scan.other_files}, {"skipped", scan.skipped}, {"slices", io::slice_selection_name(sel)},
            {"series", json::array()}};
  for (std::size_t k = 0; k < scan.series.size(); ++k) {
    const io::DicomSeries& s = scan.series[k];
    json js = {{"index", k + 1}, {"modality", s.modality}, {"slices", s.slices()}, {"rows", s.rows},
               {"columns", s.columns}, {"pixel_spacing_mm", {s.row_spacing_mm, s.column_spacing_mm}},
               {"slice_spacing_mm", s.slice_spacing_mm}, {"order", s.usable() ? io::series_order_name(s.order) : "-"},
               {"warnings", s.warnings}, {"usable", s.usable()}};
    if (!s.usable()) js["error"] = s.error;
    if (a.uids) js["uid"] = s.uid;
    if (s.usable()) {
      if (!mask_error.empty()) {
        js["selection_error"] = mask_error;
      } else {
        auto z = io::select_slices(sel, {s.columns, s.rows, static_cast<int>(s.slices())}, mask ? &*mask : nullptr, true);
        if (z.ok()) js["selected_slices"] = z->size();
        else js["selection_error"] = z.status().message();
      }
    }
    j["series"].push_back(js);
  }
  if (a.json_out) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << path << ": " << scan.series.size() << " DICOM series (" << scan.dicom_files << " DICOM files, "
            << scan.other_files << " other files, " << scan.skipped.size() << " DICOM files skipped)\n"
            << "  #  modality  slices  size (WxH)  pixel spacing (mm)  slice spacing (mm)  order            "
            << "selected (--slices " << io::slice_selection_name(sel) << ")\n";
  for (const auto& js : j["series"]) {
    std::ostringstream size, px, sp;
    size << js["columns"].get<int>() << "x" << js["rows"].get<int>();
    px << js["pixel_spacing_mm"][0].get<double>() << " x " << js["pixel_spacing_mm"][1].get<double>();
    const double ss = js["slice_spacing_mm"].get<double>();
    if (ss > 0) sp << ss;
    else sp << "unknown";
    std::cout << "  " << std::left << std::setw(3) << js["index"].get<std::size_t>() << std::setw(10)
              << js["modality"].get<std::string>() << std::right << std::setw(6) << js["slices"].get<std::size_t>()
              << "  " << std::left << std::setw(12) << size.str() << std::setw(20) << px.str() << std::setw(20)
              << sp.str() << std::setw(17) << js["order"].get<std::string>() << std::right;
    if (js.contains("selected_slices")) std::cout << js["selected_slices"].get<std::size_t>();
    else std::cout << "-";
    std::cout << "\n";
    if (a.uids) std::cout << "     uid: " << js["uid"].get<std::string>() << "\n";
    for (const auto& w : js["warnings"]) std::cout << "     warning: " << w.get<std::string>() << "\n";
    if (js.contains("error")) std::cout << "     refused: " << js["error"].get<std::string>() << "\n";
    if (js.contains("selection_error")) std::cout << "     selection: " << js["selection_error"].get<std::string>() << "\n";
  }
  for (const auto& sk : scan.skipped) std::cout << "  skipped " << sk << "\n";
}

void run_info(const DataArgs& a) {
  const std::string path = value_or_throw(io::resolve_dataset_path(a.path, data_location()));
  auto detected = io::detect_dataset_kind(path);
  std::error_code ec;
  if (!detected.ok() && detected.status().code() == StatusCode::kUnsupported &&
      std::filesystem::is_directory(path, ec)) {
    info_series(path, a, detected.status());
    return;
  }
  const io::DatasetKind kind = value_or_throw(std::move(detected));
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

// heal data pull: the pipeline is io::pull_pacs_dataset; this only parses, reports progress and prints
// counts (never a UID or anything else from the objects).
void run_pull(const DataArgs& a) {
  io::PullOptions o;
  o.labels_csv = a.labels;
  o.out_dir = a.out;
  o.split = {a.seed, a.val, a.test};
  for (const auto& f : a.filters) {
    const auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw StatusError(Status::invalid_argument("--filter '" + f + "' is not KEY=VALUE (e.g. Modality=CT)"));
    }
    o.filters.emplace_back(f.substr(0, eq), f.substr(eq + 1));
  }
  std::unique_ptr<ProgressBar> bar;
  o.progress = [&](const io::PacsProgress& p) {
    if (!bar) bar = std::make_unique<ProgressBar>("pull", p.total, !globals().quiet && !a.json_out);
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << static_cast<double>(p.bytes) / (1024.0 * 1024.0) << " MiB";
    bar->tick(1, s.str());
  };
  const io::PullReport r = value_or_throw(io::pull_pacs_dataset(a.from, o));
  const double secs = bar ? bar->elapsed_seconds() : 0.0;
  if (bar) bar->finish();
  if (a.json_out) {
    json j = {{"found", r.found},         {"labelled", r.labelled},   {"unlabelled_skipped", r.unlabelled},
              {"studies", r.studies},     {"retrieved", r.retrieved}, {"already_present", r.already_present},
              {"bytes", r.bytes},         {"seconds", secs},          {"dataset_csv", r.csv_path},
              {"splits", {{"train", r.per_split[0]}, {"val", r.per_split[1]}, {"test", r.per_split[2]}}}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "found " << r.found << " instances; " << r.labelled << " labelled in " << r.studies << " studies, "
            << r.unlabelled << " without a label skipped\n"
            << "retrieved " << r.retrieved << " (" << r.bytes << " bytes), " << r.already_present
            << " already present\n"
            << "splits by study: train " << r.per_split[0] << ", val " << r.per_split[1] << ", test " << r.per_split[2]
            << " images\n"
            << "ok: " << r.csv_path << "\nuse it with: heal train --data " << r.csv_path << "\n";
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
  CLI::App* data =
      app.add_subcommand("data", "Datasets: inspect, partition among hospitals, download, pull from a PACS");
  data->require_subcommand(1);

  CLI::App* info = data->add_subcommand("info", "Splits, counts, shapes and class balance of a dataset or image");
  info->add_option("path", args->path,
                   "MedMNIST .npz, dataset folder, CSV, a folder of DICOM series, or a PNG/JPEG/DICOM/NIfTI file (relative to --data/HEAL_DATA "
                   "if not found as given; default: --data/HEAL_DATA itself)");
  info->add_flag("--json", args->json_out, "Print JSON");
  info->add_option("--size", args->size, "Resize images to NxN on loading (folder datasets default to 64)");
  info->add_flag("--rgb", args->rgb, "Keep three colour channels (folder datasets)");
  info->add_flag("--uids", args->uids, "DICOM series folders: also print the Series Instance UIDs");
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

  CLI::App* pull = data->add_subcommand("pull", "Copy a labelled dataset from a PACS (DICOMweb or DIMSE) into a "
                                                "folder with dataset.csv (docs/pacs.md)");
  pull->add_option("--from", args->from,
                   "dicomweb://HOST:PORT/dicom-web[?FILTERS] | dicomwebs://... (https) | dimse://AET@HOST:PORT")
      ->required();
  pull->add_option("--labels", args->labels,
                   "CSV: StudyInstanceUID,label[,split] or SOPInstanceUID,label[,split] (default: labels= in the URL)");
  pull->add_option("--out", args->out, "Output folder (DICOM files under dicom/, plus dataset.csv)")->required();
  pull->add_option("--filter", args->filters, "Matching key KEY=VALUE, repeatable (Modality=CT, StudyDate=A-B)");
  pull->add_option("--seed", args->seed, "Seed of the study-level split when the CSV has no split column");
  pull->add_option("--val", args->val, "Fraction of studies (per label) for val")->check(CLI::Range(0.0, 0.99));
  pull->add_option("--test", args->test, "Fraction of studies (per label) for test")->check(CLI::Range(0.0, 0.99));
  pull->add_flag("--json", args->json_out, "Print JSON");
  pull->callback([args] { run_pull(*args); });

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
