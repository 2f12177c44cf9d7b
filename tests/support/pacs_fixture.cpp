// Orthanc on loopback and generated DICOM studies for the PACS tests (see pacs_fixture.h).
#include "support/pacs_fixture.h"

#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dctk.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/free_ports.h"

namespace fs = std::filesystem;

namespace heal::testing {
namespace {

constexpr const char* kOrthanc = "/usr/sbin/Orthanc";
constexpr const char* kDicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";
constexpr const char* kUidRoot = "1.2.826.0.1.3680043.8.498.7731";  // test UIDs only

std::size_t sink(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// GET or POST on Orthanc's REST API; returns the HTTP status (0: no connection).
long http(const std::string& url, const std::vector<std::uint8_t>* post, std::string* body) {
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_slist* h = nullptr;
  if (post) {
    h = curl_slist_append(h, "Content-Type: application/dicom");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post->size()));
  }
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

std::string tail(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

}  // namespace

int free_loopback_port() { return free_ports(1)[0]; }

GeneratedInstance make_instance(int study, int image, int label) {
  GeneratedInstance g;
  g.label = label;
  g.study_uid = std::string(kUidRoot) + ".1." + std::to_string(study + 1);
  g.series_uid = g.study_uid + ".1";
  g.sop_uid = g.study_uid + ".1." + std::to_string(image + 1);
  g.pixels.resize(static_cast<std::size_t>(g.rows * g.cols));
  for (int y = 0; y < g.rows; ++y) {
    for (int x = 0; x < g.cols; ++x) {
      const bool on = label == 0 ? (y / 4) % 2 == 0 : (x / 4) % 2 == 0;  // horizontal vs vertical stripes
      g.pixels[static_cast<std::size_t>(y * g.cols + x)] =
          static_cast<std::uint16_t>((on ? 3000 : 200) + 7 * study + image + (x + y) % 5);
    }
  }
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, g.sop_uid.c_str());
  ds->putAndInsertString(DCM_StudyInstanceUID, g.study_uid.c_str());
  ds->putAndInsertString(DCM_SeriesInstanceUID, g.series_uid.c_str());
  ds->putAndInsertString(DCM_PatientName, kCanaryPatientName);
  ds->putAndInsertString(DCM_PatientID, (std::string(kCanaryPatientId) + std::to_string(study)).c_str());
  ds->putAndInsertString(DCM_PatientBirthDate, "19700101");
  const int day = study % 28 + 1;  // 2024-01-01, -02, ... (the StudyDate filter test counts on this)
  ds->putAndInsertString(DCM_StudyDate, ("202401" + std::string(day < 10 ? "0" : "") + std::to_string(day)).c_str());
  ds->putAndInsertString(DCM_StudyID, std::to_string(study + 1).c_str());
  ds->putAndInsertString(DCM_AccessionNumber, ("ACC" + std::to_string(study)).c_str());
  ds->putAndInsertString(DCM_Modality, "CT");
  ds->putAndInsertString(DCM_SeriesNumber, "1");
  ds->putAndInsertString(DCM_InstanceNumber, std::to_string(image + 1).c_str());
  ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(g.rows));
  ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(g.cols));
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16(DCM_BitsAllocated, 16);
  ds->putAndInsertUint16(DCM_BitsStored, 12);
  ds->putAndInsertUint16(DCM_HighBit, 11);
  ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
  ds->putAndInsertString(DCM_RescaleSlope, "1");
  ds->putAndInsertString(DCM_RescaleIntercept, "-1024");
  ds->putAndInsertUint16Array(DCM_PixelData, g.pixels.data(), static_cast<unsigned long>(g.pixels.size()));
  std::vector<std::uint8_t> buf(64 * 1024);
  DcmOutputBufferStream out(buf.data(), static_cast<offile_off_t>(buf.size()));
  ff.validateMetaInfo(EXS_LittleEndianExplicit);
  ff.transferInit();
  const OFCondition c = ff.write(out, EXS_LittleEndianExplicit, EET_ExplicitLength, nullptr);
  ff.transferEnd();
  if (c.bad()) throw std::runtime_error(std::string("cannot write a test DICOM object: ") + c.text());
  void* p = nullptr;
  offile_off_t n = 0;
  out.flushBuffer(p, n);
  buf.resize(static_cast<std::size_t>(n));
  g.bytes = std::move(buf);
  return g;
}

std::vector<GeneratedInstance> make_studies(int studies, int per_study) {
  std::vector<GeneratedInstance> out;
  for (int s = 0; s < studies; ++s) {
    for (int i = 0; i < per_study; ++i) out.push_back(make_instance(s, i, s % 2));
  }
  return out;
}

OrthancServer::OrthancServer(const std::string& workdir) : workdir_(workdir) {
  if (::access(kOrthanc, X_OK) != 0) {
    throw std::runtime_error(std::string(kOrthanc) + " is missing: install the orthanc and orthanc-dicomweb "
                             "packages (scripts/install-deps.sh)");
  }
  if (::access(kDicomWebPlugin, R_OK) != 0) {
    throw std::runtime_error(std::string(kDicomWebPlugin) + " is missing: install orthanc-dicomweb "
                             "(scripts/install-deps.sh)");
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  fs::create_directories(fs::path(workdir_) / "storage");
  const std::vector<int> ports = free_ports(2);
  http_port_ = ports[0];
  dicom_port_ = ports[1];
  const std::string config = (fs::path(workdir_) / "orthanc.json").string();
  log_ = (fs::path(workdir_) / "orthanc.log").string();
  {
    std::ofstream f(config);
    f << "{\n"
      << "  \"Name\": \"HEAL test PACS\",\n"
      << "  \"StorageDirectory\": \"" << (fs::path(workdir_) / "storage").string() << "\",\n"
      << "  \"IndexDirectory\": \"" << (fs::path(workdir_) / "storage").string() << "\",\n"
      << "  \"Plugins\": [\"" << kDicomWebPlugin << "\"],\n"
      << "  \"HttpServerEnabled\": true, \"HttpPort\": " << http_port_ << ",\n"
      << "  \"RemoteAccessAllowed\": false, \"AuthenticationEnabled\": false,\n"
      << "  \"DicomServerEnabled\": true, \"DicomPort\": " << dicom_port_ << ", \"DicomAet\": \"ORTHANC\",\n"
      << "  \"DicomCheckCalledAet\": true, \"DicomCheckModalityHost\": true,\n"
      << "  \"DicomAlwaysAllowEcho\": false, \"DicomAlwaysAllowStore\": false,\n"
      << "  \"DicomAlwaysAllowFind\": false, \"DicomAlwaysAllowGet\": false, \"DicomAlwaysAllowMove\": false,\n"
      << "  \"DicomModalities\": { \"heal\": { \"AET\": \"HEAL\", \"Host\": \"127.0.0.1\", \"Port\": 1,\n"
      << "      \"AllowEcho\": true, \"AllowFind\": true, \"AllowGet\": true, \"AllowMove\": false,\n"
      << "      \"AllowStore\": false } },\n"
      << "  \"DicomWeb\": { \"Enable\": true, \"Root\": \"/dicom-web/\", \"EnableWado\": false },\n"
      << "  \"SaveJobs\": false, \"StorageCompression\": false, \"HttpVerbose\": false\n"
      << "}\n";
  }
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execl(kOrthanc, kOrthanc, config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    std::string body;
    if (http("http://127.0.0.1:" + std::to_string(http_port_) + "/system", nullptr, &body) == 200) break;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("Orthanc exited at start; its log:\n" + tail(log_));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop();
      throw std::runtime_error("Orthanc did not answer /system within 30 s; its log:\n" + tail(log_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

OrthancServer::~OrthancServer() { stop(); }

void OrthancServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int st = 0;
  while (::waitpid(pid_, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  pid_ = -1;
}

std::string OrthancServer::dicomweb_url() const {
  return "dicomweb://127.0.0.1:" + std::to_string(http_port_) + "/dicom-web";
}

std::string OrthancServer::dimse_url() const { return "dimse://ORTHANC@127.0.0.1:" + std::to_string(dicom_port_); }

void OrthancServer::upload(const std::vector<std::uint8_t>& dicom) const {
  std::string body;
  const long st = http("http://127.0.0.1:" + std::to_string(http_port_) + "/instances", &dicom, &body);
  if (st != 200) throw std::runtime_error("POST /instances answered HTTP " + std::to_string(st) + ": " + body);
}

}  // namespace heal::testing
