// keccak-256, EIP-55 addresses, the address of a secp256k1 identity, quantities and recovery.
#include "ledger/backends/evm/types.h"

#include <gtest/gtest.h>

#include "heal/core/bytes.h"

namespace heal::ledger::evm {
namespace {

std::unique_ptr<Secp256k1Signer> signer_hex(std::string_view hex) {
  return std::move(Secp256k1Signer::from_secret(*from_hex(hex))).value();
}

TEST(EvmTypes, KeccakKnownAnswers) {
  // keccak256("") and keccak256("abc") (Keccak team's reference values, as used by Ethereum).
  EXPECT_EQ(to_hex(keccak256(std::string_view(""))),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(to_hex(keccak256(std::string_view("abc"))),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // An event topic the research notes saw a node emit: UpdateSubmitted(uint64,address,bytes32).
  EXPECT_EQ(to_hex(keccak256(std::string_view("UpdateSubmitted(uint64,address,bytes32)"))),
            "21dc18f42cf805ab56ff42eeb04b26537e743315762c3f4c21c883247883a051");
}

TEST(EvmTypes, Eip55ChecksumVectors) {
  // The examples of EIP-55.
  for (const char* s : {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}) {
    auto a = Address::from_hex(s);
    ASSERT_TRUE(a.ok()) << s << ": " << a.status().to_string();
    EXPECT_EQ(a->to_hex(), s);
    std::string lower = s;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(lower, a->to_lower_hex());
    ASSERT_TRUE(Address::from_hex(lower).ok());
    EXPECT_EQ(*Address::from_hex(lower), *a);
  }
}

TEST(EvmTypes, AddressParsingIsStrict) {
  // One letter's case flipped: checksum fails.
  EXPECT_EQ(Address::from_hex("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(Address::from_hex("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").ok());      // no 0x
  EXPECT_FALSE(Address::from_hex("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA").ok());      // short
  EXPECT_FALSE(Address::from_hex("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00").ok());  // long
  EXPECT_FALSE(Address::from_hex("0xzaaeb6053f3e94c9b9a09f33669435e7ef1beaed").ok());    // non-hex
  EXPECT_FALSE(Address::from_hex("").ok());
  EXPECT_TRUE(Address::from_hex("0x0000000000000000000000000000000000000000")->is_zero());
}

TEST(EvmTypes, AddressOfIdentity) {
  // anvil's / Hardhat's dev account 0 (the "test test ... junk" mnemonic).
  auto dev0 = signer_hex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  EXPECT_EQ(address_of(dev0->identity())->to_hex(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  // The Web3 Secret Storage test key and the address published with it.
  auto ks = signer_hex("7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d");
  EXPECT_EQ(address_of(ks->identity())->to_hex(), "0x008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b");
  // Not secp256k1 / not a point.
  auto ed = Ed25519Signer::from_seed(seed_from_u64(1));
  EXPECT_EQ(address_of(ed->identity()).status().code(), StatusCode::kInvalidArgument);
  Identity bad{SignatureScheme::kSecp256k1, Bytes(33, 0)};
  EXPECT_EQ(address_of(bad).status().code(), StatusCode::kCorruption);
  bad.public_key = Bytes(20, 2);
  EXPECT_EQ(address_of(bad).status().code(), StatusCode::kCorruption);
}

TEST(EvmTypes, RecoverableSignatureRecoversTheSigner) {
  auto s = Secp256k1Signer::from_seed(seed_from_u64(77));
  const Hash32 d = keccak256(std::string_view("some digest"));
  Bytes sig = s->sign_recoverable_keccak_digest(d);
  EXPECT_EQ(*recover_identity(d, sig), s->identity());
  EXPECT_EQ(*recover_address(d, sig), *address_of(s->identity()));
  Bytes v27 = sig;
  v27[64] = static_cast<std::uint8_t>(v27[64] + 27);
  EXPECT_EQ(*recover_address(d, v27), *address_of(s->identity()));
  Bytes flipped = sig;
  flipped[64] ^= 1;  // the other parity recovers another key (or none)
  auto other = recover_address(d, flipped);
  if (other.ok()) {
    EXPECT_NE(*other, *address_of(s->identity()));
  }
  Bytes bad_v = sig;
  bad_v[64] = 5;
  EXPECT_EQ(recover_address(d, bad_v).status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(recover_address(d, Bytes(64, 1)).ok());
  EXPECT_FALSE(recover_address(d, Bytes(65, 0)).ok());
  Bytes high = sig;  // r || (n - s): valid but malleable; refused
  static const std::uint8_t n[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                     0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int dd = n[i] - sig[32 + i] - borrow;
    borrow = dd < 0;
    high[32 + i] = static_cast<std::uint8_t>(dd + (borrow ? 256 : 0));
  }
  high[64] ^= 1;
  EXPECT_EQ(recover_address(d, high).status().code(), StatusCode::kCorruption);
  // EIP-191: the personal_sign prefix changes the digest.
  EXPECT_NE(eip191_digest(d), d);
  std::string pre =
      "\x19"
      "Ethereum Signed Message:\n32";
  pre.append(reinterpret_cast<const char*>(d.data()), d.size());
  EXPECT_EQ(eip191_digest(d), keccak256(pre));
}

TEST(EvmTypes, QuantitiesAreStrict) {
  EXPECT_EQ(to_quantity(0), "0x0");
  EXPECT_EQ(to_quantity(1024), "0x400");
  EXPECT_EQ(*parse_quantity_u64("0x400"), 1024u);
  EXPECT_EQ(*parse_quantity_u64("0x0"), 0u);
  EXPECT_EQ(*parse_quantity_u64("0xffffffffffffffff"), ~std::uint64_t{0});
  EXPECT_FALSE(parse_quantity_u64("0x10000000000000000").ok());
  EXPECT_FALSE(parse_quantity_u64("0x0400").ok());  // leading zero
  EXPECT_FALSE(parse_quantity_u64("0x").ok());
  EXPECT_FALSE(parse_quantity_u64("400").ok());
  EXPECT_FALSE(parse_quantity_u64("0xg").ok());
  auto big = U256::from_quantity("0x21e19e0c9bab2400000");  // 10,000 ETH in wei
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(big->fits_u64());
  EXPECT_EQ(big->to_quantity(), "0x21e19e0c9bab2400000");
  EXPECT_FALSE(U256::from_quantity("0x1" + std::string(64, '0')).ok());  // 2^256
  EXPECT_EQ(*U256::add(U256::from_u64(~std::uint64_t{0}), U256::from_u64(1)),
            *U256::from_quantity("0x10000000000000000"));
  U256 max;
  max.be.fill(0xFF);
  EXPECT_EQ(U256::add(max, U256::from_u64(1)).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(to_data_hex(Bytes{}), "0x");
  EXPECT_EQ(*parse_data_hex("0x00ff"), (Bytes{0x00, 0xff}));
  EXPECT_FALSE(parse_data_hex("0x0").ok());
  EXPECT_FALSE(parse_data_hex("00").ok());
  EXPECT_FALSE(parse_hash32("0x00").ok());
}

}  // namespace
}  // namespace heal::ledger::evm
