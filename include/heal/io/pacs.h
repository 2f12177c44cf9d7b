// A PACS as HEAL's data source: DICOMweb (QIDO-RS search, WADO-RS retrieve; PS3.18) through libcurl and
// DIMSE (C-FIND + C-GET; PS3.4 annex C) through DCMTK's DcmSCU, a labels CSV joined on UIDs, seeded
// study-level splits, `heal data pull` (a local copy + dataset.csv) and in-memory datasets for --data.
//
// URL forms (docs/pacs.md):
//   dicomweb://HOST:PORT/PATH?FILTERS   DICOMweb over http (PATH is the DICOMweb root, e.g. /dicom-web)
//   dicomwebs://HOST:PORT/PATH?FILTERS  the same over https (peer and host verified against the system CAs)
//   dimse://CALLED_AET@HOST:PORT?calling=HEAL&FILTERS   DIMSE C-FIND/C-GET (calling AE title default HEAL)
// Query parameters other than the reserved ones (labels, seed, val, test, calling) are QIDO / C-FIND
// matching keys passed through: `Modality=CT`, `StudyDate=20240101-20241231`, `StudyDescription=*chest*`.
//
// Privacy: nothing here returns, prints or writes a patient identifier. Records keep only UIDs and the
// modality; UIDs are used for grouping and file names and are never put into messages.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "heal/core/status.h"
#include "heal/io/dataset.h"

namespace heal::io {

enum class PacsProtocol { kDicomWeb, kDimse };

/// Matching keys in query order: DICOM keywords (e.g. "Modality") or 8-hex-digit tags, raw values.
using PacsFilters = std::vector<std::pair<std::string, std::string>>;

struct PacsUrl {
  PacsProtocol protocol = PacsProtocol::kDicomWeb;
  bool tls = false;                 // dicomwebs://
  std::string host;
  int port = 0;
  std::string path;                 // DICOMweb root without trailing '/', e.g. "/dicom-web" (may be empty)
  std::string called_aet;           // DIMSE: the PACS's AE title
  std::string calling_aet = "HEAL"; // DIMSE: HEAL's AE title (`calling=`)
  std::string labels;               // `labels=`: labels CSV (for --data)
  std::optional<std::uint64_t> seed;     // `seed=`: split seed
  std::optional<double> val_fraction;    // `val=`
  std::optional<double> test_fraction;   // `test=`
  PacsFilters filters;              // every other parameter

  /// "http://127.0.0.1:8042/dicom-web" (DICOMweb), "ORTHANC@127.0.0.1:4242" (DIMSE): no query.
  std::string endpoint() const;
};

/// True for dicomweb://, dicomwebs:// and dimse:// strings.
bool is_pacs_url(std::string_view s);
/// Parses and validates a PACS URL (scheme, host, port 1..65535, AE titles, %XX-decoded parameters,
/// filter keys that are DICOM keywords or tags). InvalidArgument with the reason otherwise.
Result<PacsUrl> parse_pacs_url(const std::string& url);

/// Limits applied to everything a PACS sends.
struct PacsLimits {
  long connect_timeout_s = 10;
  long timeout_s = 120;                                // one request / association step
  std::size_t max_json_bytes = 64u << 20;              // one QIDO-RS response
  std::size_t max_instance_bytes = 1u << 30;           // one retrieved object
  std::uint64_t max_total_bytes = 64ull << 30;         // all objects of one pull / load
  std::size_t max_matches = 1'000'000;                 // records of one search
};

/// One instance found by a search: UIDs (validated: digits and dots, at most 64 characters) and modality.
struct PacsInstance {
  std::string study_uid, series_uid, sop_uid, modality;
};

/// A PACS connection (one per thread).
class PacsClient {
 public:
  virtual ~PacsClient() = default;
  /// Every instance of the studies/series that match `filters` (studies -> series -> instances).
  virtual Result<std::vector<PacsInstance>> find_instances(const PacsFilters& filters) = 0;
  /// The complete DICOM object (Part 10 bytes) of one instance.
  virtual Result<std::vector<std::uint8_t>> retrieve(const PacsInstance& inst) = 0;
  /// Endpoint for messages, e.g. "http://127.0.0.1:8042/dicom-web".
  virtual std::string endpoint() const = 0;
};

/// A DICOMweb or DIMSE client for `url` (no network traffic yet).
Result<std::unique_ptr<PacsClient>> open_pacs(const PacsUrl& url, const PacsLimits& limits = {});

// ---- DICOMweb pieces, exposed for tests ----

/// One QIDO-RS record: the first string value of the attributes HEAL reads.
struct QidoRecord {
  std::string study_uid, series_uid, sop_uid, modality;
};
/// Parses a QIDO-RS JSON response (PS3.18 F.2: an array of objects keyed by 8-hex tags, each
/// {"vr": ..., "Value": [...]}) and checks that every record carries the UIDs `required`
/// ("study", "series", "instance" levels need 0020000D, +0020000E, +00080018). Corruption otherwise.
Result<std::vector<QidoRecord>> parse_qido_json(std::string_view body, const std::string& level,
                                                std::size_t max_records = 1'000'000);
/// Splits a multipart/related body (RFC 2387 / RFC 2046) of `content_type` into its parts' bodies;
/// checks the boundary parameter, every delimiter, part headers, a part's Content-Length if given,
/// the closing delimiter, and that no part exceeds `max_part_bytes`. Corruption otherwise.
Result<std::vector<std::vector<std::uint8_t>>> parse_multipart_related(std::string_view content_type,
                                                                       std::span<const std::uint8_t> body,
                                                                       std::size_t max_part_bytes);

// ---- labels and splits ----

/// A labels CSV: header `StudyInstanceUID,label[,split]` or `SOPInstanceUID,label[,split]`.
struct PacsLabels {
  bool by_study = true;      // keyed by StudyInstanceUID (else SOPInstanceUID)
  bool has_split = false;    // a split column
  struct Row {
    std::string label;
    std::optional<Split> split;
  };
  std::vector<std::pair<std::string, Row>> rows;  // key UID -> row, in file order (keys unique)
};
Result<PacsLabels> load_pacs_labels(const std::string& csv_path);

/// One labelled instance of a PACS dataset.
struct PacsItem {
  PacsInstance instance;
  std::string label;
  Split split = Split::kTrain;
};

/// How the instances found were joined with the labels.
struct PacsJoin {
  std::vector<PacsItem> items;      // labelled instances with their split, in a deterministic order
  std::size_t unlabelled = 0;       // instances without a label (skipped)
  std::size_t studies = 0;          // studies among the labelled instances
};

struct SplitRule {
  std::uint64_t seed = 0;
  double val_fraction = 0.1;
  double test_fraction = 0.2;
};
/// Joins instances with labels. Splits come from the CSV when it has a split column (one study's
/// instances must then share a split); otherwise they are drawn per study, stratified by label:
/// within each label, studies are sorted by UID, shuffled with SeededRng(seed), and the first
/// round(test * n) go to test, the next round(val * n) to val, the rest to train (a study's label is
/// its most frequent instance label, ties to the smallest). All images of a study share its split.
Result<PacsJoin> join_pacs_labels(const std::vector<PacsInstance>& found, const PacsLabels& labels,
                                  const SplitRule& rule);

// ---- pipelines ----

struct PacsProgress {
  std::size_t done = 0, total = 0;   // instances
  std::uint64_t bytes = 0;           // retrieved so far
};

struct PullOptions {
  std::string labels_csv;            // empty: the URL's labels=
  std::string out_dir;
  PacsFilters filters;               // added to the URL's filters
  SplitRule split;
  PacsLimits limits;
  std::function<void(const PacsProgress&)> progress;  // after each instance
};

struct PullReport {
  std::size_t found = 0, labelled = 0, unlabelled = 0, studies = 0;
  std::size_t retrieved = 0, already_present = 0;
  std::uint64_t bytes = 0;
  std::size_t per_split[3] = {0, 0, 0};  // train, val, test
  std::string csv_path;                  // OUT/dataset.csv
};

/// `heal data pull`: finds the instances, joins the labels, retrieves each labelled instance into
/// OUT/dicom/<StudyInstanceUID>/<SOPInstanceUID>.dcm (an existing file whose SOPInstanceUID matches is
/// kept: resumable) and writes OUT/dataset.csv (`path,label,split`, paths relative to it).
Result<PullReport> pull_pacs_dataset(const std::string& url, const PullOptions& opts);

/// A Dataset straight from a PACS without a local copy (`--data dicomweb://...?labels=CSV`):
/// labels, seed, val, test from the URL's parameters; images decoded in memory (DICOM default window),
/// converted and resized as LoadOptions says (folder-dataset rules).
Result<Dataset> load_pacs_dataset(const std::string& url, const LoadOptions& opts = {},
                                  const PacsLimits& limits = {});

}  // namespace heal::io
