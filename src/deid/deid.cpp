// DICOM de-identification: GDCM's Basic Application Level Confidentiality Profile (PS3.15 E.1.1)
// does the profile (its table of attributes, Type 1 dummies, consistent UID replacement, the
// encrypted Modified Attributes Sequence for the certificate's holder); HEAL adds what GDCM's table
// (PS3.15-2008) lacks: private tags, overlays/curves, dates and times, and further identifying
// attributes of the current Table E.1-1 (see docs/deid.md).
#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/oflog/oflog.h"

#include "gdcmAnonymizer.h"
#include "gdcmCryptographicMessageSyntax.h"
#include "gdcmDataSetHelper.h"
#include "gdcmDefs.h"
#include "gdcmFile.h"
#include "gdcmGlobal.h"
#include "gdcmMediaStorage.h"
#include "gdcmReader.h"
#include "gdcmSequenceOfItems.h"
#include "gdcmTrace.h"
#include "gdcmWriter.h"

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>

#include "heal/deid/deid.h"

namespace heal::deid {
namespace {

namespace fs = std::filesystem;

const gdcm::Tag kPatientIdentityRemoved(0x0012, 0x0062);
const gdcm::Tag kDeidentificationMethod(0x0012, 0x0063);
const gdcm::Tag kLongitudinalTemporalInformationModified(0x0028, 0x0303);
const gdcm::Tag kEncryptedAttributesSequence(0x0400, 0x0500);

// Attributes of the current PS3.15 Table E.1-1 that GDCM's (PS3.15-2008) table does not protect and
// that HEAL empties at every nesting level: dates and times, further person names, identifiers,
// addresses, comments and the sequences that carry them.
constexpr std::uint32_t kEmptied[] = {
    0x00080012, 0x00080013, 0x00080015, 0x00080020, 0x00080021, 0x00080022, 0x00080023, 0x00080024, 0x00080025,
    0x0008002A, 0x00080030, 0x00080031, 0x00080032, 0x00080033, 0x00080034, 0x00080035, 0x00080082, 0x00080096,
    0x0008009C, 0x0008009D, 0x00080201, 0x00081049, 0x00081052, 0x00081062, 0x00081072, 0x00081084, 0x00081110,
    0x00081111, 0x00081120, 0x00084000, 0x00100021, 0x00100050, 0x00100101, 0x00100102, 0x00101002, 0x00101005,
    0x00101040, 0x00101050, 0x00101060, 0x00101080, 0x00101081, 0x00101100, 0x00102000, 0x00102110, 0x00102150,
    0x00102152, 0x00102154, 0x00102155, 0x001021A0, 0x001021C0, 0x001021D0, 0x001021F0, 0x00102203, 0x00102297,
    0x00102299, 0x00181002, 0x00181004, 0x00181005, 0x00181007, 0x00181008, 0x00181012, 0x00181014, 0x00181200,
    0x00181201, 0x00184000, 0x0018700A, 0x00209158, 0x00320032, 0x00320033, 0x00320034, 0x00320035, 0x00321000,
    0x00321001, 0x00321032, 0x00321033, 0x00321050, 0x00321051, 0x00321060, 0x00321070, 0x00324000, 0x00380010,
    0x00380011, 0x0038001E, 0x00380020, 0x00380021, 0x00380040, 0x00380050, 0x00380060, 0x00380061, 0x00380062,
    0x00380300, 0x00380400, 0x00380500, 0x00384000, 0x00400006, 0x00400007, 0x00400009, 0x0040000B, 0x00400241,
    0x00400242, 0x00400243, 0x00400244, 0x00400245, 0x00400250, 0x00400251, 0x00400253, 0x00400254, 0x00400280,
    0x00401001, 0x00401004, 0x00401005, 0x00401010, 0x00401011, 0x00401101, 0x00401102, 0x00401103, 0x00401400,
    0x00402001, 0x00402008, 0x00402009, 0x00402010, 0x00402016, 0x00402017, 0x00402400, 0x00403001, 0x0040A027,
    0x0040A030, 0x0040A032, 0x0040A073, 0x0040A075, 0x0040A078, 0x0040A088, 0x0040A123, 0x00700084, 0x00700086,
    0x20300020,
};

// Removed outright (Table E.1-1 "X"): icon images, original attributes kept in the clear by an earlier
// modification, digital signatures and MACs (they would no longer verify), free-text comments.
constexpr std::uint32_t kRemoved[] = {
    0x00880200, 0x04000561, 0x04000402, 0x04000403, 0x4FFE0001, 0xFFFAFFFA, 0x40000010, 0x40004000, 0x40080119,
};

template <std::size_t N>
bool listed(const std::uint32_t (&table)[N], const gdcm::Tag& t) {
  const std::uint32_t key = (static_cast<std::uint32_t>(t.GetGroup()) << 16) | t.GetElement();
  return std::find(std::begin(table), std::end(table), key) != std::end(table);
}

// Overlay (60xx) and curve (50xx) groups may hold burned-in text and annotations.
bool overlay_or_curve(const gdcm::Tag& t) {
  const std::uint16_t g = t.GetGroup();
  return (g >= 0x5000 && g <= 0x501E && g % 2 == 0) || (g >= 0x6000 && g <= 0x601E && g % 2 == 0);
}

// Recursively: private elements (and their creators), overlays and kRemoved removed, kEmptied emptied.
void scrub(const gdcm::File& file, gdcm::DataSet& ds) {
  std::vector<gdcm::Tag> remove;
  std::vector<gdcm::DataElement> replace;
  for (auto it = ds.Begin(); it != ds.End(); ++it) {
    const gdcm::DataElement& de = *it;
    const gdcm::Tag t = de.GetTag();
    if (t.IsPrivate() || overlay_or_curve(t) || listed(kRemoved, t)) {
      remove.push_back(t);
      continue;
    }
    if (listed(kEmptied, t)) {
      gdcm::DataElement copy = de;
      copy.Empty();
      replace.push_back(copy);
      continue;
    }
    if (t == kEncryptedAttributesSequence) continue;
    if (gdcm::DataSetHelper::ComputeVR(file, ds, t) != gdcm::VR::SQ) continue;
    gdcm::SmartPointer<gdcm::SequenceOfItems> sq = de.GetValueAsSQ();
    if (!sq) continue;
    for (gdcm::SequenceOfItems::SizeType i = 1; i <= sq->GetNumberOfItems(); ++i) {
      scrub(file, sq->GetItem(i).GetNestedDataSet());
    }
    gdcm::DataElement copy = de;
    copy.SetValue(*sq);
    copy.SetVLToUndefined();
    replace.push_back(copy);
  }
  for (const gdcm::Tag& t : remove) ds.Remove(t);
  for (const gdcm::DataElement& de : replace) ds.Replace(de);
}

// Irreversible mode: GDCM's profile insists on a CMS provider to encrypt the originals; this one
// encrypts nothing (empty output) and the empty Encrypted Attributes Sequence is then removed, so the
// originals are never written anywhere.
class DiscardOriginals final : public gdcm::CryptographicMessageSyntax {
 public:
  bool ParseCertificateFile(const char*) override { return false; }
  bool ParseKeyFile(const char*) override { return false; }
  bool SetPassword(const char*, size_t) override { return false; }
  bool Encrypt(char*, size_t& outlen, const char*, size_t) const override {
    outlen = 0;
    return true;
  }
  bool Decrypt(char*, size_t& outlen, const char*, size_t) const override {
    outlen = 0;
    return false;
  }
  void SetCipherType(CipherTypes) override {}
  CipherTypes GetCipherType() const override { return AES256_CIPHER; }
};

// Reversible mode: CMS (RFC 5652) EnvelopedData, RSA key transport to the certificate, AES-256-CBC
// content encryption, DER, as PS3.15 E.1.1 step 4 asks and as GDCM's own OpenSSL provider writes it
// (so `gdcmanon -d` re-identifies HEAL's output). HEAL's provider replaces GDCM's, which leaks the
// certificate and its BIOs and prints OpenSSL errors to stderr; this one frees everything, refuses
// non-RSA certificates and wipes decrypted originals from its buffers.
class OpenSslCms final : public gdcm::CryptographicMessageSyntax {
 public:
  OpenSslCms() = default;
  ~OpenSslCms() override {
    EVP_PKEY_free(key_);
    X509_free(cert_);
  }
  bool ParseCertificateFile(const char* path) override {
    BIO* in = BIO_new_file(path, "r");
    if (in == nullptr) return fail();
    X509* x = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
    BIO_free(in);
    if (x == nullptr) return fail();
    EVP_PKEY* pub = X509_get0_pubkey(x);
    if (pub == nullptr || EVP_PKEY_base_id(pub) != EVP_PKEY_RSA) {
      X509_free(x);
      return fail();
    }
    X509_free(cert_);
    cert_ = x;
    return true;
  }
  bool ParseKeyFile(const char* path) override {
    BIO* in = BIO_new_file(path, "r");
    if (in == nullptr) return fail();
    EVP_PKEY* k = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
    BIO_free(in);
    if (k == nullptr) return fail();
    EVP_PKEY_free(key_);
    key_ = k;
    return true;
  }
  bool SetPassword(const char*, size_t) override { return false; }
  bool Encrypt(char* output, size_t& outlen, const char* array, size_t len) const override {
    const size_t room = outlen;
    outlen = 0;
    if (cert_ == nullptr || len > static_cast<size_t>(INT_MAX)) return false;
    BIO* in = BIO_new_mem_buf(array, static_cast<int>(len));
    BIO* out = BIO_new(BIO_s_mem());
    STACK_OF(X509)* recipients = sk_X509_new_null();
    CMS_ContentInfo* cms = nullptr;
    bool ok = in != nullptr && out != nullptr && recipients != nullptr && sk_X509_push(recipients, cert_) > 0;
    if (ok) cms = CMS_encrypt(recipients, in, cipher(), CMS_BINARY);
    ok = ok && cms != nullptr && i2d_CMS_bio(out, cms) == 1;
    BUF_MEM* mem = nullptr;
    if (ok) BIO_get_mem_ptr(out, &mem);
    ok = ok && mem != nullptr && mem->length <= room;
    if (ok) {
      std::memcpy(output, mem->data, mem->length);
      outlen = mem->length;
    }
    CMS_ContentInfo_free(cms);
    sk_X509_free(recipients);  // the certificate itself stays owned by this object
    BIO_free(out);
    BIO_free(in);
    ERR_clear_error();
    return ok;
  }
  bool Decrypt(char* output, size_t& outlen, const char* array, size_t len) const override {
    const size_t room = outlen;
    outlen = 0;
    if (key_ == nullptr || cert_ == nullptr || len > static_cast<size_t>(INT_MAX)) return false;
    if (X509_check_private_key(cert_, key_) != 1) return fail();
    BIO* in = BIO_new_mem_buf(array, static_cast<int>(len));
    BIO* out = BIO_new(BIO_s_mem());
    CMS_ContentInfo* cms = in != nullptr ? d2i_CMS_bio(in, nullptr) : nullptr;
    bool ok = out != nullptr && cms != nullptr && CMS_decrypt(cms, key_, cert_, nullptr, out, CMS_BINARY) == 1;
    BUF_MEM* mem = nullptr;
    if (out != nullptr) BIO_get_mem_ptr(out, &mem);
    ok = ok && mem != nullptr && mem->length <= room;
    if (ok) {
      std::memcpy(output, mem->data, mem->length);
      outlen = mem->length;
    }
    if (mem != nullptr && mem->data != nullptr) OPENSSL_cleanse(mem->data, mem->length);  // the originals
    CMS_ContentInfo_free(cms);
    BIO_free(out);
    BIO_free(in);
    ERR_clear_error();
    return ok;
  }
  void SetCipherType(CipherTypes type) override { type_ = type; }
  CipherTypes GetCipherType() const override { return type_; }

 private:
  static bool fail() {
    ERR_clear_error();
    return false;
  }
  const EVP_CIPHER* cipher() const {
    switch (type_) {
      case DES3_CIPHER: return EVP_des_ede3_cbc();
      case AES128_CIPHER: return EVP_aes_128_cbc();
      case AES192_CIPHER: return EVP_aes_192_cbc();
      case AES256_CIPHER: break;
    }
    return EVP_aes_256_cbc();
  }
  X509* cert_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  CipherTypes type_ = AES256_CIPHER;
};

// GDCM's anonymizer keeps its UID map in statics (not thread safe): one run at a time.
std::mutex& gdcm_mutex() {
  static std::mutex m;
  return m;
}

Status prepare_gdcm() {
  // GDCM's diagnostics go to std::cerr; silence them so no attribute ever reaches a log.
  gdcm::Trace::SetDebug(false);
  gdcm::Trace::SetWarning(false);
  gdcm::Trace::SetError(false);
  static const bool loaded = gdcm::Global::GetInstance().LoadResourcesFiles();
  if (!loaded) {
    return Status::failed_precondition(
        "GDCM resource files (Part3.xml, ...) not found: install libgdcm-dev (scripts/install-deps.sh) or set "
        "GDCM_RESOURCES_PATH");
  }
  return Status::ok_status();
}

// Decrypts the first item of the Encrypted Attributes Sequence into a wiped scratch buffer: whether
// GDCM's re-identification will succeed (GDCM leaks its buffers when decryption fails).
bool can_decrypt(const gdcm::File& file, const OpenSslCms& cms) {
  const gdcm::DataSet& ds = file.GetDataSet();
  if (!ds.FindDataElement(kEncryptedAttributesSequence)) return false;
  gdcm::SmartPointer<gdcm::SequenceOfItems> sq = ds.GetDataElement(kEncryptedAttributesSequence).GetValueAsSQ();
  if (!sq || sq->GetNumberOfItems() < 1) return false;
  const gdcm::DataSet& item = sq->GetItem(1).GetNestedDataSet();
  const gdcm::Tag content(0x0400, 0x0520);
  if (!item.FindDataElement(content)) return false;
  const gdcm::ByteValue* bv = item.GetDataElement(content).GetByteValue();
  if (bv == nullptr || bv->GetLength() == 0) return false;
  std::vector<char> plain(bv->GetLength());
  size_t n = plain.size();
  const bool ok = cms.Decrypt(plain.data(), n, bv->GetPointer(), bv->GetLength());
  OPENSSL_cleanse(plain.data(), plain.size());
  return ok;
}

// "'path'" for messages (built by appending: GCC 12 warns falsely on "'" + std::string).
std::string in_quotes(const fs::path& p) {
  std::string q(1, '\'');
  q += p.string();
  q += '\'';
  return q;
}

bool has_dicom_preamble(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::array<char, 132> head{};
  if (!f.read(head.data(), head.size())) return false;
  return head[128] == 'D' && head[129] == 'I' && head[130] == 'C' && head[131] == 'M';
}

// True when `inner` is `outer` or lies below it (both absolute and normalised).
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end();
}

enum class FileOutcome { kWritten, kSkippedDicomdir };

// GDCM (as packaged) keeps its assertions, and some malformed inputs reach them; DCMTK parses the
// whole file first, values included, and turns malformed or truncated files into a Status.
Status validate_with_dcmtk(const fs::path& in) {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
  DcmFileFormat ff;
  OFCondition c = ff.loadFile(in.c_str());
  if (c.good()) c = ff.loadAllDataIntoMemory();
  if (c.bad()) {
    return Status::corruption(in_quotes(in) + " is not a readable DICOM file: " + c.text());
  }
  return Status::ok_status();
}

Result<FileOutcome> deidentify_one(gdcm::Anonymizer& anon, const fs::path& in, const fs::path& out, DeidMode mode) {
  HEAL_RETURN_IF_ERROR(validate_with_dcmtk(in));
  gdcm::Reader reader;
  reader.SetFileName(in.c_str());
  if (!reader.Read()) return Status::corruption(in_quotes(in) + " has a DICOM preamble but does not parse");
  gdcm::File& file = reader.GetFile();
  gdcm::MediaStorage ms;
  ms.SetFromFile(file);
  if (ms == gdcm::MediaStorage::MediaStorageDirectoryStorage) return FileOutcome::kSkippedDicomdir;
  if (gdcm::Defs::GetIODNameFromMediaStorage(ms) == nullptr) {
    return Status::unsupported(in_quotes(in) + ": SOP class not known to GDCM's de-identifier");
  }
  gdcm::DataSet& ds = file.GetDataSet();
  // An earlier de-identification or encryption (e.g. TCIA data) makes GDCM refuse; this run replaces
  // both (an earlier Encrypted Attributes Sequence was for another recipient and is dropped).
  ds.Remove(kPatientIdentityRemoved);
  ds.Remove(kDeidentificationMethod);
  ds.Remove(kEncryptedAttributesSequence);

  anon.SetFile(file);
  if (!anon.BasicApplicationLevelConfidentialityProfile(true)) {
    return Status::internal(in_quotes(in) + ": GDCM's confidentiality profile failed");
  }
  if (mode == DeidMode::kIrreversible) ds.Remove(kEncryptedAttributesSequence);
  scrub(file, ds);
  const std::string method = std::string("BASIC APPLICATION LEVEL CONFIDENTIALITY PROFILE\\") +
                             "HEAL: PRIVATE, OVERLAYS, DATES, TABLE E.1-1 EXTRAS\\" +
                             (mode == DeidMode::kReversible ? "HEAL: ORIGINALS ENCRYPTED (CMS AES-256)"
                                                            : "HEAL: IRREVERSIBLE, ORIGINALS DISCARDED");
  anon.Replace(kPatientIdentityRemoved, "YES");
  anon.Replace(kDeidentificationMethod, method.c_str());
  anon.Replace(kLongitudinalTemporalInformationModified, "REMOVED");
  // The file meta information repeats the SOP Instance UID and names the source: rebuilt from the
  // de-identified data set by the writer.
  file.GetHeader().Clear();

  std::error_code ec;
  fs::create_directories(out.parent_path(), ec);
  if (ec) return Status::io_error("cannot create '" + out.parent_path().string() + "': " + ec.message());
  const fs::path part = out.string() + ".part";
  gdcm::Writer writer;
  writer.SetFileName(part.c_str());
  writer.SetFile(file);
  if (!writer.Write()) {
    fs::remove(part, ec);
    return Status::io_error("cannot write " + in_quotes(out));
  }
  fs::rename(part, out, ec);
  if (ec) {
    fs::remove(part, ec);
    return Status::io_error("cannot write " + in_quotes(out));
  }
  return FileOutcome::kWritten;
}

Result<DeidReport> run(const fs::path& in, const fs::path& out_dir, const DeidOptions& opts) {
  std::error_code ec;
  const bool in_is_dir = fs::is_directory(in, ec);
  if (!in_is_dir && !fs::is_regular_file(in, ec)) return Status::not_found("input '" + in.string() + "' not found");
  const fs::path in_abs = fs::weakly_canonical(fs::absolute(in), ec);
  const fs::path out_abs = fs::weakly_canonical(fs::absolute(out_dir), ec);
  if (ec) return Status::invalid_argument("cannot resolve '" + out_dir.string() + "': " + ec.message());
  if (fs::exists(out_abs) && !fs::is_directory(out_abs)) {
    return Status::invalid_argument("--out '" + out_dir.string() + "' exists and is not a folder");
  }
  std::vector<std::pair<fs::path, fs::path>> jobs;  // (input file, output file)
  DeidReport report;
  if (in_is_dir) {
    if (is_within(out_abs, in_abs) || is_within(in_abs, out_abs)) {
      return Status::invalid_argument("--out must lie outside the input folder (and not contain it)");
    }
    for (fs::recursive_directory_iterator it(in_abs, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code fec;  // a dangling link is not a regular file: passed over, the walk goes on
      if (!it->is_regular_file(fec)) continue;
      if (!has_dicom_preamble(it->path())) {
        ++report.skipped_not_dicom;
        continue;
      }
      jobs.emplace_back(it->path(), out_abs / fs::relative(it->path(), in_abs));
    }
    if (ec) return Status::io_error("cannot walk '" + in.string() + "': " + ec.message());
    std::sort(jobs.begin(), jobs.end());
  } else {
    if (!has_dicom_preamble(in_abs)) {
      return Status::invalid_argument(in_quotes(in) + " is not a DICOM Part 10 file (no 'DICM' at byte 128)");
    }
    if (is_within(in_abs, out_abs)) return Status::invalid_argument("--out must not contain the input file");
    jobs.emplace_back(in_abs, out_abs / in_abs.filename());
  }

  DiscardOriginals discard;
  OpenSslCms cms;
  gdcm::Anonymizer anon;
  if (opts.mode == DeidMode::kReversible) {
    if (opts.certificate_pem.empty()) {
      return Status::invalid_argument("reversible de-identification needs the recipient's certificate (PEM)");
    }
    if (!fs::is_regular_file(opts.certificate_pem, ec)) {
      return Status::not_found("certificate '" + opts.certificate_pem + "' not found");
    }
    if (!cms.ParseCertificateFile(opts.certificate_pem.c_str())) {
      return Status::invalid_argument(in_quotes(opts.certificate_pem) + " is not a PEM X.509 certificate (RSA key)");
    }
    cms.SetCipherType(gdcm::CryptographicMessageSyntax::AES256_CIPHER);
    anon.SetCryptographicMessageSyntax(&cms);
  } else {
    if (!opts.certificate_pem.empty()) {
      return Status::invalid_argument("irreversible de-identification takes no certificate");
    }
    anon.SetCryptographicMessageSyntax(&discard);
  }

  for (const auto& [src, dst] : jobs) {
    HEAL_ASSIGN_OR_RETURN(const FileOutcome outcome, deidentify_one(anon, src, dst, opts.mode));
    if (outcome == FileOutcome::kSkippedDicomdir) {
      ++report.skipped_dicomdir;
      continue;
    }
    ++report.deidentified;
    report.outputs.push_back(dst.string());
  }
  return report;
}

}  // namespace

Result<DeidReport> deidentify(const std::string& in, const std::string& out_dir, const DeidOptions& opts) {
  if (in.empty() || out_dir.empty()) return Status::invalid_argument("de-identification needs an input and --out");
  const std::lock_guard<std::mutex> lock(gdcm_mutex());
  HEAL_RETURN_IF_ERROR(prepare_gdcm());
  // The UID map (original -> replacement) lives for one call only: a series stays a series within a
  // run, and two runs (e.g. for two recipients) cannot be linked through their replacement UIDs.
  gdcm::Anonymizer::ClearInternalUIDs();
  Result<DeidReport> r = Status::internal("not run");
  try {
    r = run(in, out_dir, opts);
  } catch (const std::exception& e) {
    r = Status::corruption(std::string("de-identification stopped on malformed input: ") + e.what());
  } catch (...) {
    r = Status::corruption("de-identification stopped on malformed input");
  }
  gdcm::Anonymizer::ClearInternalUIDs();
  return r;
}

Status reidentify_dicom_file(const std::string& in, const std::string& out, const std::string& private_key_pem,
                             const std::string& certificate_pem) {
  const std::lock_guard<std::mutex> lock(gdcm_mutex());
  HEAL_RETURN_IF_ERROR(prepare_gdcm());
  std::error_code ec;
  for (const std::string* p : {&in, &private_key_pem, &certificate_pem}) {
    if (!fs::is_regular_file(*p, ec)) return Status::not_found(in_quotes(*p) + " not found");
  }
  if (fs::exists(out, ec) && fs::equivalent(in, out, ec)) {
    return Status::invalid_argument("re-identification would overwrite its input");
  }
  try {
    OpenSslCms cms;
    if (!cms.ParseKeyFile(private_key_pem.c_str())) return Status::invalid_argument("cannot read the private key");
    if (!cms.ParseCertificateFile(certificate_pem.c_str())) {
      return Status::invalid_argument("cannot read the certificate (PEM X.509, RSA key)");
    }
    HEAL_RETURN_IF_ERROR(validate_with_dcmtk(in));
    gdcm::Reader reader;
    reader.SetFileName(in.c_str());
    if (!reader.Read()) return Status::corruption(in_quotes(in) + " is not a readable DICOM file");
    gdcm::Anonymizer anon;
    anon.SetCryptographicMessageSyntax(&cms);
    anon.SetFile(reader.GetFile());
    if (!can_decrypt(reader.GetFile(), cms) || !anon.BasicApplicationLevelConfidentialityProfile(false)) {
      return Status::failed_precondition(in_quotes(in) + " cannot be re-identified with this key (no Encrypted "
                                         "Attributes Sequence, or encrypted for another recipient)");
    }
    reader.GetFile().GetHeader().Clear();
    gdcm::Writer writer;
    writer.SetFileName(out.c_str());
    writer.SetFile(reader.GetFile());
    if (!writer.Write()) return Status::io_error("cannot write " + in_quotes(out));
  } catch (const std::exception& e) {
    return Status::corruption(std::string("re-identification stopped on malformed input: ") + e.what());
  }
  return Status::ok_status();
}

}  // namespace heal::deid
