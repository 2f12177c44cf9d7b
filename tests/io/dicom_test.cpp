#include <gtest/gtest.h>

#include <optional>

#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dctk.h"
#include "heal/io/image.h"
#include "io/io_test_util.h"

namespace heal::io {
namespace {

using testing::TempDir;

struct DicomSpec {
  int rows = 1, cols = 4;
  int bits = 16;
  bool is_signed = false;
  const char* photometric = "MONOCHROME2";
  std::string slope = "1", intercept = "0";
  std::optional<std::pair<std::string, std::string>> window;  // centre, width
};

// Writes an uncompressed DICOM (Secondary Capture) with the given raw pixel values.
void write_dicom(const std::string& path, const DicomSpec& s, const std::vector<int>& raw) {
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1125.1");
  ds->putAndInsertString(DCM_Modality, "CT");
  ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.rows));
  ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.cols));
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, s.photometric);
  ds->putAndInsertUint16(DCM_BitsAllocated, static_cast<Uint16>(s.bits));
  ds->putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(s.bits));
  ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(s.bits - 1));
  ds->putAndInsertUint16(DCM_PixelRepresentation, s.is_signed ? 1 : 0);
  ds->putAndInsertString(DCM_RescaleSlope, s.slope.c_str());
  ds->putAndInsertString(DCM_RescaleIntercept, s.intercept.c_str());
  if (s.window) {
    ds->putAndInsertString(DCM_WindowCenter, s.window->first.c_str());
    ds->putAndInsertString(DCM_WindowWidth, s.window->second.c_str());
  }
  if (s.bits == 16) {
    std::vector<Uint16> px;
    for (int v : raw) px.push_back(static_cast<Uint16>(static_cast<std::int16_t>(v)));
    ds->putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
  } else {
    std::vector<Uint8> px(raw.begin(), raw.end());
    ds->putAndInsertUint8Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
  }
  ASSERT_TRUE(ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
}

// DICOM PS3.3 C.11.2.1.2.1 linear VOI function mapped to [0, 1].
double window(double x, double c, double w) {
  if (x <= c - 0.5 - (w - 1) / 2) return 0.0;
  if (x > c - 0.5 + (w - 1) / 2) return 1.0;
  return (x - (c - 0.5)) / (w - 1) + 0.5;
}

TEST(Dicom, Monochrome2RescaleAndFileWindow) {
  TempDir dir;
  DicomSpec s;
  s.intercept = "-1024";
  s.window = std::make_pair(std::string("40"), std::string("400"));
  const std::vector<int> hu = {-200, 40, 240, -100};
  std::vector<int> raw;
  for (int h : hu) raw.push_back(h + 1024);
  write_dicom(dir.file("ct.dcm"), s, raw);
  auto img = load_image(dir.file("ct.dcm"));
  ASSERT_TRUE(img.ok()) << img.status().to_string();
  ASSERT_EQ(img->width, 4);
  for (std::size_t i = 0; i < hu.size(); ++i) EXPECT_NEAR(img->pixels[i], window(hu[i], 40, 400), 2e-3) << hu[i];
}

TEST(Dicom, SignedWithSlopeUsesMinMaxWithoutWindow) {
  TempDir dir;
  DicomSpec s;
  s.is_signed = true;
  s.slope = "2";
  write_dicom(dir.file("s.dcm"), s, {-100, 0, 100, 300});
  auto img = load_dicom(dir.file("s.dcm"));
  ASSERT_TRUE(img.ok()) << img.status().to_string();
  const float expect[] = {0.0f, 0.25f, 0.5f, 1.0f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(img->pixels[static_cast<std::size_t>(i)], expect[i], 2e-3);
}

TEST(Dicom, Monochrome1IsInverted8Bit) {
  TempDir dir;
  DicomSpec s;
  s.bits = 8;
  s.photometric = "MONOCHROME1";
  write_dicom(dir.file("m1.png"), s, {0, 255, 51, 204});  // the extension lies; magic says DICOM
  auto img = load_image(dir.file("m1.png"));
  ASSERT_TRUE(img.ok()) << img.status().to_string();
  const float expect[] = {1.0f, 0.0f, 0.8f, 0.2f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(img->pixels[static_cast<std::size_t>(i)], expect[i], 2e-3);
}

TEST(Dicom, UnsupportedTransferSyntax) {
  TempDir dir;
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1125.2");
  ds->putAndInsertUint16(DCM_Rows, 8);
  ds->putAndInsertUint16(DCM_Columns, 8);
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16(DCM_BitsAllocated, 8);
  ds->putAndInsertUint16(DCM_BitsStored, 8);
  ds->putAndInsertUint16(DCM_HighBit, 7);
  ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
  auto* seq = new DcmPixelSequence(DCM_PixelSequenceTag);
  seq->insert(new DcmPixelItem(DCM_PixelItemTag));  // empty basic offset table
  auto* frag = new DcmPixelItem(DCM_PixelItemTag);
  const Uint8 fake_jpeg[] = {0xff, 0xd8, 0xff, 0xd9};
  frag->putUint8Array(fake_jpeg, 4);
  seq->insert(frag);
  auto* pd = new DcmPixelData(DCM_PixelData);
  pd->putOriginalRepresentation(EXS_JPEGProcess1, nullptr, seq);
  ds->insert(pd, true);
  ASSERT_TRUE(ff.saveFile(dir.file("jpeg.dcm").c_str(), EXS_JPEGProcess1).good());
  auto img = load_dicom(dir.file("jpeg.dcm"));
  EXPECT_EQ(img.status().code(), StatusCode::kUnsupported) << img.status().to_string();
  EXPECT_NE(img.status().message().find("transfer syntax"), std::string::npos) << img.status().message();
}

TEST(Dicom, CorruptAndMissing) {
  TempDir dir;
  DicomSpec s;
  write_dicom(dir.file("a.dcm"), s, {1, 2, 3, 4});
  Bytes b = *read_file(dir.file("a.dcm"));
  b.resize(b.size() - 5);  // pixel data cut short
  testing::write_bytes(dir.file("cut.dcm"), b);
  EXPECT_FALSE(load_dicom(dir.file("cut.dcm")).ok());
  EXPECT_EQ(load_dicom(dir.file("none.dcm")).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace heal::io
