// EVM primitives: keccak-256 (Crypto++ Keccak_256, the pre-standard padding Ethereum uses), 20-byte
// addresses with EIP-55 checksums, 256-bit unsigned words, JSON-RPC hex quantities and data, and the
// address of a secp256k1 ledger identity. Internal to the evm backend (heal_ledger_evm).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/ledger/identity.h"

namespace heal::ledger::evm {

using Hash32 = std::array<std::uint8_t, 32>;

/// Ethereum's keccak-256 (Keccak with 0x01 padding, not FIPS 202 SHA3-256).
Hash32 keccak256(std::span<const std::uint8_t> data);
Hash32 keccak256(std::string_view data);

/// A 20-byte account or contract address.
struct Address {
  std::array<std::uint8_t, 20> bytes{};

  /// Strict parse: "0x" + 40 hex digits. All-lower or all-upper case digits are accepted; mixed
  /// case must be the EIP-55 checksum (InvalidArgument otherwise: a mistyped address is refused).
  static Result<Address> from_hex(std::string_view s);
  /// EIP-55 checksummed "0x..." form.
  std::string to_hex() const;
  /// "0x" + 40 lower-case digits (what JSON-RPC nodes accept everywhere).
  std::string to_lower_hex() const;
  bool is_zero() const;
  friend auto operator<=>(const Address&, const Address&) = default;
};

/// keccak256(x || y)[12:] of the uncompressed public key of a secp256k1 identity (decompressed with
/// libsecp256k1). InvalidArgument for another scheme; Corruption for a key that is not a curve point.
Result<Address> address_of(const Identity& id);

/// The signer of `digest` from a 65-byte r || s || v signature (v in {0, 1} or {27, 28}); high S is
/// refused. Corruption if the signature is malformed or recovers no key.
Result<Identity> recover_identity(const Hash32& digest, std::span<const std::uint8_t> sig65);
Result<Address> recover_address(const Hash32& digest, std::span<const std::uint8_t> sig65);

/// EIP-191 version 0x45 ("personal_sign") digest of a 32-byte message hash:
/// keccak256("\x19Ethereum Signed Message:\n32" || message_hash).
Hash32 eip191_digest(const Hash32& message_hash);

/// A 256-bit unsigned integer as 32 big-endian bytes (wei amounts, gas prices, ABI words).
struct U256 {
  std::array<std::uint8_t, 32> be{};

  static U256 from_u64(std::uint64_t v);
  /// A JSON-RPC quantity: "0x" + hex digits, no leading zeros ("0x0" for zero), at most 64 digits.
  static Result<U256> from_quantity(std::string_view s);
  /// From at most 32 big-endian bytes (leading zeros allowed).
  static Result<U256> from_be_bytes(std::span<const std::uint8_t> b);
  std::string to_quantity() const;
  /// Big-endian bytes without leading zeros (empty for zero): the RLP integer encoding.
  Bytes minimal_be() const;
  bool fits_u64() const;
  /// The low 64 bits (check fits_u64 first where it matters).
  std::uint64_t low_u64() const;
  bool is_zero() const;
  /// a + b; OutOfRange on overflow.
  static Result<U256> add(const U256& a, const U256& b);
  friend auto operator<=>(const U256&, const U256&) = default;
};

/// "0x" + lower-case hex of `v` without leading zeros ("0x0" for zero).
std::string to_quantity(std::uint64_t v);
/// Strict JSON-RPC quantity that must fit in 64 bits.
Result<std::uint64_t> parse_quantity_u64(std::string_view s);
/// "0x" + lower-case hex of `b` ("0x" for empty).
std::string to_data_hex(std::span<const std::uint8_t> b);
/// Strict "0x" + even number of hex digits; at most `max_bytes` bytes.
Result<Bytes> parse_data_hex(std::string_view s, std::size_t max_bytes = std::size_t{1} << 26);
/// Exactly 32 bytes of "0x" hex (hashes, topics).
Result<Hash32> parse_hash32(std::string_view s);

}  // namespace heal::ledger::evm
