// The EVM ledger backend: the federation's blocks live in the HealFederation contract
// (contracts/HealFederation.sol) on an Ethereum-compatible chain, reached over JSON-RPC with
// locally signed transactions. The contract enforces the federation's rules on chain (membership,
// one commitment per hospital per round, one contributor set per round before any result, distinct
// decryptors, quorum-signed membership changes); every node re-checks all rules off chain with the
// same ChainValidator as the SQLite backend, over the blocks read back from the contract's events.
//
// A block is the HEAL record + signature list, sent as a transaction by one of its signers (the
// record's secp256k1 key IS the party's chain account, address = keccak256(pubkey)[12:]); the
// contract assigns the height, and the BLAKE2b hash chain is computed off chain from that order.
// A reader refuses a block whose sender is not one of its signers.
//
// Quarantined like libtorch: only front ends link it (through heal_ledger_open); fl sees Ledger.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "heal/core/status.h"
#include "heal/ledger/ledger.h"
#include "heal/ledger/record.h"
#include "heal/ledger/uri.h"

namespace heal::ledger::evm {

/// One member fixed at deployment: HEAL party id, role, and chain account (0x address).
struct ConsortiumMember {
  std::uint32_t party_id = 0;
  Role role = Role::kHospital;
  std::string name;
  std::string address;  // "0x" + 40 hex digits (EIP-55 checksum if mixed case)
};

/// What `heal ledger deploy` deploys: the consortium file (docs/deployment.md).
struct Consortium {
  std::string federation_id;
  std::uint32_t threshold = 0;         // decryption threshold t (check_consortium: 2 <= t, n/2 < t)
  std::uint32_t min_contributors = 0;  // contributions a round needs (>= max(3, t + 1), <= n)
  std::vector<ConsortiumMember> members;
};

/// The rules HealFederation's constructor and changeMembership enforce, checked off chain so that an
/// invalid consortium is refused before any transaction (InvalidArgument; the message names the
/// contract's error). With n = number of hospitals, the HEAL library's default threshold rules
/// (src/fl/README.md "Threshold rules"): 2 <= t <= n and 2t > n, and
/// max(3, t + 1) <= min_contributors <= n (so n >= 3 and t <= n - 1); besides, at least one
/// hospital, distinct party ids, distinct non-zero valid addresses.
Status check_consortium(const Consortium& c);

/// The consortium of a federation's participants (their secp256k1 identities give the addresses);
/// refused (InvalidArgument) unless check_consortium accepts it.
Result<Consortium> consortium_of(std::string federation_id, const std::vector<Participant>& participants,
                                 std::uint32_t threshold, std::uint32_t min_contributors);

/// An SMPC ensemble of `institutions` (issue 17) on the contract: InvalidArgument saying what to do
/// below 3 institutions (t >= 2 and t > n/2 with a quorum of max(3, t + 1) <= n need n >= 3).
Status check_ensemble_size(std::size_t institutions);
/// The consortium of an SMPC ensemble: the contract's threshold is the SecAgg threshold t, its FedAvg
/// quorum (an ensemble records no FedAvg round) the smallest the contract accepts, max(3, t + 1).
Result<Consortium> ensemble_consortium_of(std::string federation_id, const std::vector<Participant>& participants,
                                          std::uint32_t secagg_threshold);

/// Strict JSON parser of a consortium file: {"federation_id", "threshold", "min_contributors",
/// "members": [{"party_id", "role": "hospital"|"coordinator", "name", "address"}]}; the result
/// passes check_consortium.
Result<Consortium> parse_consortium(std::string_view json);

/// Gas, calldata and time spent by one ledger handle's transactions (measurements).
struct TxStats {
  std::uint64_t transactions = 0;
  std::uint64_t gas_used = 0;
  std::uint64_t calldata_bytes = 0;
  double seconds = 0;  // send + receipt (+ confirmations)
};

class EvmLedger final : public Ledger {
 public:
  /// Connects to the node of an evm:// or evms:// URI. Query keys (all optional):
  ///   contract=0x…        the HealFederation contract (needed to read or append; not to deploy)
  ///   key=0x…|env:VAR     a secp256k1 secret (raw hex is for dev chains only: it shows in `ps`)
  ///   keystore=PATH       a Web3 Secret Storage v3 file; password from $HEAL_KEYSTORE_PASSWORD
  ///                       or the variable named by password_env=VAR
  ///   confirmations=N     blocks a transaction must be buried under before it counts (default 0:
  ///                       QBFT has immediate finality; anvil mines one block per transaction)
  ///   from_block=N        first chain block to scan for the contract's events (default 0)
  ///   legacy=1            send EIP-155 legacy transactions instead of EIP-1559
  ///   timeout_ms=N        per-request timeout (default 10000)
  /// Unknown keys are refused. `read_only` refuses a key (an audit needs none).
  static Result<std::unique_ptr<EvmLedger>> open(const LedgerUri& uri, bool read_only);

  ~EvmLedger() override;
  EvmLedger(const EvmLedger&) = delete;
  EvmLedger& operator=(const EvmLedger&) = delete;

  /// Deploys HealFederation for `c` from this handle's key (the URI's) and attaches to it.
  /// Returns the contract address. A consortium check_consortium refuses is never sent.
  Result<std::string> deploy(const Consortium& c);
  /// Sends `wei` from this handle's key to each address whose balance is below it (dev chains:
  /// anvil's accounts are funded, fresh party keys are not; a QBFT network runs with zero gas price).
  Status fund(const std::vector<std::string>& addresses, std::uint64_t wei);
  /// What a launcher does for a new consortium: funds every member's account with `wei` (fund) and
  /// deploys the contract for `c` (deploy); errors say which of the two failed.
  Result<std::string> fund_and_deploy(const Consortium& c, std::uint64_t wei = 1'000'000'000'000'000'000ull);
  /// Reads the attached contract's federation id (its keccak256), threshold, quorum and members
  /// (party id, address, role) back from the chain and compares them with `c` (names are not on
  /// chain). FailedPrecondition naming the first difference; a node checks a contract it is told.
  Status check_deployed_consortium(const Consortium& c) const;
  /// The attached contract ("" before deploy()).
  std::string contract_address() const;
  /// The chain block the contract was deployed in (or the URI's from_block).
  std::uint64_t from_block() const;
  /// evm://host:port?contract=0x…&from_block=N: what `heal ledger verify` needs (no key).
  std::string audit_uri() const;
  /// The 0x address of a secp256k1 identity (InvalidArgument for another scheme).
  static Result<std::string> address_of(const Identity& id);

  void add_local_signer(const Signer& signer) override;
  Result<std::uint64_t> size() const override;
  Result<Block> block(std::uint64_t height) const override;

  /// Totals of this handle's transactions so far.
  TxStats stats() const;

  struct Impl;

 protected:
  Status store(const Block& b) override;
  bool assigns_heights() const override { return true; }

 private:
  explicit EvmLedger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace heal::ledger::evm
