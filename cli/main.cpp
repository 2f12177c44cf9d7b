// heal: the single command-line entry point. Each subcommand family lives in cmd_*.cpp.
#include <sys/resource.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "commands.h"
#include "heal/core/log.h"
#include "heal/core/status.h"
#include "heal/io/dicom.h"
#include "heal/math/simd.h"

namespace heal::cli {

std::size_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::size_t>(ru.ru_maxrss) * 1024;
}

GlobalOptions& globals() {
  static GlobalOptions g;
  return g;
}

std::string data_location() {
  if (!globals().data.empty()) return globals().data;
  if (const char* env = std::getenv("HEAL_DATA"); env && *env) return env;
  return {};
}

io::DicomOptions dicom_options() {
  auto win = io::parse_dicom_window(globals().window);
  if (!win.ok()) throw StatusError(win.status());
  io::DicomOptions d;
  d.window = *win;
  d.spacing_mm = globals().spacing_mm;
  d.frame = globals().frame;
  return d;
}

io::SliceSelection slice_selection() {
  auto sel = io::parse_slice_selection(globals().slices);
  if (!sel.ok()) throw StatusError(sel.status());
  return std::move(sel).value();
}

}  // namespace heal::cli

int main(int argc, char** argv) {
  using namespace heal::cli;
  CLI::App app{
      "HEAL: privacy-preserving medical imaging.\n"
      "Federated learning with threshold-CKKS aggregation, encrypted diagnosis, and an audit ledger."};
  app.require_subcommand(1);
  // The SIMD level in use (HEAL_SIMD=scalar|avx2|avx512 lowers it) is part of the version line.
  app.set_version_flag("--version", "heal 0.1.0, simd " + std::string(heal::math::simd_description()));
  auto& g = globals();
  app.add_option("--data", g.data, "Dataset file or directory (default: $HEAL_DATA)");
  app.add_flag("-q,--quiet", g.quiet, "No progress bars");
  app.add_option("--log-level", g.log_level, "debug|info|warn|error|off")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));
  // DICOM decoding, wherever images or folder datasets are loaded (docs/dicom.md).
  app.add_option("--window", g.window,
                 "DICOM grey-level window: lung (-600,1500), mediastinum (50,350), bone (400,1800), "
                 "brain (40,80), abdomen (40,400) in Hounsfield units; file (the file's own window, "
                 "else min/max; default); minmax; or C,W (centre and width >= 1 in modality units)")
      ->check([](const std::string& s) {
        auto w = heal::io::parse_dicom_window(s);
        return w.ok() ? std::string() : w.status().message();
      });
  app.add_option("--spacing", g.spacing_mm,
                 "Resample DICOM images to this pixel spacing in mm using their Pixel Spacing "
                 "(new size = round(size x spacing / MM)); a DICOM image without Pixel Spacing is an "
                 "error. 0: native grid (default)")
      ->check(CLI::Range(0.0, 1000.0));
  app.add_option("--frame", g.frame, "Frame of multi-frame DICOM images, 0-based (default 0); out of range is an error")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--slices", g.slices,
                 "Slices of volumes (NIfTI files, DICOM series folders) used as images: auto (NIfTI middle, "
                 "series all), all, middle, every:K, mask:PATH (docs/dicom-series.md)")
      ->check(CLI::Validator(
          [](std::string& s) {
            auto r = heal::io::parse_slice_selection(s);
            return r.ok() ? std::string() : r.status().message();
          },
          "SLICES"));

  add_data_commands(app);
  add_ckks_commands(app);
  add_train_commands(app);
  add_infer_commands(app);
  add_train_encrypted_commands(app);
  add_fl_commands(app);
  add_ledger_commands(app);
  add_node_commands(app);
  add_demo_command(app);
  add_features_command(app);
  add_segment_command(app);

  app.parse_complete_callback([&] {
    using L = heal::log::Level;
    const std::string& l = g.log_level;
    heal::log::set_level(l == "debug" ? L::kDebug : l == "warn" ? L::kWarn : l == "error" ? L::kError
                                                  : l == "off"  ? L::kOff  : L::kInfo);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const heal::StatusError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
