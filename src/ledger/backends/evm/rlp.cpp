#include "ledger/backends/evm/rlp.h"

#include <string>

namespace heal::ledger::evm::rlp {
namespace {

// Length prefix: short form offset + len for len < 56, else (offset + 55 + len-of-len) || len (big-endian).
void put_length(Bytes& out, std::size_t len, std::uint8_t offset) {
  if (len < 56) {
    out.push_back(static_cast<std::uint8_t>(offset + len));
    return;
  }
  Bytes be;
  for (std::size_t l = len; l > 0; l >>= 8) be.insert(be.begin(), static_cast<std::uint8_t>(l & 0xFF));
  out.push_back(static_cast<std::uint8_t>(offset + 55 + be.size()));
  out.insert(out.end(), be.begin(), be.end());
}

struct Cursor {
  std::span<const std::uint8_t> in;
  std::size_t pos = 0;
};

Status bad(const std::string& what, std::size_t pos) {
  return Status::corruption("RLP: " + what + " at offset " + std::to_string(pos));
}

Result<Item> decode_at(Cursor& c, std::size_t end, std::size_t depth, std::size_t max_depth) {
  if (depth > max_depth) return bad("nesting deeper than " + std::to_string(max_depth), c.pos);
  if (c.pos >= end) return bad("truncated item", c.pos);
  const std::size_t start = c.pos;
  const std::uint8_t p = c.in[c.pos++];
  Item item;
  if (p < 0x80) {
    item.str.push_back(p);
    return item;
  }
  const bool is_list = p >= 0xC0;
  const std::uint8_t base = is_list ? 0xC0 : 0x80;
  std::size_t len = 0;
  if (p - base < 56) {
    len = static_cast<std::size_t>(p - base);
  } else {
    const std::size_t ll = static_cast<std::size_t>(p - base - 55);  // 1..8
    if (ll > end - c.pos) return bad("truncated length", start);
    if (c.in[c.pos] == 0) return bad("length with a leading zero", start);
    std::uint64_t l = 0;
    for (std::size_t i = 0; i < ll; ++i) l = l << 8 | c.in[c.pos++];
    if (l < 56) return bad("long form for a length below 56", start);
    len = static_cast<std::size_t>(l);
    if (l != len) return bad("length overflows", start);
  }
  if (len > end - c.pos) return bad("item of " + std::to_string(len) + " bytes runs past its end", start);
  const std::size_t item_end = c.pos + len;
  item.is_list = is_list;
  if (!is_list) {
    if (len == 1 && c.in[c.pos] < 0x80) return bad("single byte below 0x80 wrapped in a string", start);
    item.str.assign(c.in.begin() + static_cast<std::ptrdiff_t>(c.pos),
                    c.in.begin() + static_cast<std::ptrdiff_t>(item_end));
    c.pos = item_end;
    return item;
  }
  while (c.pos < item_end) {
    HEAL_ASSIGN_OR_RETURN(Item child, decode_at(c, item_end, depth + 1, max_depth));
    item.items.push_back(std::move(child));
  }
  return item;
}

}  // namespace

Bytes bytes(std::span<const std::uint8_t> b) {
  Bytes out;
  if (b.size() == 1 && b[0] < 0x80) {
    out.push_back(b[0]);
    return out;
  }
  put_length(out, b.size(), 0x80);
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes uint(std::uint64_t v) { return uint(U256::from_u64(v)); }

Bytes uint(const U256& v) { return bytes(v.minimal_be()); }

Bytes list(const std::vector<Bytes>& encoded_items) {
  std::size_t total = 0;
  for (const auto& e : encoded_items) total += e.size();
  Bytes out;
  out.reserve(total + 9);
  put_length(out, total, 0xC0);
  for (const auto& e : encoded_items) out.insert(out.end(), e.begin(), e.end());
  return out;
}

Result<Item> decode(std::span<const std::uint8_t> in, std::size_t max_depth) {
  Cursor c{in, 0};
  HEAL_ASSIGN_OR_RETURN(Item item, decode_at(c, in.size(), 0, max_depth));
  if (c.pos != in.size()) return bad(std::to_string(in.size() - c.pos) + " trailing bytes", c.pos);
  return item;
}

Bytes encode(const Item& item) {
  if (!item.is_list) return bytes(item.str);
  std::vector<Bytes> parts;
  parts.reserve(item.items.size());
  for (const auto& child : item.items) parts.push_back(encode(child));
  return list(parts);
}

Result<U256> as_u256(const Item& item) {
  if (item.is_list) return Status::corruption("RLP: expected an integer, got a list");
  if (!item.str.empty() && item.str[0] == 0) return Status::corruption("RLP: integer with a leading zero byte");
  return U256::from_be_bytes(item.str);
}

Result<std::uint64_t> as_u64(const Item& item) {
  HEAL_ASSIGN_OR_RETURN(const U256 u, as_u256(item));
  if (!u.fits_u64()) return Status::corruption("RLP: integer exceeds 64 bits");
  return u.low_u64();
}

}  // namespace heal::ledger::evm::rlp
