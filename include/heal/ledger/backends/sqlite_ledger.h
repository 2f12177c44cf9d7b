// Embedded ledger backend: blocks in one SQLite table, made append-only by triggers that abort
// any UPDATE or DELETE and any INSERT that is not the next height. Schema in docs/formats/ledger.md.
#pragma once

#include <memory>
#include <string>

#include "heal/core/status.h"
#include "heal/ledger/ledger.h"

namespace heal::ledger {

class SqliteLedger final : public Ledger {
 public:
  /// Opens (creating if needed) the ledger at `path` (":memory:" for a transient one). Checks the
  /// schema version; IoError/Corruption/Unsupported otherwise. Blocks are validated by verify(),
  /// append() and check_model(), not here, so a damaged ledger can still be opened and inspected.
  static Result<std::unique_ptr<SqliteLedger>> open(const std::string& path);
  /// Opens an existing ledger read-only (NotFound if the file does not exist).
  static Result<std::unique_ptr<SqliteLedger>> open_read_only(const std::string& path);

  ~SqliteLedger() override;
  SqliteLedger(const SqliteLedger&) = delete;
  SqliteLedger& operator=(const SqliteLedger&) = delete;

  struct Impl;  // opaque: the SQLite handle

  Result<std::uint64_t> size() const override;
  Result<Block> block(std::uint64_t height) const override;

 protected:
  Status store(const Block& b) override;

 private:
  explicit SqliteLedger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace heal::ledger
