// Writing `.npy` v1.0 arrays and `.npz` archives (stored zip members, as np.savez writes them).
// .npy: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// zip:  PKWARE APPNOTE.TXT 6.3.x, sections 4.3.7 (local header), 4.3.12 (central directory),
//       4.3.16 (end of central directory). No ZIP64, no data descriptors, method 0 (stored).
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "heal/io/npy.h"

namespace heal::io {

namespace {

constexpr std::size_t kMaxDims = 32;  // as the reader allows
constexpr std::size_t kMaxNameBytes = 200;
constexpr std::uint64_t kZip32Limit = 0xFFFFFFFFu;  // sizes and offsets >= this need ZIP64
constexpr std::size_t kMaxMembers = 0xFFFF;
constexpr std::uint16_t kDosDate1980 = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, the earliest DOS date

template <typename T>
void put_le(Bytes& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  if (shape.empty()) return "()";
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Product of the shape, or an error if it overflows or does not match `count`.
Status check_shape(const std::vector<std::uint64_t>& shape, std::size_t count) {
  if (shape.size() > kMaxDims) {
    return Status::invalid_argument("npy: " + std::to_string(shape.size()) + " dimensions, at most 32");
  }
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d) {
      return Status::invalid_argument("npy: shape " + shape_text(shape) + " overflows 64 bits");
    }
    n *= d;
  }
  if (n != count) {
    return Status::invalid_argument("npy: shape " + shape_text(shape) + " holds " + std::to_string(n) +
                                    " elements, the data " + std::to_string(count));
  }
  return Status::ok_status();
}

// Header: magic, version 1.0, little-endian header length, the dict padded with spaces and ended
// by '\n' so that the data starts at a multiple of 64 bytes (as numpy writes it).
template <typename T>
Result<Bytes> encode(std::span<const T> data, const std::vector<std::uint64_t>& shape, const char* descr) {
  HEAL_RETURN_IF_ERROR(check_shape(shape, data.size()));
  std::string dict =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape_text(shape) + ", }";
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  if (dict.size() > 0xFFFF) return Status::invalid_argument("npy: header longer than 65535 bytes");
  Bytes out;
  out.reserve(10 + dict.size() + data.size_bytes());
  const std::uint8_t magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  for (std::uint8_t c : magic) out.push_back(c);  // (not insert: GCC 12 warns falsely on it)
  put_le(out, static_cast<std::uint16_t>(dict.size()));
  out.insert(out.end(), dict.begin(), dict.end());
  if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
    out.insert(out.end(), p, p + data.size_bytes());
  } else {
    for (const T& v : data) {
      std::uint8_t b[sizeof(T)];
      std::memcpy(b, &v, sizeof(T));
      std::reverse(b, b + sizeof(T));
      out.insert(out.end(), b, b + sizeof(T));
    }
  }
  return out;
}

std::uint32_t crc32_of(std::span<const std::uint8_t> b) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::size_t off = 0;
  while (off < b.size()) {
    const std::size_t n = std::min<std::size_t>(b.size() - off, 1u << 30);
    crc = crc32(crc, b.data() + off, static_cast<uInt>(n));
    off += n;
  }
  return static_cast<std::uint32_t>(crc);
}

Status check_name(std::string_view name) {
  if (name.empty()) return Status::invalid_argument("npz: an array needs a name");
  if (name.size() > kMaxNameBytes) return Status::invalid_argument("npz: array name longer than 200 bytes");
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok)
      return Status::invalid_argument("npz: array name '" + std::string(name) + "' may hold only [A-Za-z0-9_.-]");
  }
  return Status::ok_status();
}

}  // namespace

Result<Bytes> encode_npy(std::span<const float> data, const std::vector<std::uint64_t>& shape) {
  static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
  return encode(data, shape, "<f4");
}
Result<Bytes> encode_npy(std::span<const std::int64_t> data, const std::vector<std::uint64_t>& shape) {
  return encode(data, shape, "<i8");
}
Result<Bytes> encode_npy(std::span<const std::uint8_t> data, const std::vector<std::uint64_t>& shape) {
  return encode(data, shape, "|u1");
}

Status NpzWriter::add_npy(std::string_view name, Bytes npy) {
  HEAL_RETURN_IF_ERROR(check_name(name));
  std::string member = std::string(name) + ".npy";
  for (const auto& m : members_) {
    if (m.first == member) return Status::invalid_argument("npz: array '" + std::string(name) + "' added twice");
  }
  if (members_.size() >= kMaxMembers) return Status::unsupported("npz: more than 65535 arrays");
  members_.emplace_back(std::move(member), std::move(npy));
  return Status::ok_status();
}

Status NpzWriter::add(std::string_view name, std::span<const float> data, const std::vector<std::uint64_t>& shape) {
  HEAL_RETURN_IF_ERROR(check_name(name));
  auto npy = encode_npy(data, shape);
  if (!npy.ok()) return npy.status().with_context("array " + std::string(name));
  return add_npy(name, std::move(npy).value());
}
Status NpzWriter::add(std::string_view name, std::span<const std::int64_t> data,
                      const std::vector<std::uint64_t>& shape) {
  HEAL_RETURN_IF_ERROR(check_name(name));
  auto npy = encode_npy(data, shape);
  if (!npy.ok()) return npy.status().with_context("array " + std::string(name));
  return add_npy(name, std::move(npy).value());
}
Status NpzWriter::add(std::string_view name, std::span<const std::uint8_t> data,
                      const std::vector<std::uint64_t>& shape) {
  HEAL_RETURN_IF_ERROR(check_name(name));
  auto npy = encode_npy(data, shape);
  if (!npy.ok()) return npy.status().with_context("array " + std::string(name));
  return add_npy(name, std::move(npy).value());
}

std::vector<std::string> NpzWriter::names() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back(m.first.substr(0, m.first.size() - 4));
  return out;
}

Result<Bytes> NpzWriter::to_bytes() const {
  std::uint64_t total = 22;
  for (const auto& [name, npy] : members_) {
    if (npy.size() >= kZip32Limit) {
      return Status::unsupported("npz: member " + name + " has " + std::to_string(npy.size()) +
                                 " bytes; 4 GiB and above needs ZIP64, which HEAL does not write");
    }
    total += 30 + 46 + 2 * name.size() + npy.size();
  }
  if (total >= kZip32Limit) {
    return Status::unsupported("npz: the archive would have " + std::to_string(total) +
                               " bytes; 4 GiB and above needs ZIP64, which HEAL does not write");
  }
  Bytes out;
  out.reserve(static_cast<std::size_t>(total));
  struct Entry {
    std::uint32_t crc, size, offset;
  };
  std::vector<Entry> entries;
  for (const auto& [name, npy] : members_) {
    const Entry e{crc32_of(npy), static_cast<std::uint32_t>(npy.size()), static_cast<std::uint32_t>(out.size())};
    entries.push_back(e);
    put_le<std::uint32_t>(out, 0x04034b50);  // local file header signature
    put_le<std::uint16_t>(out, 10);          // version needed: 1.0 (stored)
    put_le<std::uint16_t>(out, 0);           // flags: names are ASCII, sizes in this header
    put_le<std::uint16_t>(out, 0);           // method: stored
    put_le<std::uint16_t>(out, 0);           // time 00:00:00
    put_le<std::uint16_t>(out, kDosDate1980);
    put_le<std::uint32_t>(out, e.crc);
    put_le<std::uint32_t>(out, e.size);  // compressed size
    put_le<std::uint32_t>(out, e.size);  // uncompressed size
    put_le<std::uint16_t>(out, static_cast<std::uint16_t>(name.size()));
    put_le<std::uint16_t>(out, 0);  // extra field length
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), npy.begin(), npy.end());
  }
  const auto cd_offset = static_cast<std::uint32_t>(out.size());
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const std::string& name = members_[i].first;
    const Entry& e = entries[i];
    put_le<std::uint32_t>(out, 0x02014b50);  // central directory header signature
    put_le<std::uint16_t>(out, 0x031E);      // made by: UNIX (3), spec 3.0
    put_le<std::uint16_t>(out, 10);
    put_le<std::uint16_t>(out, 0);
    put_le<std::uint16_t>(out, 0);
    put_le<std::uint16_t>(out, 0);
    put_le<std::uint16_t>(out, kDosDate1980);
    put_le<std::uint32_t>(out, e.crc);
    put_le<std::uint32_t>(out, e.size);
    put_le<std::uint32_t>(out, e.size);
    put_le<std::uint16_t>(out, static_cast<std::uint16_t>(name.size()));
    put_le<std::uint16_t>(out, 0);               // extra field length
    put_le<std::uint16_t>(out, 0);               // comment length
    put_le<std::uint16_t>(out, 0);               // disk number start
    put_le<std::uint16_t>(out, 0);               // internal attributes
    put_le<std::uint32_t>(out, 0100644u << 16);  // external attributes: regular file, rw-r--r--
    put_le<std::uint32_t>(out, e.offset);
    out.insert(out.end(), name.begin(), name.end());
  }
  const auto cd_size = static_cast<std::uint32_t>(out.size() - cd_offset);
  put_le<std::uint32_t>(out, 0x06054b50);  // end of central directory signature
  put_le<std::uint16_t>(out, 0);           // this disk
  put_le<std::uint16_t>(out, 0);           // disk with the central directory
  put_le<std::uint16_t>(out, static_cast<std::uint16_t>(members_.size()));
  put_le<std::uint16_t>(out, static_cast<std::uint16_t>(members_.size()));
  put_le<std::uint32_t>(out, cd_size);
  put_le<std::uint32_t>(out, cd_offset);
  put_le<std::uint16_t>(out, 0);  // comment length
  return out;
}

Status NpzWriter::write(const std::string& path) const {
  auto bytes = to_bytes();
  if (!bytes.ok()) return bytes.status().with_context(path);
  return write_file(path, *bytes);
}

}  // namespace heal::io
