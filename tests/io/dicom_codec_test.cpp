// Decoding corpus: tests/io/make_dicom_corpus.sh builds DICOM objects of every transfer syntax and
// photometric interpretation HEAL decodes with the real tools (gdcmimg, dcmconv, dcmcjpeg, dcmcjpls,
// dcmcrle, gdcmconv, dcmquant, dcmodify). HEAL's decoded values are compared with
//   - the ground truth (the raw samples the corpus was made from) times rescale slope + intercept;
//   - the reference pipeline: dcmdjpeg / dcmdjpls / dcmdrle / gdcmconv --raw / dcmconv +te to an
//     uncompressed file, then dcm2pnm with the matching window (16-bit PGM, 8-bit PPM for colour).
// Lossless syntaxes must match exactly; the lossy tolerances are the measured maxima (docs/dicom.md).
// A missing tool fails the suite with the tool's name (scripts/install-deps.sh installs them).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "heal/core/bytes.h"
#include "heal/io/dicom.h"
#include "heal/io/image.h"
#include "io/io_test_util.h"

#ifndef HEAL_SOURCE_DIR
#error "HEAL_SOURCE_DIR must name the source tree (tests/io/CMakeLists.txt)"
#endif

namespace heal::io {
namespace {

using testing::TempDir;

std::string quote(const std::string& s) { return "'" + s + "'"; }

int run(const std::string& cmd, std::string* err = nullptr) {
  const std::string log = std::filesystem::temp_directory_path() / ("heal_dicom_codec_" + std::to_string(::getpid()));
  const int rc = std::system((cmd + " >" + quote(log) + " 2>&1").c_str());
  if (err) {
    std::ifstream f(log);
    std::stringstream ss;
    ss << f.rdbuf();
    *err = ss.str();
  }
  std::remove(log.c_str());
  return rc;
}

struct Pnm {
  int width = 0, height = 0, channels = 0, maxval = 0;
  std::vector<int> v;  // interleaved
};

// P2/P3 (ASCII) and P5/P6 (binary, 8 bit) as dcm2pnm writes them.
Pnm read_pnm(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  Pnm p;
  std::string magic;
  f >> magic >> p.width >> p.height >> p.maxval;
  p.channels = (magic == "P3" || magic == "P6") ? 3 : 1;
  const std::size_t n = static_cast<std::size_t>(p.width) * p.height * p.channels;
  p.v.resize(n);
  if (magic == "P2" || magic == "P3") {
    for (auto& x : p.v) f >> x;
  } else {
    f.get();
    for (auto& x : p.v) x = f.get();
  }
  if (!f) p.v.clear();
  return p;
}

std::vector<std::uint8_t> slurp(const std::string& path) {
  auto b = read_file(path);
  return b.ok() ? *b : std::vector<std::uint8_t>{};
}

// Ground-truth samples of a raw file written by make_dicom_corpus.sh.
std::vector<double> truth(const std::string& path, int bytes, bool is_signed) {
  const auto b = slurp(path);
  std::vector<double> out;
  for (std::size_t i = 0; i + bytes <= b.size(); i += bytes) {
    if (bytes == 1) {
      out.push_back(b[i]);
    } else {
      const int u = b[i] | (b[i + 1] << 8);
      out.push_back(is_signed && u >= 32768 ? u - 65536 : u);
    }
  }
  return out;
}

struct Case {
  const char* file;
  const char* truth;      // raw file, "" when the ground truth is not the raw samples
  int bytes;              // of a truth sample
  bool is_signed;
  double slope, intercept;
  int frames;
  double value_tol;       // vs ground truth (modality units / RGB values)
  double render_tol;      // vs reference pipeline (16-bit or 8-bit output units)
};

// value_tol < 0: the values are not compared with the raw samples (the encoder changed them:
// dcmcjpeg's lossy modes re-render a rescaled image, dcmquant quantises colours).
const Case kCases[] = {
    // uncompressed syntaxes and layouts
    {"base_m8.dcm", "m8.raw", 1, false, 1, 0, 1, 0, 0},
    {"ele_m8.dcm", "m8.raw", 1, false, 1, 0, 1, 0, 0},
    {"ele_m12.dcm", "m12.raw", 2, false, 0.25, -1000.5, 1, 0, 0},
    {"ele_m16.dcm", "m16.raw", 2, false, 1, 0, 1, 0, 0},
    {"eli_m16.dcm", "m16.raw", 2, false, 1, 0, 1, 0, 0},
    {"ebe_m16.dcm", "m16.raw", 2, false, 1, 0, 1, 0, 0},
    {"ele_s16.dcm", "s16.raw", 2, true, 1, -1024, 1, 0, 0},
    {"nometa_eli_s16.dcm", "s16.raw", 2, true, 1, -1024, 1, 0, 0},
    {"mono1_m12.dcm", "m12.raw", 2, false, 0.25, -1000.5, 1, 0, 0},
    {"ele_mf.dcm", "mf.raw", 2, false, 1, 0, 3, 0, 0},
    {"ele_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 0, 0},
    {"ebe_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 0, 0},
    {"nometa_ele_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 0, 0},
    {"planar1_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 0, 0},
    {"palette_rgb.dcm", "", 1, false, 1, 0, 1, -1, 0},
    // JPEG
    {"jpeg_baseline_m8.dcm", "m8.raw", 1, false, 1, 0, 1, 16, 0},  // measured 13
    // 4:2:2 chroma subsampling of the synthetic pattern's sharp colour edges: measured 104.
    {"jpeg_baseline_ybr422.dcm", "rgb.raw", 1, false, 1, 0, 1, 110, 0},
    {"jpeg_baseline_ybr444.dcm", "rgb.raw", 1, false, 1, 0, 1, 42, 0},  // measured 39
    // Uncompressed YBR_FULL (dcmdjpeg +cn of the 4:4:4 JPEG), planar 0 and 1: the JPEG's loss,
    // measured 40 (DCMTK's YBR->RGB rounding differs from libjpeg's by one level).
    {"native_ybr_full.dcm", "rgb.raw", 1, false, 1, 0, 1, 42, 0},
    {"planar1_ybr_full.dcm", "rgb.raw", 1, false, 1, 0, 1, 42, 0},
    {"jpeg_extended_m12.dcm", "", 2, false, 1, 0, 1, -1, 0},
    {"jpeg_lossless_sv1_m16.dcm", "m16.raw", 2, false, 1, 0, 1, 0, 0},
    {"jpeg_lossless_sv1_s16.dcm", "s16.raw", 2, true, 1, -1024, 1, 0, 0},
    {"jpeg_lossless_sv2_m12.dcm", "m12.raw", 2, false, 0.25, -1000.5, 1, 0, 0},
    {"jpeg_lossless_sv1_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 0, 0},
    {"jpeg_lossless_sv1_mf.dcm", "mf.raw", 2, false, 1, 0, 3, 0, 0},
    // JPEG-LS
    {"jpls_lossless_m16.dcm", "m16.raw", 2, false, 1, 0, 1, 0, 0},
    {"jpls_lossless_s16.dcm", "s16.raw", 2, true, 1, -1024, 1, 0, 0},
    {"jpls_lossless_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 0, 0},
    {"jpls_near_m12.dcm", "m12.raw", 2, false, 0.25, -1000.5, 1, 0.5, 0},  // NEAR=2 stored units x 0.25
    // RLE
    {"rle_m16.dcm", "m16.raw", 2, false, 1, 0, 1, 0, 0},
    {"rle_s16.dcm", "s16.raw", 2, true, 1, -1024, 1, 0, 0},
    {"rle_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 0, 0},
    {"rle_mf.dcm", "mf.raw", 2, false, 1, 0, 3, 0, 0},
    // JPEG 2000 (OpenJPEG in HEAL, GDCM as the reference)
    {"j2k_lossless_m8.dcm", "m8.raw", 1, false, 1, 0, 1, 0, 0},
    {"j2k_lossless_m16.dcm", "m16.raw", 2, false, 1, 0, 1, 0, 0},
    {"j2k_lossless_s16.dcm", "s16.raw", 2, true, 1, -1024, 1, 0, 0},
    {"j2k_lossless_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 0, 0},
    {"j2k_lossless_mf.dcm", "mf.raw", 2, false, 1, 0, 3, 0, 0},
    // Lossy J2K of 12-bit data: measured 23.75 HU (95 stored units). GDCM (the reference) raises Bits
    // Stored to the codestream's 16 and keeps an overshoot to 4126; HEAL clamps to the header's 12
    // bits (4095), so the min/max window's top differs: measured 509 / 65535.
    {"j2k_lossy_m12.dcm", "m12.raw", 2, false, 0.25, -1000.5, 1, 25, 512},
    {"j2k_lossy_rgb.dcm", "rgb.raw", 1, false, 1, 0, 1, 24, 0},  // measured 21
};

class DicomCodec : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    corpus_ = dir_->file("corpus");
    const std::string script = std::string(HEAL_SOURCE_DIR) + "/tests/io/make_dicom_corpus.sh";
    rc_ = run(quote(script) + " " + quote(corpus_) + " 40 32", &err_);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(rc_, 0) << "tests/io/make_dicom_corpus.sh failed (the DCMTK / GDCM tools are needed: "
                         "scripts/install-deps.sh installs dcmtk and libgdcm-tools):\n"
                      << err_;
  }
  static std::string path(const std::string& name) { return corpus_ + "/" + name; }

  // The reference tool's uncompressed copy of `name`.
  static std::string reference_native(const std::string& name) {
    const std::string in = path(name), out = dir_->file("ref_" + name);
    std::string cmd;
    if (name.rfind("jpeg_", 0) == 0) {
      cmd = "dcmdjpeg " + quote(in) + " " + quote(out);
    } else if (name.rfind("jpls_", 0) == 0) {
      cmd = "dcmdjpls " + quote(in) + " " + quote(out);
    } else if (name.rfind("rle_", 0) == 0) {
      cmd = "dcmdrle " + quote(in) + " " + quote(out);
    } else if (name.rfind("j2k_", 0) == 0) {
      cmd = "gdcmconv --raw " + quote(in) + " " + quote(out);
    } else {
      cmd = "dcmconv +te " + quote(in) + " " + quote(out);
    }
    std::string err;
    EXPECT_EQ(run(cmd, &err), 0) << cmd << "\n" << err;
    return out;
  }
  // dcm2pnm's rendering of frame `frame` (0-based) of `native` with `opts` (e.g. "+Wm").
  static Pnm reference_render(const std::string& native, int frame, const std::string& opts, bool colour) {
    const std::string out = native + ".f" + std::to_string(frame) + (colour ? ".ppm" : ".pgm");
    const std::string cmd = "dcm2pnm +F " + std::to_string(frame + 1) + " " + opts + (colour ? " +op " : " +opw ") +
                            quote(native) + " " + quote(out);
    std::string err;
    EXPECT_EQ(run(cmd, &err), 0) << cmd << "\n" << err;
    return read_pnm(out);
  }

  static TempDir* dir_;
  static std::string corpus_;
  static int rc_;
  static std::string err_;
};
TempDir* DicomCodec::dir_ = nullptr;
std::string DicomCodec::corpus_;
int DicomCodec::rc_ = -1;
std::string DicomCodec::err_;

// Max |HEAL - reference| over an image, in output units (65535 for grey, 255 for colour).
double render_diff(const Image& img, const Pnm& ref) {
  if (ref.v.empty() || ref.width != img.width || ref.height != img.height || ref.channels != img.channels) return 1e9;
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  double worst = 0;
  for (std::size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < img.channels; ++c) {
      const double h = std::round(static_cast<double>(img.pixels[c * plane + i]) * ref.maxval);
      worst = std::max(worst, std::fabs(h - ref.v[i * img.channels + c]));
    }
  }
  return worst;
}

TEST_F(DicomCodec, EverySyntaxMatchesGroundTruthAndReferencePipeline) {
  std::printf("%-28s %-18s %-22s %12s %12s\n", "file", "photometric", "transfer syntax", "values vs", "render vs");
  std::printf("%-28s %-18s %-22s %12s %12s\n", "", "", "", "truth", "reference");
  for (const Case& k : kCases) {
    SCOPED_TRACE(k.file);
    auto info = read_dicom_info(path(k.file));
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    ASSERT_EQ(info->frames, k.frames);
    const bool colour = info->samples_per_pixel == 3 || info->photometric == "PALETTE COLOR";
    const std::string native = reference_native(k.file);
    double worst_value = 0, worst_render = 0;
    const auto raw = *k.truth ? truth(path(k.truth), k.bytes, k.is_signed) : std::vector<double>{};
    for (int f = 0; f < k.frames; ++f) {
      // Values: modality units (grey) or RGB (colour), against the raw samples.
      auto v = load_dicom_values(path(k.file), f);
      ASSERT_TRUE(v.ok()) << v.status().to_string();
      ASSERT_EQ(v->width, 40);
      ASSERT_EQ(v->height, 32);
      ASSERT_EQ(v->channels, colour ? 3 : 1);
      const std::size_t plane = 40 * 32;
      if (!raw.empty()) {
        ASSERT_EQ(raw.size(), plane * v->channels * k.frames);
        for (std::size_t i = 0; i < plane; ++i) {
          for (int c = 0; c < v->channels; ++c) {
            const double t = raw[(f * plane + i) * v->channels + c];
            const double expect = static_cast<float>(t * k.slope + k.intercept);
            worst_value = std::max(worst_value, std::fabs(v->values[c * plane + i] - expect));
          }
        }
      }
      // Rendering with a min/max window against dcm2pnm +Wm on the reference's native copy.
      DicomOptions o;
      o.frame = f;
      o.window.kind = DicomWindow::Kind::kMinMax;
      auto img = load_dicom(path(k.file), o);
      ASSERT_TRUE(img.ok()) << img.status().to_string();
      worst_render = std::max(worst_render, render_diff(*img, reference_render(native, f, "+Wm", colour)));
    }
    std::printf("%-28s %-18s %-22s %12g %12g\n", k.file, info->photometric.c_str(),
                info->transfer_syntax.c_str(), raw.empty() ? -1.0 : worst_value, worst_render);
    if (!raw.empty()) {
      EXPECT_LE(worst_value, k.value_tol);
    }
    EXPECT_LE(worst_render, k.render_tol);
  }
}

TEST_F(DicomCodec, WindowsMatchDcm2pnmAndTheVoiFormula) {
  // CT-like signed image: intercept -1024, file window 40/400 (make_dicom_corpus.sh).
  for (const char* name : {"ele_s16.dcm", "jpeg_lossless_sv1_s16.dcm", "j2k_lossless_s16.dcm", "rle_s16.dcm"}) {
    SCOPED_TRACE(name);
    const std::string native = reference_native(name);
    struct W {
      const char* spec;
      const char* dcm2pnm;
    };
    for (const W& w : {W{"lung", "+Ww -600 1500"}, W{"brain", "+Ww 40 80"}, W{"-1000.5,2", "+Ww -1000.5 2"},
                       W{"file", "+Wi 1"}, W{"minmax", "+Wm"}}) {
      SCOPED_TRACE(w.spec);
      DicomOptions o;
      auto win = parse_dicom_window(w.spec);
      ASSERT_TRUE(win.ok());
      o.window = *win;
      auto img = load_dicom(path(name), o);
      ASSERT_TRUE(img.ok()) << img.status().to_string();
      EXPECT_EQ(render_diff(*img, reference_render(native, 0, w.dcm2pnm, false)), 0);
    }
  }
  // The explicit window is applied to modality values (HU), per PS3.3 C.11.2.1.2.1, by hand.
  const auto raw = truth(path("s16.raw"), 2, true);
  for (const auto& [c, w] : {std::pair{-600.0, 1500.0}, std::pair{40.0, 80.0}, std::pair{-1500.0, 3.0}}) {
    DicomOptions o;
    o.window = {DicomWindow::Kind::kExplicit, c, w};
    auto img = load_dicom(path("ele_s16.dcm"), o);
    ASSERT_TRUE(img.ok());
    double worst = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const double x = raw[i] - 1024;
      double y;
      if (x <= c - 0.5 - (w - 1) / 2) {
        y = 0;
      } else if (x > c - 0.5 + (w - 1) / 2) {
        y = 1;
      } else {
        y = (x - (c - 0.5)) / (w - 1) + 0.5;
      }
      worst = std::max(worst, std::fabs(img->pixels[i] - y));
    }
    EXPECT_LE(worst, 1.0 / 65535) << c << "," << w;
  }
}

TEST_F(DicomCodec, MultiFrameFramesAndRange) {
  for (const char* name : {"ele_mf.dcm", "jpeg_lossless_sv1_mf.dcm", "rle_mf.dcm", "j2k_lossless_mf.dcm"}) {
    SCOPED_TRACE(name);
    DicomOptions o;
    o.window = {DicomWindow::Kind::kExplicit, 2048, 4096};
    auto all = load_dicom_frames(path(name), o);
    ASSERT_TRUE(all.ok()) << all.status().to_string();
    ASSERT_EQ(all->size(), 3u);
    const std::string native = reference_native(name);
    for (int f = 0; f < 3; ++f) {
      o.frame = f;
      auto one = load_dicom(path(name), o);
      ASSERT_TRUE(one.ok());
      EXPECT_EQ(one->pixels, (*all)[static_cast<std::size_t>(f)].pixels) << f;
      EXPECT_EQ(render_diff(*one, reference_render(native, f, "+Ww 2048 4096", false)), 0) << f;
    }
    o.frame = 3;
    auto bad = load_dicom(path(name), o);
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("out of range"), std::string::npos) << bad.status().message();
    EXPECT_EQ(load_dicom_values(path(name), -1).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(DicomCodec, SpacingResamplesFromPixelSpacing) {
  // ele_s16.dcm: Pixel Spacing 0.5 (rows) \ 0.8 (columns) mm, 40 x 32 pixels = 32 x 16 mm.
  DicomOptions o;
  o.spacing_mm = 1.0;
  auto img = load_dicom(path("ele_s16.dcm"), o);
  ASSERT_TRUE(img.ok()) << img.status().to_string();
  EXPECT_EQ(img->width, 32);   // round(40 * 0.8 / 1)
  EXPECT_EQ(img->height, 16);  // round(32 * 0.5 / 1)
  EXPECT_EQ(img->original_width, 40);
  o.spacing_mm = 0.25;
  img = load_dicom(path("ele_s16.dcm"), o);
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->width, 128);
  EXPECT_EQ(img->height, 64);
  // No Pixel Spacing: a clear error, not a silent native grid.
  auto none = load_dicom(path("ele_m16.dcm"), o);
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("Pixel Spacing"), std::string::npos) << none.status().message();
}

TEST_F(DicomCodec, HeaderlessObjectsAreDetectedAndBytesDecodeLikeFiles) {
  for (const char* name : {"nometa_eli_s16.dcm", "nometa_ele_rgb.dcm"}) {
    SCOPED_TRACE(name);
    auto fmt = detect_file_format(path(name));
    ASSERT_TRUE(fmt.ok());
    EXPECT_EQ(*fmt, ImageFormat::kDicom);
    auto img = load_image(path(name));
    ASSERT_TRUE(img.ok()) << img.status().to_string();
  }
  for (const Case& k : kCases) {
    SCOPED_TRACE(k.file);
    const auto bytes = slurp(path(k.file));
    auto a = decode_dicom(bytes);
    auto b = load_dicom(path(k.file));
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().to_string();
    EXPECT_EQ(a->pixels, b->pixels);
  }
}

}  // namespace
}  // namespace heal::io
