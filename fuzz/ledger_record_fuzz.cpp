// libFuzzer target for the ledger record and signature-list decoders: they must never crash, and
// whatever they accept must re-encode to the same bytes (the encoding is canonical).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "heal/ledger/block.h"
#include "heal/ledger/record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto rec = heal::ledger::decode_record(in);
  if (rec.ok()) {
    heal::Bytes again = heal::ledger::encode_record(*rec);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
    (void)heal::ledger::describe(*rec);
  }
  auto sigs = heal::ledger::decode_signatures(in);
  if (sigs.ok()) {
    heal::Bytes again = heal::ledger::encode_signatures(*sigs);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  return 0;
}
