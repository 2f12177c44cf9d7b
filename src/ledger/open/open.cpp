// ledger::open: URI -> backend (include/heal/ledger/open.h).
#include "heal/ledger/open.h"

#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/ledger/uri.h"
#ifdef HEAL_HAVE_EVM
#include "heal/ledger/backends/evm_ledger.h"
#endif

namespace heal::ledger {

bool have_evm_backend() {
#ifdef HEAL_HAVE_EVM
  return true;
#else
  return false;
#endif
}

Result<std::unique_ptr<Ledger>> open(const std::string& uri, OpenMode mode) {
  HEAL_ASSIGN_OR_RETURN(LedgerUri u, parse_ledger_uri(uri));
  if (u.scheme == "sqlite") {
    if (mode == OpenMode::kReadOnly) {
      HEAL_ASSIGN_OR_RETURN(auto l, SqliteLedger::open_read_only(u.path));
      return std::unique_ptr<Ledger>(std::move(l));
    }
    HEAL_ASSIGN_OR_RETURN(auto l, SqliteLedger::open(u.path));
    return std::unique_ptr<Ledger>(std::move(l));
  }
#ifdef HEAL_HAVE_EVM
  HEAL_ASSIGN_OR_RETURN(auto l, evm::EvmLedger::open(u, mode == OpenMode::kReadOnly));
  return std::unique_ptr<Ledger>(std::move(l));
#else
  return Status::unsupported("ledger URI '" + u.redacted() +
                             "': this build has no EVM backend (configure with -DHEAL_WITH_EVM=ON after "
                             "scripts/install-deps.sh)");
#endif
}

}  // namespace heal::ledger
