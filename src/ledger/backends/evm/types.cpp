#include "ledger/backends/evm/types.h"

#include <cryptopp/keccak.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cstring>

namespace heal::ledger::evm {
namespace {

// Parsing, serializing and recovery need no secret-dependent precomputation: the static context
// is enough (libsecp256k1 >= 0.2). Self-test once before first use, as the library recommends.
const secp256k1_context* secp_static() {
  static const bool tested = [] {
    secp256k1_selftest();
    return true;
  }();
  (void)tested;
  return secp256k1_context_static;
}

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool has_0x(std::string_view s) { return s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'); }

}  // namespace

Hash32 keccak256(std::span<const std::uint8_t> data) {
  CryptoPP::Keccak_256 h;
  h.Update(data.data(), data.size());
  Hash32 out;
  h.Final(out.data());
  return out;
}

Hash32 keccak256(std::string_view data) {
  return keccak256(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

Result<Address> Address::from_hex(std::string_view s) {
  if (s.size() != 42 || s[0] != '0' || s[1] != 'x') {
    return Status::invalid_argument("address must be 0x followed by 40 hex digits, got '" +
                                    std::string(s.substr(0, 64)) + "'");
  }
  Address a;
  bool lower = false, upper = false;
  for (std::size_t i = 0; i < 40; ++i) {
    const char c = s[2 + i];
    const int v = nibble(c);
    if (v < 0) return Status::invalid_argument("address has a non-hex digit: '" + std::string(s) + "'");
    lower |= c >= 'a' && c <= 'f';
    upper |= c >= 'A' && c <= 'F';
    a.bytes[i / 2] = static_cast<std::uint8_t>(a.bytes[i / 2] | (v << (i % 2 == 0 ? 4 : 0)));
  }
  if (lower && upper && a.to_hex() != s) {
    return Status::invalid_argument("address " + std::string(s) + " fails its EIP-55 checksum (mistyped?)");
  }
  return a;
}

std::string Address::to_lower_hex() const { return "0x" + heal::to_hex(bytes); }

std::string Address::to_hex() const {
  // EIP-55: upper-case the i-th hex letter when the i-th nibble of keccak256(lower-case hex) >= 8.
  const std::string lower = heal::to_hex(bytes);
  const Hash32 h = keccak256(lower);
  std::string out = "0x" + lower;
  for (std::size_t i = 0; i < 40; ++i) {
    const int nib = (h[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xF;
    char& c = out[2 + i];
    if (c >= 'a' && c <= 'f' && nib >= 8) c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool Address::is_zero() const {
  for (auto b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

namespace {

Address address_of_pubkey(const secp256k1_pubkey& pk) {
  std::uint8_t full[65];
  std::size_t len = sizeof(full);
  secp256k1_ec_pubkey_serialize(secp_static(), full, &len, &pk, SECP256K1_EC_UNCOMPRESSED);
  const Hash32 h = keccak256(std::span<const std::uint8_t>(full + 1, 64));
  Address a;
  std::memcpy(a.bytes.data(), h.data() + 12, 20);
  return a;
}

Result<secp256k1_pubkey> recover_pubkey(const Hash32& digest, std::span<const std::uint8_t> sig65) {
  if (sig65.size() != 65) {
    return Status::corruption("recoverable signature has " + std::to_string(sig65.size()) + " bytes, expected 65");
  }
  int v = sig65[64];
  if (v == 27 || v == 28) v -= 27;
  if (v != 0 && v != 1) return Status::corruption("recoverable signature has v = " + std::to_string(sig65[64]));
  secp256k1_ecdsa_recoverable_signature rs;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(secp_static(), &rs, sig65.data(), v) != 1) {
    return Status::corruption("recoverable signature has r or s out of range");
  }
  secp256k1_ecdsa_signature plain, low;
  secp256k1_ecdsa_recoverable_signature_convert(secp_static(), &plain, &rs);
  if (secp256k1_ecdsa_signature_normalize(secp_static(), &low, &plain) == 1) {
    return Status::corruption("recoverable signature has a high S (not canonical)");
  }
  secp256k1_pubkey pk;
  if (secp256k1_ecdsa_recover(secp_static(), &pk, &rs, digest.data()) != 1) {
    return Status::corruption("signature recovers no public key");
  }
  return pk;
}

}  // namespace

Result<Address> address_of(const Identity& id) {
  if (id.scheme != SignatureScheme::kSecp256k1) {
    return Status::invalid_argument("identity " + id.short_name() + " has no EVM address (not secp256k1)");
  }
  secp256k1_pubkey pk;
  if (secp256k1_ec_pubkey_parse(secp_static(), &pk, id.public_key.data(), id.public_key.size()) != 1) {
    return Status::corruption("secp256k1 public key of " + id.short_name() + " is not a point on the curve");
  }
  return address_of_pubkey(pk);
}

Result<Identity> recover_identity(const Hash32& digest, std::span<const std::uint8_t> sig65) {
  HEAL_ASSIGN_OR_RETURN(const secp256k1_pubkey pk, recover_pubkey(digest, sig65));
  Identity id;
  id.scheme = SignatureScheme::kSecp256k1;
  id.public_key.resize(33);
  std::size_t len = 33;
  secp256k1_ec_pubkey_serialize(secp_static(), id.public_key.data(), &len, &pk, SECP256K1_EC_COMPRESSED);
  return id;
}

Result<Address> recover_address(const Hash32& digest, std::span<const std::uint8_t> sig65) {
  HEAL_ASSIGN_OR_RETURN(const secp256k1_pubkey pk, recover_pubkey(digest, sig65));
  return address_of_pubkey(pk);
}

Hash32 eip191_digest(const Hash32& message_hash) {
  static constexpr std::string_view kPrefix =
      "\x19"
      "Ethereum Signed Message:\n32";
  Bytes buf(kPrefix.begin(), kPrefix.end());
  buf.insert(buf.end(), message_hash.begin(), message_hash.end());
  return keccak256(buf);
}

U256 U256::from_u64(std::uint64_t v) {
  U256 u;
  for (int i = 0; i < 8; ++i) u.be[31 - i] = static_cast<std::uint8_t>(v >> (8 * i));
  return u;
}

Result<U256> U256::from_be_bytes(std::span<const std::uint8_t> b) {
  if (b.size() > 32) return Status::out_of_range("integer of " + std::to_string(b.size()) + " bytes exceeds 256 bits");
  U256 u;
  if (!b.empty()) std::memcpy(u.be.data() + 32 - b.size(), b.data(), b.size());  // data() may be null when empty
  return u;
}

Result<U256> U256::from_quantity(std::string_view s) {
  if (!has_0x(s) || s.size() == 2) return Status::invalid_argument("quantity must be 0x followed by hex digits");
  std::string_view d = s.substr(2);
  if (d.size() > 1 && d[0] == '0') return Status::invalid_argument("quantity " + std::string(s) + " has leading zeros");
  if (d.size() > 64) return Status::out_of_range("quantity " + std::string(s.substr(0, 80)) + " exceeds 256 bits");
  U256 u;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const int v = nibble(d[d.size() - 1 - i]);
    if (v < 0) return Status::invalid_argument("quantity has a non-hex digit: '" + std::string(s.substr(0, 80)) + "'");
    u.be[31 - i / 2] = static_cast<std::uint8_t>(u.be[31 - i / 2] | (v << (i % 2 == 0 ? 0 : 4)));
  }
  return u;
}

Bytes U256::minimal_be() const {
  std::size_t i = 0;
  while (i < 32 && be[i] == 0) ++i;
  return Bytes(be.begin() + static_cast<std::ptrdiff_t>(i), be.end());
}

std::string U256::to_quantity() const {
  const std::string h = heal::to_hex(be);
  const std::size_t first = h.find_first_not_of('0');
  return first == std::string::npos ? "0x0" : "0x" + h.substr(first);
}

bool U256::fits_u64() const {
  for (int i = 0; i < 24; ++i) {
    if (be[i] != 0) return false;
  }
  return true;
}

std::uint64_t U256::low_u64() const {
  std::uint64_t v = 0;
  for (int i = 24; i < 32; ++i) v = v << 8 | be[i];
  return v;
}

bool U256::is_zero() const {
  for (auto b : be) {
    if (b != 0) return false;
  }
  return true;
}

Result<U256> U256::add(const U256& a, const U256& b) {
  U256 r;
  unsigned carry = 0;
  for (int i = 31; i >= 0; --i) {
    const unsigned s = unsigned{a.be[i]} + b.be[i] + carry;
    r.be[i] = static_cast<std::uint8_t>(s);
    carry = s >> 8;
  }
  if (carry != 0) return Status::out_of_range("256-bit addition overflows");
  return r;
}

std::string to_quantity(std::uint64_t v) { return U256::from_u64(v).to_quantity(); }

Result<std::uint64_t> parse_quantity_u64(std::string_view s) {
  HEAL_ASSIGN_OR_RETURN(const U256 u, U256::from_quantity(s));
  if (!u.fits_u64()) return Status::out_of_range("quantity " + std::string(s) + " exceeds 64 bits");
  return u.low_u64();
}

std::string to_data_hex(std::span<const std::uint8_t> b) { return "0x" + heal::to_hex(b); }

Result<Bytes> parse_data_hex(std::string_view s, std::size_t max_bytes) {
  if (!has_0x(s)) return Status::invalid_argument("hex data must start with 0x");
  if ((s.size() - 2) / 2 > max_bytes) {
    return Status::out_of_range("hex data of " + std::to_string((s.size() - 2) / 2) + " bytes exceeds limit " +
                                std::to_string(max_bytes));
  }
  return heal::from_hex(s.substr(2));
}

Result<Hash32> parse_hash32(std::string_view s) {
  HEAL_ASSIGN_OR_RETURN(const Bytes b, parse_data_hex(s, 32));
  if (b.size() != 32) return Status::invalid_argument("expected 32 bytes of hex, got " + std::to_string(b.size()));
  Hash32 h;
  std::memcpy(h.data(), b.data(), 32);
  return h;
}

}  // namespace heal::ledger::evm
