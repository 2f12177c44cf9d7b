// io::Image: one decoded medical image as normalised floats, whatever file it came from.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"

namespace heal::io {

/// Pixels in [0, 1] (after any modality-specific windowing), planar channel-major layout:
/// pixels[c * height * width + y * width + x].
struct Image {
  int width = 0;
  int height = 0;
  int channels = 1;
  int original_width = 0;   // size in the source file, before any resize
  int original_height = 0;
  std::vector<float> pixels;

  float at(int c, int y, int x) const { return pixels[(static_cast<std::size_t>(c) * height + y) * width + x]; }
  std::size_t size() const { return pixels.size(); }
};

/// File formats recognised by their magic bytes (never by extension).
enum class ImageFormat { kUnknown, kPng, kJpeg, kDicom, kNifti, kNiftiGz, kNpy, kZip };
/// "PNG", "JPEG", "DICOM", "NIfTI", "NIfTI (gzip)", "npy", "zip/npz", "unknown".
const char* image_format_name(ImageFormat f);
/// Format from the first bytes of a file (at least 352 for NIfTI-1, 132 for DICOM; a DICOM data set
/// without preamble and meta header is recognised by its first element, see image.cpp).
ImageFormat detect_format(std::span<const std::uint8_t> head);
/// Reads the first bytes of `path` and detects its format (NotFound / IoError on failure).
Result<ImageFormat> detect_file_format(const std::string& path);

/// How a DICOM image's stored values become [0, 1] pixels (see heal/io/dicom.h).
struct DicomWindow {
  enum class Kind {
    kFile,     // the file's first VOI window (Window Center/Width) if it has one, else min/max
    kMinMax,   // min/max of the frame's modality values (the old behaviour for files without a window)
    kExplicit  // center/width in modality units (Hounsfield units for CT), e.g. a named preset
  };
  Kind kind = Kind::kFile;
  double center = 0.0;
  double width = 0.0;
};

/// DICOM-specific decoding options; ignored for other formats.
struct DicomOptions {
  DicomWindow window;
  int frame = 0;            // frame of a multi-frame image (0-based)
  double spacing_mm = 0.0;  // > 0: resample to this pixel spacing (mm) using Pixel Spacing; 0: native grid
};

/// Options applied after decoding.
struct ImageOptions {
  int resize_width = 0;   // 0: keep the native size (both must be set to resize)
  int resize_height = 0;
  bool grayscale = false;  // colour -> one channel (Rec. 601 luma), alpha dropped
  DicomOptions dicom;
};

/// Decodes PNG, JPEG, DICOM or NIfTI (middle slice along axis 2), dispatching on magic bytes.
/// Unsupported with a clear message for a file that is no image HEAL reads.
Result<Image> load_image(const std::string& path, const ImageOptions& opts = {});
/// PNG from memory (classic libpng with setjmp; 1/2/3/4 channels, 8 or 16 bits, no gamma change).
Result<Image> decode_png(std::span<const std::uint8_t> bytes);
/// A label map: one byte per pixel, row-major (segmentation masks).
struct LabelMap {
  int width = 0;
  int height = 0;
  bool palette = false;  ///< values are palette indices (else grey levels)
  std::vector<std::uint8_t> labels;
};
/// A palette or 8-bit (or less) greyscale PNG as stored: palette indices or grey values, not
/// expanded to colours (Corruption for colour or 16-bit PNGs, or a damaged stream).
Result<LabelMap> decode_png_labels(std::span<const std::uint8_t> bytes);
/// JPEG from memory (libjpeg-turbo); a truncated or damaged stream is Corruption, not grey fill.
Result<Image> decode_jpeg(std::span<const std::uint8_t> bytes);
/// DICOM (DCMTK); see heal/io/dicom.h for the options and what is decoded.
Result<Image> load_dicom(const std::string& path, const DicomOptions& opts = {});

/// Writes an 8-bit PNG (1, 2, 3 or 4 channels) of the image clamped to [0, 1].
Status save_png(const Image& img, const std::string& path);

/// Resized copy: area averaging along an axis that shrinks, bilinear (pixel centres) along one
/// that grows. Keeps original_width/height.
Image resize(const Image& img, int width, int height);
/// One-channel copy: luma 0.299 R + 0.587 G + 0.114 B for 3/4 channels, first channel for 2.
Image to_grayscale(const Image& img);
/// Applies ImageOptions (grayscale first, then resize).
Image apply_options(Image img, const ImageOptions& opts);

}  // namespace heal::io
