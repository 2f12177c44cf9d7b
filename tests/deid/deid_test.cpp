// heal::deid: canary identifiers must vanish from every byte of the output (top level, sequences,
// private tags, file meta), pixel data must stay identical, a series must stay a series, and the
// reversible mode must give the originals back to the key holder only.
#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpeg/djrplol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "heal/deid/deid.h"
#include "testing/temp_dir.h"

namespace heal::deid {
namespace {

namespace fs = std::filesystem;

// A per-test temporary directory (tests/testing/temp_dir.h).
struct TempDir : ::heal::testing::TempDir {
  TempDir() : ::heal::testing::TempDir("heal-deid-test") {}
};

constexpr const char* kOrigRoot = "1.2.826.0.1.3680043.2.1125.77.";
const std::string kStudyUid = std::string(kOrigRoot) + "1";
const std::string kSeriesUid = std::string(kOrigRoot) + "2";
const std::string kFrameUid = std::string(kOrigRoot) + "4";
std::string sop_uid(int i) { return std::string(kOrigRoot) + "3." + std::to_string(i + 1); }

// Every string below is an identifier planted in the input; none may appear in any output byte.
const std::vector<std::string> kCanaries = {
    "CANARYNAME",   "CANARYPID7731",   "19230417",      "CANARYOPID5519", "CANARY INSTITUTE", "CANARYREF",
    "CANARYACC4410", "19450508",       "CANARYSTATION", "CANARY STUDY",   "CANARY SERIES",    "CANARYOPERATOR",
    "CANARYPERF",   "CANARYSID",       "CANARY ADDRESS", "CANARYPRIVATE",  "CANARYCREATOR",   "CANARYNESTED",
    "CANARYSEQPID", "CANARYBIRTHNAME", "19661120",      kOrigRoot,
};

std::vector<Uint16> pixels_for(int slice) {
  std::vector<Uint16> px(64);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<Uint16>(1000 + 37 * slice + 13 * i);
  return px;
}

DcmItem* add_item(DcmItem* parent, const DcmTagKey& seq) {
  DcmItem* item = nullptr;
  EXPECT_TRUE(parent->findOrCreateSequenceItem(seq, item, -2).good());
  return item;
}

// One CT slice of a 3-slice series, full of canaries (top level, private, nested in sequences).
void write_canary_ct(const std::string& path, int slice) {
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, sop_uid(slice).c_str());
  ds->putAndInsertString(DCM_StudyInstanceUID, kStudyUid.c_str());
  ds->putAndInsertString(DCM_SeriesInstanceUID, kSeriesUid.c_str());
  ds->putAndInsertString(DCM_FrameOfReferenceUID, kFrameUid.c_str());
  ds->putAndInsertString(DCM_Modality, "CT");
  ds->putAndInsertString(DCM_PatientName, "CANARYNAME^ZXQV");
  ds->putAndInsertString(DCM_PatientID, "CANARYPID7731");
  ds->putAndInsertString(DCM_PatientBirthDate, "19230417");
  ds->putAndInsertString(DCM_PatientSex, "O");
  ds->putAndInsertString(DcmTag(0x0010, 0x1000, EVR_LO), "CANARYOPID5519");  // retired, still in files
  ds->putAndInsertString(DCM_PatientBirthName, "CANARYBIRTHNAME^X");
  ds->putAndInsertString(DCM_PatientAddress, "CANARY ADDRESS 9");
  ds->putAndInsertString(DCM_InstitutionName, "CANARY INSTITUTE QW");
  ds->putAndInsertString(DCM_ReferringPhysicianName, "CANARYREF^DOC");
  ds->putAndInsertString(DCM_AccessionNumber, "CANARYACC4410");
  ds->putAndInsertString(DCM_StudyDate, "19450508");
  ds->putAndInsertString(DCM_SeriesDate, "19450508");
  ds->putAndInsertString(DCM_AcquisitionDate, "19450508");
  ds->putAndInsertString(DCM_ContentDate, "19450508");
  ds->putAndInsertString(DCM_StudyTime, "101010");
  ds->putAndInsertString(DCM_StationName, "CANARYSTATION");
  ds->putAndInsertString(DCM_StudyDescription, "CANARY STUDY DESC");
  ds->putAndInsertString(DCM_SeriesDescription, "CANARY SERIES DESC");
  ds->putAndInsertString(DCM_OperatorsName, "CANARYOPERATOR^A");
  ds->putAndInsertString(DCM_PerformingPhysicianName, "CANARYPERF^B");
  ds->putAndInsertString(DCM_StudyID, "CANARYSID");
  ds->putAndInsertString(DCM_SeriesNumber, "3");
  ds->putAndInsertString(DCM_InstanceNumber, std::to_string(slice + 1).c_str());
  // A private block: creator and an element.
  ds->putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "CANARYCREATOR");
  ds->putAndInsertString(DcmTag(0x0009, 0x1001, EVR_LO), "CANARYPRIVATE8812");
  // Identifiers nested in sequences: a reference to another image with a patient name and a date, and
  // the Other Patient IDs Sequence.
  DcmItem* ref = add_item(ds, DCM_ReferencedImageSequence);
  ref->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
  ref->putAndInsertString(DCM_ReferencedSOPInstanceUID, sop_uid(9).c_str());
  ref->putAndInsertString(DCM_PatientName, "CANARYNESTED^NAME");
  ref->putAndInsertString(DCM_StudyDate, "19661120");
  ref->putAndInsertString(DcmTag(0x0011, 0x0010, EVR_LO), "CANARYCREATOR");
  ref->putAndInsertString(DcmTag(0x0011, 0x1002, EVR_LO), "CANARYPRIVATE NESTED");
  DcmItem* other = add_item(ds, DCM_OtherPatientIDsSequence);
  other->putAndInsertString(DCM_PatientID, "CANARYSEQPID");
  // Pixels: 8x8, 16-bit.
  ds->putAndInsertUint16(DCM_Rows, 8);
  ds->putAndInsertUint16(DCM_Columns, 8);
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16(DCM_BitsAllocated, 16);
  ds->putAndInsertUint16(DCM_BitsStored, 16);
  ds->putAndInsertUint16(DCM_HighBit, 15);
  ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
  ds->putAndInsertString(DCM_RescaleIntercept, "-1024");
  ds->putAndInsertString(DCM_RescaleSlope, "1");
  ds->putAndInsertString(DCM_ImagePositionPatient, ("0\\0\\" + std::to_string(slice * 2)).c_str());
  const std::vector<Uint16> px = pixels_for(slice);
  ds->putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
  ASSERT_TRUE(ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Canaries found anywhere in the file's bytes (not only the top-level data set).
std::vector<std::string> canaries_in(const std::string& path) {
  const std::string bytes = read_bytes(path);
  std::vector<std::string> found;
  for (const std::string& c : kCanaries) {
    if (bytes.find(c) != std::string::npos) found.push_back(c);
  }
  return found;
}

std::string get(DcmItem* ds, const DcmTagKey& key) {
  OFString v;
  ds->findAndGetOFStringArray(key, v);
  return v.c_str();
}

struct Output {
  DcmFileFormat ff;
  DcmDataset* ds() { return ff.getDataset(); }
};

void load(Output& o, const std::string& path) { ASSERT_TRUE(o.ff.loadFile(path.c_str()).good()) << path; }

// A throwaway RSA key and self-signed certificate (the `openssl` command, installed with OpenSSL).
void make_key(const std::string& key, const std::string& cert) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key + "' -out '" + cert +
                          "' -days 1 -subj /CN=heal-deid-test >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "the `openssl` command is needed (apt-get install openssl)";
}

std::string write_series(const TempDir& dir) {
  const std::string in = dir.file("in");
  fs::create_directories(in + "/series");
  for (int i = 0; i < 3; ++i) write_canary_ct(in + "/series/slice" + std::to_string(i) + ".dcm", i);
  return in;
}

void expect_deidentified_series(const std::string& out_dir) {
  std::set<std::string> series, study, frame, sops;
  for (int i = 0; i < 3; ++i) {
    const std::string path = out_dir + "/series/slice" + std::to_string(i) + ".dcm";
    ASSERT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(canaries_in(path), std::vector<std::string>{}) << path;
    Output o;
    load(o, path);
    EXPECT_EQ(get(o.ds(), DCM_PatientIdentityRemoved), "YES");
    EXPECT_NE(get(o.ds(), DCM_DeidentificationMethod).find("BASIC APPLICATION LEVEL CONFIDENTIALITY PROFILE"),
              std::string::npos);
    // Pixel data identical, element for element.
    const Uint16* px = nullptr;
    unsigned long n = 0;
    ASSERT_TRUE(o.ds()->findAndGetUint16Array(DCM_PixelData, px, &n).good());
    const std::vector<Uint16> want = pixels_for(i);
    ASSERT_EQ(n, want.size());
    EXPECT_TRUE(std::equal(want.begin(), want.end(), px)) << "pixel data changed in slice " << i;
    series.insert(get(o.ds(), DCM_SeriesInstanceUID));
    study.insert(get(o.ds(), DCM_StudyInstanceUID));
    frame.insert(get(o.ds(), DCM_FrameOfReferenceUID));
    const std::string sop = get(o.ds(), DCM_SOPInstanceUID);
    sops.insert(sop);
    EXPECT_EQ(get(o.ff.getMetaInfo(), DCM_MediaStorageSOPInstanceUID), sop) << "file meta not rebuilt";
    EXPECT_EQ(get(o.ds(), DCM_InstanceNumber), std::to_string(i + 1));  // geometry and order kept
  }
  // A series stays one series (one new UID shared by its slices), and nothing keeps an old UID.
  ASSERT_EQ(series.size(), 1u);
  ASSERT_EQ(study.size(), 1u);
  ASSERT_EQ(frame.size(), 1u);
  EXPECT_EQ(sops.size(), 3u);
  for (const auto* set : {&series, &study, &frame, &sops}) {
    for (const std::string& uid : *set) {
      EXPECT_FALSE(uid.empty());
      EXPECT_EQ(uid.find(kOrigRoot), std::string::npos) << uid;
    }
  }
}

TEST(Deid, InputCarriesTheCanaries) {
  // Guards the tests below: the canaries are really in the input bytes.
  TempDir dir;
  write_canary_ct(dir.file("x.dcm"), 0);
  EXPECT_EQ(canaries_in(dir.file("x.dcm")), kCanaries);
}

TEST(Deid, IrreversibleRemovesEveryCanaryKeepsPixelsAndSeries) {
  TempDir dir;
  const std::string in = write_series(dir);
  DeidOptions o;
  o.mode = DeidMode::kIrreversible;
  auto r = deidentify(in, dir.file("out"), o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->deidentified, 3u);
  EXPECT_EQ(r->skipped_not_dicom, 0u);
  expect_deidentified_series(dir.file("out"));
  Output out;
  load(out, dir.file("out/series/slice0.dcm"));
  EXPECT_FALSE(out.ds()->tagExists(DCM_EncryptedAttributesSequence)) << "irreversible output keeps originals";
  EXPECT_FALSE(out.ds()->tagExists(DcmTag(0x0009, 0x1001))) << "private tag kept";
  // The inputs are untouched.
  EXPECT_EQ(canaries_in(in + "/series/slice0.dcm").size(), kCanaries.size());
}

TEST(Deid, ReversibleEncryptsOriginalsForTheKeyHolderOnly) {
  TempDir dir;
  const std::string in = write_series(dir);
  make_key(dir.file("key.pem"), dir.file("cert.pem"));
  make_key(dir.file("other_key.pem"), dir.file("other_cert.pem"));
  DeidOptions o;
  o.mode = DeidMode::kReversible;
  o.certificate_pem = dir.file("cert.pem");
  auto r = deidentify(in, dir.file("out"), o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  expect_deidentified_series(dir.file("out"));
  const std::string deid = dir.file("out/series/slice1.dcm");
  Output enc;
  load(enc, deid);
  EXPECT_TRUE(enc.ds()->tagExists(DCM_EncryptedAttributesSequence));

  // Someone else's key does not open it.
  Status wrong = reidentify_dicom_file(deid, dir.file("wrong.dcm"), dir.file("other_key.pem"),
                                       dir.file("other_cert.pem"));
  EXPECT_FALSE(wrong.ok());
  EXPECT_FALSE(fs::exists(dir.file("wrong.dcm")));

  // The recipient's key restores the originals of the profile's attributes.
  Status back = reidentify_dicom_file(deid, dir.file("back.dcm"), dir.file("key.pem"), dir.file("cert.pem"));
  ASSERT_TRUE(back.ok()) << back.to_string();
  Output re;
  load(re, dir.file("back.dcm"));
  EXPECT_EQ(get(re.ds(), DCM_PatientName), "CANARYNAME^ZXQV");
  EXPECT_EQ(get(re.ds(), DCM_PatientID), "CANARYPID7731");
  EXPECT_EQ(get(re.ds(), DCM_PatientBirthDate), "19230417");
  EXPECT_EQ(get(re.ds(), DCM_AccessionNumber), "CANARYACC4410");
  EXPECT_EQ(get(re.ds(), DCM_SOPInstanceUID), sop_uid(1));
  EXPECT_EQ(get(re.ds(), DCM_SeriesInstanceUID), kSeriesUid);
  EXPECT_FALSE(re.ds()->tagExists(DCM_EncryptedAttributesSequence));
}

TEST(Deid, TwoRunsCannotBeLinkedThroughTheirUids) {
  // Within a run a series stays a series; a second run (e.g. for another recipient) draws new UIDs.
  TempDir dir;
  const std::string in = write_series(dir);
  DeidOptions o;
  o.mode = DeidMode::kIrreversible;
  ASSERT_TRUE(deidentify(in, dir.file("a"), o).ok());
  ASSERT_TRUE(deidentify(in, dir.file("b"), o).ok());
  Output a, b;
  load(a, dir.file("a/series/slice0.dcm"));
  load(b, dir.file("b/series/slice0.dcm"));
  EXPECT_NE(get(a.ds(), DCM_SeriesInstanceUID), get(b.ds(), DCM_SeriesInstanceUID));
  EXPECT_NE(get(a.ds(), DCM_SOPInstanceUID), get(b.ds(), DCM_SOPInstanceUID));
}

// Bytes from the Pixel Data tag (the last element) to the end of the file.
std::string pixel_bytes(const std::string& path) {
  const std::string bytes = read_bytes(path);
  const std::string tag("\xE0\x7F\x10\x00", 4);
  const std::size_t at = bytes.rfind(tag);
  return at == std::string::npos ? std::string() : bytes.substr(at);
}

TEST(Deid, CompressedPixelDataStaysByteForByte) {
  TempDir dir;
  fs::create_directories(dir.file("in"));
  write_canary_ct(dir.file("plain.dcm"), 0);
  DJEncoderRegistration::registerCodecs();
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(dir.file("plain.dcm").c_str()).good());
  const DJ_RPLossless lossless;
  ASSERT_TRUE(ff.getDataset()->chooseRepresentation(EXS_JPEGProcess14SV1, &lossless).good());
  ASSERT_TRUE(ff.saveFile(dir.file("in/jpeg.dcm").c_str(), EXS_JPEGProcess14SV1).good());
  DJEncoderRegistration::cleanup();
  DeidOptions o;
  o.mode = DeidMode::kIrreversible;
  auto r = deidentify(dir.file("in"), dir.file("out"), o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const std::string want = pixel_bytes(dir.file("in/jpeg.dcm"));
  ASSERT_GT(want.size(), 16u);
  EXPECT_EQ(pixel_bytes(dir.file("out/jpeg.dcm")), want) << "encapsulated pixel data changed";
  EXPECT_EQ(canaries_in(dir.file("out/jpeg.dcm")), std::vector<std::string>{});
  Output out;
  load(out, dir.file("out/jpeg.dcm"));
  EXPECT_EQ(get(out.ff.getMetaInfo(), DCM_TransferSyntaxUID), UID_JPEGProcess14SV1TransferSyntax);
}

TEST(Deid, NonDicomFilesAreSkippedAndCounted) {
  TempDir dir;
  const std::string in = write_series(dir);
  { std::ofstream(in + "/notes.txt") << "CANARYNAME in a text file"; }
  { std::ofstream(in + "/series/image.png", std::ios::binary) << "\x89PNG\r\n\x1a\n not really"; }
  fs::create_symlink(in + "/gone.dcm", in + "/dangling.dcm");  // a broken link does not stop the walk
  DeidOptions o;
  o.mode = DeidMode::kIrreversible;
  auto r = deidentify(in, dir.file("out"), o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->deidentified, 3u);
  EXPECT_EQ(r->skipped_not_dicom, 2u);
  EXPECT_FALSE(fs::exists(dir.file("out/notes.txt")));
  EXPECT_FALSE(fs::exists(dir.file("out/series/image.png")));

  auto one = deidentify(in + "/notes.txt", dir.file("out2"), o);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.status().code(), StatusCode::kInvalidArgument);
}

TEST(Deid, RefusesUnsafeRequests) {
  TempDir dir;
  const std::string in = write_series(dir);
  DeidOptions irr;
  irr.mode = DeidMode::kIrreversible;
  DeidOptions rev;  // reversible without a certificate
  EXPECT_EQ(deidentify(in, dir.file("out"), rev).status().code(), StatusCode::kInvalidArgument);
  { std::ofstream(dir.file("bad.pem")) << "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"; }
  rev.certificate_pem = dir.file("bad.pem");
  EXPECT_EQ(deidentify(in, dir.file("out"), rev).status().code(), StatusCode::kInvalidArgument);
  // Output inside the input, the input itself, or a file's own folder: refused, nothing overwritten.
  EXPECT_EQ(deidentify(in, in + "/out", irr).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deidentify(in, in, irr).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deidentify(in + "/series/slice0.dcm", in + "/series", irr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(deidentify(dir.file("missing"), dir.file("out"), irr).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(canaries_in(in + "/series/slice0.dcm").size(), kCanaries.size());
  EXPECT_FALSE(fs::exists(in + "/out"));
}

TEST(Deid, MalformedDicomIsAClearError) {
  TempDir dir;
  write_canary_ct(dir.file("good.dcm"), 0);
  const std::string bytes = read_bytes(dir.file("good.dcm"));
  DeidOptions o;
  o.mode = DeidMode::kIrreversible;
  for (std::size_t cut : {std::size_t{132}, std::size_t{140}, std::size_t{300}, bytes.size() / 2}) {
    fs::create_directories(dir.file("in"));
    { std::ofstream(dir.file("in/t.dcm"), std::ios::binary) << bytes.substr(0, cut); }
    auto r = deidentify(dir.file("in"), dir.file("out"), o);
    if (r.ok()) {
      // GDCM may read a truncated file as a shorter data set; then no canary may survive either.
      for (const std::string& p : r->outputs) EXPECT_EQ(canaries_in(p), std::vector<std::string>{}) << cut;
    }
    fs::remove_all(dir.file("in"));
    fs::remove_all(dir.file("out"));
  }
}

}  // namespace
}  // namespace heal::deid
