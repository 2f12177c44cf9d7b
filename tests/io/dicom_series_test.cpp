// DICOM series and volumes: discovery, ordering, Hounsfield units, windowing, slice selection and
// the folder-dataset integration. Every DICOM and NIfTI file is written here (DCMTK, nifti2_io).
#include <gtest/gtest.h>
#include <nifti2_io.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>

#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dctk.h"
#include "heal/io/dataset.h"
#include "heal/io/dicom.h"
#include "heal/io/nifti.h"
#include "heal/io/volume.h"
#include "io/io_test_util.h"

namespace fs = std::filesystem;

namespace heal::io {
namespace {

using testing::TempDir;

struct SliceSpec {
  std::string series_uid = "1.2.826.0.1.3680043.2.1125.77.1";
  int rows = 3, cols = 4;
  std::string slope = "1", intercept = "-1024";
  std::optional<std::string> position;                  // "x\\y\\z"
  std::optional<std::string> orientation = "1\\0\\0\\0\\1\\0";
  std::optional<int> instance;
  std::string pixel_spacing = "0.8\\0.7";               // row spacing \ column spacing
  std::vector<int> raw;                                  // signed 16-bit stored values, rows * cols
  int bits_stored = 16;                                  // high bit = bits_stored - 1
};

std::string pos(double x, double y, double z) {
  char b[128];
  std::snprintf(b, sizeof b, "%.6f\\%.6f\\%.6f", x, y, z);
  return b;
}

int g_sop = 0;

// One CT slice: 16 bits allocated and stored, two's complement.
void write_slice(const std::string& path, const SliceSpec& s) {
  fs::create_directories(fs::path(path).parent_path());
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, ("1.2.826.0.1.3680043.2.1125.99." + std::to_string(++g_sop)).c_str());
  ds->putAndInsertString(DCM_SeriesInstanceUID, s.series_uid.c_str());
  ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.2.1125.55");
  ds->putAndInsertString(DCM_Modality, "CT");
  ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.rows));
  ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.cols));
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16(DCM_BitsAllocated, 16);
  ds->putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(s.bits_stored));
  ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(s.bits_stored - 1));
  ds->putAndInsertUint16(DCM_PixelRepresentation, 1);
  ds->putAndInsertString(DCM_RescaleSlope, s.slope.c_str());
  ds->putAndInsertString(DCM_RescaleIntercept, s.intercept.c_str());
  ds->putAndInsertString(DCM_PixelSpacing, s.pixel_spacing.c_str());
  if (s.position) ds->putAndInsertString(DCM_ImagePositionPatient, s.position->c_str());
  if (s.orientation) ds->putAndInsertString(DCM_ImageOrientationPatient, s.orientation->c_str());
  if (s.instance) ds->putAndInsertString(DCM_InstanceNumber, std::to_string(*s.instance).c_str());
  std::vector<Uint16> px;
  for (int v : s.raw) px.push_back(static_cast<Uint16>(static_cast<std::int16_t>(v)));
  if (px.empty()) px.push_back(0);
  ds->putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
  ASSERT_TRUE(ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good()) << path;
}

// DICOM PS3.3 C.11.2.1.2.1 linear VOI onto [0, 1], written out independently of the library.
double hand_window(double x, double c, double w) {
  if (x <= c - 0.5 - (w - 1) / 2) return 0.0;
  if (x > c - 0.5 + (w - 1) / 2) return 1.0;
  return (x - (c - 0.5)) / (w - 1) + 0.5;
}

// A NIfTI float volume with voxel (x, y, z) = f(x, y, z) and the given voxel size.
template <typename F>
void write_nifti(const std::string& path, int nx, int ny, int nz, F f, std::array<float, 3> pixdim = {1, 1, 1}) {
  fs::create_directories(fs::path(path).parent_path());
  const std::int64_t dims[8] = {3, nx, ny, nz, 1, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, DT_FLOAT32, 1);
  ASSERT_NE(nim, nullptr);
  auto* d = static_cast<float*>(nim->data);
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) d[x + nx * (y + ny * z)] = f(x, y, z);
  nim->dx = nim->pixdim[1] = pixdim[0];
  nim->dy = nim->pixdim[2] = pixdim[1];
  nim->dz = nim->pixdim[3] = pixdim[2];
  ASSERT_EQ(nifti_set_filenames(nim, path.c_str(), 0, 1), 0);
  nifti_image_write(nim);
  nifti_image_free(nim);
}

// A plain axial series of nz slices (3 rows x 4 columns) at z = 2.5 k, slice k filled with base + k.
void write_axial_series(const fs::path& dir, int nz, const std::string& uid, int base = 0, bool binary = false) {
  for (int k = 0; k < nz; ++k) {
    SliceSpec s;
    s.series_uid = uid;
    s.position = pos(-10, 5, 2.5 * k);
    s.instance = k + 1;
    for (int i = 0; i < s.rows * s.cols; ++i) s.raw.push_back(binary ? (k % 2) : base + 100 * k + i);
    if (binary) s.intercept = "0";
    write_slice((dir / ("s" + std::to_string(k) + ".dcm")).string(), s);
  }
}

// ---- Acceptance: a CT series read in HU with the lung window equals the hand computation ---------

struct Rescale {
  const char* slope;
  const char* intercept;
  double s, i;
  bool dcmtk_exact;  // integer modality values: DCMTK's own rendering agrees to its 16-bit output step
};

class CtSeries : public ::testing::TestWithParam<Rescale> {};

TEST_P(CtSeries, ShuffledFilesOrderedByPositionAndLungWindowMatchesHandComputation) {
  const Rescale r = GetParam();
  TempDir dir;
  constexpr int kNz = 6, kRows = 3, kCols = 4;
  // Oblique slices: row direction (1,0,0), column direction (0,0.8,0.6), normal (0,-0.6,0.8). Each slice
  // is also shifted inside its plane, so sorting by z (or by file name, or instance number) is wrong.
  const std::array<double, 3> col{0, 0.8, 0.6}, normal{0, -0.6, 0.8};
  const double shift[kNz] = {7, -3, 11, 0, -9, 4};
  const int file_of_slice[kNz] = {3, 0, 5, 1, 4, 2};  // slice k is written as file "f<file_of_slice[k]>.dcm"
  std::vector<std::vector<int>> raw(kNz);
  for (int k = 0; k < kNz; ++k) {
    for (int i = 0; i < kRows * kCols; ++i) raw[k].push_back((i * 397 + k * 1013) % 5000 - 2000);
  }
  // Values at the lung window's borders (-1350 and 149 HU for slope 1, intercept -1024).
  raw[0][0] = -326;
  raw[0][1] = -325;
  raw[0][2] = 1173;
  raw[0][3] = 1174;
  raw[1][0] = -32768;
  raw[1][1] = 32767;
  for (int k : {3, 0, 5, 1, 4, 2}) {  // written in shuffled order too
    SliceSpec s;
    s.slope = r.slope;
    s.intercept = r.intercept;
    s.orientation = "1\\0\\0\\0\\0.8\\0.6";
    const double d = 12.5 + 2.5 * k;
    s.position = pos(-100 + shift[k] * col[0] + d * normal[0], 30 + shift[k] * col[1] + d * normal[1],
                     -40 + shift[k] * col[2] + d * normal[2]);
    s.instance = kNz - k;  // reversed: an instance-number order would be backwards
    s.raw = raw[k];
    write_slice(dir.file("f" + std::to_string(file_of_slice[k]) + ".dcm"), s);
  }
  auto scan = scan_dicom_series(dir.path().string());
  ASSERT_TRUE(scan.ok()) << scan.status().to_string();
  ASSERT_EQ(scan->series.size(), 1u);
  const DicomSeries& s = scan->series[0];
  ASSERT_TRUE(s.usable()) << s.error;
  EXPECT_TRUE(s.warnings.empty()) << s.warnings[0];
  EXPECT_EQ(s.order, DicomSeries::Order::kPosition);
  EXPECT_EQ(s.modality, "CT");
  EXPECT_EQ(s.rows, kRows);
  EXPECT_EQ(s.columns, kCols);
  EXPECT_NEAR(s.row_spacing_mm, 0.8, 1e-9);
  EXPECT_NEAR(s.column_spacing_mm, 0.7, 1e-9);
  EXPECT_NEAR(s.slice_spacing_mm, 2.5, 1e-5);
  ASSERT_EQ(s.slices(), static_cast<std::size_t>(kNz));
  for (int k = 0; k < kNz; ++k) {
    EXPECT_EQ(fs::path(s.files[k]).filename().string(), "f" + std::to_string(file_of_slice[k]) + ".dcm") << k;
  }
  auto v = load_dicom_volume(s);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  ASSERT_EQ(v->nx, kCols);
  ASSERT_EQ(v->ny, kRows);
  ASSERT_EQ(v->nz, kNz);
  EXPECT_NEAR(v->spacing[0], 0.7, 1e-9);
  EXPECT_NEAR(v->spacing[1], 0.8, 1e-9);
  EXPECT_NEAR(v->spacing[2], 2.5, 1e-5);
  const DicomWindow lung = *parse_dicom_window("lung");
  for (int k = 0; k < kNz; ++k) {
    auto img = window_slice(*v, k, lung);
    ASSERT_TRUE(img.ok()) << img.status().to_string();
    ASSERT_EQ(img->width, kCols);
    ASSERT_EQ(img->height, kRows);
    auto per_file = load_dicom(s.files[k], DicomOptions{lung, 0, 0.0});
    ASSERT_TRUE(per_file.ok()) << per_file.status().to_string();
    for (int y = 0; y < kRows; ++y) {
      for (int x = 0; x < kCols; ++x) {
        const double hu = raw[k][y * kCols + x] * r.s + r.i;  // by hand from the stored value
        EXPECT_EQ(v->at(x, y, k), static_cast<float>(hu)) << k << " " << y << " " << x;
        const double expect = hand_window(hu, -600, 1500);
        EXPECT_NEAR(img->at(0, y, x), expect, 1e-6) << "slice " << k << " hu " << hu;
        if (r.dcmtk_exact) {  // DCMTK renders 16-bit output, truncating: within one step of 1/65535
          EXPECT_NEAR(per_file->at(0, y, x), expect, 1.0 / 65535 + 1e-6) << "slice " << k << " hu " << hu;
        }
      }
    }
  }
  // The border values of slice 0 (slope 1 only): -1350 -> 0, -1349 -> 1/1499, 149 -> 1, 150 -> 1.
  if (r.s == 1.0 && r.i == -1024.0) {
    auto img = *window_slice(*v, 0, lung);
    EXPECT_EQ(img.pixels[0], 0.0f);
    EXPECT_NEAR(img.pixels[1], 1.0 / 1499, 1e-9);
    EXPECT_EQ(img.pixels[2], 1.0f);
    EXPECT_EQ(img.pixels[3], 1.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(Rescales, CtSeries,
                         ::testing::Values(Rescale{"1", "-1024", 1.0, -1024.0, true},
                                           Rescale{"2", "-1000", 2.0, -1000.0, true},
                                           Rescale{"0.75", "-1000.5", 0.75, -1000.5, false}),
                         [](const ::testing::TestParamInfo<Rescale>& i) {
                           return std::string(i.index == 0 ? "Slope1" : i.index == 1 ? "Slope2" : "SlopeFraction");
                         });

// ---- Grouping, irregular series, fallbacks, hostile headers ---------------------------------------

TEST(DicomSeries, TwoSeriesInOneFolderAreSeparated) {
  TempDir dir;
  write_axial_series(dir.path() / "a", 4, "1.2.3.1");
  write_axial_series(dir.path() / "a" / "nested", 3, "1.2.3.2");  // same folder tree, other series
  testing::write_bytes(dir.file("a/readme.txt"), Bytes{'h', 'i'});
  testing::write_bytes(dir.file("a/.hidden.dcm"), Bytes{'x'});
  auto scan = scan_dicom_series(dir.path().string());
  ASSERT_TRUE(scan.ok()) << scan.status().to_string();
  ASSERT_EQ(scan->series.size(), 2u);
  EXPECT_EQ(scan->dicom_files, 7u);
  EXPECT_EQ(scan->other_files, 1u);
  std::vector<std::size_t> counts = {scan->series[0].slices(), scan->series[1].slices()};
  std::sort(counts.begin(), counts.end());
  EXPECT_EQ(counts, (std::vector<std::size_t>{3, 4}));
  for (const auto& s : scan->series) {
    EXPECT_TRUE(s.usable()) << s.error;
    for (const auto& f : s.files) EXPECT_EQ(fs::path(f).parent_path().filename() == "nested", s.uid == "1.2.3.2");
  }
  auto v = load_dicom_series_volume(dir.path().string());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("2 DICOM series"), std::string::npos) << v.status().message();
  auto one = load_dicom_series_volume((dir.path() / "a" / "nested").string());
  ASSERT_TRUE(one.ok()) << one.status().to_string();
  EXPECT_EQ(one->nz, 3);
}

TEST(DicomSeries, DuplicatePositionIsRefusedAndGapIsWarned) {
  TempDir dup, gap;
  write_axial_series(dup.path(), 4, "1.2.3.3");
  SliceSpec copy;
  copy.series_uid = "1.2.3.3";
  copy.position = pos(-10, 5, 2.5 * 2);  // same place as s2.dcm
  copy.raw.assign(12, 0);
  write_slice(dup.file("copy.dcm"), copy);
  auto scan = scan_dicom_series(dup.path().string());
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->series.size(), 1u);
  EXPECT_NE(scan->series[0].error.find("duplicate slice position"), std::string::npos) << scan->series[0].error;
  auto v = load_dicom_volume(scan->series[0]);
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("duplicate"), std::string::npos);

  write_axial_series(gap.path(), 6, "1.2.3.4");
  fs::remove(gap.path() / "s3.dcm");  // one slice missing: 2.5 mm steps and one 5 mm step
  auto g = scan_dicom_series(gap.path().string());
  ASSERT_TRUE(g.ok());
  const DicomSeries& s = g->series.at(0);
  ASSERT_TRUE(s.usable()) << s.error;
  EXPECT_EQ(s.slices(), 5u);
  EXPECT_NEAR(s.slice_spacing_mm, 2.5, 1e-6);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("gap of 5 mm"), std::string::npos) << s.warnings[0];
  EXPECT_NE(s.warnings[0].find("1 slice(s) missing"), std::string::npos) << s.warnings[0];
  auto vol = load_dicom_volume(s);
  ASSERT_TRUE(vol.ok()) << vol.status().to_string();
  EXPECT_EQ(vol->nz, 5);
  EXPECT_EQ(vol->at(0, 0, 3), 400 - 1024);  // slice 3 of the volume is s4.dcm (base + 100 * 4)
}

TEST(DicomSeries, FallbackToInstanceNumberThenFileName) {
  TempDir byno, byname;
  const int inst[3] = {3, 1, 2};
  for (int k = 0; k < 3; ++k) {
    SliceSpec s;
    s.orientation.reset();  // no geometry
    s.instance = inst[k];
    s.raw.assign(12, 10 * k);
    write_slice(byno.file("b" + std::to_string(k) + ".dcm"), s);
    s.instance.reset();
    write_slice(byname.file("b" + std::to_string(2 - k) + ".dcm"), s);
  }
  auto a = scan_dicom_series(byno.path().string());
  ASSERT_TRUE(a.ok());
  const DicomSeries& sa = a->series.at(0);
  ASSERT_TRUE(sa.usable()) << sa.error;
  EXPECT_EQ(sa.order, DicomSeries::Order::kInstanceNumber);
  EXPECT_EQ(sa.slice_spacing_mm, 0.0);
  ASSERT_EQ(sa.warnings.size(), 1u);
  EXPECT_NE(sa.warnings[0].find("Instance Number"), std::string::npos);
  EXPECT_EQ(fs::path(sa.files[0]).filename(), "b1.dcm");
  EXPECT_EQ(fs::path(sa.files[2]).filename(), "b0.dcm");
  auto b = scan_dicom_series(byname.path().string());
  ASSERT_TRUE(b.ok());
  const DicomSeries& sb = b->series.at(0);
  EXPECT_EQ(sb.order, DicomSeries::Order::kFileName);
  EXPECT_EQ(fs::path(sb.files[0]).filename(), "b0.dcm");
  auto v = load_dicom_volume(sb);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->spacing[2], 0.0);
  EXPECT_EQ(v->at(0, 0, 0), 20 - 1024);  // b0.dcm was written with k = 2
}

// One series per folder whose third slice carries a hostile header; the series is refused with a
// message naming the problem, and nothing crashes.
TEST(DicomSeries, HostileHeadersGiveClearErrors) {
  struct Case {
    const char* name;
    std::function<void(SliceSpec&)> spoil;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"nan-position", [](SliceSpec& s) { s.position = "NaN\\0\\5"; }, "non-finite Image Position"},
      {"inf-position", [](SliceSpec& s) { s.position = "1e999\\0\\5"; }, "non-finite Image Position"},
      {"zero-orientation", [](SliceSpec& s) { s.orientation = "0\\0\\0\\0\\1\\0"; }, "zero-length direction"},
      {"parallel-orientation", [](SliceSpec& s) { s.orientation = "1\\0\\0\\1\\0\\0"; }, "parallel"},
      {"tilted-orientation", [](SliceSpec& s) { s.orientation = "1\\0\\0\\0\\0.8\\0.6"; }, "differs between"},
      {"zero-rows", [](SliceSpec& s) { s.rows = 0; }, "0 rows"},
      {"other-size", [](SliceSpec& s) { s.cols = 2; s.raw.resize(6); }, "differ in size"},
      {"other-spacing", [](SliceSpec& s) { s.pixel_spacing = "0.5\\0.5"; }, "Pixel Spacing differs"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    for (int k = 0; k < 4; ++k) {
      SliceSpec s;
      s.position = pos(0, 0, 2.0 * k);
      s.raw.assign(12, k);
      if (k == 2) c.spoil(s);
      std::string name = "x";  // (not "x" + to_string: GCC 12 gives a false -Wrestrict there)
      name += std::to_string(k);
      write_slice(dir.file(name + ".dcm"), s);
    }
    auto scan = scan_dicom_series(dir.path().string());
    ASSERT_TRUE(scan.ok()) << c.name << ": " << scan.status().to_string();
    ASSERT_EQ(scan->series.size(), 1u) << c.name;
    EXPECT_NE(scan->series[0].error.find(c.expect), std::string::npos) << c.name << ": '" << scan->series[0].error
                                                                        << "'";
    auto v = load_dicom_series_volume(dir.path().string());
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(v.status().message().find(c.expect), std::string::npos) << c.name << ": " << v.status().message();
  }
  // A truncated file and a file without pixel data are skipped with a reason; the rest is a series.
  TempDir dir;
  write_axial_series(dir.path(), 3, "1.2.3.9");
  Bytes b = *read_file(dir.file("s1.dcm"));
  b.resize(200);
  testing::write_bytes(dir.file("cut.dcm"), b);
  auto scan = scan_dicom_series(dir.path().string());
  ASSERT_TRUE(scan.ok()) << scan.status().to_string();
  ASSERT_EQ(scan->series.size(), 1u);
  EXPECT_EQ(scan->series[0].slices(), 3u);
  EXPECT_EQ(scan->skipped.size(), 1u);
  // Files with the DICOM magic followed by junk are skipped with a reason, never a crash.
  for (int k = 0; k < 8; ++k) {
    Bytes junk(128, 0);
    for (char ch : std::string("DICM")) junk.push_back(static_cast<std::uint8_t>(ch));
    for (int i = 0; i < 64 * (k + 1); ++i) junk.push_back(static_cast<std::uint8_t>((i * 131 + k * 17) ^ (i >> 3)));
    testing::write_bytes(dir.file("junk" + std::to_string(k)), junk);
  }
  scan = scan_dicom_series(dir.path().string());
  ASSERT_TRUE(scan.ok()) << scan.status().to_string();
  EXPECT_EQ(scan->dicom_files, 12u);
  EXPECT_EQ(scan->series.size(), 1u);
  EXPECT_EQ(scan->skipped.size(), 9u);
  EXPECT_EQ(scan_dicom_series(dir.file("none")).status().code(), StatusCode::kNotFound);
}

TEST(DicomSeries, StoredBitsAndShortPixelData) {
  TempDir dir;
  for (int k = 0; k < 2; ++k) {
    SliceSpec s;
    s.position = pos(0, 0, 1.0 * k);
    s.bits_stored = 12;  // 12-bit two's complement; the 4 bits above High Bit carry garbage
    s.raw = {0xAFFB, 0x07FF, 0x0800, 0x5000, 0, 1, 2, 3, 4, 5, 6, 7};
    write_slice(dir.file("b" + std::to_string(k) + ".dcm"), s);
  }
  auto v = load_dicom_series_volume(dir.path().string());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->at(0, 0, 1), -5 - 1024);
  EXPECT_EQ(v->at(1, 0, 1), 2047 - 1024);
  EXPECT_EQ(v->at(2, 0, 1), -2048 - 1024);
  EXPECT_EQ(v->at(3, 0, 1), 0 - 1024);
  SliceSpec s;
  s.position = pos(0, 0, 2.0);
  s.raw.assign(6, 1);  // 6 values where Rows x Columns needs 12
  write_slice(dir.file("b2.dcm"), s);
  auto scan = scan_dicom_series(dir.path().string());
  ASSERT_TRUE(scan.ok());
  ASSERT_TRUE(scan->series.at(0).usable()) << scan->series[0].error;  // the header alone is fine
  auto bad = load_dicom_volume(scan->series[0]);
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  // The io DICOM reader's pixel-module check names the bytes present and the bytes needed.
  EXPECT_NE(bad.status().message().find("pixel data holds 12 bytes"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("need 24"), std::string::npos) << bad.status().message();
}

// ---- Windowing -------------------------------------------------------------------------------------

TEST(Volume, WindowKinds) {
  Volume v;
  v.nx = 2;
  v.ny = 1;
  v.nz = 2;
  v.values = {-100, 0, 100, 300};
  auto mm = window_slice(v, 1, {DicomWindow::Kind::kMinMax, 0, 0});
  ASSERT_TRUE(mm.ok());
  EXPECT_NEAR(mm->pixels[0], 0.5, 1e-7);  // min/max over the whole volume, not the slice
  EXPECT_NEAR(mm->pixels[1], 1.0, 1e-7);
  v.file_window = std::array<double, 2>{0.5, 2.0};
  auto f = window_slice(v, 0, {});  // kFile: the file's window
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->pixels[0], 0.0f);
  EXPECT_NEAR(f->pixels[1], 0.5, 1e-7);
  v.invert = true;
  EXPECT_NEAR(window_slice(v, 0, {})->pixels[0], 1.0, 1e-7);
  EXPECT_EQ(window_slice(v, 2, {}).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(window_slice(v, 0, {DicomWindow::Kind::kExplicit, 0, 0.5}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_DOUBLE_EQ(voi_linear(40, 40, 400), hand_window(40, 40, 400));
}

// ---- Slice selection ---------------------------------------------------------------------------------

TEST(SliceSelection, ParseAndErrors) {
  EXPECT_EQ(parse_slice_selection("auto")->kind, SliceSelection::Kind::kAuto);
  EXPECT_EQ(parse_slice_selection("all")->kind, SliceSelection::Kind::kAll);
  EXPECT_EQ(parse_slice_selection("middle")->kind, SliceSelection::Kind::kMiddle);
  auto e = parse_slice_selection("every:4");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, SliceSelection::Kind::kEvery);
  EXPECT_EQ(e->step, 4);
  auto m = parse_slice_selection("mask:/tmp/m.nii.gz");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->mask, "/tmp/m.nii.gz");
  for (const char* spec : {"every:4", "mask:/x", "all", "middle", "auto"}) {
    EXPECT_EQ(slice_selection_name(*parse_slice_selection(spec)), spec);
  }
  for (const char* bad : {"every:0", "every:", "every:-2", "every:x", "every:99999999", "mask:", "some", "ALL"}) {
    auto r = parse_slice_selection(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("every:K"), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(*select_slices(*parse_slice_selection("auto"), {2, 2, 7}, nullptr, false), std::vector<int>{3});
  EXPECT_EQ(*select_slices(*parse_slice_selection("auto"), {2, 2, 3}, nullptr, true), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(*select_slices(*parse_slice_selection("every:3"), {2, 2, 7}, nullptr, true), (std::vector<int>{0, 3, 6}));
  EXPECT_FALSE(select_slices(*parse_slice_selection("mask:m"), {2, 2, 7}, nullptr, true).ok());
}

TEST(SliceSelection, NiftiEveryKMiddleAndMask) {
  TempDir dir;
  const std::string p = dir.file("vol.nii.gz");
  write_nifti(p, 4, 3, 7, [](int x, int y, int z) { return static_cast<float>(x + 10 * y + 100 * z - 50); },
              {0.7f, 0.8f, 2.5f});
  auto vol = load_nifti_volume(p);
  ASSERT_TRUE(vol.ok()) << vol.status().to_string();
  EXPECT_EQ(vol->nz, 7);
  EXPECT_NEAR(vol->spacing[2], 2.5, 1e-6);
  EXPECT_EQ(vol->at(3, 2, 5), 3 + 20 + 500 - 50);
  auto every = load_volume_slices(p, *parse_slice_selection("every:3"));
  ASSERT_TRUE(every.ok()) << every.status().to_string();
  ASSERT_EQ(every->size(), 3u);
  const int zs[3] = {0, 3, 6};
  for (int k = 0; k < 3; ++k) {
    auto ref = load_nifti_slice(p, 2, zs[k]);  // the per-slice reader: volume min/max scaling
    ASSERT_TRUE(ref.ok());
    ASSERT_EQ((*every)[k].pixels.size(), ref->pixels.size());
    for (std::size_t i = 0; i < ref->pixels.size(); ++i) EXPECT_NEAR((*every)[k].pixels[i], ref->pixels[i], 1e-6);
  }
  auto mid = load_volume_slices(p, {});  // auto on NIfTI: the middle slice, as load_image gives
  ASSERT_TRUE(mid.ok());
  ASSERT_EQ(mid->size(), 1u);
  auto li = load_image(p);
  ASSERT_TRUE(li.ok());
  for (std::size_t i = 0; i < li->pixels.size(); ++i) EXPECT_NEAR((*mid)[0].pixels[i], li->pixels[i], 1e-6);

  const std::string mask = dir.file("mask.nii");
  write_nifti(mask, 4, 3, 7, [](int x, int y, int z) { return (z == 2 && x == 1 && y == 2) || z == 5 ? 1.0f : 0.0f; },
              {0.7f, 0.8f, 2.5f});
  auto masked = load_volume_slices(p, *parse_slice_selection("mask:" + mask));
  ASSERT_TRUE(masked.ok()) << masked.status().to_string();
  ASSERT_EQ(masked->size(), 2u);
  for (std::size_t i = 0; i < 12; ++i) {
    EXPECT_NEAR((*masked)[0].pixels[i], load_nifti_slice(p, 2, 2)->pixels[i], 1e-6);
    EXPECT_NEAR((*masked)[1].pixels[i], load_nifti_slice(p, 2, 5)->pixels[i], 1e-6);
  }
  write_nifti(dir.file("short.nii"), 4, 3, 6, [](int, int, int) { return 1.0f; }, {0.7f, 0.8f, 2.5f});
  auto bad = load_volume_slices(p, *parse_slice_selection("mask:" + dir.file("short.nii")));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("mask grid 4x3x6 differs"), std::string::npos) << bad.status().message();
  write_nifti(dir.file("coarse.nii"), 4, 3, 7, [](int, int, int) { return 1.0f; }, {0.7f, 0.8f, 5.0f});
  bad = load_volume_slices(p, *parse_slice_selection("mask:" + dir.file("coarse.nii")));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("not the same grid"), std::string::npos) << bad.status().message();
  EXPECT_EQ(load_volume_slices(p, *parse_slice_selection("mask:" + dir.file("absent.nii"))).status().code(),
            StatusCode::kNotFound);
}

TEST(SliceSelection, DicomSeriesWithSeriesMask) {
  TempDir dir;
  write_axial_series(dir.path() / "ct", 5, "1.2.3.20");
  write_axial_series(dir.path() / "mask", 5, "1.2.3.21", 0, /*binary=*/true);  // slices 1 and 3 non-zero
  auto all = load_volume_slices((dir.path() / "ct").string(), {}, *parse_dicom_window("-900,400"));
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->size(), 5u);  // auto on a series: every slice
  auto m = load_volume_slices((dir.path() / "ct").string(),
                              *parse_slice_selection("mask:" + (dir.path() / "mask").string()),
                              *parse_dicom_window("-900,400"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].pixels, (*all)[1].pixels);
  EXPECT_EQ((*m)[1].pixels, (*all)[3].pixels);
  EXPECT_NEAR((*all)[1].pixels[5], hand_window(100 + 5 - 1024, -900, 400), 1e-6);
}

// ---- Folder datasets with volumes ------------------------------------------------------------------

TEST(SliceSelection, FolderDatasetYieldsOneImagePerSelectedSlice) {
  TempDir dir;
  const fs::path root = dir.path() / "ds";
  auto f = [](int x, int y, int z) { return static_cast<float>(x + 4 * y + 20 * z); };
  write_nifti((root / "train" / "healthy" / "p1.nii.gz").string(), 4, 3, 5, f);
  write_axial_series(root / "train" / "sick" / "p2", 4, "1.2.3.30");
  write_nifti((root / "val" / "healthy" / "p3.nii").string(), 4, 3, 5, f);
  write_axial_series(root / "val" / "sick" / "p4", 4, "1.2.3.31");
  fs::create_directories(root / "val" / "sick" / "notes");  // a folder without DICOM files is ignored

  LoadOptions opts;
  opts.threads = 2;
  auto ds = load_folder_dataset(root.string(), opts);  // auto: NIfTI middle slice, series all slices
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"healthy", "sick"}));
  EXPECT_EQ(ds->train.labels, (std::vector<int>{0, 1, 1, 1, 1}));
  EXPECT_EQ(ds->val.size(), 5u);
  EXPECT_EQ(ds->train.width, 4);
  EXPECT_EQ(ds->train.height, 3);
  auto li = load_image((root / "train" / "healthy" / "p1.nii.gz").string());  // unchanged NIfTI behaviour
  ASSERT_TRUE(li.ok());
  for (std::size_t i = 0; i < 12; ++i) EXPECT_NEAR(ds->train.image(0)[i], li->pixels[i], 1e-6);

  opts.slices = *parse_slice_selection("every:2");
  ds = load_folder_dataset(root.string(), opts);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->train.labels, (std::vector<int>{0, 0, 0, 1, 1}));  // z 0,2,4 of p1; slices 0,2 of p2

  const fs::path masks = dir.path() / "masks";
  write_nifti((masks / "train" / "healthy" / "p1.nii.gz").string(), 4, 3, 5,
              [](int, int, int z) { return z == 4 ? 1.0f : 0.0f; });
  write_axial_series(masks / "train" / "sick" / "p2", 4, "1.2.3.32", 0, true);
  write_nifti((masks / "val" / "healthy" / "p3.nii").string(), 4, 3, 5, [](int, int, int) { return 0.0f; });
  opts.slices = *parse_slice_selection("mask:" + masks.string());
  ds = load_folder_dataset(root.string(), opts);
  EXPECT_EQ(ds.status().code(), StatusCode::kNotFound);  // val/sick/p4 has no mask
  EXPECT_NE(ds.status().message().find("no mask for volume"), std::string::npos) << ds.status().message();
  write_axial_series(masks / "val" / "sick" / "p4", 4, "1.2.3.33", 0, true);
  ds = load_folder_dataset(root.string(), opts);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->train.labels, (std::vector<int>{0, 1, 1}));  // p1 z = 4; p2 slices 1 and 3
  EXPECT_EQ(ds->val.labels, (std::vector<int>{1, 1}));        // p3's mask is empty
  for (std::size_t i = 0; i < 12; ++i) {
    EXPECT_NEAR(ds->train.image(0)[i], (f(static_cast<int>(i % 4), static_cast<int>(i / 4), 4) - 0) / (3 + 8 + 80),
                1e-6);
  }
}

}  // namespace
}  // namespace heal::io
