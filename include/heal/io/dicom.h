// DICOM as hospitals store it: decoding (DCMTK with its codecs; JPEG 2000 through OpenJPEG), physical
// units (modality rescale: Hounsfield units for CT), windowing, pixel spacing and header facts.
//
// Privacy rule of this header: nothing here returns a patient identifier. DicomInfo carries only
// technical attributes and the instance/series/study UIDs, which callers use for grouping and
// never print (see docs/dicom.md).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/image.h"

namespace heal::io {

/// Named window presets in Hounsfield units (center, width): "lung" (-600, 1500), "mediastinum"
/// (50, 350), "bone" (400, 1800), "brain" (40, 80), "abdomen" (40, 400); also "file" (the file's
/// own window, else min/max), "minmax", and "C,W" or "C:W" with numbers. InvalidArgument otherwise.
Result<DicomWindow> parse_dicom_window(const std::string& spec);

/// Technical header facts of one DICOM object (no patient identifiers).
struct DicomInfo {
  std::string sop_instance_uid;
  std::string series_instance_uid;
  std::string study_instance_uid;
  std::string modality;            // e.g. "CT"
  std::string photometric;         // e.g. "MONOCHROME2", "RGB", "YBR_FULL_422", "PALETTE COLOR"
  std::string transfer_syntax;     // UID
  int rows = 0;
  int columns = 0;
  int frames = 1;
  int samples_per_pixel = 1;
  int bits_allocated = 0;
  int bits_stored = 0;
  int high_bit = 0;
  int pixel_representation = 0;    // 0 unsigned, 1 two's complement
  int planar_configuration = 0;
  double rescale_slope = 1.0;
  double rescale_intercept = 0.0;
  std::vector<std::array<double, 2>> windows;      // (center, width) pairs in the file
  double row_spacing_mm = 0.0;                     // Pixel Spacing (0: absent)
  double column_spacing_mm = 0.0;
  // Geometry as stored, possibly non-finite (callers check; series refuse NaN/inf positions).
  std::optional<std::array<double, 3>> image_position;     // Image Position (Patient)
  std::optional<std::array<double, 6>> image_orientation;  // Image Orientation (Patient)
  std::optional<int> instance_number;
  bool has_pixel_data = false;
};

/// Header facts of a file / of bytes, without decoding the pixels.
Result<DicomInfo> read_dicom_info(const std::string& path);
Result<DicomInfo> read_dicom_info_bytes(std::span<const std::uint8_t> bytes);

/// Decodes a DICOM object held in memory (e.g. retrieved from a PACS), as load_dicom does a file.
Result<Image> decode_dicom(std::span<const std::uint8_t> bytes, const DicomOptions& opts = {});

/// Every frame of a (multi-frame) DICOM object, each rendered as load_dicom renders
/// DicomOptions::frame (opts.frame is ignored; window and spacing apply to each frame).
Result<std::vector<Image>> load_dicom_frames(const std::string& path, const DicomOptions& opts = {});
Result<std::vector<Image>> decode_dicom_frames(std::span<const std::uint8_t> bytes, const DicomOptions& opts = {});

/// One frame in modality units (rescale slope/intercept applied: Hounsfield units for CT), before
/// any windowing; colour images as 3 planar channels of their RGB values. `frame` is 0-based.
struct DicomValues {
  int width = 0;
  int height = 0;
  int channels = 1;
  std::vector<float> values;
};
/// Monochrome: stored values (Bits Stored bits at High Bit, sign-extended for Pixel Representation 1)
/// times Rescale Slope plus Rescale Intercept, in double then float. Colour: RGB after DCMTK's
/// colour model (YBR_* to RGB, PALETTE COLOR looked up), 0..255 when Bits Stored <= 8, else 0..65535.
/// Unsupported for a Modality LUT Sequence; InvalidArgument for a frame out of range.
Result<DicomValues> load_dicom_values(const std::string& path, int frame = 0);
Result<DicomValues> decode_dicom_values(std::span<const std::uint8_t> bytes, int frame = 0);

}  // namespace heal::io
