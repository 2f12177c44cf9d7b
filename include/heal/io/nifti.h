// NIfTI-1/2 volumes (.nii, .nii.gz) via nifti2_io: header summary and 2D slices as io::Image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/image.h"

namespace heal::io {

/// Geometry of a NIfTI file.
struct NiftiInfo {
  int ndim = 0;                     // 2, 3 or 4 (dims above 4 are refused)
  std::vector<std::int64_t> dims;   // nx, ny, nz, nt (missing ones are 1)
  std::string datatype;             // e.g. "INT16", "FLOAT32"
  double scl_slope = 1.0, scl_inter = 0.0;
};

/// Reads only the header.
Result<NiftiInfo> read_nifti_info(const std::string& path);

/// Number of 2D slices along `axis` (0, 1 or 2) of the first volume.
Result<std::int64_t> nifti_slice_count(const std::string& path, int axis);

/// Slice `index` along `axis` (0: x, 1: y, 2: z) of volume `volume` (4D time index).
/// Intensities are scaled by scl_slope/scl_inter, then mapped to [0, 1] with the min/max of the
/// whole volume, so slices of one volume are comparable. Slice axes: axis 2 -> (x, y) with
/// width nx; axis 1 -> (x, z); axis 0 -> (y, z).
Result<Image> load_nifti_slice(const std::string& path, int axis, std::int64_t index, std::int64_t volume = 0);

}  // namespace heal::io
