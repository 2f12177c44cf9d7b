// NIfTI-1/2 via nifti2_io (which also reads .nii.gz through znzlib).
#include "heal/io/nifti.h"
#include "heal/io/volume.h"

#include <nifti2_io.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>

namespace heal::io {
namespace {

constexpr std::uint64_t kMaxVolumeBytes = std::uint64_t{2} << 30;

struct NimFree {
  void operator()(nifti_image* p) const { nifti_image_free(p); }
};
using NimPtr = std::unique_ptr<nifti_image, NimFree>;

// nx, ny, nz, nt; dimensions beyond ndim count as 1 (writers leave them 0 or 1).
std::array<std::int64_t, 4> dims4(const nifti_image* nim) {
  return {nim->nx, nim->ny, nim->ndim >= 3 ? nim->nz : 1, nim->ndim >= 4 ? nim->nt : 1};
}

Result<NimPtr> open_nifti(const std::string& path, bool with_data) {
  static std::once_flag once;
  std::call_once(once, [] { nifti_set_debug_level(0); });
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::not_found("NIfTI file '" + path + "' not found");
  NimPtr hdr(nifti_image_read(path.c_str(), 0));
  if (!hdr) return Status::corruption("'" + path + "' is not a readable NIfTI header");
  if (hdr->ndim < 2 || hdr->ndim > 4) {
    return Status::unsupported("NIfTI with " + std::to_string(hdr->ndim) + " dimensions (supported: 2 to 4)");
  }
  const auto d4 = dims4(hdr.get());
  if (d4[0] <= 0 || d4[1] <= 0 || d4[2] <= 0 || d4[3] <= 0 || hdr->nbyper <= 0) {
    return Status::corruption("NIfTI header has non-positive dimensions");
  }
  std::uint64_t bytes = static_cast<std::uint64_t>(hdr->nbyper);
  for (std::int64_t d : d4) {
    if (static_cast<std::uint64_t>(d) > kMaxVolumeBytes / bytes) {
      return Status::out_of_range("NIfTI volume is larger than 2 GiB; refusing to load it");
    }
    bytes *= static_cast<std::uint64_t>(d);
  }
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (!gz && hdr->iname_offset >= 0) {
    const auto fsize = std::filesystem::file_size(hdr->iname ? hdr->iname : path, ec);
    if (!ec && fsize < static_cast<std::uint64_t>(hdr->iname_offset) + bytes) {
      return Status::corruption("NIfTI data truncated: header needs " + std::to_string(bytes) + " bytes at offset " +
                                std::to_string(hdr->iname_offset) + ", file has " + std::to_string(fsize));
    }
  }
  if (!with_data) return hdr;
  NimPtr full(nifti_image_read(path.c_str(), 1));
  if (!full || !full->data) return Status::corruption("NIfTI voxel data of '" + path + "' cannot be read (truncated?)");
  return full;
}

Result<double> voxel(const nifti_image* nim, std::size_t i) {
  const auto* p = static_cast<const std::uint8_t*>(nim->data) + i * static_cast<std::size_t>(nim->nbyper);
  auto get = [p](auto zero) {
    decltype(zero) v;
    std::memcpy(&v, p, sizeof(v));
    return static_cast<double>(v);
  };
  switch (nim->datatype) {
    case DT_UINT8: return get(std::uint8_t{});
    case DT_INT8: return get(std::int8_t{});
    case DT_UINT16: return get(std::uint16_t{});
    case DT_INT16: return get(std::int16_t{});
    case DT_UINT32: return get(std::uint32_t{});
    case DT_INT32: return get(std::int32_t{});
    case DT_UINT64: return get(std::uint64_t{});
    case DT_INT64: return get(std::int64_t{});
    case DT_FLOAT32: return get(float{});
    case DT_FLOAT64: return get(double{});
    default: break;
  }
  return Status::unsupported(std::string("NIfTI datatype ") + nifti_datatype_string(nim->datatype) +
                             " is not supported (supported: integer and float scalars)");
}

}  // namespace

Result<NiftiInfo> read_nifti_info(const std::string& path) {
  HEAL_ASSIGN_OR_RETURN(NimPtr nim, open_nifti(path, false));
  NiftiInfo info;
  info.ndim = static_cast<int>(nim->ndim);
  const auto d4 = dims4(nim.get());
  info.dims.assign(d4.begin(), d4.end());
  info.datatype = nifti_datatype_string(nim->datatype);
  info.scl_slope = nim->scl_slope;
  info.scl_inter = nim->scl_inter;
  return info;
}

Result<std::int64_t> nifti_slice_count(const std::string& path, int axis) {
  if (axis < 0 || axis > 2) return Status::invalid_argument("NIfTI slice axis must be 0, 1 or 2");
  HEAL_ASSIGN_OR_RETURN(NiftiInfo info, read_nifti_info(path));
  return info.dims[static_cast<std::size_t>(axis)];
}

Result<Image> load_nifti_slice(const std::string& path, int axis, std::int64_t index, std::int64_t volume) {
  if (axis < 0 || axis > 2) return Status::invalid_argument("NIfTI slice axis must be 0, 1 or 2");
  HEAL_ASSIGN_OR_RETURN(NimPtr nim, open_nifti(path, true));
  const auto d4 = dims4(nim.get());
  const std::int64_t nx = d4[0], ny = d4[1], nz = d4[2], nt = d4[3];
  const std::int64_t n_axis = axis == 0 ? nx : axis == 1 ? ny : nz;
  if (index < 0 || index >= n_axis) {
    return Status::out_of_range("slice " + std::to_string(index) + " along axis " + std::to_string(axis) +
                                " is outside 0.." + std::to_string(n_axis - 1));
  }
  if (volume < 0 || volume >= nt) {
    return Status::out_of_range("volume " + std::to_string(volume) + " is outside 0.." + std::to_string(nt - 1));
  }
  const double slope = (nim->scl_slope != 0.0 && std::isfinite(nim->scl_slope)) ? nim->scl_slope : 1.0;
  const double inter = std::isfinite(nim->scl_inter) ? nim->scl_inter : 0.0;
  const auto vox_per_vol = static_cast<std::size_t>(nx * ny * nz);
  const std::size_t base = static_cast<std::size_t>(volume) * vox_per_vol;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (std::size_t i = 0; i < vox_per_vol; ++i) {
    HEAL_ASSIGN_OR_RETURN(double v, voxel(nim.get(), base + i));
    if (!std::isfinite(v)) continue;
    v = v * slope + inter;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  Image img;
  img.width = static_cast<int>(axis == 0 ? ny : nx);
  img.height = static_cast<int>(axis == 2 ? ny : nz);
  img.original_width = img.width;
  img.original_height = img.height;
  img.channels = 1;
  img.pixels.resize(static_cast<std::size_t>(img.width) * img.height);
  const double range = hi > lo ? hi - lo : 1.0;
  for (int r = 0; r < img.height; ++r) {
    for (int c = 0; c < img.width; ++c) {
      std::int64_t x, y, z;
      if (axis == 2) { x = c; y = r; z = index; }
      else if (axis == 1) { x = c; y = index; z = r; }
      else { x = index; y = c; z = r; }
      const auto i = base + static_cast<std::size_t>(x + nx * (y + ny * z));
      HEAL_ASSIGN_OR_RETURN(double v, voxel(nim.get(), i));
      v = std::isfinite(v) ? (v * slope + inter - lo) / range : 0.0;
      img.pixels[static_cast<std::size_t>(r) * img.width + c] = static_cast<float>(std::clamp(v, 0.0, 1.0));
    }
  }
  return img;
}

Result<Volume> load_nifti_volume(const std::string& path, std::int64_t volume) {
  HEAL_ASSIGN_OR_RETURN(NimPtr nim, open_nifti(path, true));
  const auto d4 = dims4(nim.get());
  if (volume < 0 || volume >= d4[3]) {
    return Status::out_of_range("volume " + std::to_string(volume) + " is outside 0.." + std::to_string(d4[3] - 1));
  }
  constexpr std::int64_t kMaxDim = std::numeric_limits<int>::max();
  if (d4[0] > kMaxDim || d4[1] > kMaxDim || d4[2] > kMaxDim) return Status::out_of_range("NIfTI dimension too large");
  const auto vox = static_cast<std::size_t>(d4[0] * d4[1] * d4[2]);
  if (vox > kMaxVolumeBytes / sizeof(float)) {
    return Status::out_of_range("NIfTI volume is larger than 2 GiB of floats; refusing to load it");
  }
  const double slope = (nim->scl_slope != 0.0 && std::isfinite(nim->scl_slope)) ? nim->scl_slope : 1.0;
  const double inter = std::isfinite(nim->scl_inter) ? nim->scl_inter : 0.0;
  Volume v;
  v.nx = static_cast<int>(d4[0]);
  v.ny = static_cast<int>(d4[1]);
  v.nz = static_cast<int>(d4[2]);
  const double pix[3] = {static_cast<double>(nim->dx), static_cast<double>(nim->dy), static_cast<double>(nim->dz)};
  for (std::size_t a = 0; a < 3; ++a) v.spacing[a] = std::isfinite(pix[a]) ? std::abs(pix[a]) : 0.0;
  v.values.resize(vox);
  const std::size_t base = static_cast<std::size_t>(volume) * vox;
  for (std::size_t i = 0; i < vox; ++i) {
    HEAL_ASSIGN_OR_RETURN(double x, voxel(nim.get(), base + i));
    v.values[i] = static_cast<float>(std::isfinite(x) ? x * slope + inter : std::numeric_limits<double>::quiet_NaN());
  }
  return v;
}

}  // namespace heal::io
