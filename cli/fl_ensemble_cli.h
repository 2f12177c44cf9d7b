// heal fl ensemble ...: ensemble federated learning of heterogeneous models (issue 17). The pipeline
// lives in heal_apps_ensemble (include/heal/apps/ensemble_simulation.h); this file parses and prints.
#pragma once

#include <CLI/CLI.hpp>

namespace heal::cli {

/// Registers `heal fl ensemble simulate` under the `fl` subcommand.
void add_fl_ensemble_commands(CLI::App& fl);

}  // namespace heal::cli
