// libFuzzer target: decode_aggregate, a hospital's reader of the coordinator's aggregate message
// (src/fl/messages.h). Nothing may crash; the encoding is canonical, so whatever decodes must
// re-encode to the same bytes.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fl/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal::fl::internal;
  auto m = decode_aggregate(std::span<const std::uint8_t>(data, size));
  if (!m.ok()) return 0;
  const heal::Bytes again = encode_aggregate(*m);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  return 0;
}
