// Recursive Length Prefix (RLP) encoding, Ethereum Yellow Paper appendix B: the byte format of
// transactions. The encoder builds items bottom-up; the decoder is strict (canonical lengths, single
// bytes below 0x80 not wrapped, no trailing bytes, bounded depth) and is fuzzed (fuzz/evm_rlp_fuzz.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "ledger/backends/evm/types.h"

namespace heal::ledger::evm::rlp {

/// A byte string item.
Bytes bytes(std::span<const std::uint8_t> b);
/// An unsigned integer: its big-endian bytes without leading zeros (0 is the empty string).
Bytes uint(std::uint64_t v);
Bytes uint(const U256& v);
/// A list of already-encoded items.
Bytes list(const std::vector<Bytes>& encoded_items);

/// A decoded item: a byte string or a list.
struct Item {
  bool is_list = false;
  Bytes str;                // when !is_list
  std::vector<Item> items;  // when is_list
  friend bool operator==(const Item&, const Item&) = default;
};

/// Decodes exactly one item spanning all of `in`. Corruption on any non-canonical or truncated
/// encoding, trailing bytes, or nesting deeper than `max_depth`.
Result<Item> decode(std::span<const std::uint8_t> in, std::size_t max_depth = 16);
/// Re-encodes a decoded item (for the fuzz round trip).
Bytes encode(const Item& item);
/// A byte-string item read as a canonical unsigned integer (no leading zero byte, <= 8 bytes).
Result<std::uint64_t> as_u64(const Item& item);
/// A byte-string item read as a canonical unsigned integer of at most 32 bytes.
Result<U256> as_u256(const Item& item);

}  // namespace heal::ledger::evm::rlp
