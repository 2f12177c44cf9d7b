// Test support for the PACS layer: a real Orthanc on loopback (generated JSON config, free ports,
// only the DICOMweb plugin, storage in a temp dir) and generated DICOM studies with two classes of
// visibly different pixel patterns and a canary PatientName. Used by tests/io/pacs_test.cpp and by
// heal_pacs_fixture (tests/cli/pacs_train_cli_test.sh). Failures throw std::runtime_error.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace heal::testing {

/// The PatientName / PatientID written into every generated object; must never leave HEAL's reader.
inline constexpr const char* kCanaryPatientName = "CANARY^LEAKED^PHI7731";
inline constexpr const char* kCanaryPatientId = "CANARYID7731";

struct GeneratedInstance {
  std::string study_uid, series_uid, sop_uid;
  int label = 0;
  int rows = 32, cols = 32;
  std::vector<std::uint16_t> pixels;  // rows * cols stored values
  std::vector<std::uint8_t> bytes;    // the Part 10 file uploaded
};

/// One 32x32 16-bit MONOCHROME2 CT object: label 0 has horizontal stripes, label 1 vertical stripes
/// (plus a small per-instance offset); PatientName/PatientID are the canaries.
GeneratedInstance make_instance(int study, int image, int label);
/// `studies` studies (labels alternate 0, 1), `per_study` images each, UIDs under a fixed test root.
std::vector<GeneratedInstance> make_studies(int studies, int per_study);

/// Orthanc (/usr/sbin/Orthanc) started on free loopback ports; stopped (SIGTERM, then SIGKILL) by the
/// destructor. Throws with Orthanc's log tail if it does not come up within 30 s.
class OrthancServer {
 public:
  explicit OrthancServer(const std::string& workdir);
  ~OrthancServer();
  OrthancServer(const OrthancServer&) = delete;
  OrthancServer& operator=(const OrthancServer&) = delete;

  int http_port() const { return http_port_; }
  int dicom_port() const { return dicom_port_; }
  std::string dicomweb_url() const;  // dicomweb://127.0.0.1:PORT/dicom-web
  std::string dimse_url() const;     // dimse://ORTHANC@127.0.0.1:PORT (calling AE HEAL is configured)
  /// POST /instances; throws on an HTTP error.
  void upload(const std::vector<std::uint8_t>& dicom) const;
  void stop();

 private:
  std::string workdir_, log_;
  int http_port_ = 0, dicom_port_ = 0;
  pid_t pid_ = -1;
};

/// A free TCP port on 127.0.0.1 (bound and released; support/free_ports.h).
int free_loopback_port();

}  // namespace heal::testing
