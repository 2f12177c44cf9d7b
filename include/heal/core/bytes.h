// Little-endian byte writer/reader for serialization. The reader is bounds-checked and never
// reads past its span: every read returns a Status, so parsers of outside bytes cannot crash.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "heal/core/status.h"

namespace heal {

using Bytes = std::vector<std::uint8_t>;

/// Appends little-endian scalars and raw bytes to a growing buffer.
class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(Bytes* out) : out_(out) {}

  template <typename T>
    requires std::is_arithmetic_v<T>
  void put(T v) {
    // Grow, then copy into the new tail (an insert from a small stack buffer trips GCC 12's
    // -Warray-bounds false positive). Host is little-endian (x86-64, aarch64); checked in tests.
    Bytes& o = out();
    const std::size_t at = o.size();
    o.resize(at + sizeof(T));
    std::memcpy(o.data() + at, &v, sizeof(T));
  }
  void put_bytes(std::span<const std::uint8_t> b) { out().insert(out().end(), b.begin(), b.end()); }
  /// u32 length + bytes.
  void put_string(std::string_view s) {
    put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    out().insert(out().end(), s.begin(), s.end());
  }
  /// u64 count + packed little-endian values.
  template <typename T>
    requires std::is_arithmetic_v<T>
  void put_array(std::span<const T> v) {
    put<std::uint64_t>(v.size());
    const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
    out().insert(out().end(), p, p + v.size_bytes());
  }

  std::size_t size() const { return out_ ? out_->size() : own_.size(); }
  /// Overwrite a previously written u64 at `offset` (for length back-patching).
  void patch_u64(std::size_t offset, std::uint64_t v) { std::memcpy(out().data() + offset, &v, 8); }
  Bytes take() { return std::move(own_); }
  const Bytes& bytes() const { return out_ ? *out_ : own_; }

 private:
  Bytes& out() { return out_ ? *out_ : own_; }
  Bytes* out_ = nullptr;
  Bytes own_;
};

/// Reads what ByteWriter wrote; every read is bounds-checked.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> in) : in_(in) {}

  template <typename T>
    requires std::is_arithmetic_v<T>
  Status get(T* v) {
    if (remaining() < sizeof(T)) return truncated(sizeof(T));
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return {};
  }
  Status get_bytes(std::size_t n, std::span<const std::uint8_t>* out) {
    if (remaining() < n) return truncated(n);
    *out = in_.subspan(pos_, n);
    pos_ += n;
    return {};
  }
  Status get_string(std::string* s, std::size_t max_len = 1u << 20) {
    std::uint32_t n = 0;
    HEAL_RETURN_IF_ERROR(get(&n));
    if (n > max_len) return Status::corruption("string length " + std::to_string(n) + " exceeds limit");
    std::span<const std::uint8_t> b;
    HEAL_RETURN_IF_ERROR(get_bytes(n, &b));
    s->assign(b.begin(), b.end());
    return {};
  }
  /// Reads a u64 count + values; refuses counts above `max_count` or beyond the remaining bytes.
  template <typename T>
    requires std::is_arithmetic_v<T>
  Status get_array(std::vector<T>* v, std::uint64_t max_count) {
    std::uint64_t n = 0;
    HEAL_RETURN_IF_ERROR(get(&n));
    if (n > max_count) {
      return Status::corruption("array of " + std::to_string(n) + " elements exceeds limit " +
                                std::to_string(max_count));
    }
    if (n > remaining() / sizeof(T)) return truncated(n * sizeof(T));
    v->resize(n);
    if (n > 0) std::memcpy(v->data(), in_.data() + pos_, n * sizeof(T));  // data() may be null when empty
    pos_ += n * sizeof(T);
    return {};
  }

  std::size_t remaining() const { return in_.size() - pos_; }
  std::size_t position() const { return pos_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  Status truncated(std::size_t want) const {
    return Status::corruption("truncated input: need " + std::to_string(want) + " bytes at offset " +
                              std::to_string(pos_) + ", have " + std::to_string(remaining()));
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

/// Overwrites the whole allocation of `b` (its capacity, not only its size) in a way the compiler
/// may not elide (secure_wipe) and leaves `b` empty. For buffers that held secret material.
void secure_wipe(Bytes& b);

/// Bytes that hold secret material (a serialized secret key, a key file read back). Move-only;
/// wiped over the whole allocation (secure_wipe(Bytes&)) on destruction and on assignment.
class SecretBytes {
 public:
  SecretBytes() = default;
  /// Takes ownership of `b` (no copy of the secret is made).
  explicit SecretBytes(Bytes&& b) noexcept : b_(std::move(b)) {}
  ~SecretBytes() { secure_wipe(b_); }
  SecretBytes(SecretBytes&& o) noexcept : b_(std::move(o.b_)) {}
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      secure_wipe(b_);
      b_ = std::move(o.b_);
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  const std::uint8_t* data() const { return b_.data(); }
  std::size_t size() const { return b_.size(); }
  bool empty() const { return b_.empty(); }
  std::span<const std::uint8_t> span() const { return b_; }
  operator std::span<const std::uint8_t>() const { return b_; }  // NOLINT: reads like Bytes

 private:
  Bytes b_;
};

/// Reads a whole file. NotFound / IoError with the path in the message.
Result<Bytes> read_file(const std::string& path, std::size_t max_size = std::size_t{1} << 34);
/// Writes a whole file atomically: the data goes to a temporary file with an unpredictable name in
/// the same directory, created with O_CREAT | O_EXCL | O_NOFOLLOW (mode 0666 & ~umask), is
/// fsync'ed and renamed over `path` (a symlink at `path` is replaced, never written through).
/// IoError on any failure; the temporary file is then removed.
Status write_file(const std::string& path, std::span<const std::uint8_t> data);
/// write_file for secret material (key files): the file has mode 0600 whatever the umask (the
/// temporary file is created 0600, so no other user can open it at any time), and a symlink or
/// anything but a regular file at `path` is refused (FailedPrecondition) instead of replaced.
Status write_secret_file(const std::string& path, std::span<const std::uint8_t> data);
/// Reads a file holding secret material into wiped-on-destruction memory. Refuses a symlink
/// (O_NOFOLLOW) or a non-regular file (FailedPrecondition); NotFound / IoError / OutOfRange like
/// read_file.
Result<SecretBytes> read_secret_file(const std::string& path, std::size_t max_size = std::size_t{1} << 30);

/// Lower-case hex of bytes.
std::string to_hex(std::span<const std::uint8_t> b);
/// Parses lower/upper-case hex; InvalidArgument on odd length or a non-hex digit.
Result<Bytes> from_hex(std::string_view hex);

}  // namespace heal
