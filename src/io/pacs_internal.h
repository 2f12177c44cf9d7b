// Shared pieces of the PACS clients (src/io/dicomweb.cpp, dimse.cpp, pacs.cpp); not a public API.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "heal/io/pacs.h"

namespace heal::io::pacs_detail {

/// A DICOM UID as PS3.5 9.1 allows: 1..64 characters of digits and dots, no empty component.
/// Checked before a UID from a server goes into a URL or a file name.
bool valid_uid(std::string_view uid);

/// Filters whose key is a series-level attribute (Modality, SeriesInstanceUID, SeriesNumber,
/// SeriesDescription, BodyPartExamined, SeriesDate): those match series, every other key matches studies.
bool is_series_level_key(std::string_view key);

Result<std::unique_ptr<PacsClient>> open_dicomweb(const PacsUrl& url, const PacsLimits& limits);
Result<std::unique_ptr<PacsClient>> open_dimse(const PacsUrl& url, const PacsLimits& limits);

}  // namespace heal::io::pacs_detail
