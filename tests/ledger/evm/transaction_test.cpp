// Transaction signing: the EIP-155 example of the EIP text, and EIP-1559 transactions checked by
// decoding and sender recovery (and end to end on anvil in anvil_e2e_test.cpp).
#include "ledger/backends/evm/transaction.h"

#include <gtest/gtest.h>

#include "ledger/backends/evm/rlp.h"

namespace heal::ledger::evm {
namespace {

TEST(EvmTransaction, Eip155ExampleFromTheEip) {
  // EIP-155, "Example": nonce 9, gas price 20 gwei, gas 21000, to 0x3535...35, value 1 ether,
  // empty data, chain id 1, private key 0x4646...46.
  LegacyTx tx;
  tx.chain_id = 1;
  tx.nonce = 9;
  tx.gas_price = U256::from_u64(20000000000ull);
  tx.gas_limit = 21000;
  tx.to = *Address::from_hex("0x3535353535353535353535353535353535353535");
  tx.value = U256::from_u64(1000000000000000000ull);
  EXPECT_EQ(to_hex(signing_hash(tx)), "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
  auto key = Secp256k1Signer::from_secret(Bytes(32, 0x46));
  ASSERT_TRUE(key.ok());
  const SignedTx s = sign(tx, **key);
  EXPECT_EQ(to_hex(s.raw),
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939"
            "bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b29"
            "7fb1966a3b6d83");
  EXPECT_EQ(s.hash, keccak256(s.raw));
  auto d = decode_signed_transaction(s.raw);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_FALSE(d->is_eip1559);
  EXPECT_EQ(d->from, s.from);
  EXPECT_EQ(d->from, *address_of((*key)->identity()));
  EXPECT_EQ(d->legacy.chain_id, 1u);
  EXPECT_EQ(d->legacy.nonce, 9u);
}

TEST(EvmTransaction, Eip1559SignsDecodesAndRecovers) {
  auto key = Secp256k1Signer::from_seed(seed_from_u64(42));
  Eip1559Tx tx;
  tx.chain_id = 31337;
  tx.nonce = 3;
  tx.max_priority_fee_per_gas = U256::from_u64(1000000000);
  tx.max_fee_per_gas = U256::from_u64(3000000000);
  tx.gas_limit = 100000;
  tx.to = *Address::from_hex("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  tx.value = *U256::from_quantity("0x21e19e0c9bab2400000");
  tx.data = {0xde, 0xad, 0xbe, 0xef};
  const SignedTx s = sign(tx, *key);
  ASSERT_EQ(s.raw[0], 0x02);
  // The signing payload is 0x02 || rlp of the nine fields (access list empty).
  const Bytes body =
      rlp::list({rlp::uint(31337), rlp::uint(3), rlp::uint(1000000000), rlp::uint(3000000000), rlp::uint(100000),
                 rlp::bytes(tx.to->bytes), rlp::uint(tx.value), rlp::bytes(tx.data), rlp::list({})});
  Bytes payload{0x02};
  payload.insert(payload.end(), body.begin(), body.end());
  EXPECT_EQ(signing_hash(tx), keccak256(payload));
  auto d = decode_signed_transaction(s.raw);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_TRUE(d->is_eip1559);
  EXPECT_EQ(d->from, *address_of(key->identity()));
  EXPECT_EQ(d->hash, s.hash);
  EXPECT_EQ(d->eip1559.chain_id, tx.chain_id);
  EXPECT_EQ(d->eip1559.value, tx.value);
  EXPECT_EQ(d->eip1559.data, tx.data);
  EXPECT_EQ(d->eip1559.to, tx.to);
  // Contract creation: empty `to`.
  tx.to.reset();
  auto c = decode_signed_transaction(sign(tx, *key).raw);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->eip1559.to.has_value());
  // A changed byte in the signed payload changes the recovered sender or breaks the encoding.
  Bytes tampered = s.raw;
  tampered[5] ^= 1;
  auto t = decode_signed_transaction(tampered);
  if (t.ok()) {
    EXPECT_NE(t->from, *address_of(key->identity()));
  }
  EXPECT_FALSE(decode_signed_transaction(Bytes{}).ok());
  EXPECT_FALSE(decode_signed_transaction(Bytes{0x02}).ok());
  EXPECT_FALSE(decode_signed_transaction(Bytes{0x01, 0xc0}).ok());
}

}  // namespace
}  // namespace heal::ledger::evm
