// heal infer ensemble: secure ensemble diagnosis with member models given as .heal files (issue 17).
// The pipeline is heal::apps::ensemble::diagnose_with_models; this front end parses and prints.
#pragma once

#include <CLI/CLI.hpp>

namespace heal::cli {

/// Registers `heal infer ensemble` under the `infer` subcommand.
void add_infer_ensemble_command(CLI::App& infer);

}  // namespace heal::cli
