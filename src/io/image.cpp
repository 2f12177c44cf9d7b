// Format detection by magic bytes, load_image dispatch, resizing and grayscale conversion.
#include "heal/io/image.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "heal/core/bytes.h"
#include "heal/core/check.h"
#include "heal/io/nifti.h"

namespace heal::io {

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kDicom: return "DICOM";
    case ImageFormat::kNifti: return "NIfTI";
    case ImageFormat::kNiftiGz: return "NIfTI (gzip)";
    case ImageFormat::kNpy: return "npy";
    case ImageFormat::kZip: return "zip/npz";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

namespace {
bool starts_with(std::span<const std::uint8_t> b, const char* m, std::size_t n, std::size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, m, n) == 0;
}
std::int32_t le32(std::span<const std::uint8_t> b, std::size_t at) {
  std::int32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
std::int32_t bswap32(std::int32_t v) {
  auto u = static_cast<std::uint32_t>(v);
  u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
  return static_cast<std::int32_t>(u);
}

// A DICOM data set written without the 128-byte preamble and meta header (PS3.10 7.1 not
// followed, as some exports do): the first element is (0002,eeee) or (0008,eeee) little endian
// (file meta or identifying group, e.g. Specific Character Set, Image Type, SOP Class UID), then an
// explicit VR the group allows, or an implicit even length under 1024.
bool is_headerless_dicom(std::span<const std::uint8_t> b) {
  if (b.size() < 16) return false;
  const unsigned group = b[0] | (b[1] << 8);
  const unsigned elem = b[2] | (b[3] << 8);
  if (!((group == 0x0002 && elem <= 0x0102) || (group == 0x0008 && elem <= 0x1250))) return false;
  static const char* kVr[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "OB", "PN",
                              "SH", "SQ", "ST", "TM", "UI", "UL", "US", "UN", "UT", "UC", "UR"};
  for (const char* vr : kVr) {
    if (b[4] == static_cast<std::uint8_t>(vr[0]) && b[5] == static_cast<std::uint8_t>(vr[1])) return true;
  }
  const auto len = static_cast<std::uint32_t>(le32(b, 4));
  return len < 1024 && len % 2 == 0;
}
}  // namespace

ImageFormat detect_format(std::span<const std::uint8_t> b) {
  if (starts_with(b, "\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (starts_with(b, "\xff\xd8\xff", 3)) return ImageFormat::kJpeg;
  if (starts_with(b, "DICM", 4, 128)) return ImageFormat::kDicom;
  if (starts_with(b, "\x93NUMPY", 6)) return ImageFormat::kNpy;
  if (starts_with(b, "PK\x03\x04", 4) || starts_with(b, "PK\x05\x06", 4)) return ImageFormat::kZip;
  if (starts_with(b, "\x1f\x8b", 2)) return ImageFormat::kNiftiGz;  // gzip: only NIfTI is read gzipped
  if (b.size() >= 348) {
    const std::int32_t h = le32(b, 0);
    if ((h == 348 || bswap32(h) == 348) && (starts_with(b, "n+1\0", 4, 344) || starts_with(b, "ni1\0", 4, 344))) {
      return ImageFormat::kNifti;
    }
    if ((h == 540 || bswap32(h) == 540) && (starts_with(b, "n+2\0", 4, 4) || starts_with(b, "ni2\0", 4, 4))) {
      return ImageFormat::kNifti;
    }
  }
  if (is_headerless_dicom(b)) return ImageFormat::kDicom;
  return ImageFormat::kUnknown;
}

Result<ImageFormat> detect_file_format(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::not_found("cannot open '" + path + "'");
  std::uint8_t head[560] = {};
  f.read(reinterpret_cast<char*>(head), sizeof(head));
  const auto n = static_cast<std::size_t>(f.gcount());
  return detect_format(std::span<const std::uint8_t>(head, n));
}

Result<Image> load_image(const std::string& path, const ImageOptions& opts) {
  HEAL_ASSIGN_OR_RETURN(ImageFormat fmt, detect_file_format(path));
  Result<Image> img = Status::internal("unset");
  switch (fmt) {
    case ImageFormat::kPng:
    case ImageFormat::kJpeg: {
      HEAL_ASSIGN_OR_RETURN(Bytes b, read_file(path, std::size_t{1} << 30));
      img = fmt == ImageFormat::kPng ? decode_png(b) : decode_jpeg(b);
      break;
    }
    case ImageFormat::kDicom: img = load_dicom(path, opts.dicom); break;
    case ImageFormat::kNifti:
    case ImageFormat::kNiftiGz: {
      HEAL_ASSIGN_OR_RETURN(std::int64_t nz, nifti_slice_count(path, 2));
      img = load_nifti_slice(path, 2, nz / 2);
      break;
    }
    default:
      return Status::unsupported("'" + path + "' is not an image HEAL can read (detected: " +
                                 image_format_name(fmt) + "; supported: PNG, JPEG, DICOM, NIfTI)");
  }
  if (!img.ok()) return img.status().with_context(path);
  return apply_options(std::move(img).value(), opts);
}

namespace {
// 1D resampling taps: for each output index, (first source index, weights...).
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> w;  // count[i] weights for output i, stored back to back
  std::vector<std::size_t> off;
};

Taps make_taps(int in, int out) {
  Taps t;
  t.first.resize(out);
  t.count.resize(out);
  t.off.resize(out);
  const double scale = static_cast<double>(in) / out;
  for (int o = 0; o < out; ++o) {
    t.off[o] = t.w.size();
    if (out < in) {  // area: average the source interval [o*scale, (o+1)*scale)
      const double a = o * scale, b = (o + 1) * scale;
      const int i0 = static_cast<int>(std::floor(a));
      const int i1 = std::min(in, static_cast<int>(std::ceil(b)));
      t.first[o] = i0;
      t.count[o] = i1 - i0;
      for (int i = i0; i < i1; ++i) {
        const double cover = std::min<double>(b, i + 1) - std::max<double>(a, i);
        t.w.push_back(static_cast<float>(cover / scale));
      }
    } else {  // bilinear between pixel centres, clamped at the borders
      const double x = std::clamp((o + 0.5) * scale - 0.5, 0.0, static_cast<double>(in - 1));
      const int i0 = static_cast<int>(std::floor(x));
      const int i1 = std::min(i0 + 1, in - 1);
      const double f = x - i0;
      t.first[o] = i0;
      t.count[o] = i1 > i0 ? 2 : 1;
      if (i1 > i0) {
        t.w.push_back(static_cast<float>(1.0 - f));
        t.w.push_back(static_cast<float>(f));
      } else {
        t.w.push_back(1.0f);
      }
    }
  }
  return t;
}
}  // namespace

Image resize(const Image& img, int width, int height) {
  HEAL_REQUIRE(width > 0 && height > 0, "resize: target size must be positive, got " << width << "x" << height);
  HEAL_REQUIRE(img.width > 0 && img.height > 0 && img.pixels.size() == static_cast<std::size_t>(img.channels) * img.width * img.height,
               "resize: image has inconsistent size");
  if (width == img.width && height == img.height) return img;
  const Taps tx = make_taps(img.width, width), ty = make_taps(img.height, height);
  Image out;
  out.width = width;
  out.height = height;
  out.channels = img.channels;
  out.original_width = img.original_width;
  out.original_height = img.original_height;
  out.pixels.assign(static_cast<std::size_t>(img.channels) * width * height, 0.0f);
  std::vector<float> row(static_cast<std::size_t>(width) * img.height);  // horizontal pass result
  for (int c = 0; c < img.channels; ++c) {
    const float* src = img.pixels.data() + static_cast<std::size_t>(c) * img.width * img.height;
    for (int y = 0; y < img.height; ++y) {
      const float* s = src + static_cast<std::size_t>(y) * img.width;
      for (int x = 0; x < width; ++x) {
        float acc = 0.0f;
        const float* w = tx.w.data() + tx.off[x];
        for (int k = 0; k < tx.count[x]; ++k) acc += w[k] * s[tx.first[x] + k];
        row[static_cast<std::size_t>(y) * width + x] = acc;
      }
    }
    float* dst = out.pixels.data() + static_cast<std::size_t>(c) * width * height;
    for (int y = 0; y < height; ++y) {
      const float* w = ty.w.data() + ty.off[y];
      float* d = dst + static_cast<std::size_t>(y) * width;
      for (int k = 0; k < ty.count[y]; ++k) {
        const float* s = row.data() + static_cast<std::size_t>(ty.first[y] + k) * width;
        for (int x = 0; x < width; ++x) d[x] += w[k] * s[x];
      }
      for (int x = 0; x < width; ++x) d[x] = std::clamp(d[x], 0.0f, 1.0f);
    }
  }
  return out;
}

Image to_grayscale(const Image& img) {
  if (img.channels == 1) return img;
  Image out = img;
  out.channels = 1;
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  out.pixels.assign(plane, 0.0f);
  if (img.channels >= 3) {
    const float* r = img.pixels.data();
    const float* g = r + plane;
    const float* b = g + plane;
    for (std::size_t i = 0; i < plane; ++i) out.pixels[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
  } else {
    std::copy(img.pixels.begin(), img.pixels.begin() + static_cast<std::ptrdiff_t>(plane), out.pixels.begin());
  }
  return out;
}

Image apply_options(Image img, const ImageOptions& opts) {
  if (opts.grayscale) img = to_grayscale(img);
  if (opts.resize_width > 0 && opts.resize_height > 0) img = resize(img, opts.resize_width, opts.resize_height);
  return img;
}

}  // namespace heal::io
