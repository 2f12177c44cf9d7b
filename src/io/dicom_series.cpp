// DICOM series: directory scan (headers only), grouping by Series Instance UID, slice ordering by
// Image Position (Patient) along the slice normal, consistency checks, and volumes in modality units.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

#include "heal/io/dicom.h"
#include "heal/io/volume.h"

namespace fs = std::filesystem;

namespace heal::io {
namespace {

constexpr std::uint64_t kMaxVolumeBytes = std::uint64_t{2} << 30;  // as for NIfTI volumes
constexpr double kSamePositionMm = 1e-3;   // two slices closer than this along the normal are duplicates
constexpr double kOrientationTol = 1e-4;   // direction cosines equal up to this

std::string base(const std::string& path) { return fs::path(path).filename().string(); }

std::string mm(double v) {
  std::ostringstream o;
  o.precision(6);
  o << v;
  return o.str();
}

using Vec3 = std::array<double, 3>;
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double norm(const Vec3& a) { return std::sqrt(dot(a, a)); }

struct Slice {
  std::string path;
  DicomInfo info;
};

bool all_finite(const double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  return true;
}

// The unit slice normal of a valid Image Orientation (Patient); an error message otherwise.
Result<Vec3> slice_normal(const std::array<double, 6>& o, const std::string& file) {
  if (!all_finite(o.data(), 6)) return Status::corruption("non-finite Image Orientation (Patient) in " + file);
  const Vec3 row{o[0], o[1], o[2]}, col{o[3], o[4], o[5]};
  const double nr = norm(row), nc = norm(col);
  if (nr < 1e-6 || nc < 1e-6) {
    return Status::corruption("Image Orientation (Patient) in " + file + " has a zero-length direction");
  }
  Vec3 n = cross(row, col);
  const double nn = norm(n) / (nr * nc);
  if (nn < 1e-3) {
    return Status::corruption("Image Orientation (Patient) in " + file + " has parallel row and column directions");
  }
  const double s = norm(n);
  for (double& x : n) x /= s;
  return n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// Orders the slices of one series and fills geometry, warnings and error.
void order_series(std::vector<Slice>& slices, DicomSeries& s) {
  const DicomInfo& first = slices.front().info;
  s.modality = first.modality;
  s.rows = first.rows;
  s.columns = first.columns;
  s.row_spacing_mm = first.row_spacing_mm;
  s.column_spacing_mm = first.column_spacing_mm;
  auto refuse = [&](std::string why) {
    s.error = std::move(why);
    std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) { return a.path < b.path; });
  };
  auto finish = [&] {
    s.files.clear();
    for (const auto& sl : slices) s.files.push_back(sl.path);
  };
  for (const auto& sl : slices) {
    const DicomInfo& i = sl.info;
    if (i.rows <= 0 || i.columns <= 0) {
      refuse("slice " + base(sl.path) + " has " + std::to_string(i.rows) + " rows and " + std::to_string(i.columns) +
             " columns");
      return finish();
    }
    if (i.rows != s.rows || i.columns != s.columns) {
      refuse("slices differ in size (" + std::to_string(s.columns) + "x" + std::to_string(s.rows) + " and " +
             std::to_string(i.columns) + "x" + std::to_string(i.rows) + " in " + base(sl.path) + ")");
      return finish();
    }
    if (i.frames != 1) {
      refuse(base(sl.path) + " is a multi-frame object (" + std::to_string(i.frames) +
             " frames); series of multi-frame files are not supported");
      return finish();
    }
    if (i.samples_per_pixel != 1) {
      refuse(base(sl.path) + " is a colour image (" + std::to_string(i.samples_per_pixel) +
             " samples per pixel); volumes are monochrome");
      return finish();
    }
    if (!std::isfinite(i.row_spacing_mm) || !std::isfinite(i.column_spacing_mm) || i.row_spacing_mm < 0 ||
        i.column_spacing_mm < 0) {
      refuse("invalid Pixel Spacing in " + base(sl.path));
      return finish();
    }
    if (std::abs(i.row_spacing_mm - s.row_spacing_mm) > 1e-4 ||
        std::abs(i.column_spacing_mm - s.column_spacing_mm) > 1e-4) {
      refuse("Pixel Spacing differs between slices (" + base(slices.front().path) + " and " + base(sl.path) + ")");
      return finish();
    }
  }
  // Geometry: usable only when every slice has both attributes.
  std::size_t with_geo = 0;
  for (const auto& sl : slices) with_geo += sl.info.image_position && sl.info.image_orientation ? 1 : 0;
  if (with_geo == slices.size()) {
    Result<Vec3> n0 = slice_normal(*first.image_orientation, base(slices.front().path));
    if (!n0.ok()) {
      refuse(n0.status().message());
      return finish();
    }
    std::vector<std::pair<double, std::size_t>> proj;
    for (std::size_t k = 0; k < slices.size(); ++k) {
      const DicomInfo& i = slices[k].info;
      Result<Vec3> n = slice_normal(*i.image_orientation, base(slices[k].path));
      if (!n.ok()) {
        refuse(n.status().message());
        return finish();
      }
      for (std::size_t a = 0; a < 6; ++a) {
        if (std::abs((*i.image_orientation)[a] - (*first.image_orientation)[a]) > kOrientationTol) {
          refuse("Image Orientation (Patient) differs between slices (" + base(slices.front().path) + " and " +
                 base(slices[k].path) + ")");
          return finish();
        }
      }
      if (!all_finite(i.image_position->data(), 3)) {
        refuse("non-finite Image Position (Patient) in " + base(slices[k].path));
        return finish();
      }
      proj.emplace_back(dot(*i.image_position, *n0), k);
    }
    std::sort(proj.begin(), proj.end(), [&](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : slices[a.second].path < slices[b.second].path;
    });
    std::vector<Slice> ordered;
    for (const auto& p : proj) ordered.push_back(std::move(slices[p.second]));
    slices = std::move(ordered);
    s.order = DicomSeries::Order::kPosition;
    std::vector<double> steps;
    for (std::size_t k = 1; k < proj.size(); ++k) {
      const double d = proj[k].first - proj[k - 1].first;
      if (d < kSamePositionMm) {
        refuse("duplicate slice position: " + base(slices[k - 1].path) + " and " + base(slices[k].path) +
               " lie at the same place along the slice normal (" + mm(proj[k].first) +
               " mm); two acquisitions share one Series Instance UID, or files are copies");
        return finish();
      }
      steps.push_back(d);
    }
    if (!steps.empty()) {
      const double m = median(steps);
      s.slice_spacing_mm = m;
      double lo = steps[0], hi = steps[0];
      for (std::size_t k = 0; k < steps.size(); ++k) {
        lo = std::min(lo, steps[k]);
        hi = std::max(hi, steps[k]);
        if (steps[k] > 1.5 * m) {
          const long missing = std::lround(steps[k] / m) - 1;
          s.warnings.push_back("gap of " + mm(steps[k]) + " mm between " + base(slices[k].path) + " and " +
                               base(slices[k + 1].path) + " where the series steps " + mm(m) + " mm (about " +
                               std::to_string(std::max(1L, missing)) + " slice(s) missing)");
        }
      }
      if (hi - lo > 0.01 * m + 1e-3 && hi <= 1.5 * m) {
        s.warnings.push_back("uneven slice spacing (" + mm(lo) + " to " + mm(hi) + " mm; median " + mm(m) + ")");
      }
    }
    return finish();
  }
  // Fallbacks: Instance Number if every slice has a distinct one, else the file names.
  const std::string why = std::to_string(slices.size() - with_geo) + " of " + std::to_string(slices.size()) +
                          " files lack Image Position/Orientation (Patient)";
  bool numbered = true;
  std::map<int, int> seen;
  for (const auto& sl : slices) {
    if (!sl.info.instance_number || seen[*sl.info.instance_number]++ > 0) numbered = false;
  }
  if (numbered) {
    std::sort(slices.begin(), slices.end(),
              [](const Slice& a, const Slice& b) { return *a.info.instance_number < *b.info.instance_number; });
    s.order = DicomSeries::Order::kInstanceNumber;
    s.warnings.push_back(why + ": slices ordered by Instance Number; slice spacing unknown");
  } else {
    std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) { return a.path < b.path; });
    s.order = DicomSeries::Order::kFileName;
    s.warnings.push_back(why + " and Instance Numbers are missing or repeated: slices ordered by file name; "
                         "slice spacing unknown");
  }
  finish();
}

// ---- Pixel values of one slice ------------------------------------------------------------------
struct SliceValues {
  int rows = 0, columns = 0;
  std::string photometric;
  std::optional<std::array<double, 2>> window;
  std::vector<float> values;  // rows * columns, row-major, modality units
};

// Frame 0 of a monochrome DICOM file in modality units, through the io DICOM decoder (every
// registered transfer syntax; stored values times Rescale Slope plus Intercept in double precision,
// where DCMTK's own modality transform would round to integers), plus the file's first window.
Result<SliceValues> read_slice_values(const std::string& path) {
  HEAL_ASSIGN_OR_RETURN(DicomInfo info, read_dicom_info(path));
  if (!info.has_pixel_data) return Status::unsupported("DICOM file has no pixel data");
  if (info.rows <= 0 || info.columns <= 0) return Status::corruption("DICOM slice has zero rows or columns");
  if (info.samples_per_pixel != 1 || (info.photometric != "MONOCHROME1" && info.photometric != "MONOCHROME2")) {
    return Status::unsupported("volume slices must be MONOCHROME1/2 with one sample per pixel (got '" +
                               info.photometric + "', " + std::to_string(info.samples_per_pixel) + " samples)");
  }
  if (!std::isfinite(info.rescale_slope) || info.rescale_slope == 0.0 || !std::isfinite(info.rescale_intercept)) {
    return Status::corruption("invalid Rescale Slope/Intercept (" + mm(info.rescale_slope) + ", " +
                              mm(info.rescale_intercept) + ")");
  }
  HEAL_ASSIGN_OR_RETURN(DicomValues v, load_dicom_values(path, 0));
  if (v.channels != 1 || v.width != info.columns || v.height != info.rows) {
    return Status::corruption("DICOM slice decoded to an unexpected shape");
  }
  SliceValues out;
  out.rows = info.rows;
  out.columns = info.columns;
  out.photometric = info.photometric;
  if (!info.windows.empty()) {
    const auto& w = info.windows.front();
    if (std::isfinite(w[0]) && std::isfinite(w[1]) && w[1] >= 1.0) out.window = w;
  }
  out.values = std::move(v.values);
  return out;
}

}  // namespace

const char* series_order_name(DicomSeries::Order o) {
  switch (o) {
    case DicomSeries::Order::kPosition: return "position";
    case DicomSeries::Order::kInstanceNumber: return "instance-number";
    case DicomSeries::Order::kFileName: return "file-name";
  }
  return "?";
}

Result<SeriesScan> scan_dicom_series(const std::string& dir, const SeriesScanOptions& opts) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::not_found("'" + dir + "' is not a directory");
  SeriesScan scan;
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Status::io_error("cannot list '" + dir + "': " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Status::io_error("cannot list '" + dir + "': " + ec.message());
    const fs::directory_entry& e = *it;
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (e.is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (e.is_directory(ec)) {
      if (it.depth() >= opts.max_depth) it.disable_recursion_pending();
      continue;
    }
    if (!e.is_regular_file(ec)) continue;
    if (files.size() >= opts.max_files) {
      return Status::out_of_range("'" + dir + "' holds more than " + std::to_string(opts.max_files) + " files");
    }
    files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, std::vector<Slice>> groups;
  std::map<std::string, std::string> first_file;  // uid -> first path (files are sorted)
  for (const auto& f : files) {
    auto fmt = detect_file_format(f);
    if (!fmt.ok() || *fmt != ImageFormat::kDicom) {
      ++scan.other_files;
      continue;
    }
    ++scan.dicom_files;
    auto info = read_dicom_info(f);
    if (!info.ok()) {
      scan.skipped.push_back(f + ": " + info.status().message());
      continue;
    }
    if (!info->has_pixel_data) {
      scan.skipped.push_back(f + ": no pixel data");
      continue;
    }
    if (info->series_instance_uid.empty()) {
      scan.skipped.push_back(f + ": no Series Instance UID");
      continue;
    }
    first_file.emplace(info->series_instance_uid, f);
    groups[info->series_instance_uid].push_back({f, std::move(info).value()});
  }
  for (auto& [uid, slices] : groups) {
    DicomSeries s;
    s.uid = uid;
    order_series(slices, s);
    scan.series.push_back(std::move(s));
  }
  std::sort(scan.series.begin(), scan.series.end(),
            [&](const DicomSeries& a, const DicomSeries& b) { return first_file[a.uid] < first_file[b.uid]; });
  return scan;
}

Result<Volume> load_dicom_volume(const DicomSeries& s) {
  if (!s.usable()) return Status::invalid_argument("inconsistent DICOM series: " + s.error);
  if (s.files.empty() || s.rows <= 0 || s.columns <= 0) return Status::invalid_argument("empty DICOM series");
  const std::uint64_t voxels = static_cast<std::uint64_t>(s.rows) * static_cast<std::uint64_t>(s.columns);
  if (voxels * s.files.size() > kMaxVolumeBytes / sizeof(float)) {
    return Status::out_of_range("DICOM series volume is larger than 2 GiB of floats; refusing to load it");
  }
  Volume v;
  v.nx = s.columns;
  v.ny = s.rows;
  v.nz = static_cast<int>(s.files.size());
  v.spacing = {s.column_spacing_mm, s.row_spacing_mm, s.slice_spacing_mm};
  v.modality = s.modality;
  v.values.resize(voxels * s.files.size());
  for (std::size_t z = 0; z < s.files.size(); ++z) {
    auto sv = read_slice_values(s.files[z]);
    if (!sv.ok()) return sv.status().with_context(s.files[z]);
    if (sv->rows != s.rows || sv->columns != s.columns) {
      return Status::corruption(s.files[z] + ": slice size changed since the series was scanned");
    }
    if (z == 0) {
      v.file_window = sv->window;
      v.invert = sv->photometric == "MONOCHROME1";
    }
    std::copy(sv->values.begin(), sv->values.end(), v.values.begin() + static_cast<std::ptrdiff_t>(z * voxels));
  }
  return v;
}

Result<Volume> load_dicom_series_volume(const std::string& dir) {
  HEAL_ASSIGN_OR_RETURN(SeriesScan scan, scan_dicom_series(dir));
  std::vector<const DicomSeries*> usable;
  std::string refused;
  for (const auto& s : scan.series) {
    if (s.usable()) {
      usable.push_back(&s);
    } else if (refused.empty()) {
      refused = s.error;
    }
  }
  if (usable.size() == 1) return load_dicom_volume(*usable.front());
  if (usable.empty()) {
    std::string msg = "'" + dir + "' holds no usable DICOM series (" + std::to_string(scan.dicom_files) +
                      " DICOM files, " + std::to_string(scan.series.size()) + " series)";
    if (!refused.empty()) msg += ": " + refused;
    return Status::invalid_argument(msg);
  }
  return Status::invalid_argument("'" + dir + "' holds " + std::to_string(usable.size()) +
                                  " DICOM series; a volume folder must hold one (see `heal data info " + dir + "`)");
}

}  // namespace heal::io
