#include "heal/core/bytes.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heal/core/rng.h"

namespace heal {

Result<Bytes> read_file(const std::string& path, std::size_t max_size) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::not_found("no such file: " + path);
  if (std::filesystem::is_directory(path, ec)) return Status::invalid_argument(path + " is a directory, expected a file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::io_error("cannot stat " + path + ": " + ec.message());
  if (size > max_size) return Status::out_of_range(path + " is larger than the limit of " + std::to_string(max_size) + " bytes");
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::io_error("cannot open " + path + ": " + std::strerror(errno));
  Bytes out(size);
  if (size > 0 && !f.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size))) {
    return Status::io_error("short read on " + path);
  }
  return out;
}

void secure_wipe(Bytes& b) {
  // Grow to the capacity first so that every byte of the allocation is a live element (wiping
  // past size() would touch objects that do not exist); resize within the capacity never reallocates.
  b.resize(b.capacity());
  if (!b.empty()) secure_wipe(b.data(), b.size());
  b.clear();
}

namespace {

std::string errno_text() { return std::strerror(errno); }

// Writes all of `data` to `fd`, retrying short writes and EINTR.
Status write_all(int fd, std::span<const std::uint8_t> data, const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::io_error("write failed on " + what + ": " + errno_text());
    }
    done += static_cast<std::size_t>(w);
  }
  return {};
}

// Makes a rename in `dir` durable. Best effort: some file systems refuse fsync on directories.
void sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// The shared path of write_file and write_secret_file: a temporary file with an unpredictable name
// (128 random bits from the system CSPRNG) next to `path`, created exclusively without following
// symlinks, fsync'ed, renamed over `path`. `mode` is passed to open (the umask applies); `exact_mode`
// additionally forces it with fchmod (secret files: 0600 even under umask 0 or 0277).
Status write_atomically(const std::string& path, std::span<const std::uint8_t> data, mode_t mode, bool exact_mode) {
  const std::filesystem::path dest(path);
  std::uint8_t rnd[16];
  SystemRng().fill(rnd);
  const std::string tmp = path + ".tmp-" + to_hex(rnd);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return Status::io_error("cannot create " + tmp + ": " + errno_text());
  Status st;
  if (exact_mode && ::fchmod(fd, mode) != 0) {
    st = Status::io_error("cannot set the mode of " + tmp + ": " + errno_text());
  }
  if (st.ok()) st = write_all(fd, data, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = Status::io_error("fsync failed on " + tmp + ": " + errno_text());
  if (::close(fd) != 0 && st.ok()) st = Status::io_error("close failed on " + tmp + ": " + errno_text());
  // rename replaces a symlink at `path` itself; it never writes through it.
  if (st.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::io_error("cannot rename " + tmp + " to " + path + ": " + errno_text());
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  sync_dir(dest.parent_path());
  return {};
}

}  // namespace

Status write_file(const std::string& path, std::span<const std::uint8_t> data) {
  return write_atomically(path, data, 0666, false);
}

Status write_secret_file(const std::string& path, std::span<const std::uint8_t> data) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return Status::failed_precondition(path + " is a symbolic link; refusing to write a secret through it");
    }
    if (!S_ISREG(st.st_mode)) return Status::failed_precondition(path + " exists and is not a regular file");
  } else if (errno != ENOENT) {
    return Status::io_error("cannot stat " + path + ": " + errno_text());
  }
  return write_atomically(path, data, 0600, true);
}

Result<SecretBytes> read_secret_file(const std::string& path, std::size_t max_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::not_found("no such file: " + path);
    if (errno == ELOOP) {
      return Status::failed_precondition(path + " is a symbolic link; refusing to read a secret through it");
    }
    return Status::io_error("cannot open " + path + ": " + errno_text());
  }
  struct stat st{};
  Status status;
  Bytes out;
  if (::fstat(fd, &st) != 0) {
    status = Status::io_error("cannot stat " + path + ": " + errno_text());
  } else if (!S_ISREG(st.st_mode)) {
    status = Status::failed_precondition(path + " is not a regular file");
  } else if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    status = Status::out_of_range(path + " is larger than the limit of " + std::to_string(max_size) + " bytes");
  } else {
    out.resize(static_cast<std::size_t>(st.st_size));  // read straight into the final buffer: no stray copies
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t r = ::read(fd, out.data() + done, out.size() - done);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        status = Status::io_error("short read on " + path);
        break;
      }
      done += static_cast<std::size_t>(r);
    }
  }
  ::close(fd);
  SecretBytes secret(std::move(out));  // wiped on every path out of here
  if (!status.ok()) return status;
  return secret;
}

std::string to_hex(std::span<const std::uint8_t> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (auto x : b) {
    s.push_back(kDigits[x >> 4]);
    s.push_back(kDigits[x & 15]);
  }
  return s;
}

Result<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return Status::invalid_argument("hex string has odd length");
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::invalid_argument("non-hex digit in hex string");
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace heal
