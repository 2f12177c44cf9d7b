// A fresh directory under the system temp dir for one test, removed (with its content) at the end.
// Its name carries 64 random bits from the CSPRNG, so parallel test processes never collide.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"

namespace heal::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "heal-test") {
    std::uint8_t r[8];
    SystemRng().fill(r);
    path_ = std::filesystem::temp_directory_path() / (prefix + "-" + to_hex(r));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// The path of `name` inside the directory.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string operator/(const std::string& name) const { return file(name); }

 private:
  std::filesystem::path path_;
};

}  // namespace heal::testing
