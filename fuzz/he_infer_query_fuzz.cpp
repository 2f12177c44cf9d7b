// libFuzzer target: decode_query, the reader of he_infer query files (server side) and result
// files (client side) (src/he_infer/query.h), against a small context. Nothing may crash.
#include <cstdint>
#include <span>

#include "fuzz_fixtures.h"
#include "he_infer/query.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)heal::he_infer::internal::decode_query(*heal::fuzz::small_context(), std::span<const std::uint8_t>(data, size));
  return 0;
}
