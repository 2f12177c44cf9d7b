// libFuzzer target over the DICOM readers: header facts (read_dicom_info_bytes), rendering
// (decode_dicom with the window and frame chosen by the first byte), all frames and the modality
// values. Seeds: fuzz/corpus/dicom (every transfer syntax HEAL decodes; see fuzz/README.md).
// Build: cmake --preset fuzz && cmake --build build/fuzz --target fuzz_dicom
// Run:   build/fuzz/fuzz/fuzz_dicom -max_total_time=1800 -rss_limit_mb=4096 fuzz/work/dicom fuzz/corpus/dicom
#include <cstddef>
#include <cstdint>
#include <span>

#include "heal/io/dicom.h"
#include "heal/io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal::io;
  if (size < 1) return 0;
  const std::uint8_t sel = data[0];
  const std::span<const std::uint8_t> in(data + 1, size - 1);

  // Header facts always; pixels only for objects of at most 2^20 samples (all frames): larger
  // declared sizes are valid up to the reader's own caps (tested in tests/io/dicom_test.cpp) but
  // make one execution take seconds, which starves the search.
  auto info = read_dicom_info_bytes(in);
  if (!info.ok()) return 0;
  const std::uint64_t samples = static_cast<std::uint64_t>(info->rows > 0 ? info->rows : 0) *
                                static_cast<std::uint64_t>(info->columns > 0 ? info->columns : 0) *
                                static_cast<std::uint64_t>(info->samples_per_pixel > 0 ? info->samples_per_pixel : 1) *
                                static_cast<std::uint64_t>(info->frames > 0 ? info->frames : 1);
  if (samples > (std::uint64_t{1} << 20)) return 0;

  DicomOptions opts;
  switch (sel & 3) {
    case 0: break;  // the file's window
    case 1: opts.window.kind = DicomWindow::Kind::kMinMax; break;
    case 2:
      opts.window.kind = DicomWindow::Kind::kExplicit;
      opts.window.center = -600;
      opts.window.width = 1500;
      break;
    default:
      opts.window.kind = DicomWindow::Kind::kExplicit;
      opts.window.center = 40;
      opts.window.width = 1;
      break;
  }
  opts.frame = (sel >> 2) & 3;
  if (sel & 0x10) opts.spacing_mm = 2.0;
  if (auto img = decode_dicom(in, opts); img.ok()) {
    if (img->pixels.size() != static_cast<std::size_t>(img->width) * img->height * img->channels) __builtin_trap();
    for (float v : img->pixels) {
      if (!(v >= 0.0f && v <= 1.0f)) __builtin_trap();
    }
  }
  if (sel & 0x20) (void)decode_dicom_frames(in, opts);
  if (sel & 0x40) {
    if (auto v = decode_dicom_values(in, opts.frame); v.ok()) {
      if (v->values.size() != static_cast<std::size_t>(v->width) * v->height * v->channels) __builtin_trap();
    }
  }
  return 0;
}
