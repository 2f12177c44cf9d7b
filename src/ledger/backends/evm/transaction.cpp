#include "ledger/backends/evm/transaction.h"

#include <cstring>

#include "heal/core/check.h"
#include "ledger/backends/evm/rlp.h"

namespace heal::ledger::evm {
namespace {

Bytes rlp_to(const std::optional<Address>& to) { return to ? rlp::bytes(to->bytes) : rlp::bytes({}); }

std::vector<Bytes> eip1559_fields(const Eip1559Tx& tx) {
  return {rlp::uint(tx.chain_id),        rlp::uint(tx.nonce),     rlp::uint(tx.max_priority_fee_per_gas),
          rlp::uint(tx.max_fee_per_gas), rlp::uint(tx.gas_limit), rlp_to(tx.to),
          rlp::uint(tx.value),           rlp::bytes(tx.data),     rlp::list({})};
}

std::vector<Bytes> legacy_fields(const LegacyTx& tx) {
  return {rlp::uint(tx.nonce), rlp::uint(tx.gas_price), rlp::uint(tx.gas_limit),
          rlp_to(tx.to),       rlp::uint(tx.value),     rlp::bytes(tx.data)};
}

// r and s as RLP integers (big-endian without leading zeros).
void append_rs(std::vector<Bytes>& fields, const Bytes& sig) {
  fields.push_back(rlp::uint(*U256::from_be_bytes(std::span(sig).first(32))));
  fields.push_back(rlp::uint(*U256::from_be_bytes(std::span(sig).subspan(32, 32))));
}

Result<std::optional<Address>> decode_to(const rlp::Item& it) {
  if (it.is_list) return Status::corruption("transaction 'to' is a list");
  if (it.str.empty()) return std::optional<Address>{};
  if (it.str.size() != 20)
    return Status::corruption("transaction 'to' has " + std::to_string(it.str.size()) + " bytes");
  Address a;
  std::memcpy(a.bytes.data(), it.str.data(), 20);
  return std::optional<Address>(a);
}

Result<Bytes> decode_str(const rlp::Item& it, const char* what) {
  if (it.is_list) return Status::corruption(std::string("transaction field ") + what + " is a list");
  return it.str;
}

// 65-byte r || s || parity from RLP r and s (each <= 32 bytes, canonical).
Result<Bytes> rs_sig(const rlp::Item& r, const rlp::Item& s, std::uint8_t parity) {
  HEAL_ASSIGN_OR_RETURN(const U256 ru, rlp::as_u256(r));
  HEAL_ASSIGN_OR_RETURN(const U256 su, rlp::as_u256(s));
  Bytes sig(ru.be.begin(), ru.be.end());
  sig.insert(sig.end(), su.be.begin(), su.be.end());
  sig.push_back(parity);
  return sig;
}

}  // namespace

Hash32 signing_hash(const Eip1559Tx& tx) {
  Bytes payload{0x02};
  const Bytes body = rlp::list(eip1559_fields(tx));
  payload.insert(payload.end(), body.begin(), body.end());
  return keccak256(payload);
}

Hash32 signing_hash(const LegacyTx& tx) {
  auto fields = legacy_fields(tx);
  fields.push_back(rlp::uint(tx.chain_id));
  fields.push_back(rlp::uint(0));
  fields.push_back(rlp::uint(0));
  return keccak256(rlp::list(fields));
}

SignedTx sign(const Eip1559Tx& tx, const Secp256k1Signer& signer) {
  const Bytes sig = signer.sign_recoverable_keccak_digest(signing_hash(tx));
  auto fields = eip1559_fields(tx);
  fields.push_back(rlp::uint(sig[64]));
  append_rs(fields, sig);
  SignedTx out;
  out.raw.push_back(0x02);
  const Bytes body = rlp::list(fields);
  out.raw.insert(out.raw.end(), body.begin(), body.end());
  out.hash = keccak256(out.raw);
  out.from = *address_of(signer.identity());
  return out;
}

SignedTx sign(const LegacyTx& tx, const Secp256k1Signer& signer) {
  HEAL_REQUIRE(tx.chain_id <= (std::uint64_t{1} << 62),
               "LegacyTx: chain id " << tx.chain_id << " too large for EIP-155");
  const Bytes sig = signer.sign_recoverable_keccak_digest(signing_hash(tx));
  auto fields = legacy_fields(tx);
  fields.push_back(rlp::uint(tx.chain_id * 2 + 35 + sig[64]));
  append_rs(fields, sig);
  SignedTx out;
  out.raw = rlp::list(fields);
  out.hash = keccak256(out.raw);
  out.from = *address_of(signer.identity());
  return out;
}

Result<DecodedTx> decode_signed_transaction(std::span<const std::uint8_t> raw) {
  DecodedTx d;
  if (raw.empty()) return Status::corruption("empty transaction");
  d.hash = keccak256(raw);
  if (raw[0] == 0x02) {
    HEAL_ASSIGN_OR_RETURN(const rlp::Item item, rlp::decode(raw.subspan(1)));
    if (!item.is_list || item.items.size() != 12) return Status::corruption("type-2 transaction must be a list of 12");
    const auto& f = item.items;
    Eip1559Tx& tx = d.eip1559;
    d.is_eip1559 = true;
    HEAL_ASSIGN_OR_RETURN(tx.chain_id, rlp::as_u64(f[0]));
    HEAL_ASSIGN_OR_RETURN(tx.nonce, rlp::as_u64(f[1]));
    HEAL_ASSIGN_OR_RETURN(tx.max_priority_fee_per_gas, rlp::as_u256(f[2]));
    HEAL_ASSIGN_OR_RETURN(tx.max_fee_per_gas, rlp::as_u256(f[3]));
    HEAL_ASSIGN_OR_RETURN(tx.gas_limit, rlp::as_u64(f[4]));
    HEAL_ASSIGN_OR_RETURN(tx.to, decode_to(f[5]));
    HEAL_ASSIGN_OR_RETURN(tx.value, rlp::as_u256(f[6]));
    HEAL_ASSIGN_OR_RETURN(tx.data, decode_str(f[7], "data"));
    if (!f[8].is_list || !f[8].items.empty()) return Status::unsupported("transaction has a non-empty access list");
    HEAL_ASSIGN_OR_RETURN(const std::uint64_t parity, rlp::as_u64(f[9]));
    if (parity > 1) return Status::corruption("y parity " + std::to_string(parity) + " is not 0 or 1");
    HEAL_ASSIGN_OR_RETURN(const Bytes sig, rs_sig(f[10], f[11], static_cast<std::uint8_t>(parity)));
    HEAL_ASSIGN_OR_RETURN(d.from, recover_address(signing_hash(tx), sig));
    return d;
  }
  if (raw[0] < 0xC0) return Status::unsupported("transaction type " + std::to_string(raw[0]) + " is not supported");
  HEAL_ASSIGN_OR_RETURN(const rlp::Item item, rlp::decode(raw));
  if (item.items.size() != 9) return Status::corruption("legacy transaction must be a list of 9");
  const auto& f = item.items;
  LegacyTx& tx = d.legacy;
  HEAL_ASSIGN_OR_RETURN(tx.nonce, rlp::as_u64(f[0]));
  HEAL_ASSIGN_OR_RETURN(tx.gas_price, rlp::as_u256(f[1]));
  HEAL_ASSIGN_OR_RETURN(tx.gas_limit, rlp::as_u64(f[2]));
  HEAL_ASSIGN_OR_RETURN(tx.to, decode_to(f[3]));
  HEAL_ASSIGN_OR_RETURN(tx.value, rlp::as_u256(f[4]));
  HEAL_ASSIGN_OR_RETURN(tx.data, decode_str(f[5], "data"));
  HEAL_ASSIGN_OR_RETURN(const std::uint64_t v, rlp::as_u64(f[6]));
  if (v < 37 || v > (std::uint64_t{1} << 63))
    return Status::unsupported("legacy transaction without EIP-155 (v = " + std::to_string(v) + ")");
  tx.chain_id = (v - 35) / 2;
  HEAL_ASSIGN_OR_RETURN(const Bytes sig, rs_sig(f[7], f[8], static_cast<std::uint8_t>((v - 35) % 2)));
  HEAL_ASSIGN_OR_RETURN(d.from, recover_address(signing_hash(tx), sig));
  return d;
}

}  // namespace heal::ledger::evm
