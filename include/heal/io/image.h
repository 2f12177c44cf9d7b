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
/// Format from the first bytes of a file (at least 352 for NIfTI-1, 132 for DICOM).
ImageFormat detect_format(std::span<const std::uint8_t> head);
/// Reads the first bytes of `path` and detects its format (NotFound / IoError on failure).
Result<ImageFormat> detect_file_format(const std::string& path);

/// Options applied after decoding.
struct ImageOptions {
  int resize_width = 0;   // 0: keep the native size (both must be set to resize)
  int resize_height = 0;
  bool grayscale = false;  // colour -> one channel (Rec. 601 luma), alpha dropped
};

/// Decodes PNG, JPEG, DICOM or NIfTI (middle slice along axis 2), dispatching on magic bytes.
/// Unsupported with a clear message for a file that is no image HEAL reads.
Result<Image> load_image(const std::string& path, const ImageOptions& opts = {});
/// PNG from memory (classic libpng with setjmp; 1/2/3/4 channels, 8 or 16 bits, no gamma change).
Result<Image> decode_png(std::span<const std::uint8_t> bytes);
/// JPEG from memory (libjpeg-turbo); a truncated or damaged stream is Corruption, not grey fill.
Result<Image> decode_jpeg(std::span<const std::uint8_t> bytes);
/// DICOM (DCMTK), first frame of a multi-frame file: modality rescale, first VOI window in the file else min/max, MONOCHROME1
/// inverted so that higher output is brighter; Unsupported for compressed transfer syntaxes.
Result<Image> load_dicom(const std::string& path);

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
