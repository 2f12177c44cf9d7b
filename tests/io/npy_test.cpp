#include "heal/io/npy.h"

#include <gtest/gtest.h>

#include <deque>

#include "io/io_test_util.h"

namespace heal::io {
namespace {

using testing::le_bytes;
using testing::make_npy;

// parse_npy returns a view into its input; keep test inputs alive for the whole test binary.
Result<NpyArray> parse_kept(Bytes b) {
  static std::deque<Bytes> kept;
  kept.push_back(std::move(b));
  return parse_npy(kept.back());
}

TEST(Npy, ParsesUint8COrder) {
  const Bytes f = make_npy("|u1", "(2, 3)", {1, 2, 3, 4, 5, 6});
  auto a = parse_npy(f);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->header.shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(a->header.count, 6u);
  EXPECT_EQ(a->header.data_offset % 64, 0u);
  EXPECT_EQ(npy_to_doubles(*a), (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, FortranOrderIsTransposedToCOrder) {
  // C array [[1,2,3],[4,5,6]] stored column-major: 1 4 2 5 3 6.
  const Bytes f = make_npy("|u1", "(2, 3)", {1, 4, 2, 5, 3, 6}, /*fortran=*/true);
  auto a = parse_npy(f);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(npy_to_doubles(*a), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  // 3-D: shape (2,2,2), C value at (i,j,k) = 4i+2j+k; Fortran offset i + 2j + 4k.
  Bytes fdata(8);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 2; ++k) fdata[static_cast<std::size_t>(i + 2 * j + 4 * k)] = static_cast<std::uint8_t>(4 * i + 2 * j + k);
  auto b = parse_kept(make_npy("|u1", "(2, 2, 2)", fdata, true));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(npy_to_doubles(*b), (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(Npy, DtypesAndEndianness) {
  auto f4 = parse_kept(make_npy("<f4", "(2,)", le_bytes<float>({0.5f, -2.0f})));
  ASSERT_TRUE(f4.ok());
  EXPECT_EQ(npy_to_doubles(*f4), (std::vector<double>{0.5, -2.0}));
  auto i8 = parse_kept(make_npy("<i8", "(2,)", le_bytes<std::int64_t>({-7, 1LL << 40})));
  ASSERT_TRUE(i8.ok());
  EXPECT_EQ(npy_to_doubles(*i8), (std::vector<double>{-7.0, 1099511627776.0}));
  auto u2be = parse_kept(make_npy(">u2", "(2,)", {0x01, 0x02, 0xff, 0x00}));
  ASSERT_TRUE(u2be.ok());
  EXPECT_TRUE(u2be->header.big_endian);
  EXPECT_EQ(npy_to_doubles(*u2be), (std::vector<double>{258.0, 65280.0}));
  auto f8be = parse_kept(make_npy(">f8", "(1,)", {0x3f, 0xf8, 0, 0, 0, 0, 0, 0}));  // 1.5
  ASSERT_TRUE(f8be.ok());
  EXPECT_EQ(npy_to_doubles(*f8be)[0], 1.5);
  auto b1 = parse_kept(make_npy("|b1", "(3,)", {0, 1, 2}));
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(npy_to_doubles(*b1), (std::vector<double>{0, 1, 1}));
  auto i1 = parse_kept(make_npy("|i1", "(1,)", {0xff}));
  ASSERT_TRUE(i1.ok());
  EXPECT_EQ(npy_to_doubles(*i1)[0], -1.0);
}

TEST(Npy, ShapesScalarOneTupleAndVersions) {
  auto scalar = parse_kept(make_npy("<i4", "()", le_bytes<std::int32_t>({42})));
  ASSERT_TRUE(scalar.ok());
  EXPECT_TRUE(scalar->header.shape.empty());
  EXPECT_EQ(scalar->header.count, 1u);
  auto one = parse_kept(make_npy("|u1", "(3,)", {1, 2, 3}));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->header.shape, std::vector<std::uint64_t>{3});
  auto empty = parse_kept(make_npy("|u1", "(0, 5)", {}));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->header.count, 0u);
  for (int v : {2, 3}) {
    auto a = parse_kept(make_npy("<u2", "(1, 1)", {7, 0}, false, v));
    ASSERT_TRUE(a.ok()) << "version " << v;
    EXPECT_EQ(a->header.major_version, v);
    EXPECT_EQ(npy_to_doubles(*a)[0], 7.0);
  }
  NpyHeader h;  // keys in any order, double quotes, no trailing comma
  ASSERT_TRUE(parse_npy_header_dict("{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"<f8\"}", &h).ok());
  EXPECT_EQ(h.count, 4u);
}

TEST(Npy, RejectsMalformedInput) {
  const Bytes good = make_npy("|u1", "(2, 2)", {1, 2, 3, 4});
  EXPECT_FALSE(parse_npy(Bytes{}).ok());
  Bytes bad_magic = good;
  bad_magic[1] = 'X';
  EXPECT_EQ(parse_npy(bad_magic).status().code(), StatusCode::kCorruption);
  Bytes bad_version = good;
  bad_version[6] = 9;
  EXPECT_EQ(parse_npy(bad_version).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(parse_npy(std::span(good).first(20)).status().code(), StatusCode::kCorruption);  // header cut
  EXPECT_EQ(parse_npy(std::span(good).first(good.size() - 1)).status().code(), StatusCode::kCorruption);  // data cut
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(parse_npy(trailing).status().code(), StatusCode::kCorruption);
  // Absurd shapes never allocate: rejected against the bytes present.
  auto huge = parse_kept(make_npy("<f8", "(1000000000, 1000000000)", {1, 2, 3}));
  EXPECT_EQ(huge.status().code(), StatusCode::kCorruption);
  auto overflow = parse_kept(make_npy("|u1", "(4294967296, 4294967296, 4294967296)", {}));
  EXPECT_EQ(overflow.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(parse_kept(make_npy("<c8", "(1,)", Bytes(8))).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(parse_kept(make_npy("|S4", "(1,)", Bytes(4))).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(parse_kept(make_npy("|O", "(1,)", Bytes(8))).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(parse_kept(make_npy("|u4", "(1,)", Bytes(4))).status().code(), StatusCode::kCorruption);
  NpyHeader h;
  EXPECT_FALSE(parse_npy_header_dict("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,)}", &h).ok());
  EXPECT_FALSE(parse_npy_header_dict("{'descr': '<i4', 'fortran_order': False}", &h).ok());
  EXPECT_FALSE(parse_npy_header_dict("{'descr': '<i4', 'fortran_order': Maybe, 'shape': ()}", &h).ok());
  EXPECT_FALSE(parse_npy_header_dict("{'descr': '<i4', 'fortran_order': False, 'shape': (-1,)}", &h).ok());
  EXPECT_FALSE(parse_npy_header_dict("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), 'x': 1}", &h).ok());
  EXPECT_FALSE(parse_npy_header_dict("{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': ()}", &h).ok());
  EXPECT_FALSE(parse_npy_header_dict("{'descr': '<i4', 'fortran_order': False, 'shape': (1,)", &h).ok());
  EXPECT_FALSE(parse_npy_header_dict("{'descr': '<i4', 'fortran_order': False, 'shape': (1,)} junk", &h).ok());
}

}  // namespace
}  // namespace heal::io
