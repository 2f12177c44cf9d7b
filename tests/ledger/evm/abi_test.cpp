// Contract ABI: the examples of the Solidity ABI specification, round trips of every supported type,
// and a strict decoder.
#include "ledger/backends/evm/abi.h"

#include <gtest/gtest.h>

namespace heal::ledger::evm::abi {
namespace {

std::string hex(const Bytes& b) { return to_hex(b); }
std::string word(std::uint64_t v) {
  std::string h = to_hex(U256::from_u64(v).be);
  return h;
}
Bytes from_words(const std::string& h) { return *from_hex(h); }

std::vector<Type> types(std::string_view list) { return parse_types(list).value(); }

TEST(EvmAbi, SelectorsAndTopics) {
  EXPECT_EQ(to_hex(selector("baz(uint32,bool)")), "cdcd77c0");
  EXPECT_EQ(to_hex(selector("transfer(address,uint256)")), "a9059cbb");
  EXPECT_EQ(to_hex(selector("sam(bytes,bool,uint256[])")), "a5643bf2");
  EXPECT_EQ(to_hex(event_topic("Transfer(address,address,uint256)")),
            "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
}

TEST(EvmAbi, SpecExampleBaz) {
  auto call = encode_call("baz(uint32,bool)", {Value::uint(69), Value::boolean(true)});
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(hex(*call), "cdcd77c0" + word(69) + word(1));
}

TEST(EvmAbi, SpecExampleSam) {
  auto call =
      encode_call("sam(bytes,bool,uint256[])", {Value::bytes({'d', 'a', 'v', 'e'}), Value::boolean(true),
                                                Value::array({Value::uint(1), Value::uint(2), Value::uint(3)})});
  ASSERT_TRUE(call.ok());
  const std::string dave = "6461766500000000000000000000000000000000000000000000000000000000";
  EXPECT_EQ(hex(*call),
            "a5643bf2" + word(0x60) + word(1) + word(0xa0) + word(4) + dave + word(3) + word(1) + word(2) + word(3));
}

TEST(EvmAbi, SpecExampleDynamicTypes) {
  // f(uint256,uint32[],bytes10,bytes) with (0x123, [0x456, 0x789], "1234567890", "Hello, world!").
  const std::string s10 = "1234567890", hello = "Hello, world!";
  auto call =
      encode_call("f(uint256,uint32[],bytes10,bytes)",
                  {Value::uint(0x123), Value::array({Value::uint(0x456), Value::uint(0x789)}),
                   Value::bytes(Bytes(s10.begin(), s10.end())), Value::bytes(Bytes(hello.begin(), hello.end()))});
  ASSERT_TRUE(call.ok()) << call.status().to_string();
  EXPECT_EQ(hex(*call), "8be65246" + word(0x123) + word(0x80) +
                            "3132333435363738393000000000000000000000000000000000000000000000" + word(0xe0) + word(2) +
                            word(0x456) + word(0x789) + word(0xd) +
                            "48656c6c6f2c20776f726c642100000000000000000000000000000000000000");
  // And it decodes back.
  const Bytes args(call->begin() + 4, call->end());
  auto v = decode(types("uint256,uint32[],bytes10,bytes"), args);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*(*v)[0].as_u64(), 0x123u);
  ASSERT_EQ((*v)[1].as_array().size(), 2u);
  EXPECT_EQ(*(*v)[1].as_array()[1].as_u64(), 0x789u);
  EXPECT_EQ((*v)[2].as_bytes(), Bytes(s10.begin(), s10.end()));
  EXPECT_EQ((*v)[3].as_bytes(), Bytes(hello.begin(), hello.end()));
}

TEST(EvmAbi, EveryTypeRoundTrips) {
  const auto a1 = *Address::from_hex("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  const auto a2 = *Address::from_hex("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  Hash32 h{};
  h[0] = 0xAA;
  h[31] = 0x55;
  U256 big;
  big.be.fill(0xFF);
  const auto ts =
      types("uint8,uint32,uint64,uint256,bool,address,bytes32,bytes,string,uint32[],address[],uint8[],bytes[]");
  const std::vector<Value> vals = {Value::uint(255),
                                   Value::uint(0xFFFFFFFFu),
                                   Value::uint(~std::uint64_t{0}),
                                   Value::uint(big),
                                   Value::boolean(false),
                                   Value::address(a1),
                                   Value::bytes32(h),
                                   Value::bytes(Bytes(33, 7)),
                                   Value::string("héllo"),
                                   Value::array({Value::uint(1), Value::uint(2)}),
                                   Value::array({Value::address(a1), Value::address(a2)}),
                                   Value::array({}),
                                   Value::array({Value::bytes({}), Value::bytes(Bytes(64, 1)), Value::bytes({9})})};
  auto enc = encode(ts, vals);
  ASSERT_TRUE(enc.ok()) << enc.status().to_string();
  EXPECT_EQ(enc->size() % 32, 0u);
  auto dec = decode(ts, *enc);
  ASSERT_TRUE(dec.ok()) << dec.status().to_string();
  EXPECT_EQ(*dec, vals);
  EXPECT_EQ((*dec)[6].as_bytes32(), h);
  EXPECT_EQ((*dec)[5].as_address(), a1);
  EXPECT_EQ((*dec)[8].as_string(), "héllo");
  EXPECT_EQ((*dec)[3].as_u64().status().code(), StatusCode::kOutOfRange);
}

TEST(EvmAbi, EncoderRefusesValuesThatDoNotFitTheirType) {
  EXPECT_FALSE(encode(types("uint8"), {Value::uint(256)}).ok());
  EXPECT_FALSE(encode(types("uint32"), {Value::uint(std::uint64_t{1} << 32)}).ok());
  EXPECT_FALSE(encode(types("bool"), {Value::uint(1)}).ok());
  EXPECT_FALSE(encode(types("bytes32"), {Value::bytes(Bytes(31, 0))}).ok());
  EXPECT_FALSE(encode(types("uint32[]"), {Value::array({Value::boolean(true)})}).ok());
  EXPECT_FALSE(encode(types("uint32,bool"), {Value::uint(1)}).ok());
  EXPECT_FALSE(parse_type("uint7").ok());
  EXPECT_FALSE(parse_type("uint264").ok());
  EXPECT_FALSE(parse_type("uint08").ok());
  EXPECT_FALSE(parse_type("bytes33").ok());
  EXPECT_FALSE(parse_type("bytes0").ok());
  EXPECT_FALSE(parse_type("uint32[][]").ok());
  EXPECT_FALSE(parse_type("uint32[3]").ok());
  EXPECT_FALSE(parse_type("(uint32,bool)").ok());
  EXPECT_FALSE(parse_type("int256").ok());
  EXPECT_EQ(parse_type("uint")->name(), "uint256");
  EXPECT_FALSE(encode_call("noparens", {}).ok());
}

TEST(EvmAbi, DecoderIsStrict) {
  // Dirty high bits.
  EXPECT_FALSE(decode(types("uint8"), from_words(word(256))).ok());
  EXPECT_FALSE(decode(types("bool"), from_words(word(2))).ok());
  EXPECT_FALSE(decode(types("address"), from_words("01" + std::string(62, '0'))).ok());
  EXPECT_FALSE(decode(types("bytes4"), from_words("aabbccdd01" + std::string(54, '0'))).ok());
  // Truncated.
  EXPECT_FALSE(decode(types("uint256"), Bytes(31, 0)).ok());
  EXPECT_FALSE(decode(types("uint256,uint256"), Bytes(32, 0)).ok());
  // Offsets and lengths out of range.
  EXPECT_FALSE(decode(types("bytes"), from_words(word(0x40))).ok());
  EXPECT_FALSE(decode(types("bytes"), from_words(word(0x20) + word(0x21) + std::string(64, '0'))).ok());
  EXPECT_FALSE(decode(types("bytes"), from_words("ff" + std::string(62, '0'))).ok());
  EXPECT_FALSE(decode(types("uint32[]"), from_words(word(0x20) + word(1000000))).ok());
  EXPECT_FALSE(decode(types("bytes[]"), from_words(word(0x20) + word(1) + word(0x1000))).ok());
  // Non-zero padding after bytes.
  EXPECT_FALSE(decode(types("bytes"), from_words(word(0x20) + word(1) + "aa" + std::string(60, '0') + "01")).ok());
  EXPECT_TRUE(decode(types("bytes"), from_words(word(0x20) + word(1) + "aa" + std::string(62, '0'))).ok());
  // Shared offsets that would decode to more than the input (an amplification attack): refused.
  std::string many = word(0x20) + word(8);
  for (int i = 0; i < 8; ++i) many += word(0x100);  // each element points at the same 0x100-relative place
  many += word(0x40) + std::string(128, 'a');
  EXPECT_FALSE(decode(types("bytes[]"), from_words(many)).ok());
  // Trailing bytes after the encoded values are allowed (the spec permits them).
  EXPECT_TRUE(decode(types("uint8"), from_words(word(1) + word(2))).ok());
  // Topics.
  Hash32 t{};
  t[31] = 1;
  EXPECT_TRUE(decode_topic(*parse_type("bool"), t)->as_bool());
  t[0] = 1;
  EXPECT_FALSE(decode_topic(*parse_type("uint64"), t).ok());
  EXPECT_EQ(decode_topic(*parse_type("bytes"), t)->as_bytes32(), t);
}

}  // namespace
}  // namespace heal::ledger::evm::abi
