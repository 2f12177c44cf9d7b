// Logging (spdlog behind a narrow interface so public headers stay std-only).
// Never pass secret material to these functions.
#pragma once

#include <string_view>

namespace heal::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

void set_level(Level level);
Level level();
void debug(std::string_view msg);
void info(std::string_view msg);
void warn(std::string_view msg);
void error(std::string_view msg);

}  // namespace heal::log
