// heal demo: the main job. Grows with each capability (see README.md).
#include <iostream>

#include "commands.h"

namespace heal::cli {

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run the end-to-end HEAL demonstration on the bundled datasets");
  cmd->callback([] { std::cout << "HEAL demo: nothing to run yet.\n"; });
}

}  // namespace heal::cli
