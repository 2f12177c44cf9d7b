// NumPy `.npy` arrays and `.npz` archives read from memory, validated like any outside bytes.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
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

// ---------------------------------------------------------------------------------------------
// Writing

/// Encodes one `.npy` v1.0 array: little-endian `descr` ("<f4", "<i8" or "|u1" as written by the
/// overloads below), C order, `shape` (empty = a scalar). InvalidArgument if the product of
/// `shape` differs from the element count of `data` (`data.size() / item_size`) or `shape` has more
/// than 32 dimensions.
Result<Bytes> encode_npy(std::span<const float> data, const std::vector<std::uint64_t>& shape);
Result<Bytes> encode_npy(std::span<const std::int64_t> data, const std::vector<std::uint64_t>& shape);
Result<Bytes> encode_npy(std::span<const std::uint8_t> data, const std::vector<std::uint64_t>& shape);

/// Builds a `.npz` archive (what `np.savez` writes: one stored, uncompressed `NAME.npy` member per
/// array) and writes it atomically (core write_file: temporary file, fsync, rename). Members keep
/// the order they were added in; the archive bytes are deterministic (fixed 1980-01-01 timestamps).
/// Plain zip without ZIP64: Unsupported if a member or the archive reaches 4 GiB, or above 65535
/// members.
class NpzWriter {
 public:
  /// Adds array `name` (member `name.npy`). InvalidArgument if the name is empty, longer than 200
  /// bytes, not made of [A-Za-z0-9_.-], already added, or the shape does not match the data.
  Status add(std::string_view name, std::span<const float> data, const std::vector<std::uint64_t>& shape);
  Status add(std::string_view name, std::span<const std::int64_t> data, const std::vector<std::uint64_t>& shape);
  Status add(std::string_view name, std::span<const std::uint8_t> data, const std::vector<std::uint64_t>& shape);
  /// Adds a member whose `.npy` bytes are already encoded (encode_npy); the name is checked as above.
  Status add_npy(std::string_view name, Bytes npy);

  /// Array names in order (without ".npy").
  std::vector<std::string> names() const;
  /// The zip archive.
  Result<Bytes> to_bytes() const;
  /// to_bytes, then an atomic write to `path`; the path is in any error message.
  Status write(const std::string& path) const;

 private:
  std::vector<std::pair<std::string, Bytes>> members_;  // (member file name, npy bytes)
};

}  // namespace heal::io
