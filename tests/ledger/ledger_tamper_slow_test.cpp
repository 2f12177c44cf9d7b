// Exhaustive tamper detection: every byte of every column of every block of a one-round chain.
#include <gtest/gtest.h>

#include "ledger/ledger_fixture.h"
#include "ledger/ledger_tamper.h"

namespace heal::ledger {
namespace {

TEST(LedgerTamperSlow, EveryByteOfEveryStoredBlockIsDetectedAtItsHeight) {
  testing::Federation f;
  testing::TempLedgerFile file("tamper_all");
  auto l = SqliteLedger::open(file.path).value();
  f.write_chain(*l, 1);
  testing::RawDb raw(file.path);
  raw.drop_triggers();
  raw.exec("PRAGMA synchronous=OFF");
  for (std::uint64_t h = 0; h < *l->size(); ++h) {
    for (const char* col : {"prev_hash", "record", "signatures", "hash"}) {
      testing::expect_every_flip_detected(*l, raw, col, h, 1);
    }
  }
}

}  // namespace
}  // namespace heal::ledger
