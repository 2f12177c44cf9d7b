// End to end on a private anvil chain: locally signed EIP-1559 and EIP-155 transactions from a
// fresh Secp256k1Signer (the ledger identity) are accepted, and the chain's view of the sender is
// address_of(identity). Also contract creation, logs and a revert's custom-error selector, with tiny
// hand-assembled contracts.
#include <gtest/gtest.h>

#include "ledger/backends/evm/abi.h"
#include "ledger/backends/evm/rpc_client.h"
#include "ledger/backends/evm/transaction.h"
#include "ledger/evm/anvil_fixture.h"

namespace heal::ledger::evm {
namespace {

using testing::AnvilFixture;

class EvmAnvil : public AnvilFixture {
 protected:
  // Signs, sends and waits for an EIP-1559 transaction from `from`.
  Receipt send1559(RpcClient& rpc, const Secp256k1Signer& from, std::optional<Address> to, const U256& value,
                   const Bytes& data, std::uint64_t gas = 21000) {
    const Address sender = *address_of(from.identity());
    Eip1559Tx tx;
    tx.chain_id = *rpc.chain_id();
    tx.nonce = *rpc.get_transaction_count(sender, "pending");
    auto fees = rpc.suggest_eip1559_fees();
    EXPECT_TRUE(fees.ok()) << fees.status().to_string();
    tx.max_priority_fee_per_gas = fees->first;
    tx.max_fee_per_gas = fees->second;
    tx.gas_limit = gas;
    tx.to = to;
    tx.value = value;
    tx.data = data;
    const SignedTx s = sign(tx, from);
    auto h = rpc.send_raw_transaction(s.raw);
    EXPECT_TRUE(h.ok()) << h.status().to_string();
    EXPECT_EQ(*h, s.hash);
    auto r = rpc.wait_for_receipt(s.hash, std::chrono::seconds(30));
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return std::move(r).value();
  }
};

TEST_F(EvmAnvil, FreshIdentityIsFundedAndItsTransactionsComeFromItsAddress) {
  RpcClient rpc(url());
  ASSERT_EQ(*rpc.chain_id(), kChainId);
  auto dev = dev_signer(0);
  auto fresh = Secp256k1Signer::generate();
  const Address fresh_addr = *address_of(fresh->identity());
  const U256 one_eth = U256::from_u64(1000000000000000000ull);

  // Dev account funds the fresh account with a signed EIP-1559 transfer.
  const Receipt fund = send1559(rpc, *dev, fresh_addr, one_eth, {});
  EXPECT_TRUE(fund.status);
  EXPECT_EQ(fund.from, *address_of(dev->identity()));
  EXPECT_EQ(fund.to, fresh_addr);
  EXPECT_EQ(*rpc.get_balance(fresh_addr), one_eth);
  EXPECT_EQ(*rpc.get_transaction_count(fresh_addr, "latest"), 0u);

  // The fresh account sends a signed EIP-1559 transaction: the chain recovers its address.
  const Address sink = *address_of(Secp256k1Signer::from_seed(seed_from_u64(5))->identity());
  const Receipt r1 = send1559(rpc, *fresh, sink, U256::from_u64(12345), {});
  EXPECT_TRUE(r1.status);
  EXPECT_EQ(r1.from, fresh_addr);
  EXPECT_EQ(*rpc.get_balance(sink), U256::from_u64(12345));
  EXPECT_EQ(*rpc.get_transaction_count(fresh_addr, "latest"), 1u);

  // And a legacy EIP-155 transaction.
  LegacyTx legacy;
  legacy.chain_id = kChainId;
  legacy.nonce = *rpc.get_transaction_count(fresh_addr, "pending");
  auto base = rpc.latest_base_fee();
  ASSERT_TRUE(base.ok());
  legacy.gas_price = *U256::add(*base, *base);
  legacy.gas_limit = 21000;
  legacy.to = sink;
  legacy.value = U256::from_u64(1);
  const SignedTx ls = sign(legacy, *fresh);
  ASSERT_TRUE(rpc.send_raw_transaction(ls.raw).ok());
  auto r2 = rpc.wait_for_receipt(ls.hash);
  ASSERT_TRUE(r2.ok()) << r2.status().to_string();
  EXPECT_TRUE(r2->status);
  EXPECT_EQ(r2->from, fresh_addr);
  EXPECT_EQ(*rpc.get_balance(sink), U256::from_u64(12346));

  // Replaying a mined transaction is refused by the node (nonce too low): a JSON-RPC error, no retry.
  RpcError err;
  auto replay = rpc.call("eth_sendRawTransaction", nlohmann::json::array({to_data_hex(ls.raw)}), &err);
  EXPECT_EQ(replay.status().code(), StatusCode::kFailedPrecondition) << replay.status().to_string();
  EXPECT_NE(err.code, 0);
}

TEST_F(EvmAnvil, ContractCreationLogsAndRevertSelector) {
  RpcClient rpc(url());
  auto dev = dev_signer(1);
  // Runtime A: mstore(0, 42); log1(0, 32, TOPIC); stop.
  const Hash32 topic = abi::event_topic("Answer(uint256)");
  Bytes runtime_a = {0x60, 0x2a, 0x60, 0x00, 0x52, 0x7f};
  runtime_a.insert(runtime_a.end(), topic.begin(), topic.end());
  runtime_a.insert(runtime_a.end(), {0x60, 0x20, 0x60, 0x00, 0xa1, 0x00});
  // Runtime B: revert with the 4-byte custom error selector of NotMember().
  const auto sel = abi::selector("NotMember()");
  Bytes runtime_b = {0x63, sel[0], sel[1], sel[2], sel[3], 0x60, 0xe0, 0x1b,
                     0x60, 0x00,   0x52,   0x60,   0x04,   0x60, 0x00, 0xfd};
  // Init code: codecopy(0, 11, len); return(0, len); followed by the runtime.
  auto deployer = [](const Bytes& runtime) {
    Bytes init = {0x60, static_cast<std::uint8_t>(runtime.size()), 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00,
                  0xf3};
    init.insert(init.end(), runtime.begin(), runtime.end());
    return init;
  };
  const Receipt da = send1559(rpc, *dev, std::nullopt, U256{}, deployer(runtime_a), 200000);
  ASSERT_TRUE(da.status);
  ASSERT_TRUE(da.contract_address.has_value());
  const Receipt db = send1559(rpc, *dev, std::nullopt, U256{}, deployer(runtime_b), 200000);
  ASSERT_TRUE(db.contract_address.has_value());

  // Logs: in the receipt and through eth_getLogs with a topic filter.
  const Receipt call_a = send1559(rpc, *dev, *da.contract_address, U256{}, {}, 100000);
  ASSERT_TRUE(call_a.status);
  ASSERT_EQ(call_a.logs.size(), 1u);
  LogFilter f;
  f.address = *da.contract_address;
  f.topics = {{topic}};
  auto logs = rpc.get_logs(f);
  ASSERT_TRUE(logs.ok()) << logs.status().to_string();
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_EQ((*logs)[0].topics[0], topic);
  EXPECT_EQ((*logs)[0].transaction_hash, call_a.transaction_hash);
  auto vals = abi::decode(*abi::parse_types("uint256"), (*logs)[0].data);
  ASSERT_TRUE(vals.ok());
  EXPECT_EQ(*(*vals)[0].as_u64(), 42u);
  f.topics = {{abi::event_topic("Other()")}};
  EXPECT_TRUE(rpc.get_logs(f)->empty());

  // A revert: eth_call and eth_estimateGas return the custom error selector in the error data.
  CallRequest req;
  req.from = *address_of(dev->identity());
  req.to = *db.contract_address;
  RpcError err;
  auto r = rpc.eth_call(req, "latest", &err);
  ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().to_string();
  ASSERT_TRUE(err.selector().has_value()) << err.data;
  EXPECT_EQ(*err.selector(), sel);
  EXPECT_EQ(rpc.estimate_gas(req).status().code(), StatusCode::kFailedPrecondition);
  // A mined transaction that reverts has status 0.
  const Receipt call_b = send1559(rpc, *dev, *db.contract_address, U256{}, {}, 100000);
  EXPECT_FALSE(call_b.status);
}

}  // namespace
}  // namespace heal::ledger::evm
