// NpzWriter / encode_npy: round trips through the reader (NpzArchive, parse_npy), errors, atomic
// replacement, and an independent check with Python (numpy when installed, else the zipfile module).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "heal/io/npy.h"
#include "io/io_test_util.h"

namespace heal::io {
namespace {

using testing::TempDir;

NpyArray parse_member(const NpzArchive& a, const std::string& member, Bytes& keep) {
  auto b = a.read(member);
  EXPECT_TRUE(b.ok()) << b.status().to_string();
  keep = std::move(b).value();
  auto arr = parse_npy(keep);
  EXPECT_TRUE(arr.ok()) << arr.status().to_string();
  return std::move(arr).value();
}

TEST(NpyWrite, HeaderIsNumpyVersion1AlignedTo64) {
  const std::vector<float> v = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 1e-3f};
  auto b = encode_npy(v, {2, 3});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_GE(b->size(), 10u);
  EXPECT_EQ((*b)[0], 0x93);
  EXPECT_EQ(std::string(b->begin() + 1, b->begin() + 6), "NUMPY");
  EXPECT_EQ((*b)[6], 1);
  EXPECT_EQ((*b)[7], 0);
  const std::size_t hlen = (*b)[8] | ((*b)[9] << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_EQ((*b)[10 + hlen - 1], '\n');
  EXPECT_EQ(b->size(), 10 + hlen + v.size() * 4);
  auto a = parse_npy(*b);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->header.descr, "<f4");
  EXPECT_EQ(a->header.shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_FALSE(a->header.fortran_order);
  const auto d = npy_to_doubles(*a);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(d[i], static_cast<double>(v[i]));
}

TEST(NpzWrite, RoundTripThroughTheReader) {
  TempDir dir;
  const std::string path = dir.file("out.npz");
  std::vector<float> x(5 * 7);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.5f - 3.0f;
  x[3] = std::numeric_limits<float>::max();
  x[4] = -std::numeric_limits<float>::denorm_min();
  const std::vector<std::int64_t> y = {0, 1, -1, std::numeric_limits<std::int64_t>::max(),
                                       std::numeric_limits<std::int64_t>::min()};
  const std::vector<std::uint8_t> u = {0, 1, 254, 255};
  const std::vector<std::int64_t> scalar = {42};
  const std::vector<float> empty;

  NpzWriter w;
  ASSERT_TRUE(w.add("train_x", x, {5, 7}).ok());
  ASSERT_TRUE(w.add("train_y", y, {5}).ok());
  ASSERT_TRUE(w.add("hash", u, {2, 2}).ok());
  ASSERT_TRUE(w.add("feature_dim", scalar, {}).ok());
  ASSERT_TRUE(w.add("val_x", empty, {0, 7}).ok());
  EXPECT_EQ(w.names(), (std::vector<std::string>{"train_x", "train_y", "hash", "feature_dim", "val_x"}));
  const Status st = w.write(path);
  ASSERT_TRUE(st.ok()) << st.to_string();

  auto a = NpzArchive::from_file(path);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->members(),
            (std::vector<std::string>{"train_x.npy", "train_y.npy", "hash.npy", "feature_dim.npy", "val_x.npy"}));
  Bytes keep;
  {
    const NpyArray arr = parse_member(*a, "train_x.npy", keep);
    EXPECT_EQ(arr.header.descr, "<f4");
    EXPECT_EQ(arr.header.shape, (std::vector<std::uint64_t>{5, 7}));
    const auto d = npy_to_doubles(arr);
    ASSERT_EQ(d.size(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(d[i], static_cast<double>(x[i])) << i;
  }
  {
    const NpyArray arr = parse_member(*a, "train_y.npy", keep);
    EXPECT_EQ(arr.header.descr, "<i8");
    EXPECT_EQ(arr.header.kind, NpyKind::kSigned);
    EXPECT_EQ(arr.header.shape, (std::vector<std::uint64_t>{5}));
    ASSERT_EQ(arr.data.size(), 5u * 8);
    for (std::size_t i = 0; i < y.size(); ++i) {
      std::uint64_t v = 0;
      for (int k = 7; k >= 0; --k) v = (v << 8) | arr.data[i * 8 + static_cast<std::size_t>(k)];
      EXPECT_EQ(static_cast<std::int64_t>(v), y[i]) << i;  // exact, beyond double precision
    }
  }
  {
    const NpyArray arr = parse_member(*a, "hash.npy", keep);
    EXPECT_EQ(arr.header.descr, "|u1");
    EXPECT_EQ(arr.header.shape, (std::vector<std::uint64_t>{2, 2}));
    EXPECT_EQ(std::vector<std::uint8_t>(arr.data.begin(), arr.data.end()), u);
  }
  {
    const NpyArray arr = parse_member(*a, "feature_dim.npy", keep);
    EXPECT_TRUE(arr.header.shape.empty());
    EXPECT_EQ(arr.header.count, 1u);
    EXPECT_EQ(npy_to_doubles(arr), (std::vector<double>{42.0}));
  }
  {
    const NpyArray arr = parse_member(*a, "val_x.npy", keep);
    EXPECT_EQ(arr.header.shape, (std::vector<std::uint64_t>{0, 7}));
    EXPECT_EQ(arr.header.count, 0u);
  }
}

TEST(NpzWrite, BytesAreDeterministicAndCorruptionIsCaughtByTheReader) {
  NpzWriter w;
  const std::vector<float> x = {1, 2, 3, 4};
  ASSERT_TRUE(w.add("a", x, {4}).ok());
  auto b1 = w.to_bytes();
  auto b2 = w.to_bytes();
  ASSERT_TRUE(b1.ok() && b2.ok());
  EXPECT_EQ(*b1, *b2);
  // Flip one byte of the stored data: the reader's CRC check must refuse the member.
  Bytes bad = *b1;
  bad[30 + 5 + 128 + 2] ^= 0x40;  // local header, "a.npy", 128-byte .npy header, inside the data
  auto a = NpzArchive::from_bytes(bad);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_FALSE(a->read("a.npy").ok());
  auto good = NpzArchive::from_bytes(*b1);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->read("a.npy").ok());
}

TEST(NpzWrite, ErrorsAreStatuses) {
  NpzWriter w;
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  Status s = w.add("x", x, {4});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("shape (4,) holds 4 elements, the data 6"), std::string::npos) << s.to_string();
  EXPECT_EQ(w.add("", x, {6}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.add("a/b", x, {6}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.add("a b", x, {6}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.add(std::string(201, 'a'), x, {6}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.add("x", x, std::vector<std::uint64_t>(33, 1)).code(), StatusCode::kInvalidArgument);
  // Overflowing shape.
  EXPECT_EQ(w.add("x", x, {std::uint64_t{1} << 40, std::uint64_t{1} << 40}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(w.add("x", x, {2, 3}).ok());
  s = w.add("x", x, {6});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("added twice"), std::string::npos);
  EXPECT_EQ(w.names(), (std::vector<std::string>{"x"}));
  // A directory that does not exist: an error naming the path, no crash.
  s = w.write("/nonexistent-heal-dir/x.npz");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("/nonexistent-heal-dir/x.npz"), std::string::npos) << s.to_string();
}

TEST(NpzWrite, ReplacesAnExistingFileAtomicallyAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("f.npz");
  { std::ofstream(path) << "old contents"; }
  NpzWriter w;
  const std::vector<std::int64_t> y = {3, 1, 2};
  ASSERT_TRUE(w.add("y", y, {3}).ok());
  ASSERT_TRUE(w.write(path).ok());
  auto a = NpzArchive::from_file(path);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_TRUE(a->has("y.npy"));
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

// An independent reader: numpy if installed, else Python's zipfile (CRC check) with the .npy header
// parsed by ast.literal_eval. Skipped without /usr/bin/python3.
TEST(NpzWrite, PythonReadsTheArchive) {
  if (std::system("/usr/bin/python3 -c 'import zipfile' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  TempDir dir;
  const std::string path = dir.file("py.npz");
  NpzWriter w;
  const std::vector<float> x = {0.5f, -1.25f, 3.0f, 4.5f, 1e-7f, -0.0f};
  const std::vector<std::int64_t> y = {7, -9, 1LL << 40};
  const std::vector<std::uint8_t> u = {9, 8, 255};
  ASSERT_TRUE(w.add("train_x", x, {3, 2}).ok());
  ASSERT_TRUE(w.add("train_y", y, {3}).ok());
  ASSERT_TRUE(w.add("h", u, {3}).ok());
  ASSERT_TRUE(w.write(path).ok());
  const std::string script = dir.file("check.py");
  std::ofstream(script) << R"(import sys, zipfile, struct, ast
p = sys.argv[1]
try:
    import numpy as np
except ImportError:
    np = None
if np is not None:
    d = np.load(p)
    assert list(d.keys()) == ['train_x', 'train_y', 'h'], list(d.keys())
    assert d['train_x'].dtype == np.float32 and d['train_x'].shape == (3, 2)
    assert d['train_x'].ravel().tolist() == [0.5, -1.25, 3.0, 4.5, float(np.float32(1e-7)), -0.0]
    assert d['train_y'].dtype == np.int64 and d['train_y'].tolist() == [7, -9, 1 << 40]
    assert d['h'].dtype == np.uint8 and d['h'].tolist() == [9, 8, 255]
    print('numpy ok')
else:
    z = zipfile.ZipFile(p)
    assert z.testzip() is None
    assert z.namelist() == ['train_x.npy', 'train_y.npy', 'h.npy'], z.namelist()
    def load(name):
        b = z.read(name)
        assert b[:8] == b'\x93NUMPY\x01\x00'
        n = struct.unpack('<H', b[8:10])[0]
        return ast.literal_eval(b[10:10 + n].decode('latin1')), b[10 + n:]
    h, data = load('train_x.npy')
    assert h == {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}, h
    assert list(struct.unpack('<6f', data))[:4] == [0.5, -1.25, 3.0, 4.5]
    h, data = load('train_y.npy')
    assert h['descr'] == '<i8' and h['shape'] == (3,) and list(struct.unpack('<3q', data)) == [7, -9, 1 << 40]
    h, data = load('h.npy')
    assert h['descr'] == '|u1' and h['shape'] == (3,) and list(data) == [9, 8, 255]
    print('zipfile ok (numpy not installed)')
)";
  const int rc = std::system(("/usr/bin/python3 '" + script + "' '" + path + "'").c_str());
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace heal::io
