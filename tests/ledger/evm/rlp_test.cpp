// RLP: the examples of the Ethereum wiki / Yellow Paper appendix B, and the strict decoder.
#include "ledger/backends/evm/rlp.h"

#include <gtest/gtest.h>

namespace heal::ledger::evm {
namespace {

Bytes str(std::string_view s) { return Bytes(s.begin(), s.end()); }
std::string hex(const Bytes& b) { return to_hex(b); }

TEST(EvmRlp, EncodesTheSpecExamples) {
  EXPECT_EQ(hex(rlp::bytes(str("dog"))), "83646f67");
  EXPECT_EQ(hex(rlp::list({rlp::bytes(str("cat")), rlp::bytes(str("dog"))})), "c88363617483646f67");
  EXPECT_EQ(hex(rlp::bytes(str(""))), "80");
  EXPECT_EQ(hex(rlp::list({})), "c0");
  EXPECT_EQ(hex(rlp::uint(0)), "80");
  EXPECT_EQ(hex(rlp::bytes(Bytes{0x00})), "00");
  EXPECT_EQ(hex(rlp::bytes(Bytes{0x0f})), "0f");
  EXPECT_EQ(hex(rlp::uint(15)), "0f");
  EXPECT_EQ(hex(rlp::uint(127)), "7f");
  EXPECT_EQ(hex(rlp::uint(128)), "8180");
  EXPECT_EQ(hex(rlp::uint(1024)), "820400");
  // The set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ].
  const Bytes e = rlp::list({});
  const Bytes one = rlp::list({e});
  EXPECT_EQ(hex(rlp::list({e, one, rlp::list({e, one})})), "c7c0c1c0c3c0c1c0");
  const std::string lorem = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";  // 56 bytes: long form
  EXPECT_EQ(hex(rlp::bytes(str(lorem))), "b838" + hex(str(lorem)));
  const Bytes long_list = rlp::list({rlp::bytes(str(lorem))});
  EXPECT_EQ(hex(long_list).substr(0, 4), "f83a");
}

TEST(EvmRlp, DecodeRoundTrips) {
  const Bytes e = rlp::list({});
  const std::vector<Bytes> cases = {rlp::bytes(str("dog")),
                                    rlp::list({rlp::bytes(str("cat")), rlp::uint(1024)}),
                                    rlp::list({e, rlp::list({e}), rlp::list({e, rlp::list({e})})}),
                                    rlp::bytes(Bytes(300, 0xAB)),
                                    rlp::list(std::vector<Bytes>(100, rlp::uint(7))),
                                    rlp::uint(0)};
  for (const auto& c : cases) {
    auto item = rlp::decode(c);
    ASSERT_TRUE(item.ok()) << hex(c) << ": " << item.status().to_string();
    EXPECT_EQ(rlp::encode(*item), c);
  }
  auto item = rlp::decode(rlp::uint(1024));
  EXPECT_EQ(*rlp::as_u64(*item), 1024u);
  EXPECT_EQ(*rlp::as_u64(*rlp::decode(rlp::uint(0))), 0u);
}

TEST(EvmRlp, DecoderRefusesNonCanonicalAndTruncatedInput) {
  for (const char* bad : {
           "",                    // nothing
           "8100",                // single byte < 0x80 wrapped
           "817f",                // same
           "b800",                // long form for a short string
           "b80100",              // long form, length 1
           "b90000",              // length with leading zero
           "83646f",              // truncated string
           "c883636174",          // list shorter than announced
           "83646f6700",          // trailing byte
           "c0c0",                // two items
           "bf0000000000000001",  // 8-byte length far beyond the input
           "f9",                  // truncated length of a list
       }) {
    EXPECT_FALSE(rlp::decode(*from_hex(bad)).ok()) << bad;
  }
  // Depth limit.
  Bytes deep = rlp::list({});
  for (int i = 0; i < 40; ++i) deep = rlp::list({deep});
  EXPECT_FALSE(rlp::decode(deep).ok());
  EXPECT_TRUE(rlp::decode(deep, 64).ok());
  // Integers: no leading zero byte, <= 8 bytes for u64.
  EXPECT_FALSE(rlp::as_u64(*rlp::decode(*from_hex("820001"))).ok());
  EXPECT_FALSE(rlp::as_u64(*rlp::decode(rlp::bytes(Bytes(9, 1)))).ok());
  EXPECT_FALSE(rlp::as_u64(*rlp::decode(rlp::list({}))).ok());
}

}  // namespace
}  // namespace heal::ledger::evm
