#include "testing/shared_data.h"

#include <cstdlib>
#include <filesystem>

namespace heal::testing {

std::optional<std::string> shared_data_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("HEAL_SHARED_DATA"); env && *env && fs::is_directory(env)) return std::string(env);
  if (fs::is_directory(HEAL_DEFAULT_SHARED_DATA)) return std::string(HEAL_DEFAULT_SHARED_DATA);
  return std::nullopt;
}

std::optional<std::string> shared_data_file(const std::string& name) {
  auto dir = shared_data_dir();
  if (!dir) return std::nullopt;
  std::string p = *dir + "/" + name;
  if (!std::filesystem::exists(p)) return std::nullopt;
  return p;
}

}  // namespace heal::testing
