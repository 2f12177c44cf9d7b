// Solidity contract ABI (https://docs.soliditylang.org/en/latest/abi-spec.html): encoding of calls
// and decoding of return data and event logs for the types the HEAL contract uses: uint8..uint256,
// bool, address, bytes1..bytes32, bytes, string, and dynamic arrays T[] of those. The decoder is
// strict and never crashes (fuzz/evm_abi_fuzz.cpp): offsets and lengths must lie inside the data,
// padding and unused high bits must be zero, and the decoded values may not be larger than the input
// (no amplification through shared offsets).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "ledger/backends/evm/types.h"

namespace heal::ledger::evm::abi {

struct Type {
  enum class Kind : std::uint8_t { kUint, kBool, kAddress, kFixedBytes, kBytes, kString, kArray };
  Kind kind = Kind::kUint;
  unsigned size = 256;               // bits of a uint, bytes of a bytesN
  std::shared_ptr<const Type> elem;  // element type of an array (never itself an array)

  bool is_dynamic() const { return kind == Kind::kBytes || kind == Kind::kString || kind == Kind::kArray; }
  /// Canonical name as in signatures: "uint256", "bytes32", "address[]".
  std::string name() const;
};

/// Parses one type name ("uint" is uint256). InvalidArgument / Unsupported (nested arrays, tuples,
/// fixed-size arrays, int, fixed).
Result<Type> parse_type(std::string_view name);
/// Parses a comma-separated list without spaces ("uint64,bytes32,bytes"); "" is the empty list.
Result<std::vector<Type>> parse_types(std::string_view list);

/// A value of one of the supported types.
class Value {
 public:
  static Value uint(std::uint64_t v) { return Value(U256::from_u64(v)); }
  static Value uint(const U256& v) { return Value(v); }
  static Value boolean(bool b) { return Value(b); }
  static Value address(const Address& a) { return Value(a); }
  /// bytesN (N = b.size()) or dynamic bytes, depending on the type it is encoded as.
  static Value bytes(Bytes b) { return Value(std::move(b)); }
  static Value bytes32(const Hash32& h) { return Value(Bytes(h.begin(), h.end())); }
  static Value string(std::string s) { return Value(std::move(s)); }
  static Value array(std::vector<Value> v) { return Value(std::move(v)); }

  /// Accessors: HEAL_REQUIRE that the value holds that alternative (a decoded value always matches
  /// its type: uint -> as_uint, bool, address, bytesN/bytes -> as_bytes, string, T[] -> as_array).
  const U256& as_uint() const;
  /// OutOfRange if the integer does not fit in 64 bits.
  Result<std::uint64_t> as_u64() const;
  bool as_bool() const;
  const Address& as_address() const;
  const Bytes& as_bytes() const;
  /// bytes32 as a hash (HEAL_REQUIRE 32 bytes).
  Hash32 as_bytes32() const;
  const std::string& as_string() const;
  const std::vector<Value>& as_array() const;

  using Storage = std::variant<U256, bool, Address, Bytes, std::string, std::vector<Value>>;
  const Storage& raw() const { return v_; }

  friend bool operator==(const Value&, const Value&) = default;

 private:
  template <typename T>
  requires(!std::is_same_v<std::decay_t<T>, Value>) explicit Value(T&& v) : v_(std::forward<T>(v)) {}
  Storage v_;
};

/// Head/tail encoding of a tuple. InvalidArgument if a value does not match its type (wrong
/// alternative, a uint above 2^bits, a bytesN of the wrong length).
Result<Bytes> encode(const std::vector<Type>& types, const std::vector<Value>& values);
/// Strict decoding of a tuple (return data, event data). Trailing bytes after the last referenced
/// byte are allowed (the spec allows them); everything else out of place is Corruption.
Result<std::vector<Value>> decode(const std::vector<Type>& types, std::span<const std::uint8_t> data);

/// The 4-byte function selector keccak256(signature)[0:4], signature like "commit(uint64,bytes32,bytes,bytes)".
std::array<std::uint8_t, 4> selector(std::string_view signature);
/// selector || encode(args) for a signature "name(type,type,...)".
Result<Bytes> encode_call(std::string_view signature, const std::vector<Value>& args);
/// Topic 0 of an event: keccak256 of its signature, e.g. "Block(uint64,address,bytes,bytes)".
Hash32 event_topic(std::string_view signature);
/// An indexed event argument from its topic. Static types decode strictly; a dynamic type's topic is
/// the keccak of its encoding and comes back as bytes32.
Result<Value> decode_topic(const Type& type, const Hash32& topic);

}  // namespace heal::ledger::evm::abi
