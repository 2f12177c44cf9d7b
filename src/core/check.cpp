#include "heal/core/check.h"

#include <cstdio>
#include <cstdlib>

namespace heal::detail {

void throw_invalid_argument(const char* /*file*/, int /*line*/, const std::string& msg) {
  throw std::invalid_argument(msg);
}

void dcheck_failed(const char* file, int line, const char* expr) {
  std::fprintf(stderr, "HEAL_DCHECK failed at %s:%d: %s\n", file, line, expr);
  std::abort();
}

}  // namespace heal::detail
