// Locally signed Ethereum transactions: EIP-1559 (type 2) and legacy with EIP-155 replay protection
// (for permissioned chains with free gas that prefer legacy). Signed with a ledger Secp256k1Signer,
// so a hospital's ledger identity is its chain account.
#pragma once

#include <cstdint>
#include <optional>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/ledger/identity.h"
#include "ledger/backends/evm/types.h"

namespace heal::ledger::evm {

/// EIP-1559 dynamic-fee transaction with an empty access list.
struct Eip1559Tx {
  std::uint64_t chain_id = 0;
  std::uint64_t nonce = 0;
  U256 max_priority_fee_per_gas;
  U256 max_fee_per_gas;
  std::uint64_t gas_limit = 0;
  std::optional<Address> to;  // none: contract creation
  U256 value;
  Bytes data;
};

/// Legacy transaction signed under EIP-155 (v = chain_id * 2 + 35 + y parity).
struct LegacyTx {
  std::uint64_t chain_id = 0;
  std::uint64_t nonce = 0;
  U256 gas_price;
  std::uint64_t gas_limit = 0;
  std::optional<Address> to;
  U256 value;
  Bytes data;
};

struct SignedTx {
  Bytes raw;    // what eth_sendRawTransaction takes
  Hash32 hash;  // keccak256(raw): the transaction hash nodes report
  Address from;
};

/// keccak256(0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value,
/// data, accessList])).
Hash32 signing_hash(const Eip1559Tx& tx);
/// keccak256(rlp([nonce, gasPrice, gasLimit, to, value, data, chainId, 0, 0])) (EIP-155).
Hash32 signing_hash(const LegacyTx& tx);

/// raw = 0x02 || rlp([... , accessList, yParity, r, s]).
SignedTx sign(const Eip1559Tx& tx, const Secp256k1Signer& signer);
/// raw = rlp([nonce, gasPrice, gasLimit, to, value, data, v, r, s]).
SignedTx sign(const LegacyTx& tx, const Secp256k1Signer& signer);

/// Decodes a signed raw transaction (type 2 or legacy EIP-155) and recovers its sender; the fields
/// are returned through whichever pointer matches the type. Strict (canonical RLP, field counts,
/// low S); used by tests and to check what a node returns.
struct DecodedTx {
  bool is_eip1559 = false;
  Eip1559Tx eip1559;
  LegacyTx legacy;
  Address from;
  Hash32 hash{};
};
Result<DecodedTx> decode_signed_transaction(std::span<const std::uint8_t> raw);

}  // namespace heal::ledger::evm
