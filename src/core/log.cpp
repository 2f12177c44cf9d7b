#include "heal/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace heal::log {
namespace {
std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = spdlog::stderr_color_mt("heal");
    lg->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    lg->set_level(spdlog::level::info);
    return lg;
  }();
  return l;
}
Level g_level = Level::kInfo;
}  // namespace

void set_level(Level lv) {
  g_level = lv;
  static constexpr spdlog::level::level_enum kMap[] = {spdlog::level::debug, spdlog::level::info,
                                                       spdlog::level::warn, spdlog::level::err,
                                                       spdlog::level::off};
  logger()->set_level(kMap[static_cast<int>(lv)]);
}
Level level() { return g_level; }
void debug(std::string_view m) { logger()->debug(m); }
void info(std::string_view m) { logger()->info(m); }
void warn(std::string_view m) { logger()->warn(m); }
void error(std::string_view m) { logger()->error(m); }

}  // namespace heal::log
