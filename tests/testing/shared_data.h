// Locating ../shared/data (the real datasets) from tests.
#pragma once

#include <optional>
#include <string>

namespace heal::testing {

/// $HEAL_SHARED_DATA, else the directory configured at build time, if it exists.
std::optional<std::string> shared_data_dir();

/// Full path of a file under the shared data directory, if present.
std::optional<std::string> shared_data_file(const std::string& name);

}  // namespace heal::testing

/// Skips the current test (with a message) when a shared dataset is missing.
#define HEAL_REQUIRE_SHARED_DATA(var, name)                                         \
  auto var##_opt = ::heal::testing::shared_data_file(name);                         \
  if (!var##_opt) GTEST_SKIP() << "shared dataset " << name << " not found";         \
  const std::string var = *var##_opt
