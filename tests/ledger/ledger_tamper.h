// Shared helper of the tamper tests.
#pragma once

#include "ledger/ledger_fixture.h"

namespace heal::ledger::testing {

/// Flips byte positions 0, stride, 2*stride, ... of `column` at `height` one at a time (xor 0x01,
/// and for the first position also 0x80), checks verify() fails exactly at `height`, and restores.
inline void expect_every_flip_detected(const Ledger& l, RawDb& raw, const std::string& column, std::uint64_t height,
                                       std::size_t stride) {
  const Bytes original = raw.get(column, height);
  ASSERT_FALSE(original.empty());
  for (std::size_t i = 0; i < original.size(); i += stride) {
    for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
      if (mask == 0x80 && i != 0) continue;
      Bytes changed = original;
      changed[i] ^= mask;
      ASSERT_EQ(raw.set(column, height, changed), SQLITE_DONE);
      VerifyReport rep = l.verify();
      EXPECT_FALSE(rep.ok) << column << " byte " << i << " at height " << height;
      EXPECT_EQ(rep.bad_height, height) << column << " byte " << i << ": " << rep.reason;
    }
  }
  ASSERT_EQ(raw.set(column, height, original), SQLITE_DONE);
  ASSERT_TRUE(l.verify().ok);
}

}  // namespace heal::ledger::testing
