// libFuzzer target: the readers of the round protocol's other payloads (src/fl/messages.h): the
// model broadcast / evaluation request (hospital side), and a hospital's decryption share, refusal
// and evaluation (coordinator side). The first byte selects the reader (0 model, 1 share, 2 refusal,
// 3 evaluation), the rest is the payload. Nothing may crash; model, share and refusal encodings are
// canonical, so whatever decodes must re-encode to the same bytes; an evaluation (a map: repeated
// names collapse) must re-encode to bytes that decode to as many metrics.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fl/messages.h"

namespace {
void expect_same(const heal::Bytes& again, std::span<const std::uint8_t> in) {
  if (again.size() != in.size() || !std::equal(again.begin(), again.end(), in.begin())) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal::fl::internal;
  if (size < 1) return 0;
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  switch (data[0] & 3) {
    case 1: {
      auto m = decode_share(in);
      if (m.ok()) expect_same(encode_share(*m), in);
      break;
    }
    case 2: {
      auto m = decode_refusal(in);
      if (!m.ok()) break;
      if (m->reason.size() > kMaxReasonBytes || static_cast<std::uint8_t>(m->code) > kMaxRefusalCode) std::abort();
      (void)refusal_status(m->code);
      expect_same(encode_refusal(*m), in);
      break;
    }
    case 3: {
      auto m = decode_evaluation(in);
      if (!m.ok()) break;
      auto again = decode_evaluation(encode_evaluation(*m));
      if (!again.ok() || again->size() != m->size()) std::abort();
      break;
    }
    default: {
      auto m = decode_model(in);
      if (m.ok()) expect_same(encode_model(*m), in);
      break;
    }
  }
  return 0;
}
