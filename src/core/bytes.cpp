#include "heal/core/bytes.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

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

Status write_file(const std::string& path, std::span<const std::uint8_t> data) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::io_error("cannot create " + tmp + ": " + std::strerror(errno));
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!f) return Status::io_error("write failed on " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::io_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return {};
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
