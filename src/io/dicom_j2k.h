// Internal: JPEG 2000 frames of a DICOM object decoded with OpenJPEG (DCMTK 3.6.7 ships no free
// JPEG 2000 codec). Used by dicom.cpp only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"

namespace heal::io::internal {

/// What the DICOM header promises about one frame; the codestream must match it.
struct J2kExpect {
  int rows = 0;
  int columns = 0;
  int samples = 1;         // 1 or 3
  int bits_allocated = 0;  // 8 or 16: size of one output sample
  int bits_stored = 0;     // must equal the codestream precision
  bool is_signed = false;  // Pixel Representation 1
};

/// Decodes one JPEG 2000 codestream (raw J2K or a JP2 box file) from memory into `out`, appending
/// rows * columns * samples samples of bits_allocated bits, little-endian, interleaved (planar
/// configuration 0). Corruption if the stream is damaged or disagrees with `expect` (size,
/// components, sign; precision at most bits_allocated); samples are clamped to the Bits Stored range.
Status decode_j2k_frame(std::span<const std::uint8_t> stream, const J2kExpect& expect, std::vector<std::uint8_t>* out);

}  // namespace heal::io::internal
