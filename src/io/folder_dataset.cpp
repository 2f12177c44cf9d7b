// Folder datasets: COVID-CT (official Data-split lists), <root>/<split>/<class>/*, CSV path,label,split.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "heal/core/bytes.h"
#include "heal/io/dataset.h"

namespace fs = std::filesystem;

namespace heal::io {
namespace {

struct Item {
  std::string path;
  int label = 0;
  Split split = Split::kTrain;
  std::string rel;  // path relative to the dataset root (finds a volume's mask under SliceSelection::mask)
  std::string group;  // patient (COVID-CT metadata); empty: the file or volume itself
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

Result<Split> parse_split(const std::string& s) {
  if (s == "train") return Split::kTrain;
  if (s == "val" || s == "valid" || s == "validation") return Split::kVal;
  if (s == "test") return Split::kTest;
  return Status::corruption("unknown split '" + s + "' (expected train, val or test)");
}

// The patients of one COVID-CT class from its metadata CSV when the file is there (an absent file
// leaves every image its own group; a malformed or oversized one is an error).
Result<std::map<std::string, std::string>> covid_ct_patients(const fs::path& root, const std::string& cls) {
  const bool covid = cls == "COVID";
  const fs::path csv = root / (covid ? "COVID-CT-MetaInfo.csv" : "NonCOVID-CT-MetaInfo.csv");
  std::error_code ec;
  if (!fs::exists(csv, ec)) return std::map<std::string, std::string>{};
  HEAL_ASSIGN_OR_RETURN(const Bytes text, read_file(csv.string(), std::size_t{1} << 20));
  auto m = parse_patient_csv(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()),
                             covid ? "File name" : "image name", covid ? "Patient ID" : "patient id");
  if (!m.ok()) return m.status().with_context(csv.string());
  return m;
}

// COVID-CT (arXiv:2003.13865): Data-split/{COVID,NonCOVID}/{train,val,test}CT_{COVID,NonCOVID}.txt name
// files in CT_COVID/ and CT_NonCOVID/. File names contain literal '%' and are used verbatim.
Result<std::vector<Item>> list_covid_ct(const fs::path& root, std::vector<std::string>* classes) {
  *classes = {"NonCOVID", "COVID"};  // label 0 = NonCOVID, 1 = COVID
  std::vector<Item> items;
  for (int label = 0; label < 2; ++label) {
    const std::string cls = (*classes)[static_cast<std::size_t>(label)];
    HEAL_ASSIGN_OR_RETURN(const auto patients, covid_ct_patients(root, cls));
    for (Split s : {Split::kTrain, Split::kVal, Split::kTest}) {
      const fs::path list = root / "Data-split" / cls / (std::string(split_name(s)) + "CT_" + cls + ".txt");
      std::ifstream in(list);
      if (!in) return Status::not_found("COVID-CT split list '" + list.string() + "' is missing");
      std::string line;
      while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty()) continue;
        const auto p = patients.find(line);
        items.push_back({(root / ("CT_" + cls) / line).string(), label, s, {},
                         p == patients.end() ? std::string() : cls + "/" + p->second});
      }
    }
  }
  return items;
}

// skip_test: the test split's files are not listed (listing opens each file to detect its format).
Result<std::vector<Item>> list_split_folders(const fs::path& root, std::vector<std::string>* classes, bool skip_test) {
  std::error_code ec;
  std::set<std::string> names;
  std::vector<std::pair<Split, fs::path>> split_dirs;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (!e.is_directory()) continue;
    auto s = parse_split(e.path().filename().string());
    if (!s.ok()) continue;  // other folders are ignored
    split_dirs.emplace_back(*s, e.path());
    for (const auto& c : fs::directory_iterator(e.path(), ec)) {
      if (c.is_directory() && c.path().filename().string()[0] != '.') names.insert(c.path().filename().string());
    }
  }
  if (ec) return Status::io_error("cannot list '" + root.string() + "': " + ec.message());
  if (names.empty()) return Status::corruption("'" + root.string() + "' has split folders but no class folders in them");
  classes->assign(names.begin(), names.end());  // label = position in sorted class names
  std::vector<Item> items;
  for (const auto& [split, dir] : split_dirs) {
    if (skip_test && split == Split::kTest) continue;
    for (std::size_t label = 0; label < classes->size(); ++label) {
      const fs::path cdir = dir / (*classes)[label];
      if (!fs::is_directory(cdir, ec)) continue;
      std::vector<std::string> files;
      for (const auto& f : fs::directory_iterator(cdir, ec)) {
        if (f.path().filename().string()[0] == '.') continue;
        if (f.is_directory()) {  // a volume: a folder holding a DICOM series
          if (is_volume_path(f.path().string())) files.push_back(f.path().string());
          continue;
        }
        if (!f.is_regular_file()) continue;
        auto fmt = detect_file_format(f.path().string());
        if (!fmt.ok()) continue;
        if (*fmt == ImageFormat::kPng || *fmt == ImageFormat::kJpeg || *fmt == ImageFormat::kDicom ||
            *fmt == ImageFormat::kNifti || *fmt == ImageFormat::kNiftiGz) {
          files.push_back(f.path().string());
        }
      }
      std::sort(files.begin(), files.end());  // deterministic order
      for (auto& f : files) {
        std::string rel = fs::path(f).lexically_relative(root).string();
        items.push_back({std::move(f), static_cast<int>(label), split, std::move(rel), {}});
      }
    }
  }
  return items;
}

// CSV rows `path,label,split` (a header row is skipped; no quoting). Labels are integers, or
// class names numbered in sorted order.
Result<std::vector<Item>> list_csv(const fs::path& csv, std::vector<std::string>* classes) {
  std::ifstream in(csv);
  if (!in) return Status::not_found("cannot open CSV '" + csv.string() + "'");
  struct Row { std::string path, label, split; };
  std::vector<Row> rows;
  std::string line;
  std::size_t lineno = 0;
  bool numeric = true;
  while (std::getline(in, line)) {
    ++lineno;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(trim(cell));
    if (f.size() != 3) {
      return Status::corruption(csv.string() + ":" + std::to_string(lineno) + ": expected 3 fields path,label,split");
    }
    if (rows.empty() && f[0] == "path" && f[1] == "label") continue;  // header
    if (f[1].empty() || f[1].find_first_not_of("0123456789") != std::string::npos || f[1].size() > 3) numeric = false;
    rows.push_back({f[0], f[1], f[2]});
  }
  std::map<std::string, int> ids;
  if (!numeric) {
    for (const auto& r : rows) ids[r.label] = 0;
    int k = 0;
    for (auto& [name, id] : ids) {
      id = k++;
      classes->push_back(name);
    }
  }
  std::vector<Item> items;
  for (const auto& r : rows) {
    HEAL_ASSIGN_OR_RETURN(Split s, parse_split(r.split));
    const int label = numeric ? std::stoi(r.label) : ids[r.label];
    const fs::path p = fs::path(r.path).is_absolute() ? fs::path(r.path) : csv.parent_path() / r.path;
    items.push_back({p.string(), label, s, fs::path(r.path).is_absolute() ? std::string() : r.path, {}});
  }
  return items;
}

Image to_three_channels(const Image& img) {
  if (img.channels == 3) return img;
  Image out = img;
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  out.channels = 3;
  out.pixels.resize(plane * 3);
  for (int c = 0; c < 3; ++c) {
    const int src = img.channels >= 3 ? c : 0;  // grey (+alpha) replicated; RGBA alpha dropped
    std::copy_n(img.pixels.begin() + static_cast<std::ptrdiff_t>(src * plane), plane,
                out.pixels.begin() + static_cast<std::ptrdiff_t>(c * plane));
  }
  return out;
}

// The images of one item: a 2-D image, or the selected slices of a volume (NIfTI file or series folder).
Result<std::vector<Image>> load_item(const Item& item, const LoadOptions& opts) {
  std::vector<Image> raw;
  if (is_volume_path(item.path)) {
    std::string mask;
    if (opts.slices.kind == SliceSelection::Kind::kMask) {
      if (item.rel.empty()) {
        return Status::invalid_argument("volume " + item.path + " has no path relative to the dataset, so no mask");
      }
      mask = (fs::path(opts.slices.mask) / item.rel).string();
      std::error_code ec;
      if (!fs::exists(mask, ec)) {
        return Status::not_found("no mask for volume " + item.path + " (expected " + mask +
                                 "; mask:DIR mirrors the dataset's layout)");
      }
    }
    auto slices = load_volume_slices(item.path, opts.slices, opts.dicom.window, mask);
    if (!slices.ok()) return slices.status().with_context(item.path);
    raw = std::move(slices).value();
  } else {
    ImageOptions io;
    io.dicom = opts.dicom;
    HEAL_ASSIGN_OR_RETURN(Image img, load_image(item.path, io));
    raw.push_back(std::move(img));
  }
  for (Image& img : raw) {
    img = opts.grayscale ? to_grayscale(img) : to_three_channels(img);
    if (opts.resize_to > 0) img = resize(img, opts.resize_to, opts.resize_to);
  }
  return raw;
}

Result<Dataset> load_items(std::vector<Item> items, std::vector<std::string> classes, const LoadOptions& opts) {
  if (items.empty()) return Status::corruption("the dataset lists no images");
  std::vector<std::vector<Image>> images(items.size());
  std::vector<Status> errors(items.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < items.size();) {
      auto imgs = load_item(items[i], opts);
      if (!imgs.ok()) {
        errors[i] = imgs.status();
        continue;
      }
      images[i] = std::move(imgs).value();
    }
  };
  unsigned n_threads = opts.threads > 0 ? static_cast<unsigned>(opts.threads) : std::max(1u, std::thread::hardware_concurrency());
  n_threads = std::min<unsigned>(n_threads, static_cast<unsigned>(items.size()));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n_threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (!e.ok()) return e;
  }
  const Image* first_ptr = nullptr;
  for (const auto& v : images) {
    if (!v.empty()) {
      first_ptr = &v.front();
      break;
    }
  }
  if (first_ptr == nullptr) return Status::corruption("the dataset's volumes have no selected slices");
  const Image& first = *first_ptr;
  Dataset ds;
  int max_label = static_cast<int>(classes.size()) - 1;
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (const Image& im : images[i]) {
      if (im.width != first.width || im.height != first.height) {
        return Status::invalid_argument("images have different sizes (" + std::to_string(first.width) + "x" +
                                        std::to_string(first.height) + " and " + std::to_string(im.width) + "x" +
                                        std::to_string(im.height) + " in " + items[i].path +
                                        "); set a common size with LoadOptions::resize_to (CLI: --size)");
      }
      SplitData& s = ds.split(items[i].split);
      s.channels = im.channels;
      s.height = im.height;
      s.width = im.width;
      s.images.insert(s.images.end(), im.pixels.begin(), im.pixels.end());
      s.labels.push_back(items[i].label);
      s.groups.push_back(items[i].group.empty() ? items[i].path : items[i].group);
    }
    max_label = std::max(max_label, items[i].label);
  }
  for (Split sp : {Split::kTrain, Split::kVal, Split::kTest}) {  // empty splits still carry the shape
    SplitData& s = ds.split(sp);
    s.channels = first.channels;
    s.height = first.height;
    s.width = first.width;
  }
  ds.num_classes = max_label + 1;
  ds.class_names = std::move(classes);
  return ds;
}

}  // namespace

Result<Dataset> load_folder_dataset(const std::string& path, const LoadOptions& opts) {
  HEAL_ASSIGN_OR_RETURN(DatasetKind kind, detect_dataset_kind(path));
  fs::path root(path);
  std::vector<std::string> classes;
  Result<std::vector<Item>> items = Status::internal("unset");
  switch (kind) {
    case DatasetKind::kCovidCt: items = list_covid_ct(root, &classes); break;
    case DatasetKind::kSplitFolders:
      items = list_split_folders(root, &classes, opts.skip_test);
      break;
    case DatasetKind::kCsv: {
      fs::path csv = root;
      if (fs::is_directory(root)) csv = fs::exists(root / "dataset.csv") ? root / "dataset.csv" : root / "labels.csv";
      items = list_csv(csv, &classes);
      break;
    }
    default: return Status::invalid_argument("'" + path + "' is not a folder dataset");
  }
  if (!items.ok()) return items.status().with_context(path);
  if (opts.skip_test) {
    // Not one test image is opened: the protocol asking for this must not see the test split.
    std::erase_if(*items, [](const Item& it) { return it.split == Split::kTest; });
  }
  auto ds = load_items(std::move(items).value(), std::move(classes), opts);
  if (!ds.ok()) return ds.status().with_context(path);
  std::string name = (fs::is_directory(root) ? root.lexically_normal() : root).filename().string();
  if (name.empty()) name = root.lexically_normal().parent_path().filename().string();
  ds->name = name;
  ds->source = path;
  return ds;
}

namespace {

std::string lower_trim(std::string_view v) {
  std::string s = trim(std::string(v));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_patient_csv(std::string_view text, std::string_view file_column,
                                                             std::string_view patient_column) {
  if (text.size() > (1u << 20)) return Status::corruption("patient CSV larger than 1 MiB");
  // RFC 4180 records: fields separated by ',', records by '\n' (a preceding '\r' is dropped);
  // a field starting with '"' runs to the next lone '"', with "" standing for one quote.
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> row_line;  // 1-based line where each record starts
  std::vector<std::string> row;
  std::string field;
  std::size_t line = 1, start_line = 1;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n') {
      if (!field.empty() && field.back() == '\r' && !was_quoted) field.pop_back();
      row.push_back(std::move(field));
      field.clear();
      was_quoted = false;
      rows.push_back(std::move(row));
      row.clear();
      row_line.push_back(start_line);
      start_line = ++line;
    } else if (was_quoted && c != '\r') {
      return Status::corruption("line " + std::to_string(line) + ": text after a closing quote");
    } else {
      if (!was_quoted) field += c;
    }
  }
  if (quoted) return Status::corruption("line " + std::to_string(start_line) + ": unterminated quoted field");
  if (!field.empty() || !row.empty() || was_quoted) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
    row_line.push_back(start_line);
  }
  if (rows.empty()) return Status::corruption("empty patient CSV");
  const std::string want_file = lower_trim(file_column), want_patient = lower_trim(patient_column);
  std::size_t fcol = SIZE_MAX, pcol = SIZE_MAX;
  for (std::size_t k = 0; k < rows[0].size(); ++k) {
    const std::string h = lower_trim(rows[0][k]);
    if (h == want_file && fcol == SIZE_MAX) fcol = k;
    if (h == want_patient && pcol == SIZE_MAX) pcol = k;
  }
  if (fcol == SIZE_MAX || pcol == SIZE_MAX) {
    return Status::corruption("the header has no column '" + std::string(fcol == SIZE_MAX ? file_column : patient_column) + "'");
  }
  std::map<std::string, std::string> out;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& f = rows[r];
    const std::string at = "line " + std::to_string(row_line[r]) + ": ";
    if (f.size() == 1 && trim(f[0]).empty()) continue;  // blank line
    if (f.size() <= std::max(fcol, pcol)) return Status::corruption(at + "too few fields");
    std::string file = trim(f[fcol]), patient = trim(f[pcol]);
    if (file.empty() || patient.empty()) return Status::corruption(at + "empty file name or patient ID");
    const auto [it, fresh] = out.emplace(file, patient);
    if (!fresh && it->second != patient) return Status::corruption(at + "'" + file + "' is listed with two patients");
  }
  return out;
}

}  // namespace heal::io
