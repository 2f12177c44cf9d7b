// Opens a ledger by URI (heal/ledger/uri.h): the one place that knows every backend. It lives in
// its own target, heal_ledger_open, because the EVM backend pulls in libcurl, libsecp256k1 and
// Crypto++: only front ends (the CLI, a hospital node) link it; `fl` sees the Ledger interface.
#pragma once

#include <memory>
#include <string>

#include "heal/core/status.h"
#include "heal/ledger/ledger.h"

namespace heal::ledger {

enum class OpenMode {
  kReadOnly,    // audit: verify, log, show (an EVM ledger needs no key)
  kReadWrite,   // append (an EVM ledger needs a key; a SQLite file is created if missing)
};

/// Opens the ledger at `uri`. InvalidArgument for a malformed URI, Unsupported for a backend this
/// build lacks (evm:// without HEAL_WITH_EVM), NotFound/IoError from the backend.
Result<std::unique_ptr<Ledger>> open(const std::string& uri, OpenMode mode);

/// True if this build has the EVM backend.
bool have_evm_backend();

}  // namespace heal::ledger
