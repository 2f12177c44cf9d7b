// Volumes: DICOM series (one slice per file) and NIfTI files as 3-D arrays in modality units
// (Hounsfield units for CT); series discovery in a directory, windowing of one slice, and the
// slice selection shared by DICOM series and NIfTI volumes (see docs/dicom-series.md).
//
// Privacy: like heal/io/dicom.h, nothing here carries a patient identifier. DicomSeries::uid is the
// Series Instance UID, used for grouping; the CLI does not print it unless asked (--uids).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/image.h"

namespace heal::io {

/// A 3-D scalar volume in modality units (CT: Hounsfield units), x fastest:
/// values[x + nx * (y + ny * z)]. x runs along a row (columns), y down the rows, z over slices
/// (DICOM series: increasing position along the slice normal; NIfTI: the k index).
struct Volume {
  int nx = 0, ny = 0, nz = 0;
  /// Voxel size in mm (x: column spacing, y: row spacing, z: slice spacing); 0 where unknown.
  std::array<double, 3> spacing{0.0, 0.0, 0.0};
  std::vector<float> values;
  /// DICOM: the first slice's first (center, width) window, used by DicomWindow::Kind::kFile.
  std::optional<std::array<double, 2>> file_window;
  bool invert = false;   // MONOCHROME1: higher values display darker (as load_dicom renders them)
  std::string modality;  // DICOM Modality ("CT", ...); empty for NIfTI

  std::size_t slice_size() const { return static_cast<std::size_t>(nx) * static_cast<std::size_t>(ny); }
  float at(int x, int y, int z) const {
    return values[static_cast<std::size_t>(z) * slice_size() + static_cast<std::size_t>(y) * nx + x];
  }
};

/// One DICOM series found by scan_dicom_series. A series with a non-empty `error` is listed (so a
/// user sees why) but refused by load_dicom_volume.
struct DicomSeries {
  enum class Order {
    kPosition,        // Image Position (Patient) projected on the normal of Image Orientation (Patient)
    kInstanceNumber,  // fallback: positions/orientation absent in some file
    kFileName         // fallback: instance numbers absent or repeated as well
  };
  std::string uid;  // Series Instance UID (grouping key; not printed by the CLI unless asked)
  std::string modality;
  int rows = 0, columns = 0;
  double row_spacing_mm = 0.0, column_spacing_mm = 0.0;  // Pixel Spacing (0: absent)
  double slice_spacing_mm = 0.0;  // median step between consecutive positions (0: unknown)
  Order order = Order::kPosition;
  std::vector<std::string> files;     // one file per slice, in slice order
  std::vector<std::string> warnings;  // irregular but loadable: gaps, uneven spacing, fallback ordering
  std::string error;                  // non-empty: inconsistent series, cannot become a volume (why)

  std::size_t slices() const { return files.size(); }
  bool usable() const { return error.empty(); }
};
/// "position", "instance-number", "file-name".
const char* series_order_name(DicomSeries::Order o);

/// What a directory holds.
struct SeriesScan {
  std::vector<DicomSeries> series;    // in order of their first file's path
  std::size_t dicom_files = 0;        // DICOM files read (headers only)
  std::size_t other_files = 0;        // files that are not DICOM (by magic bytes), skipped
  std::vector<std::string> skipped;   // "file: why" for DICOM files that are no slice (no pixels, unreadable)
};

struct SeriesScanOptions {
  std::size_t max_files = 200000;  // refuse directories with more files than this (OutOfRange)
  int max_depth = 32;              // sub-folder depth walked below `dir`
};

/// Walks `dir` recursively (symbolic links to folders are not followed; hidden entries are skipped),
/// reads the headers of DICOM files only, groups them by Series Instance UID and orders each series.
/// NotFound if `dir` is no directory. Inconsistent series are reported in DicomSeries::error.
Result<SeriesScan> scan_dicom_series(const std::string& dir, const SeriesScanOptions& opts = {});

/// The slices of a usable series as a volume in modality units (InvalidArgument for an inconsistent one).
Result<Volume> load_dicom_volume(const DicomSeries& series);
/// The single usable series under `dir` (InvalidArgument if it holds none or several).
Result<Volume> load_dicom_series_volume(const std::string& dir);
/// A NIfTI file's volume `volume` (4-D time index) with scl_slope/scl_inter applied; spacing from pixdim.
Result<Volume> load_nifti_volume(const std::string& path, std::int64_t volume = 0);
/// A volume from a NIfTI file or from a directory holding exactly one DICOM series.
Result<Volume> load_volume(const std::string& path);
/// True for a NIfTI file or a directory with at least one DICOM file (anywhere below it).
bool is_volume_path(const std::string& path);

/// DICOM PS3.3 C.11.2.1.2.1 linear VOI function onto [0, 1] (the formula DCMTK's dcmimgle uses):
/// 0 if x <= c - 0.5 - (w - 1) / 2, 1 if x > c - 0.5 + (w - 1) / 2, else (x - (c - 0.5)) / (w - 1) + 0.5.
double voi_linear(double x, double center, double width);

/// Slice z windowed to [0, 1] as a one-channel Image (width nx, height ny). kExplicit: voi_linear with
/// the window's center/width (width >= 1); kFile: the volume's file window, else as kMinMax;
/// kMinMax: (v - min) / (max - min) over the whole volume, so slices of one volume are comparable.
/// Non-finite values become 0; MONOCHROME1 volumes are inverted (1 - y), as load_dicom does.
Result<Image> window_slice(const Volume& v, int z, const DicomWindow& window);

/// Which slices of a volume become 2-D images.
struct SliceSelection {
  enum class Kind {
    kAuto,    // middle slice of a NIfTI file (the behaviour before volumes), every slice of a DICOM series
    kAll,
    kEvery,   // slices 0, step, 2 step, ...
    kMiddle,  // slice nz / 2
    kMask     // slices where the mask volume (same grid) has a non-zero voxel
  };
  Kind kind = Kind::kAuto;
  int step = 1;      // kEvery
  std::string mask;  // kMask: a NIfTI file or DICOM series folder; for datasets a folder mirroring the dataset
};
/// "auto", "all", "middle", "every:K" (K >= 1), "mask:PATH"; InvalidArgument with the accepted forms otherwise.
Result<SliceSelection> parse_slice_selection(const std::string& spec);
/// The spec string parse_slice_selection reads back.
std::string slice_selection_name(const SliceSelection& sel);

/// Ascending indices of the slices `sel` picks from a volume of `dims` (nx, ny, nz). kAuto resolves to
/// kAll when `is_series`, else kMiddle. kMask needs `mask` with the same dims (InvalidArgument otherwise);
/// a mask with no non-zero voxel selects nothing.
Result<std::vector<int>> select_slices(const SliceSelection& sel, std::array<int, 3> dims, const Volume* mask,
                                       bool is_series);

/// The selected slices of the volume at `path` (NIfTI file or DICOM series folder), windowed.
/// `mask_path` is the mask volume for kMask (empty: sel.mask). Masks must share the volume's grid
/// (dims, and spacing where both are known).
Result<std::vector<Image>> load_volume_slices(const std::string& path, const SliceSelection& sel,
                                              const DicomWindow& window = {}, const std::string& mask_path = "");

}  // namespace heal::io
