// PNG (libpng, classic API) and JPEG (libjpeg-turbo) decoding from memory.
//
// Both libraries report fatal errors by longjmp. The functions that call setjmp hold only
// trivially destructible locals that are not modified after setjmp; every buffer lives in a
// caller-owned state struct reached through a pointer, so a longjmp never skips a destructor.
#include <cstddef>
#include <cstdio>  // jpeglib.h needs size_t and FILE declared first

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <memory>

#include "heal/io/image.h"

namespace heal::io {
namespace {

constexpr std::uint64_t kMaxPixelBytes = std::uint64_t{1} << 30;
// Largest output a compressed stream of n bytes may claim before we allocate (deflate and
// Huffman-coded JPEG cannot expand beyond roughly 1000:1; allow slack for headers).
std::uint64_t plausible_output(std::size_t n) { return static_cast<std::uint64_t>(n) * 2048 + (1u << 20); }

Image planar_from_interleaved(const std::uint8_t* buf, int w, int h, int ch, int bytes_per_sample) {
  Image img;
  img.width = img.original_width = w;
  img.height = img.original_height = h;
  img.channels = ch;
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  img.pixels.resize(plane * ch);
  const float scale = bytes_per_sample == 2 ? 1.0f / 65535.0f : 1.0f / 255.0f;
  for (std::size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < ch; ++c) {
      const std::size_t s = (i * ch + c) * bytes_per_sample;
      const unsigned v = bytes_per_sample == 2 ? (unsigned{buf[s]} << 8 | buf[s + 1]) : buf[s];  // PNG is big-endian
      img.pixels[c * plane + i] = static_cast<float>(v) * scale;
    }
  }
  return img;
}

// ---------------------------------------------------------------- PNG
struct PngState {
  std::span<const std::uint8_t> in;
  std::size_t pos = 0;
  char msg[256] = {};
  std::vector<std::uint8_t> buf;
  std::vector<png_bytep> rows;
  png_uint_32 width = 0, height = 0;
  int channels = 0, bit_depth = 0;
  bool labels = false;  // keep palette indices (label maps) instead of expanding to RGB
  int color_type = 0;   // of the file, before any transformation
};

void png_on_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(st->msg, sizeof(st->msg), "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}

void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
  auto* st = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > st->in.size() - st->pos) png_error(png, "truncated PNG: unexpected end of data");
  std::memcpy(out, st->in.data() + st->pos, n);
  st->pos += n;
}

// Returns false (with st->msg) on any libpng error.
bool png_decode_into(PngState* st) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, st, png_on_error, png_on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, st, png_read_mem);
  png_set_user_limits(png, 1u << 16, 1u << 16);
  png_set_chunk_malloc_max(png, 64u << 20);
  png_read_info(png, info);
  st->color_type = png_get_color_type(png, info);
  if (st->labels) {
    // Label map: palette indices or grey values as they are, one byte per pixel.
    if (st->color_type != PNG_COLOR_TYPE_PALETTE && st->color_type != PNG_COLOR_TYPE_GRAY) {
      png_error(png, "a label map must be a palette or greyscale PNG");
    }
    if (png_get_bit_depth(png, info) == 16) png_error(png, "a label map must have at most 8 bits per pixel");
    if (png_get_bit_depth(png, info) < 8) png_set_packing(png);  // indices/values kept, one per byte
  } else {
    png_set_expand(png);  // palette -> RGB, grey < 8 bits -> 8 bits, tRNS -> alpha
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  st->width = png_get_image_width(png, info);
  st->height = png_get_image_height(png, info);
  st->channels = png_get_channels(png, info);
  st->bit_depth = png_get_bit_depth(png, info);
  const std::uint64_t rowbytes = png_get_rowbytes(png, info);
  const std::uint64_t total = rowbytes * st->height;
  if (total == 0 || total > kMaxPixelBytes || total > plausible_output(st->in.size())) {
    png_error(png, "PNG dimensions are absurd for the file size");
  }
  st->buf.resize(static_cast<std::size_t>(total));
  st->rows.resize(st->height);
  for (png_uint_32 y = 0; y < st->height; ++y) st->rows[y] = st->buf.data() + y * rowbytes;
  png_read_image(png, st->rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// ---------------------------------------------------------------- JPEG
struct JpegErr {
  jpeg_error_mgr pub;
  std::jmp_buf jb;
  char msg[JMSG_LENGTH_MAX] = {};
  int warnings = 0;
};

void jpeg_on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegErr*>(c->err);
  (*c->err->format_message)(c, e->msg);
  std::longjmp(e->jb, 1);
}
void jpeg_on_message(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  // Benign warnings that real files often carry; every other warning means damaged data that
  // libjpeg would silently fill with grey (e.g. "Premature end of JPEG file").
  const int code = c->err->msg_code;
  if (code == JWRN_EXTRANEOUS_DATA || code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM) return;
  auto* e = reinterpret_cast<JpegErr*>(c->err);
  if (e->warnings++ == 0) (*c->err->format_message)(c, e->msg);  // keep the first warning
}

struct JpegState {
  std::span<const std::uint8_t> in;
  JpegErr err;
  jpeg_decompress_struct cinfo;
  std::vector<std::uint8_t> buf;
  int width = 0, height = 0, channels = 0;
  bool unsupported = false;
};

bool jpeg_decode_into(JpegState* st) {
  j_decompress_ptr ci = &st->cinfo;
  ci->err = jpeg_std_error(&st->err.pub);
  st->err.pub.error_exit = jpeg_on_error;
  st->err.pub.emit_message = jpeg_on_message;
  jpeg_create_decompress(ci);
  if (setjmp(st->err.jb)) {
    jpeg_destroy_decompress(ci);
    return false;
  }
  jpeg_mem_src(ci, st->in.data(), static_cast<unsigned long>(st->in.size()));
  jpeg_read_header(ci, TRUE);
  if (ci->jpeg_color_space == JCS_GRAYSCALE) {
    ci->out_color_space = JCS_GRAYSCALE;
  } else if (ci->jpeg_color_space == JCS_YCbCr || ci->jpeg_color_space == JCS_RGB) {
    ci->out_color_space = JCS_RGB;
  } else {
    std::snprintf(st->err.msg, sizeof(st->err.msg), "JPEG colour space %d (CMYK/YCCK) is not supported",
                  static_cast<int>(ci->jpeg_color_space));
    st->unsupported = true;
    jpeg_destroy_decompress(ci);
    return false;
  }
  jpeg_start_decompress(ci);
  st->width = static_cast<int>(ci->output_width);
  st->height = static_cast<int>(ci->output_height);
  st->channels = ci->output_components;
  const std::uint64_t stride = static_cast<std::uint64_t>(ci->output_width) * ci->output_components;
  const std::uint64_t total = stride * ci->output_height;
  if (total == 0 || total > kMaxPixelBytes || total > plausible_output(st->in.size())) {
    std::snprintf(st->err.msg, sizeof(st->err.msg), "JPEG dimensions %ux%u are absurd for a %zu-byte file",
                  ci->output_width, ci->output_height, st->in.size());
    jpeg_destroy_decompress(ci);
    return false;
  }
  st->buf.resize(static_cast<std::size_t>(total));
  while (ci->output_scanline < ci->output_height) {
    JSAMPROW row = st->buf.data() + ci->output_scanline * stride;
    jpeg_read_scanlines(ci, &row, 1);
  }
  jpeg_finish_decompress(ci);
  jpeg_destroy_decompress(ci);
  return true;
}

}  // namespace

Result<Image> decode_png(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0) return Status::corruption("not a PNG (bad signature)");
  auto st = std::make_unique<PngState>();
  st->in = bytes;
  if (!png_decode_into(st.get())) {
    return Status::corruption(std::string("PNG decoding failed: ") + (st->msg[0] ? st->msg : "out of memory"));
  }
  const int bps = st->bit_depth == 16 ? 2 : 1;
  return planar_from_interleaved(st->buf.data(), static_cast<int>(st->width), static_cast<int>(st->height),
                                 st->channels, bps);
}

Result<LabelMap> decode_png_labels(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0) return Status::corruption("not a PNG (bad signature)");
  auto st = std::make_unique<PngState>();
  st->in = bytes;
  st->labels = true;
  if (!png_decode_into(st.get())) {
    return Status::corruption(std::string("PNG label map decoding failed: ") + (st->msg[0] ? st->msg : "out of memory"));
  }
  if (st->channels != 1) return Status::corruption("PNG label map: expected one channel");
  LabelMap m;
  m.width = static_cast<int>(st->width);
  m.height = static_cast<int>(st->height);
  m.palette = st->color_type == PNG_COLOR_TYPE_PALETTE;
  m.labels = std::move(st->buf);
  m.labels.resize(static_cast<std::size_t>(m.width) * m.height);  // rows are packed: rowbytes == width
  return m;
}

Result<Image> decode_jpeg(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 4 || bytes[0] != 0xff || bytes[1] != 0xd8) return Status::corruption("not a JPEG (no SOI marker)");
  auto st = std::make_unique<JpegState>();
  st->in = bytes;
  if (!jpeg_decode_into(st.get())) {
    if (st->unsupported) return Status::unsupported(st->err.msg);
    return Status::corruption(std::string("JPEG decoding failed: ") + st->err.msg);
  }
  if (st->err.warnings > 0) {  // libjpeg fills missing data with grey and only warns
    return Status::corruption(std::string("JPEG is damaged or truncated: ") + st->err.msg);
  }
  return planar_from_interleaved(st->buf.data(), st->width, st->height, st->channels, 1);
}

Status save_png(const Image& img, const std::string& path) {
  HEAL_RETURN_IF_ERROR(img.channels >= 1 && img.channels <= 4 && img.width > 0 && img.height > 0
                           ? Status{}
                           : Status::invalid_argument("save_png: need 1-4 channels and a non-empty image"));
  png_image pi;
  std::memset(&pi, 0, sizeof(pi));
  pi.version = PNG_IMAGE_VERSION;
  pi.width = static_cast<png_uint_32>(img.width);
  pi.height = static_cast<png_uint_32>(img.height);
  static constexpr png_uint_32 kFormats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
  pi.format = kFormats[img.channels - 1];
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  std::vector<std::uint8_t> buf(plane * img.channels);
  for (std::size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < img.channels; ++c) {
      const float v = std::min(1.0f, std::max(0.0f, img.pixels[c * plane + i]));
      buf[i * img.channels + c] = static_cast<std::uint8_t>(v * 255.0f + 0.5f);
    }
  }
  if (!png_image_write_to_file(&pi, path.c_str(), 0, buf.data(), 0, nullptr)) {
    return Status::io_error("cannot write PNG '" + path + "': " + pi.message);
  }
  return {};
}

}  // namespace heal::io
