// `heal fl simulate` / `heal demo` front end: flags -> apps::FlSimulationOptions, then prints.
#include "fl_simulation.h"

#include <iostream>

#include "commands.h"
#include "heal/core/status.h"

namespace heal::cli {

#ifndef HEAL_HAVE_TORCH

SimOutcome run_fl_simulation(const SimArgs&) {
  throw StatusError(Status::unsupported("heal fl simulate needs libtorch: rebuild with -DHEAL_WITH_TORCH=ON"));
}

#else

SimOutcome run_fl_simulation(const SimArgs& a) {
  const std::string data_arg = a.data.empty() ? data_location() : a.data;
  if (data_arg.empty()) {
    throw StatusError(Status::invalid_argument(
        "no dataset: pass --data PATH (e.g. pneumoniamnist.npz) or set HEAL_DATA (see `heal data fetch`)"));
  }
  apps::FlSimulationOptions o = a.sim;
  o.data_path = value_or_throw(io::resolve_dataset_path(data_arg, data_location()));
  o.dicom = dicom_options();
  o.slices = slice_selection();
  o.progress = !globals().quiet && !a.json;
  if (!a.json) o.on_setup = [](const std::string& text) { std::cout << text << std::flush; };

  const apps::FlSimulationResult r = value_or_throw(apps::run_fl_simulation(o));
  SimOutcome out;
  out.ledger_path = r.ledger_path;
  out.report_path = r.report_path;
  out.final_model = r.final_model;
  out.test_accuracy = r.test_accuracy;
  out.test_auc = r.test_auc;
  if (a.json) {
    std::cout << r.report_json << "\n";
    return out;
  }
  std::cout << "\n" << r.round_table << "\n" << r.summary;
  std::cout << "report " << r.report_path
            << (r.plot_status.ok() ? ", plot " + r.plot_path : ", plot failed: " + r.plot_status.to_string()) << "\n";
  return out;
}

#endif  // HEAL_HAVE_TORCH

}  // namespace heal::cli
