// Segmentation datasets, label-map PNGs and intensity normalisation (issue 20).
#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "heal/core/bytes.h"
#include "heal/io/intensity.h"
#include "heal/io/segmentation.h"
#include "testing/shared_data.h"

namespace heal::io {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("heal_seg_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Image gradient(int w, int h, float scale = 1.0f, float offset = 0.0f) {
  Image img;
  img.width = img.original_width = w;
  img.height = img.original_height = h;
  img.pixels.resize(static_cast<std::size_t>(w) * h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) img.pixels[static_cast<std::size_t>(y) * w + x] = offset + scale * static_cast<float>(x + 2 * y) / static_cast<float>(w + 2 * h);
  }
  return img;
}

// A binary mask as a greyscale PNG (0 / 255): a rectangle.
void write_grey_mask(const fs::path& p, int w, int h, int x0, int x1) {
  Image m;
  m.width = m.original_width = w;
  m.height = m.original_height = h;
  m.pixels.assign(static_cast<std::size_t>(w) * h, 0.0f);
  for (int y = 0; y < h; ++y) {
    for (int x = x0; x < x1; ++x) m.pixels[static_cast<std::size_t>(y) * w + x] = 1.0f;
  }
  ASSERT_TRUE(save_png(m, p.string()).ok());
}

// A palette PNG holding the given indices (3 colours).
void write_palette_mask(const fs::path& p, int w, int h, const std::vector<std::uint8_t>& idx) {
  png_image pi;
  std::memset(&pi, 0, sizeof(pi));
  pi.version = PNG_IMAGE_VERSION;
  pi.width = static_cast<png_uint_32>(w);
  pi.height = static_cast<png_uint_32>(h);
  pi.format = PNG_FORMAT_RGB_COLORMAP;
  pi.colormap_entries = 3;
  const std::uint8_t cmap[9] = {0, 0, 0, 128, 0, 0, 0, 128, 0};
  ASSERT_NE(png_image_write_to_file(&pi, p.string().c_str(), 0, idx.data(), 0, cmap), 0) << pi.message;
}

TEST(SegDataset, LoadsSplitFoldersPairedByStemInNumericOrder) {
  const fs::path root = temp_dir("split");
  for (const char* split : {"train", "test"}) {
    fs::create_directories(root / split / "images");
    fs::create_directories(root / split / "masks");
    for (int k : {10, 2, 1}) {
      ASSERT_TRUE(save_png(gradient(20 + k, 16), (root / split / "images" / (std::to_string(k) + ".png")).string()).ok());
      write_grey_mask(root / split / "masks" / (std::to_string(k) + ".png"), 20 + k, 16, 3, 3 + k);
    }
  }
  ASSERT_TRUE(is_seg_dataset(root.string()));
  auto ds = load_seg_dataset(root);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  ASSERT_EQ(ds->train.size(), 3u);
  EXPECT_EQ(ds->test.size(), 3u);
  EXPECT_TRUE(ds->val.empty());
  EXPECT_EQ(ds->train[0].id, "1");
  EXPECT_EQ(ds->train[1].id, "2");
  EXPECT_EQ(ds->train[2].id, "10");  // numeric, not lexicographic
  for (const auto& s : ds->train) {
    const int k = std::stoi(s.id);
    EXPECT_EQ(s.image.width, 20 + k);
    EXPECT_EQ(s.mask.size(), static_cast<std::size_t>(20 + k) * 16);
    EXPECT_EQ(s.foreground_pixels(), static_cast<std::size_t>(k) * 16);
    for (auto v : s.mask) EXPECT_LE(v, 1);
  }
  fs::remove_all(root);
}

TEST(SegDataset, ErrorsNameTheFile) {
  const fs::path root = temp_dir("bad");
  fs::create_directories(root / "train" / "images");
  fs::create_directories(root / "train" / "masks");
  ASSERT_TRUE(save_png(gradient(8, 8), (root / "train/images/a.png").string()).ok());
  auto r = load_seg_dataset(root);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("has no mask"), std::string::npos) << r.status().message();
  write_grey_mask(root / "train/masks/a.png", 9, 8, 1, 2);  // wrong size
  r = load_seg_dataset(root);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("but its image is"), std::string::npos) << r.status().message();
  {
    std::ofstream f(root / "train/masks/a.png", std::ios::binary | std::ios::trunc);
    f << "not a png at all";
  }
  r = load_seg_dataset(root);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(load_seg_dataset((root / "nothing").string()).ok());
  fs::remove_all(root);
}

// skip_test leaves the test split undecoded: a broken test mask fails the full load, not this one.
TEST(SegDataset, SkipTestDoesNotDecodeTheTestSplit) {
  const fs::path root = temp_dir("skiptest");
  for (const char* split : {"train", "test"}) {
    fs::create_directories(root / split / "images");
    fs::create_directories(root / split / "masks");
    ASSERT_TRUE(save_png(gradient(8, 8), (root / split / "images/a.png").string()).ok());
    write_grey_mask(root / split / "masks/a.png", 8, 8, 1, 3);
  }
  {
    std::ofstream f(root / "test/masks/a.png", std::ios::binary | std::ios::trunc);
    f << "not a png at all";
  }
  EXPECT_FALSE(load_seg_dataset(root).ok());
  SegLoadOptions o;
  o.skip_test = true;
  auto ds = load_seg_dataset(root, o);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->train.size(), 1u);
  EXPECT_TRUE(ds->test.empty());
  fs::remove_all(root);
}

TEST(SegDataset, PaletteMasksKeepClassIndices) {
  const fs::path root = temp_dir("pal");
  const int w = 6, h = 4;
  std::vector<std::uint8_t> idx(static_cast<std::size_t>(w) * h, 0);
  idx[3] = 1;
  idx[10] = 2;
  idx[11] = 2;
  write_palette_mask(root / "m.png", w, h, idx);
  auto m = load_mask((root / "m.png").string(), w, h, 3);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(*m, idx);
  auto lm = decode_png_labels(*read_file((root / "m.png").string()));
  ASSERT_TRUE(lm.ok());
  EXPECT_TRUE(lm->palette);
  // An index beyond the class count is refused, not clamped.
  auto bad = load_mask((root / "m.png").string(), w, h, 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("class index 2"), std::string::npos);
  // A colour PNG is no label map.
  Image rgb = gradient(w, h);
  rgb.channels = 3;
  rgb.pixels.resize(rgb.pixels.size() * 3, 0.5f);
  ASSERT_TRUE(save_png(rgb, (root / "rgb.png").string()).ok());
  EXPECT_FALSE(decode_png_labels(*read_file((root / "rgb.png").string())).ok());
  fs::remove_all(root);
}

TEST(SegDataset, DecodePngLabelsSurvivesMutations) {
  const fs::path root = temp_dir("mut");
  std::vector<std::uint8_t> idx(64 * 48);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::uint8_t>(i % 3);
  write_palette_mask(root / "m.png", 64, 48, idx);
  const Bytes good = *read_file((root / "m.png").string());
  std::uint64_t state = 12345;
  auto next = [&state] { return state = state * 6364136223846793005ull + 1442695040888963407ull, state >> 33; };
  for (int trial = 0; trial < 400; ++trial) {
    Bytes b = good;
    if (trial % 4 == 0) b.resize(next() % b.size());
    else b[next() % b.size()] ^= static_cast<std::uint8_t>(1 + next() % 255);
    auto r = decode_png_labels(b);  // must return, ok or not
    if (r.ok()) {
      EXPECT_EQ(r->labels.size(), static_cast<std::size_t>(r->width) * r->height);
    }
  }
  fs::remove_all(root);
}

TEST(SegDataset, NearestResizeOfMasks) {
  const std::vector<std::uint8_t> m = {0, 1, 2, 3};  // 2 x 2
  EXPECT_EQ(resize_mask_nearest(m, 2, 2, 4, 4),
            (std::vector<std::uint8_t>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3}));
  EXPECT_EQ(resize_mask_nearest(m, 2, 2, 1, 1).size(), 1u);
}

// Scanner normalisation: an image and the same image from a "scanner" with another gain and offset
// must normalise to the same values under zscore and histogram, but not under none.
TEST(Intensity, ZScoreAndHistogramRemoveAffineScannerDifferences) {
  const Image a = gradient(40, 30);
  const Image b = gradient(40, 30, 0.5f, 0.3f);  // x -> 0.5 x + 0.3
  for (IntensityMode mode : {IntensityMode::kNone, IntensityMode::kZScore, IntensityMode::kHistogram}) {
    IntensityNormalizer n;
    n.mode = mode;
    n.fit({&a, &b});
    const auto na = n.apply(a.pixels), nb = n.apply(b.pixels);
    double max_diff = 0;
    for (std::size_t i = 0; i < na.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(na[i] - nb[i])));
    if (mode == IntensityMode::kNone) EXPECT_GT(max_diff, 0.5) << "none must keep the difference";
    else EXPECT_LT(max_diff, 1e-3) << intensity_mode_name(mode);
  }
  IntensityNormalizer z;
  const auto nz = z.apply(a.pixels);
  double s = 0, ss = 0;
  for (float v : nz) s += v, ss += double(v) * v;
  EXPECT_NEAR(s / static_cast<double>(nz.size()), 0.0, 1e-5);
  EXPECT_NEAR(ss / static_cast<double>(nz.size()), 1.0, 1e-4);
}

TEST(Intensity, HistogramModeNeedsFitAndIsMonotone) {
  IntensityNormalizer n;
  n.mode = IntensityMode::kHistogram;
  const Image a = gradient(16, 16);
  EXPECT_THROW(n.apply(a.pixels), std::logic_error);
  n.fit({&a});
  ASSERT_EQ(n.standard.size(), histogram_landmark_percentiles().size());
  EXPECT_NEAR(n.standard.front(), 0.0, 1e-9);
  EXPECT_NEAR(n.standard.back(), 1.0, 1e-9);
  std::vector<float> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[static_cast<std::size_t>(i)] = static_cast<float>(i) / 255.0f;
  const auto out = n.apply(ramp);
  for (std::size_t i = 1; i < out.size(); ++i) EXPECT_GE(out[i], out[i - 1] - 1e-6f);
  const std::vector<float> flat(100, 0.4f);  // a constant image does not divide by zero
  for (float v : n.apply(flat)) EXPECT_TRUE(std::isfinite(v));
  EXPECT_FALSE(parse_intensity_mode("gamma").ok());
  EXPECT_EQ(*parse_intensity_mode("nyul"), IntensityMode::kHistogram);
}

// Classification splits (COVID-CT's scanner-normalisation ablation): an affine exposure change
// between two "scanners" disappears from the grey channel, the result stays in [0, 1], none is the
// identity, and a second channel (a segmentation prior) is never touched.
TEST(Intensity, NormalizeSplitRemovesExposureAndLeavesOtherChannels) {
  const Image a = gradient(20, 20), b = gradient(20, 20, 0.5f, 0.3f);
  SplitData sd;
  sd.channels = 2;
  sd.height = sd.width = 20;
  for (const Image* im : {&a, &b}) {
    sd.images.insert(sd.images.end(), im->pixels.begin(), im->pixels.end());
    for (std::size_t i = 0; i < im->pixels.size(); ++i) sd.images.push_back(0.25f);  // prior channel
    sd.labels.push_back(0);
  }
  const std::size_t plane = 400;
  for (IntensityMode mode : {IntensityMode::kNone, IntensityMode::kZScore, IntensityMode::kHistogram}) {
    SplitData s = sd;
    IntensityNormalizer n;
    n.mode = mode;
    fit_on_split(n, s, 0);
    normalize_split(n, s, 0);
    double diff = 0;
    for (std::size_t j = 0; j < plane; ++j) {
      const float x0 = s.image(0)[j], x1 = s.image(1)[j];
      ASSERT_TRUE(x0 >= 0.0f && x0 <= 1.0f && x1 >= 0.0f && x1 <= 1.0f);
      diff = std::max(diff, double(std::fabs(x0 - x1)));
      ASSERT_EQ(s.image(0)[plane + j], 0.25f);
      ASSERT_EQ(s.image(1)[plane + j], 0.25f);
    }
    if (mode == IntensityMode::kNone) {
      EXPECT_EQ(s.images, sd.images) << "none must be the identity";
    } else {
      // zscore clamps beyond +-2 sd; the gradient spans about +-1.7 sd, so nothing is clipped.
      EXPECT_LT(diff, 1e-3) << intensity_mode_name(mode);
    }
  }
  IntensityNormalizer h;
  h.mode = IntensityMode::kHistogram;
  SplitData s = sd;
  EXPECT_THROW(normalize_split(h, s, 0), std::logic_error) << "histogram needs its scale";
  EXPECT_THROW(normalize_split(h, s, 2), std::invalid_argument);
  EXPECT_THROW(fit_on_split(h, s, -1), std::invalid_argument);
}

// The shared covid_seg data, when present: 50 + 48 binary pairs, 3-class masks whose union is
// mostly the binary infection mask.
TEST(SegDataset, CovidSegWhenPresent) {
  HEAL_REQUIRE_SHARED_DATA(root, "covid_seg");
  auto bin = load_seg_dataset(root);
  ASSERT_TRUE(bin.ok()) << bin.status().to_string();
  EXPECT_EQ(bin->train.size(), 50u);
  EXPECT_EQ(bin->test.size(), 48u);
  for (const auto& s : bin->test) EXPECT_GT(s.foreground_pixels(), 0u) << s.id;  // Inf-Net dropped empty ones
  SegLoadOptions mc;
  mc.multiclass = true;
  auto multi = load_seg_dataset(root, mc);
  ASSERT_TRUE(multi.ok()) << multi.status().to_string();
  EXPECT_EQ(multi->num_classes, 3);
  std::size_t seen[3] = {};
  for (const auto& s : multi->train) {
    for (auto v : s.mask) ++seen[v];
  }
  EXPECT_GT(seen[1], 0u);
  EXPECT_GT(seen[2], 0u);
}

}  // namespace
}  // namespace heal::io
