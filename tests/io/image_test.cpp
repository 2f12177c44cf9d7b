#include "heal/io/image.h"

#include <gtest/gtest.h>
#include <png.h>

#include <cstring>

#include "io/io_test_util.h"

namespace heal::io {
namespace {

using testing::TempDir;

Image ramp(int w, int h, int c) {
  Image img;
  img.width = img.original_width = w;
  img.height = img.original_height = h;
  img.channels = c;
  img.pixels.resize(static_cast<std::size_t>(w) * h * c);
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        img.pixels[(static_cast<std::size_t>(ch) * h + y) * w + x] = static_cast<float>((x + y * w + ch * 7) % 256) / 255.0f;
  return img;
}

TEST(Image, PngRoundTripGreyRgbRgba) {
  TempDir dir;
  for (int c : {1, 3, 4}) {
    const Image src = ramp(13, 7, c);
    const std::string p = dir.file("r" + std::to_string(c) + ".png");
    ASSERT_TRUE(save_png(src, p).ok());
    auto img = load_image(p);
    ASSERT_TRUE(img.ok()) << img.status().to_string();
    EXPECT_EQ(img->channels, c);
    EXPECT_EQ(img->width, 13);
    EXPECT_EQ(img->height, 7);
    for (std::size_t i = 0; i < src.pixels.size(); ++i) ASSERT_NEAR(img->pixels[i], src.pixels[i], 0.5 / 255) << i;
  }
}

TEST(Image, Png16BitKeepsFullPrecision) {
  TempDir dir;
  const std::string p = dir.file("g16.png");
  png_image pi;
  std::memset(&pi, 0, sizeof(pi));
  pi.version = PNG_IMAGE_VERSION;
  pi.width = 3;
  pi.height = 1;
  pi.format = PNG_FORMAT_LINEAR_Y;
  const std::uint16_t px[3] = {0, 1000, 65535};
  ASSERT_TRUE(png_image_write_to_file(&pi, p.c_str(), 0, px, 0, nullptr));
  auto img = load_image(p);
  ASSERT_TRUE(img.ok()) << img.status().to_string();
  EXPECT_FLOAT_EQ(img->pixels[1], 1000.0f / 65535.0f);
  EXPECT_FLOAT_EQ(img->pixels[2], 1.0f);
}

TEST(Image, JpegGreyAndColour) {
  TempDir dir;
  std::vector<std::uint8_t> grey(16 * 8, 128), rgb(16 * 8 * 3);
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = 200;
    rgb[i + 1] = 50;
    rgb[i + 2] = 20;
  }
  testing::write_jpeg(dir.file("g.jpg"), 16, 8, 1, grey);
  testing::write_jpeg(dir.file("c.jpg"), 16, 8, 3, rgb);
  auto g = load_image(dir.file("g.jpg"));
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->channels, 1);
  EXPECT_NEAR(g->pixels[5], 128.0 / 255, 2.0 / 255);
  auto c = load_image(dir.file("c.jpg"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->channels, 3);
  EXPECT_NEAR(c->at(0, 3, 3), 200.0 / 255, 4.0 / 255);
  EXPECT_NEAR(c->at(1, 3, 3), 50.0 / 255, 4.0 / 255);
  ImageOptions o;
  o.grayscale = true;
  o.resize_width = 4;
  o.resize_height = 2;
  auto small = load_image(dir.file("c.jpg"), o);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->channels, 1);
  EXPECT_EQ(small->width, 4);
  EXPECT_EQ(small->original_width, 16);
  EXPECT_NEAR(small->pixels[0], (0.299 * 200 + 0.587 * 50 + 0.114 * 20) / 255, 4.0 / 255);
}

TEST(Image, TruncatedPngIsCorruption) {
  TempDir dir;
  ASSERT_TRUE(save_png(ramp(64, 64, 3), dir.file("a.png")).ok());
  Bytes b = *read_file(dir.file("a.png"));
  b.resize(b.size() * 2 / 3);
  auto r = decode_png(b);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  Bytes flipped = *read_file(dir.file("a.png"));
  flipped[flipped.size() / 2] ^= 0xff;  // inside IDAT: CRC error
  EXPECT_EQ(decode_png(flipped).status().code(), StatusCode::kCorruption);
}

TEST(Image, TruncatedJpegIsCorruptionNotGreyFill) {
  TempDir dir;
  std::vector<std::uint8_t> px(64 * 64 * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i * 7);
  testing::write_jpeg(dir.file("a.jpg"), 64, 64, 3, px);
  Bytes b = *read_file(dir.file("a.jpg"));
  ASSERT_TRUE(decode_jpeg(b).ok());
  b.resize(b.size() / 2);
  auto r = decode_jpeg(b);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
  EXPECT_EQ(decode_jpeg(std::span(b).first(10)).status().code(), StatusCode::kCorruption);
}

TEST(Image, NonImageFileHasClearError) {
  TempDir dir;
  testing::write_bytes(dir.file("notes.png"), Bytes{'h', 'e', 'l', 'l', 'o', '\n'});  // extension lies
  auto r = load_image(dir.file("notes.png"));
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("not an image"), std::string::npos) << r.status().message();
  EXPECT_EQ(load_image(dir.file("missing.png")).status().code(), StatusCode::kNotFound);
}

TEST(Image, DetectsByMagicNotExtension) {
  TempDir dir;
  ASSERT_TRUE(save_png(ramp(4, 4, 1), dir.file("really_png.jpg")).ok());
  EXPECT_EQ(*detect_file_format(dir.file("really_png.jpg")), ImageFormat::kPng);
  EXPECT_TRUE(load_image(dir.file("really_png.jpg")).ok());
  EXPECT_EQ(detect_format(Bytes{0xff, 0xd8, 0xff, 0xe0}), ImageFormat::kJpeg);
  EXPECT_EQ(detect_format(Bytes{'P', 'K', 3, 4}), ImageFormat::kZip);
  Bytes dcm(132, 0);
  std::memcpy(dcm.data() + 128, "DICM", 4);
  EXPECT_EQ(detect_format(dcm), ImageFormat::kDicom);
  EXPECT_EQ(detect_format(Bytes{1, 2, 3}), ImageFormat::kUnknown);
}

TEST(Image, ResizeAreaAndBilinear) {
  Image img = ramp(4, 2, 1);  // rows: 0..3 and 4..7 (/255)
  const Image down = resize(img, 2, 1);  // area: mean of 2x2 blocks
  EXPECT_NEAR(down.pixels[0], (0 + 1 + 4 + 5) / 4.0 / 255, 1e-6);
  EXPECT_NEAR(down.pixels[1], (2 + 3 + 6 + 7) / 4.0 / 255, 1e-6);
  const Image third = resize(ramp(3, 1, 1), 2, 1);  // fractional coverage: 1.5 source px each
  EXPECT_NEAR(third.pixels[0], (0 + 0.5 * 1) / 1.5 / 255, 1e-6);
  Image two;
  two.width = 2;
  two.height = 1;
  two.pixels = {0.0f, 1.0f};
  const Image up = resize(two, 4, 1);  // centres at -0.25, 0.25, 0.75, 1.25 -> clamp
  EXPECT_NEAR(up.pixels[0], 0.0, 1e-6);
  EXPECT_NEAR(up.pixels[1], 0.25, 1e-6);
  EXPECT_NEAR(up.pixels[2], 0.75, 1e-6);
  EXPECT_NEAR(up.pixels[3], 1.0, 1e-6);
  Image flat = ramp(50, 30, 3);
  for (float& v : flat.pixels) v = 0.4f;
  for (const Image& r : {resize(flat, 7, 5), resize(flat, 64, 64), resize(flat, 64, 5)})
    for (float v : r.pixels) ASSERT_NEAR(v, 0.4f, 1e-5);
  EXPECT_THROW(resize(flat, 0, 5), std::invalid_argument);
}

TEST(Image, Grayscale) {
  Image rgb;
  rgb.width = 1;
  rgb.height = 1;
  rgb.channels = 4;
  rgb.pixels = {1.0f, 0.5f, 0.0f, 0.25f};
  const Image g = to_grayscale(rgb);
  EXPECT_EQ(g.channels, 1);
  EXPECT_NEAR(g.pixels[0], 0.299 + 0.587 * 0.5, 1e-6);
}

}  // namespace
}  // namespace heal::io
