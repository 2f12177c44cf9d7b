// libFuzzer target: decode_query, the reader of he_infer query files (server side, kind "HEIQ")
// and result files (client side, kind "HEIR") (src/he_infer/query.h), against a small context.
// Each input is read as both kinds. Nothing may crash; a file is never accepted as both.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fuzz_fixtures.h"
#include "he_infer/query.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace q = heal::he_infer::internal;
  const std::span<const std::uint8_t> bytes(data, size);
  const bool as_query = q::decode_query(*heal::fuzz::small_context(), bytes, q::kQueryMagic).ok();
  const bool as_result = q::decode_query(*heal::fuzz::small_context(), bytes, q::kResultMagic).ok();
  if (as_query && as_result) std::abort();  // the kinds must be disjoint (IND-CPA^D rule)
  return 0;
}
