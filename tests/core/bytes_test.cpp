#include "heal/core/bytes.h"

#include <gtest/gtest.h>

#include "heal/core/serialization.h"

namespace heal {
namespace {

TEST(Bytes, RoundTripScalarsStringsArrays) {
  ByteWriter w;
  w.put<std::uint32_t>(0xdeadbeef);
  w.put<double>(3.25);
  w.put_string("hospital-a");
  std::vector<std::uint64_t> v{1, 2, 3, UINT64_MAX};
  w.put_array<std::uint64_t>(v);
  Bytes b = w.take();
  EXPECT_EQ(b[0], 0xef);  // little-endian on disk
  ByteReader r(b);
  std::uint32_t a;
  double d;
  std::string s;
  std::vector<std::uint64_t> v2;
  ASSERT_TRUE(r.get(&a).ok());
  ASSERT_TRUE(r.get(&d).ok());
  ASSERT_TRUE(r.get_string(&s).ok());
  ASSERT_TRUE(r.get_array(&v2, 16).ok());
  EXPECT_EQ(a, 0xdeadbeefu);
  EXPECT_EQ(d, 3.25);
  EXPECT_EQ(s, "hospital-a");
  EXPECT_EQ(v2, v);
  EXPECT_TRUE(r.at_end());
}

TEST(Bytes, TruncatedAndOversizedInputsFailCleanly) {
  ByteWriter w;
  std::vector<std::uint64_t> v(10, 7);
  w.put_array<std::uint64_t>(v);
  Bytes b = w.take();
  std::vector<std::uint64_t> out;
  {
    ByteReader r(b);
    EXPECT_EQ(r.get_array(&out, 5).code(), StatusCode::kCorruption);  // over the limit
  }
  for (std::size_t cut = 0; cut < b.size(); ++cut) {
    ByteReader r(std::span<const std::uint8_t>(b).first(cut));
    EXPECT_FALSE(r.get_array(&out, 100).ok()) << "cut at " << cut;
  }
  // A huge declared count must not allocate: it is refused against the remaining bytes.
  Bytes huge(8, 0xff);
  ByteReader r(huge);
  EXPECT_EQ(r.get_array(&out, UINT64_MAX).code(), StatusCode::kCorruption);
}

TEST(Serialization, HeaderValidation) {
  ByteWriter w;
  auto start = begin_object(w, ObjectType::kCkksCiphertext, 1);
  w.put<std::uint64_t>(42);
  end_object(w, start);
  Bytes b = w.take();
  {
    ByteReader r(b);
    auto h = read_header(r, ObjectType::kCkksCiphertext, 1);
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    EXPECT_EQ(h->payload_size, 8u);
  }
  {
    ByteReader r(b);
    EXPECT_EQ(read_header(r, ObjectType::kCkksPlaintext, 1).status().code(), StatusCode::kInvalidArgument);
  }
  {
    Bytes bad = b;
    bad[0] = 'X';
    ByteReader r(bad);
    EXPECT_EQ(read_header(r, ObjectType::kCkksCiphertext, 1).status().code(), StatusCode::kCorruption);
  }
  {
    Bytes bad = b;
    bad[4] = 9;  // version 9
    ByteReader r(bad);
    EXPECT_EQ(read_header(r, ObjectType::kCkksCiphertext, 1).status().code(), StatusCode::kUnsupported);
  }
  {
    Bytes bad(b.begin(), b.end() - 1);
    ByteReader r(bad);
    EXPECT_EQ(read_header(r, ObjectType::kCkksCiphertext, 1).status().code(), StatusCode::kCorruption);
  }
}

TEST(Bytes, Hex) {
  Bytes b{0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "00abff");
  EXPECT_EQ(*from_hex("00ABff"), b);
  EXPECT_FALSE(from_hex("abc").ok());
  EXPECT_FALSE(from_hex("zz").ok());
}

}  // namespace
}  // namespace heal
