// Internal: a structural pre-scan of DICOM bytes before DCMTK parses them. DCMTK's parser recurses
// once per nested sequence (a few MB of nested empty sequences would exhaust the stack); the scan
// refuses deep nesting before DCMTK sees the bytes. (Declared lengths larger than the object are
// refused by DCMTK's file reader, which dicom.cpp always uses.)
#pragma once

#include <cstdint>
#include <span>

#include "heal/core/status.h"

namespace heal::io::internal {

/// Deepest sequence nesting accepted (real objects nest a handful of levels).
inline constexpr int kMaxDicomNesting = 32;

/// Walks the elements, sequences, items and encapsulated fragments of a DICOM object (with or
/// without preamble + meta header; little/big endian, explicit/implicit VR as the meta header's
/// transfer syntax says, else as the first element looks) and checks every defined length against
/// the bytes that remain, every undefined length against its delimiter, and the nesting depth.
/// Best effort: a structure the scan cannot follow (damaged, deflated) ends the scan with OK and is
/// left to DCMTK; only nesting deeper than kMaxDicomNesting is refused (Corruption).
Status scan_dicom(std::span<const std::uint8_t> bytes);

}  // namespace heal::io::internal
