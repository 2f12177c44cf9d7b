// libFuzzer target over the patient metadata CSV reader (io::parse_patient_csv: COVID-CT's
// COVID-CT-MetaInfo.csv / NonCOVID-CT-MetaInfo.csv, or any file naming patients per image).
// Build: cmake --preset fuzz && cmake --build build/fuzz --target fuzz_io_csv
// Run:   build/fuzz/fuzz/fuzz_io_csv -max_total_time=60 fuzz/corpus/io_csv
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "heal/io/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Both COVID-CT layouts' column names; an accepted map has no empty key or value.
  for (const auto& [f, p] : {std::pair{"File name", "Patient ID"}, std::pair{"image name", "patient id"}}) {
    auto m = heal::io::parse_patient_csv(text, f, p);
    if (!m.ok()) continue;
    for (const auto& [file, patient] : *m) {
      if (file.empty() || patient.empty()) __builtin_trap();
    }
  }
  return 0;
}
