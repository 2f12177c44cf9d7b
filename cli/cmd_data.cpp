// heal data ... (not yet implemented: registers nothing until its issue lands)
#include "commands.h"

namespace heal::cli {

void add_data_commands(CLI::App& /*app*/) {}

}  // namespace heal::cli
