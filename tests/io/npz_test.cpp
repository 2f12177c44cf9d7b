#include <gtest/gtest.h>

#include "heal/io/dataset.h"
#include "heal/io/npy.h"
#include "io/io_test_util.h"

namespace heal::io {
namespace {

using testing::le_bytes;
using testing::make_npy;
using testing::make_zip;
using testing::TempDir;

// A tiny MedMNIST-like archive: n images of h x w (value = 10*i + pixel), labels i % 2.
std::map<std::string, Bytes> tiny_members(std::size_t n = 4, int h = 3, int w = 2, bool labels_2d = true) {
  std::map<std::string, Bytes> m;
  for (const char* s : {"train", "val", "test"}) {
    Bytes img, lab;
    for (std::size_t i = 0; i < n; ++i) {
      for (int p = 0; p < h * w; ++p) img.push_back(static_cast<std::uint8_t>(10 * i + static_cast<std::size_t>(p)));
      lab.push_back(static_cast<std::uint8_t>(i % 2));
    }
    char shape[64], lshape[64];  // (snprintf: GCC 12 warns falsely on chained std::string +)
    std::snprintf(shape, sizeof(shape), "(%zu, %d, %d)", n, h, w);
    std::snprintf(lshape, sizeof(lshape), labels_2d ? "(%zu, 1)" : "(%zu,)", n);
    m[std::string(s) + "_images.npy"] = make_npy("|u1", shape, img);
    m[std::string(s) + "_labels.npy"] = make_npy("|u1", lshape, lab);
  }
  return m;
}

TEST(Npz, LoadsMedMnistLayoutAndNormalises) {
  TempDir dir;
  const std::string path = dir.file("tiny.npz");
  make_zip(path, tiny_members());
  auto ds = load_medmnist_npz(path);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->name, "tiny");
  EXPECT_EQ(ds->num_classes, 2);
  EXPECT_EQ(ds->train.size(), 4u);
  EXPECT_EQ(ds->train.height, 3);
  EXPECT_EQ(ds->train.width, 2);
  EXPECT_EQ(ds->test.labels, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_FLOAT_EQ(ds->val.image(2)[5], (20.0f + 5.0f) / 255.0f);
  EXPECT_EQ(ds->train.class_counts(2), (std::vector<std::size_t>{2, 2}));
}

TEST(Npz, SkipTestDropsTheTestSplitAndKeepsItsShape) {
  TempDir dir;
  const std::string path = dir.file("tiny.npz");
  make_zip(path, tiny_members());
  LoadOptions o;
  o.skip_test = true;
  auto ds = load_medmnist_npz(path, o);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->train.size(), 4u);
  EXPECT_EQ(ds->val.size(), 4u);
  EXPECT_EQ(ds->test.size(), 0u);
  EXPECT_TRUE(ds->test.images.empty());
  EXPECT_EQ(ds->test.height, 3);
  EXPECT_EQ(ds->num_classes, 2);
}

TEST(Npz, OneDimensionalLabelsAndFloatImagesAndResize) {
  auto m = tiny_members(2, 2, 2, /*labels_2d=*/false);
  // float images outside [0,1] are min-max scaled
  m["train_images.npy"] = make_npy("<f4", "(2, 2, 2)", le_bytes<float>({0, 10, 20, 30, 40, 50, 60, 70}));
  auto ds = load_medmnist_npz_bytes(make_zip(TempDir().file("x.npz"), m), "x");
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_FLOAT_EQ(ds->train.image(1)[3], 1.0f);
  EXPECT_FLOAT_EQ(ds->train.image(0)[1], 10.0f / 70.0f);
  LoadOptions opts;
  opts.resize_to = 4;
  auto big = load_medmnist_npz_bytes(make_zip(TempDir().file("y.npz"), tiny_members()), "y", opts);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->train.width, 4);
  EXPECT_EQ(big->train.images.size(), 4u * 16u);
}

TEST(Npz, TruncatedZip) {
  TempDir dir;
  Bytes z = make_zip(dir.file("t.npz"), tiny_members());
  z.resize(z.size() / 2);
  auto ds = load_medmnist_npz_bytes(z, "t");
  EXPECT_EQ(ds.status().code(), StatusCode::kCorruption);
  EXPECT_NE(ds.status().message().find("zip"), std::string::npos) << ds.status().message();
  testing::write_bytes(dir.file("t2.npz"), z);
  EXPECT_FALSE(load_medmnist_npz(dir.file("t2.npz")).ok());
}

TEST(Npz, CorruptZipFlippedBytes) {
  TempDir dir;
  Bytes z = make_zip(dir.file("c.npz"), tiny_members(64, 8, 8));
  // Flip bytes inside the first member's compressed data (after its 30-byte local header + name).
  for (std::size_t i = 60; i < 90; ++i) z[i] ^= 0x5a;
  auto ds = load_medmnist_npz_bytes(z, "c");
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kCorruption) << ds.status().to_string();
}

TEST(Npz, MissingMember) {
  auto m = tiny_members();
  m.erase("val_labels.npy");
  auto ds = load_medmnist_npz_bytes(make_zip(TempDir().file("m.npz"), m), "m");
  EXPECT_EQ(ds.status().code(), StatusCode::kNotFound);
  EXPECT_NE(ds.status().message().find("val_labels.npy"), std::string::npos);
}

TEST(Npz, WrongDtype) {
  auto m = tiny_members();
  m["train_labels.npy"] = make_npy("<f4", "(4, 1)", le_bytes<float>({0, 1, 0, 1}));
  auto ds = load_medmnist_npz_bytes(make_zip(TempDir().file("d.npz"), m), "d");
  EXPECT_EQ(ds.status().code(), StatusCode::kUnsupported) << ds.status().to_string();
  auto m2 = tiny_members();
  m2["test_images.npy"] = make_npy("<c8", "(4, 3, 2)", Bytes(4 * 6 * 8));
  EXPECT_EQ(load_medmnist_npz_bytes(make_zip(TempDir().file("d2.npz"), m2), "d2").status().code(),
            StatusCode::kUnsupported);
}

TEST(Npz, ShapeLabelCountMismatch) {
  auto m = tiny_members();
  m["train_labels.npy"] = make_npy("|u1", "(3, 1)", {0, 1, 0});
  auto ds = load_medmnist_npz_bytes(make_zip(TempDir().file("s.npz"), m), "s");
  EXPECT_EQ(ds.status().code(), StatusCode::kCorruption);
  EXPECT_NE(ds.status().message().find("4 images but 3 labels"), std::string::npos) << ds.status().message();
  auto m2 = tiny_members();
  m2["val_labels.npy"] = make_npy("|u1", "(4, 14)", Bytes(56));  // multi-label
  EXPECT_EQ(load_medmnist_npz_bytes(make_zip(TempDir().file("s2.npz"), m2), "s2").status().code(),
            StatusCode::kUnsupported);
}

TEST(Npz, AbsurdShapeIsRejectedWithoutAllocating) {
  auto m = tiny_members();
  m["train_images.npy"] = make_npy("|u1", "(1000000000000, 28, 28)", Bytes(16));
  auto ds = load_medmnist_npz_bytes(make_zip(TempDir().file("a.npz"), m), "a");
  EXPECT_EQ(ds.status().code(), StatusCode::kCorruption);
}

TEST(Npz, MembersLoaderAppliesTheSameChecks) {
  auto m = tiny_members();
  auto ds = load_medmnist_members(m, "mem");
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->train.size(), 4u);
  m["test_images.npy"] = make_npy("|u1", "(4, 3, 3)", Bytes(36));  // other image shape than train
  EXPECT_EQ(load_medmnist_members(m, "mem").status().code(), StatusCode::kCorruption);
  m.erase("test_images.npy");
  EXPECT_EQ(load_medmnist_members(m, "mem").status().code(), StatusCode::kNotFound);
}

TEST(Npz, ArchiveMembersAndNotAZip) {
  auto z = NpzArchive::from_bytes(make_zip(TempDir().file("n.npz"), tiny_members()));
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->members().size(), 6u);
  EXPECT_TRUE(z->has("train_images.npy"));
  EXPECT_EQ(z->read("nope.npy").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(z->read("train_images.npy", 10).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(NpzArchive::from_bytes(Bytes(100, 'x')).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(load_medmnist_npz("/nonexistent/x.npz").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace heal::io
