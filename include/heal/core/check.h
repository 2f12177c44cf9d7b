// Checks for the two in-process error tiers (see docs/architecture.md, "Errors"):
//  - HEAL_DCHECK: kernel invariants, compiled out in release builds (NDEBUG).
//  - HEAL_REQUIRE: misuse of the compute API; throws std::invalid_argument with a message
//    that says what was expected. Always on.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace heal::detail {
[[noreturn]] void throw_invalid_argument(const char* file, int line, const std::string& msg);
[[noreturn]] void dcheck_failed(const char* file, int line, const char* expr);
}  // namespace heal::detail

#define HEAL_REQUIRE(cond, msg)                                                  \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::ostringstream heal_require_os_;                                       \
      heal_require_os_ << msg;                                                   \
      ::heal::detail::throw_invalid_argument(__FILE__, __LINE__, heal_require_os_.str()); \
    }                                                                            \
  } while (0)

#ifdef NDEBUG
#define HEAL_DCHECK(cond) \
  do {                    \
  } while (0)
#else
#define HEAL_DCHECK(cond)                                                     \
  do {                                                                        \
    if (!(cond)) ::heal::detail::dcheck_failed(__FILE__, __LINE__, #cond);    \
  } while (0)
#endif
