// libFuzzer target for the EVM backend's contract ABI decoder (return data and event logs come from
// a node, i.e. from outside): it must never crash, and whatever it accepts must re-encode to bytes
// that decode to the same values. The first input byte picks the type list, the rest is the data.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ledger/backends/evm/abi.h"

namespace {

const char* const kTypeLists[] = {
    "uint8",
    "uint256,bool,address,bytes32",
    "bytes",
    "string",
    "uint32[]",
    "address[]",
    "uint8[]",
    "bytes[]",
    "uint64,bytes32,bytes,bytes",                                   // Block-like event data
    "uint32[],address[],uint8[],uint32,uint32,bytes[]",             // membership change
    "bool,bytes32,uint64,bytes32,bytes32,uint64,bytes32,uint32[]",  // round result
    "bytes4,bytes10,uint24,string[]",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal::ledger::evm;
  if (size == 0) return 0;
  const char* list = kTypeLists[data[0] % (sizeof(kTypeLists) / sizeof(kTypeLists[0]))];
  const auto types = abi::parse_types(list);
  if (!types.ok()) std::abort();
  std::span<const std::uint8_t> in(data + 1, size - 1);
  auto values = abi::decode(*types, in);
  if (values.ok()) {
    auto again = abi::encode(*types, *values);
    if (!again.ok()) std::abort();
    if (again->size() > in.size()) std::abort();  // decoded values are never larger than their input
    auto back = abi::decode(*types, *again);
    if (!back.ok() || *back != *values) std::abort();
  }
  // Indexed topics: any 32 bytes.
  if (in.size() >= 32) {
    Hash32 t;
    std::copy(in.begin(), in.begin() + 32, t.begin());
    for (const auto& ty : *types) (void)abi::decode_topic(ty, t);
  }
  return 0;
}
