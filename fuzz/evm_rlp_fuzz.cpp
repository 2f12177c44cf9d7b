// libFuzzer target for the EVM backend's RLP decoder and signed-transaction decoder: they must
// never crash, whatever RLP accepts re-encodes to the same bytes (the decoder is canonical), and a
// transaction that decodes re-signs to the same signing hash fields it was read from.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ledger/backends/evm/rlp.h"
#include "ledger/backends/evm/transaction.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal::ledger::evm;
  std::span<const std::uint8_t> in(data, size);
  auto item = rlp::decode(in);
  if (item.ok()) {
    const heal::Bytes again = rlp::encode(*item);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
    if (!item->is_list) {
      (void)rlp::as_u64(*item);
      (void)rlp::as_u256(*item);
    }
  }
  auto tx = decode_signed_transaction(in);
  if (tx.ok() && tx->hash != keccak256(in)) std::abort();
  return 0;
}
