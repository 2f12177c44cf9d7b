// DICOM decoding details that need no external tool: Bits Stored / High Bit / Pixel
// Representation, modality values, hostile headers (nesting, lying lengths, sizes), frames, the
// headerless layout and the DICOM options of folder datasets.
#include <gtest/gtest.h>

#include <cstring>
#include <string_view>

#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dctk.h"
#include "heal/io/dataset.h"
#include "heal/io/dicom.h"
#include "heal/io/image.h"
#include "io/io_test_util.h"

namespace heal::io {
namespace {

using testing::TempDir;

struct Spec {
  int rows = 1, cols = 4, frames = 1;
  int allocated = 16, stored = 16, high = 15;
  bool is_signed = false;
  const char* slope = "1";
  const char* intercept = "0";
  const char* spacing = nullptr;
};

void write(const std::string& path, const Spec& s, const std::vector<Uint16>& words,
           E_TransferSyntax xfer = EXS_LittleEndianExplicit, E_FileWriteMode mode = EWM_fileformat) {
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1125.7");
  ds->putAndInsertString(DCM_Modality, "CT");
  ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.rows));
  ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.cols));
  if (s.frames > 1) ds->putAndInsertString(DCM_NumberOfFrames, std::to_string(s.frames).c_str());
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16(DCM_BitsAllocated, static_cast<Uint16>(s.allocated));
  ds->putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(s.stored));
  ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(s.high));
  ds->putAndInsertUint16(DCM_PixelRepresentation, s.is_signed ? 1 : 0);
  ds->putAndInsertString(DCM_RescaleSlope, s.slope);
  ds->putAndInsertString(DCM_RescaleIntercept, s.intercept);
  if (s.spacing) ds->putAndInsertString(DCM_PixelSpacing, s.spacing);
  ds->putAndInsertUint16Array(DCM_PixelData, words.data(), static_cast<unsigned long>(words.size()));
  ASSERT_TRUE(ff.saveFile(path.c_str(), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0, mode).good());
}

TEST(DicomDecode, Signed12BitIn16IgnoresUnusedBitsAndSignExtends) {
  TempDir dir;
  Spec s;
  s.stored = 12;
  s.high = 11;
  s.is_signed = true;
  s.slope = "0.5";
  s.intercept = "-10";
  // 12-bit two's complement values -2048, -1, 0, 2047 with garbage in the 4 unused high bits.
  write(dir.file("a.dcm"), s, {0xA800, 0x5FFF, 0xF000, 0x07FF});
  auto v = load_dicom_values(dir.file("a.dcm"));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  const float expect[] = {-2048 * 0.5f - 10, -1 * 0.5f - 10, -10, 2047 * 0.5f - 10};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(v->values[static_cast<std::size_t>(i)], expect[i]) << i;
  // The rendering (DCMTK) agrees: min/max window puts -2048 at 0 and 2047 at 1.
  DicomOptions o;
  o.window.kind = DicomWindow::Kind::kMinMax;
  auto img = load_dicom(dir.file("a.dcm"), o);
  ASSERT_TRUE(img.ok());
  EXPECT_NEAR(img->pixels[0], 0.0f, 1e-6);
  EXPECT_NEAR(img->pixels[3], 1.0f, 1e-6);
  EXPECT_NEAR(img->pixels[2], 2048.0 / 4095, 1e-3);  // DCMTK's min/max window has the VOI half-pixel offsets
}

TEST(DicomDecode, HighBitAboveBitsStoredShiftsTheSamples) {
  TempDir dir;
  Spec s;
  s.stored = 12;
  s.high = 15;  // samples in the top 12 bits
  write(dir.file("a.dcm"), s, {0x0007, 0x0010, 0xFFF0, 0x8000});
  auto v = load_dicom_values(dir.file("a.dcm"));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  const float expect[] = {0, 1, 4095, 2048};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(v->values[static_cast<std::size_t>(i)], expect[i]) << i;
}

TEST(DicomDecode, ExplicitWindowIsInModalityUnits) {
  TempDir dir;
  Spec s;
  s.intercept = "-1024";
  write(dir.file("ct.dcm"), s, {0, 1024, 1064, 4000});  // HU -1024, 0, 40, 2976
  DicomOptions o;
  o.window = {DicomWindow::Kind::kExplicit, 40, 80};  // brain: [0, 80] HU
  auto img = load_dicom(dir.file("ct.dcm"), o);
  ASSERT_TRUE(img.ok());
  // PS3.3 C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5) inside the window.
  EXPECT_NEAR(img->pixels[0], 0.0, 1e-6);
  EXPECT_NEAR(img->pixels[1], 0.0, 1e-6);  // 0 HU <= c - 0.5 - (w-1)/2 = 0
  EXPECT_NEAR(img->pixels[2], (40 - 39.5) / 79.0 + 0.5, 1.0 / 65535);
  EXPECT_NEAR(img->pixels[3], 1.0, 1e-6);
  o.window = {DicomWindow::Kind::kExplicit, 40, 0.5};
  EXPECT_EQ(load_dicom(dir.file("ct.dcm"), o).status().code(), StatusCode::kInvalidArgument);
}

TEST(DicomDecode, FramesAndFrameRange) {
  TempDir dir;
  Spec s;
  s.frames = 3;
  write(dir.file("mf.dcm"), s, {1, 2, 3, 4, 10, 20, 30, 40, 100, 200, 300, 400});
  for (int f = 0; f < 3; ++f) {
    auto v = load_dicom_values(dir.file("mf.dcm"), f);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->values[3], 4.0f * static_cast<float>(f == 0 ? 1 : f == 1 ? 10 : 100));
  }
  auto frames = load_dicom_frames(dir.file("mf.dcm"));
  ASSERT_TRUE(frames.ok());
  EXPECT_EQ(frames->size(), 3u);
  DicomOptions o;
  o.frame = 3;
  auto bad = load_dicom(dir.file("mf.dcm"), o);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("3 frame(s)"), std::string::npos) << bad.status().message();
}

TEST(DicomDecode, HeaderlessDataSetIsDetectedAndDecoded) {
  TempDir dir;
  Spec s;
  write(dir.file("implicit"), s, {1, 2, 3, 4}, EXS_LittleEndianImplicit, EWM_dataset);
  write(dir.file("explicit"), s, {1, 2, 3, 4}, EXS_LittleEndianExplicit, EWM_dataset);
  write(dir.file("big"), s, {1, 2, 3, 300}, EXS_BigEndianExplicit);
  for (const char* name : {"implicit", "explicit", "big"}) {
    SCOPED_TRACE(name);
    auto fmt = detect_file_format(dir.file(name));
    ASSERT_TRUE(fmt.ok());
    EXPECT_EQ(*fmt, ImageFormat::kDicom);
    auto v = load_dicom_values(dir.file(name));
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    EXPECT_EQ(v->values[0], 1.0f);
    auto img = load_image(dir.file(name));
    ASSERT_TRUE(img.ok()) << img.status().to_string();
  }
  // Text that merely starts with zeros or other bytes is not DICOM.
  const std::uint8_t text[] = "hello world, not an image at all";
  EXPECT_EQ(detect_format(std::span<const std::uint8_t>(text, sizeof(text))), ImageFormat::kUnknown);
}

// Preamble + a minimal meta header (explicit VR little endian).
Bytes preamble_and_meta() {
  Bytes b(128, 0);
  for (char c : std::string_view("DICM")) b.push_back(static_cast<std::uint8_t>(c));
  const std::string ts = "1.2.840.10008.1.2.1";  // 19 chars + NUL pad
  const std::uint8_t el[] = {0x02, 0x00, 0x10, 0x00, 'U', 'I', 20, 0};
  b.insert(b.end(), el, el + sizeof(el));
  b.insert(b.end(), ts.begin(), ts.end());
  b.push_back(0);
  return b;
}

TEST(DicomDecode, DeeplyNestedSequencesAreRefusedBeforeDcmtk) {
  Bytes b = preamble_and_meta();
  // (0008,1140) SQ of undefined length, one item of undefined length, nested 40 deep.
  const std::uint8_t sq[] = {0x08, 0x00, 0x40, 0x11, 'S', 'Q', 0, 0, 0xff, 0xff, 0xff, 0xff};
  const std::uint8_t item[] = {0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff};
  const std::uint8_t item_end[] = {0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0};
  const std::uint8_t seq_end[] = {0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0};
  for (int i = 0; i < 40; ++i) {
    b.insert(b.end(), sq, sq + sizeof(sq));
    b.insert(b.end(), item, item + sizeof(item));
  }
  for (int i = 0; i < 40; ++i) {
    b.insert(b.end(), item_end, item_end + sizeof(item_end));
    b.insert(b.end(), seq_end, seq_end + sizeof(seq_end));
  }
  auto info = read_dicom_info_bytes(b);
  EXPECT_EQ(info.status().code(), StatusCode::kCorruption);
  EXPECT_NE(info.status().message().find("nested deeper"), std::string::npos) << info.status().message();
}

TEST(DicomDecode, LyingLengthsAndSizesAreClearErrors) {
  // An element that declares 2 GiB in a 170-byte object.
  Bytes b = preamble_and_meta();
  const std::uint8_t huge[] = {0x08, 0x00, 0x16, 0x00, 'U', 'T', 0, 0, 0xf0, 0xff, 0xff, 0x7f, 'x', 'y'};
  b.insert(b.end(), huge, huge + sizeof(huge));
  EXPECT_FALSE(read_dicom_info_bytes(b).ok());
  EXPECT_FALSE(decode_dicom(b).ok());

  TempDir dir;
  Spec s;
  // Pixel data shorter than Rows x Columns: a clear error, not zero fill.
  s.rows = 4;
  write(dir.file("short.dcm"), s, {1, 2, 3, 4});
  auto r = load_dicom(dir.file("short.dcm"));
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("pixel data"), std::string::npos) << r.status().message();
  // Bits Stored larger than Bits Allocated.
  Spec t;
  t.stored = 17;
  write(dir.file("bits.dcm"), t, {1, 2, 3, 4});
  EXPECT_EQ(load_dicom(dir.file("bits.dcm")).status().code(), StatusCode::kCorruption);
  // A promised size beyond the decoder's limit is refused before anything is allocated.
  Spec big;
  big.rows = 65535;
  big.cols = 65535;
  write(dir.file("big.dcm"), big, {1, 2, 3, 4});
  EXPECT_EQ(load_dicom(dir.file("big.dcm")).status().code(), StatusCode::kUnsupported);
}

TEST(DicomDecode, FolderDatasetsPassTheirDicomOptions) {
  TempDir dir;
  Spec s;
  s.intercept = "-1024";
  s.spacing = "1\\1";
  std::filesystem::create_directories(dir.path() / "train" / "a");
  std::filesystem::create_directories(dir.path() / "train" / "b");
  std::filesystem::create_directories(dir.path() / "test" / "a");
  std::filesystem::create_directories(dir.path() / "test" / "b");
  for (const char* p : {"train/a/1.dcm", "train/b/1.dcm", "test/a/1.dcm", "test/b/1.dcm"}) {
    write(dir.file(p), s, {0, 1024, 1064, 4000});
  }
  LoadOptions lo;
  lo.threads = 1;
  lo.dicom.window = {DicomWindow::Kind::kExplicit, 40, 80};
  auto ds = load_dataset(dir.path().string(), lo);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  // HU 40 -> 0.506 with the brain window (min/max would give 1064/4000 = 0.266).
  ASSERT_FALSE(ds->train.images.empty());
  EXPECT_NEAR(ds->train.images[2], (40 - 39.5) / 79.0 + 0.5, 1e-3);
}

}  // namespace
}  // namespace heal::io
