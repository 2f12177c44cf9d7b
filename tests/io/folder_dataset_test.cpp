#include <gtest/gtest.h>

#include <fstream>

#include "heal/io/dataset.h"
#include "io/io_test_util.h"

namespace heal::io {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

Image solid(int w, int h, int c, float v) {
  Image img;
  img.width = img.original_width = w;
  img.height = img.original_height = h;
  img.channels = c;
  img.pixels.assign(static_cast<std::size_t>(w) * h * c, v);
  return img;
}

void write_png(const fs::path& p, const Image& img) {
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(save_png(img, p.string()).ok());
}

TEST(FolderDataset, SplitClassFolders) {
  TempDir dir;
  const fs::path r = dir.path();
  write_png(r / "train" / "normal" / "a.png", solid(10, 6, 1, 0.2f));
  write_png(r / "train" / "normal" / "b.png", solid(20, 12, 3, 0.2f));  // other size, colour
  write_png(r / "train" / "tumour" / "c.png", solid(10, 6, 4, 0.8f));
  write_png(r / "test" / "tumour" / "d.png", solid(10, 6, 1, 0.8f));
  std::vector<std::uint8_t> px(8 * 8, 100);
  testing::write_jpeg((r / "val" / "normal" / "e.jpg").string(), 8, 8, 1, px);
  testing::write_bytes((r / "train" / "normal" / "readme.txt").string(), Bytes{'x'});  // ignored: not an image
  EXPECT_EQ(*detect_dataset_kind(r.string()), DatasetKind::kSplitFolders);
  LoadOptions opts;
  opts.resize_to = 8;
  auto ds = load_dataset(r.string(), opts);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"normal", "tumour"}));
  EXPECT_EQ(ds->num_classes, 2);
  EXPECT_EQ(ds->train.size(), 3u);
  EXPECT_EQ(ds->val.size(), 1u);
  EXPECT_EQ(ds->test.size(), 1u);
  EXPECT_EQ(ds->train.labels, (std::vector<int>{0, 0, 1}));
  EXPECT_EQ(ds->train.channels, 1);
  EXPECT_EQ(ds->train.width, 8);
  EXPECT_NEAR(ds->train.image(2)[10], 0.8f, 1.0f / 255);
  // Without a common size the differing images are a clear error.
  auto no_size = load_dataset(r.string());
  EXPECT_EQ(no_size.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_size.status().message().find("resize_to"), std::string::npos);
  opts.grayscale = false;
  auto rgb = load_dataset(r.string(), opts);
  ASSERT_TRUE(rgb.ok());
  EXPECT_EQ(rgb->train.channels, 3);
}

// Protocols that must not see the test split (cross-validation, self-training) do not read its files:
// a test image that cannot be decoded breaks a full load but not one with skip_test.
TEST(FolderDataset, SkipTestReadsNoTestFile) {
  TempDir dir;
  const fs::path r = dir.path();
  write_png(r / "train" / "normal" / "a.png", solid(8, 8, 1, 0.2f));
  write_png(r / "train" / "tumour" / "b.png", solid(8, 8, 1, 0.8f));
  write_png(r / "val" / "tumour" / "c.png", solid(8, 8, 1, 0.7f));
  write_png(r / "test" / "normal" / "d.png", solid(8, 8, 1, 0.3f));
  // A PNG cut in half: listed as an image, undecodable.
  write_png(r / "test" / "tumour" / "broken.png", solid(8, 8, 1, 0.9f));
  fs::resize_file(r / "test" / "tumour" / "broken.png", fs::file_size(r / "test" / "tumour" / "broken.png") / 2);
  EXPECT_FALSE(load_dataset(r.string()).ok());
  LoadOptions opts;
  opts.skip_test = true;
  auto ds = load_dataset(r.string(), opts);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->train.size(), 2u);
  EXPECT_EQ(ds->val.size(), 1u);
  EXPECT_EQ(ds->test.size(), 0u);
  EXPECT_EQ(ds->test.width, 8);  // the empty split keeps the shape
  EXPECT_EQ(ds->num_classes, 2);
}

TEST(FolderDataset, CsvWithClassNames) {
  TempDir dir;
  const fs::path r = dir.path();
  write_png(r / "img" / "p1.png", solid(4, 4, 1, 0.1f));
  write_png(r / "img" / "p2.png", solid(4, 4, 1, 0.9f));
  write_png(r / "img" / "p3.png", solid(4, 4, 1, 0.5f));
  std::ofstream(r / "dataset.csv") << "path,label,split\nimg/p1.png,healthy,train\nimg/p2.png,sick,train\n"
                                      "img/p3.png,sick,test\n";
  EXPECT_EQ(*detect_dataset_kind(r.string()), DatasetKind::kCsv);
  auto ds = load_dataset(r.string());
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"healthy", "sick"}));
  EXPECT_EQ(ds->train.labels, (std::vector<int>{0, 1}));
  EXPECT_EQ(ds->test.labels, (std::vector<int>{1}));
  EXPECT_EQ(ds->val.size(), 0u);
  EXPECT_EQ(ds->val.width, 4);  // empty splits still carry the shape
  std::ofstream(r / "bad.csv") << "img/p1.png,0,training\n";
  EXPECT_EQ(load_dataset((r / "bad.csv").string()).status().code(), StatusCode::kCorruption);
  std::ofstream(r / "missing.csv") << "img/nope.png,0,train\n";
  EXPECT_FALSE(load_dataset((r / "missing.csv").string()).ok());
}

TEST(FolderDataset, CovidCtLayoutWithPercentNames) {
  TempDir dir;
  const fs::path r = dir.path();
  write_png(r / "CT_COVID" / "2020.01-p6-52%0.png", solid(30, 20, 4, 1.0f));
  write_png(r / "CT_COVID" / "b%1.png", solid(30, 20, 3, 1.0f));
  std::vector<std::uint8_t> px(16 * 16 * 3, 10);
  testing::write_jpeg((r / "CT_NonCOVID" / "n1.jpg").string(), 16, 16, 3, px);
  write_png(r / "CT_NonCOVID" / "n2.png", solid(9, 9, 1, 0.0f));
  fs::create_directories(r / "Data-split" / "COVID");
  fs::create_directories(r / "Data-split" / "NonCOVID");
  std::ofstream(r / "Data-split" / "COVID" / "trainCT_COVID.txt") << "2020.01-p6-52%0.png\r\n";
  std::ofstream(r / "Data-split" / "COVID" / "valCT_COVID.txt") << "";
  std::ofstream(r / "Data-split" / "COVID" / "testCT_COVID.txt") << "b%1.png\n";
  std::ofstream(r / "Data-split" / "NonCOVID" / "trainCT_NonCOVID.txt") << "n1.jpg\nn2.png\n";
  std::ofstream(r / "Data-split" / "NonCOVID" / "valCT_NonCOVID.txt") << "";
  std::ofstream(r / "Data-split" / "NonCOVID" / "testCT_NonCOVID.txt") << "";
  LoadOptions opts;
  opts.resize_to = 16;
  auto ds = load_dataset(r.string(), opts);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"NonCOVID", "COVID"}));
  EXPECT_EQ(ds->train.labels, (std::vector<int>{0, 0, 1}));  // NonCOVID first, then COVID
  EXPECT_EQ(ds->test.labels, (std::vector<int>{1}));
  fs::remove(r / "Data-split" / "NonCOVID" / "testCT_NonCOVID.txt");
  EXPECT_EQ(load_dataset(r.string(), opts).status().code(), StatusCode::kNotFound);
}

TEST(FolderDataset, KindDetectionAndResolution) {
  TempDir dir;
  EXPECT_EQ(detect_dataset_kind(dir.file("nothing")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(detect_dataset_kind(dir.path().string()).status().code(), StatusCode::kUnsupported);
  testing::write_bytes(dir.file("x.npz"), Bytes{'P', 'K', 5, 6, 0, 0});
  EXPECT_EQ(*detect_dataset_kind(dir.file("x.npz")), DatasetKind::kNpz);
  auto r = resolve_dataset_path("x", dir.path().string());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, dir.file("x.npz"));
  EXPECT_EQ(*resolve_dataset_path("x.npz", dir.path().string()), dir.file("x.npz"));
  auto missing = resolve_dataset_path("pneumoniamnist", "");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("HEAL_DATA"), std::string::npos);
  EXPECT_NE(missing.status().message().find("heal data fetch"), std::string::npos);
}

}  // namespace
}  // namespace heal::io
