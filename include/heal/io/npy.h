// NumPy `.npy` arrays and `.npz` archives read from memory, validated like any outside bytes.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"

namespace heal::io {

/// Element kind of a numeric `.npy` array ('b' bool, 'u' unsigned, 'i' signed, 'f' float).
enum class NpyKind { kBool, kUnsigned, kSigned, kFloat };

/// Parsed `.npy` header.
struct NpyHeader {
  int major_version = 1;
  std::string descr;               // as written, e.g. "|u1", "<f4"
  NpyKind kind = NpyKind::kUnsigned;
  int item_size = 1;               // bytes per element: 1, 2, 4 or 8
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;  // () for a scalar
  std::uint64_t count = 1;         // product of shape
  std::size_t data_offset = 0;     // where the raw data starts in the file
};

/// A `.npy` file: its header and a view of its raw data bytes (count * item_size, validated).
struct NpyArray {
  NpyHeader header;
  std::span<const std::uint8_t> data;  // points into the parsed buffer; keep it alive
};

/// Parses and validates a `.npy` file held in memory: magic, version 1.0/2.0/3.0, the Python
/// dict header ('descr', 'fortran_order', 'shape'), and that the data is exactly
/// count * item_size bytes. Corruption / Unsupported on anything else; never reads out of bounds.
Result<NpyArray> parse_npy(std::span<const std::uint8_t> bytes);

/// Parses just the header text (the dict literal) into `h` (descr, fortran_order, shape, count).
Status parse_npy_header_dict(std::string_view text, NpyHeader* h);

/// Elements as doubles in C (row-major) order, whatever the dtype, byte order and memory order.
std::vector<double> npy_to_doubles(const NpyArray& a);

/// An in-memory `.npz` (zip) archive opened with libzip; members are inflated on demand.
class NpzArchive {
 public:
  /// Opens an archive from bytes (kept inside the object). Corruption if it is not a valid zip.
  static Result<NpzArchive> from_bytes(Bytes bytes);
  /// Reads the whole file, then as from_bytes.
  static Result<NpzArchive> from_file(const std::string& path);

  NpzArchive(NpzArchive&&) noexcept;
  NpzArchive& operator=(NpzArchive&&) noexcept;
  ~NpzArchive();

  /// Member names in archive order, e.g. "train_images.npy".
  const std::vector<std::string>& members() const { return names_; }
  bool has(const std::string& member) const;
  /// Inflates one member, checking its CRC and refusing sizes above `max_bytes` or sizes the
  /// compressed data cannot hold (zip bombs, lying headers). NotFound if absent.
  Result<Bytes> read(const std::string& member, std::uint64_t max_bytes = std::uint64_t{1} << 32) const;

 private:
  struct Impl;
  explicit NpzArchive(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> names_;
};

}  // namespace heal::io
