// De-identification of DICOM files: the DICOM Basic Application Level Confidentiality Profile
// (PS3.15 Annex E, E.1.1) through GDCM's gdcm::Anonymizer, plus HEAL's additions (private tags
// removed, dates/times and further identifying attributes of the current Table E.1-1 emptied).
// See docs/deid.md. GDCM stays behind this header: only heal_deid links it.
//
// Privacy rule: nothing here returns, prints or logs an attribute value of the input; reports
// carry counts and output paths only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "heal/core/status.h"

namespace heal::deid {

enum class DeidMode {
  // The replaced originals are encrypted (CMS, RSA key transport, AES-256 content encryption)
  // for the holder of the certificate's private key and stored in the Encrypted Attributes
  // Sequence (0400,0500); reidentify_dicom_file() with that key restores them.
  kReversible,
  // Same profile, but the originals are discarded: no Encrypted Attributes Sequence is written,
  // nobody can re-identify from the output.
  kIrreversible,
};

struct DeidOptions {
  DeidMode mode = DeidMode::kReversible;
  std::string certificate_pem;  // path of the recipient's X.509 certificate (PEM); kReversible only
};

struct DeidReport {
  std::size_t deidentified = 0;          // DICOM files written under the output folder
  std::size_t skipped_not_dicom = 0;     // files without the DICOM Part 10 preamble ("DICM" at 128)
  std::size_t skipped_dicomdir = 0;      // DICOMDIR indexes (they repeat patient names): not copied
  std::vector<std::string> outputs;      // paths of the files written
};

/// De-identifies `in` (a DICOM file, or a folder walked recursively) into `out_dir`, keeping the
/// relative paths below `in` (a single file keeps its file name). Output files are created only under
/// `out_dir`, which must not be `in`, lie inside it or contain it. UIDs are replaced consistently
/// within one call (a series stays one series), pixel data and transfer syntax are untouched.
/// Files that are not DICOM Part 10 are skipped and counted (a single such file is InvalidArgument);
/// a DICOM file that cannot be de-identified stops the run with an error naming it.
Result<DeidReport> deidentify(const std::string& in, const std::string& out_dir, const DeidOptions& opts);

/// E.1.2 re-identification of one file written in kReversible mode: decrypts the Encrypted Attributes
/// Sequence with the recipient's private key (PEM) and certificate, and writes the restored file.
/// Fails with a clear Status when the key does not open it (or the file has no encrypted attributes).
Status reidentify_dicom_file(const std::string& in, const std::string& out, const std::string& private_key_pem,
                             const std::string& certificate_pem);

}  // namespace heal::deid
