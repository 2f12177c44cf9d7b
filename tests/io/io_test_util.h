// Helpers for io tests: temporary folders and writers that build test files programmatically
// (.npy/.npz with libzip, JPEG with libjpeg). Nothing binary is committed.
#pragma once

#include <zip.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <jpeglib.h>

#include "heal/core/bytes.h"
#include "testing/temp_dir.h"

namespace heal::io::testing {

/// A fresh directory under the system temp dir, removed on destruction.
struct TempDir : ::heal::testing::TempDir {
  TempDir() : ::heal::testing::TempDir("heal-io-test") {}
};

/// A .npy file: magic, version, padded header dict, payload.
inline Bytes make_npy(const std::string& descr, const std::string& shape, const Bytes& payload, bool fortran = false,
                      int major = 1) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict.push_back(' ');
  dict.push_back('\n');
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const auto len = static_cast<std::uint32_t>(dict.size());
  b.push_back(static_cast<std::uint8_t>(len & 0xff));
  b.push_back(static_cast<std::uint8_t>((len >> 8) & 0xff));
  if (major != 1) {
    b.push_back(static_cast<std::uint8_t>((len >> 16) & 0xff));
    b.push_back(static_cast<std::uint8_t>(len >> 24));
  }
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

/// Writes a zip (deflated members) at `path` and returns its bytes.
inline Bytes make_zip(const std::string& path, const std::map<std::string, Bytes>& members) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) return {};
  for (const auto& [name, data] : members) {
    zip_source_t* s = zip_source_buffer(z, data.data(), data.size(), 0);
    const zip_int64_t idx = zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_DEFLATE, 6);
  }
  zip_close(z);
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

/// Writes an 8-bit JPEG (1 or 3 interleaved channels).
inline void write_jpeg(const std::string& path, int w, int h, int channels, const std::vector<std::uint8_t>& px,
                       int quality = 95) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("write_jpeg: cannot create " + path);
  jpeg_compress_struct ci;
  jpeg_error_mgr jerr;
  ci.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&ci);
  jpeg_stdio_dest(&ci, f);
  ci.image_width = static_cast<JDIMENSION>(w);
  ci.image_height = static_cast<JDIMENSION>(h);
  ci.input_components = channels;
  ci.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, quality, TRUE);
  jpeg_start_compress(&ci, TRUE);
  while (ci.next_scanline < ci.image_height) {
    auto* row = const_cast<JSAMPLE*>(px.data() + static_cast<std::size_t>(ci.next_scanline) * w * channels);
    jpeg_write_scanlines(&ci, &row, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  std::fclose(f);
}

template <typename T>
Bytes le_bytes(const std::vector<T>& v) {
  Bytes b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace heal::io::testing
