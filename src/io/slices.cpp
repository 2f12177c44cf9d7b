// Volumes as 2-D images: linear VOI windowing of a slice, slice selection (all, every k-th, middle,
// by mask) shared by DICOM series and NIfTI volumes.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>

#include "heal/io/volume.h"

namespace fs = std::filesystem;

namespace heal::io {

double voi_linear(double x, double center, double width) {
  // DICOM PS3.3 C.11.2.1.2.1 (VOI LUT Function LINEAR), output range [0, 1].
  const double half = (width - 1.0) / 2.0;
  if (x <= center - 0.5 - half) return 0.0;
  if (x > center - 0.5 + half) return 1.0;
  return (x - (center - 0.5)) / (width - 1.0) + 0.5;
}

Result<Image> window_slice(const Volume& v, int z, const DicomWindow& window) {
  if (v.nx <= 0 || v.ny <= 0 || v.nz <= 0 || v.values.size() != v.slice_size() * static_cast<std::size_t>(v.nz)) {
    return Status::invalid_argument("window_slice: empty or malformed volume");
  }
  if (z < 0 || z >= v.nz) {
    return Status::out_of_range("slice " + std::to_string(z) + " is outside 0.." + std::to_string(v.nz - 1));
  }
  DicomWindow w = window;
  if (w.kind == DicomWindow::Kind::kFile) {
    if (v.file_window) {
      w.kind = DicomWindow::Kind::kExplicit;
      w.center = (*v.file_window)[0];
      w.width = (*v.file_window)[1];
    } else {
      w.kind = DicomWindow::Kind::kMinMax;
    }
  }
  if (w.kind == DicomWindow::Kind::kExplicit && (!std::isfinite(w.center) || !std::isfinite(w.width) || w.width < 1)) {
    return Status::invalid_argument("window width must be >= 1 and center/width finite");
  }
  double lo = 0.0, range = 1.0;
  if (w.kind == DicomWindow::Kind::kMinMax) {
    double mn = std::numeric_limits<double>::infinity(), mx = -mn;
    for (float x : v.values) {
      if (!std::isfinite(x)) continue;
      mn = std::min(mn, static_cast<double>(x));
      mx = std::max(mx, static_cast<double>(x));
    }
    lo = std::isfinite(mn) ? mn : 0.0;
    range = mx > mn ? mx - mn : 1.0;
  }
  Image img;
  img.width = img.original_width = v.nx;
  img.height = img.original_height = v.ny;
  img.channels = 1;
  img.pixels.resize(v.slice_size());
  const float* src = v.values.data() + static_cast<std::size_t>(z) * v.slice_size();
  for (std::size_t i = 0; i < v.slice_size(); ++i) {
    const double x = src[i];
    double y = 0.0;
    if (std::isfinite(x)) {
      y = w.kind == DicomWindow::Kind::kExplicit ? voi_linear(x, w.center, w.width)
                                                 : std::clamp((x - lo) / range, 0.0, 1.0);
      if (v.invert) y = 1.0 - y;
    }
    img.pixels[i] = static_cast<float>(y);
  }
  return img;
}

Result<SliceSelection> parse_slice_selection(const std::string& spec) {
  SliceSelection s;
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("slice selection '" + spec + "': " + why +
                                    " (expected auto, all, middle, every:K with K >= 1, or mask:PATH)");
  };
  if (spec.empty() || spec == "auto") return s;
  if (spec == "all") {
    s.kind = SliceSelection::Kind::kAll;
    return s;
  }
  if (spec == "middle") {
    s.kind = SliceSelection::Kind::kMiddle;
    return s;
  }
  if (spec.rfind("every:", 0) == 0) {
    const std::string k = spec.substr(6);
    if (k.empty() || k.size() > 7 || k.find_first_not_of("0123456789") != std::string::npos) {
      return bad("K must be a whole number");
    }
    s.step = std::atoi(k.c_str());
    if (s.step < 1) return bad("K must be at least 1");
    s.kind = SliceSelection::Kind::kEvery;
    return s;
  }
  if (spec.rfind("mask:", 0) == 0) {
    s.mask = spec.substr(5);
    if (s.mask.empty()) return bad("no mask path after 'mask:'");
    s.kind = SliceSelection::Kind::kMask;
    return s;
  }
  return bad("unknown form");
}

std::string slice_selection_name(const SliceSelection& sel) {
  switch (sel.kind) {
    case SliceSelection::Kind::kAuto: return "auto";
    case SliceSelection::Kind::kAll: return "all";
    case SliceSelection::Kind::kEvery: return "every:" + std::to_string(sel.step);
    case SliceSelection::Kind::kMiddle: return "middle";
    case SliceSelection::Kind::kMask: return "mask:" + sel.mask;
  }
  return "?";
}

Result<std::vector<int>> select_slices(const SliceSelection& sel, std::array<int, 3> dims, const Volume* mask,
                                       bool is_series) {
  const int nz = dims[2];
  if (dims[0] <= 0 || dims[1] <= 0 || nz <= 0) return Status::invalid_argument("select_slices: empty volume");
  SliceSelection::Kind kind = sel.kind;
  if (kind == SliceSelection::Kind::kAuto) kind = is_series ? SliceSelection::Kind::kAll : SliceSelection::Kind::kMiddle;
  std::vector<int> out;
  switch (kind) {
    case SliceSelection::Kind::kAll:
      for (int z = 0; z < nz; ++z) out.push_back(z);
      break;
    case SliceSelection::Kind::kEvery:
      if (sel.step < 1) return Status::invalid_argument("every:K needs K >= 1");
      for (int z = 0; z < nz; z += sel.step) out.push_back(z);
      break;
    case SliceSelection::Kind::kMiddle: out.push_back(nz / 2); break;
    case SliceSelection::Kind::kMask: {
      if (mask == nullptr) return Status::invalid_argument("mask selection without a mask volume");
      if (mask->nx != dims[0] || mask->ny != dims[1] || mask->nz != nz ||
          mask->values.size() != mask->slice_size() * static_cast<std::size_t>(mask->nz)) {
        return Status::invalid_argument("mask grid " + std::to_string(mask->nx) + "x" + std::to_string(mask->ny) + "x" +
                                        std::to_string(mask->nz) + " differs from the volume's " +
                                        std::to_string(dims[0]) + "x" + std::to_string(dims[1]) + "x" +
                                        std::to_string(nz));
      }
      for (int z = 0; z < nz; ++z) {
        const float* p = mask->values.data() + static_cast<std::size_t>(z) * mask->slice_size();
        if (std::any_of(p, p + mask->slice_size(), [](float x) { return std::isfinite(x) && x != 0.0f; })) {
          out.push_back(z);
        }
      }
      break;
    }
    case SliceSelection::Kind::kAuto: break;
  }
  return out;
}

bool is_volume_path(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    auto f = detect_file_format(path);
    return f.ok() && (*f == ImageFormat::kNifti || *f == ImageFormat::kNiftiGz);
  }
  if (!fs::is_directory(path, ec)) return false;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
  std::size_t looked = 0;
  for (; !ec && it != fs::recursive_directory_iterator() && looked < 10000; it.increment(ec), ++looked) {
    if (!it->is_regular_file(ec)) continue;
    auto f = detect_file_format(it->path().string());
    if (f.ok() && *f == ImageFormat::kDicom) return true;
  }
  return false;
}

Result<Volume> load_volume(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_dicom_series_volume(path);
  if (!fs::exists(path, ec)) return Status::not_found("volume '" + path + "' not found");
  HEAL_ASSIGN_OR_RETURN(ImageFormat f, detect_file_format(path));
  if (f != ImageFormat::kNifti && f != ImageFormat::kNiftiGz) {
    return Status::unsupported("'" + path + "' is no volume (a NIfTI file or a folder with one DICOM series); detected " +
                               image_format_name(f));
  }
  return load_nifti_volume(path);
}

Result<std::vector<Image>> load_volume_slices(const std::string& path, const SliceSelection& sel,
                                              const DicomWindow& window, const std::string& mask_path) {
  std::error_code ec;
  const bool is_series = fs::is_directory(path, ec);
  HEAL_ASSIGN_OR_RETURN(Volume v, load_volume(path));
  std::optional<Volume> mask;
  if (sel.kind == SliceSelection::Kind::kMask) {
    const std::string mp = mask_path.empty() ? sel.mask : mask_path;
    auto m = load_volume(mp);
    if (!m.ok()) return m.status().with_context("mask " + mp);
    const bool same_dims = m->nx == v.nx && m->ny == v.ny && m->nz == v.nz;  // else select_slices explains
    for (int a = 0; a < 3 && same_dims; ++a) {
      const double s1 = v.spacing[static_cast<std::size_t>(a)], s2 = m->spacing[static_cast<std::size_t>(a)];
      if (s1 > 0 && s2 > 0 && std::abs(s1 - s2) > 1e-3 * std::max(s1, s2)) {
        return Status::invalid_argument("mask " + mp + " has voxel spacing " + std::to_string(s2) + " mm along axis " +
                                        std::to_string(a) + ", the volume " + std::to_string(s1) +
                                        " mm: not the same grid");
      }
    }
    mask = std::move(m).value();
  }
  auto z = select_slices(sel, {v.nx, v.ny, v.nz}, mask ? &*mask : nullptr, is_series);
  if (!z.ok()) return z.status().with_context(path);
  std::vector<Image> out;
  out.reserve(z->size());
  for (int k : *z) {
    HEAL_ASSIGN_OR_RETURN(Image img, window_slice(v, k, window));
    out.push_back(std::move(img));
  }
  return out;
}

}  // namespace heal::io
