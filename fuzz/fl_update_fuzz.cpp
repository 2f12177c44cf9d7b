// libFuzzer target: decode_update, the coordinator's reader of a hospital's update message
// (src/fl/messages.h; it carries the hospital's reported statistics), followed by what the
// coordinator does with an accepted update: decode the commitment record and hash the contribution. Nothing may crash; whatever decodes must re-encode
// to bytes that decode to the same message (metrics are a map, so the encoding itself may differ).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fl/messages.h"
#include "heal/core/hash.h"
#include "heal/ledger/record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal::fl::internal;
  auto u = decode_update(std::span<const std::uint8_t>(data, size));
  if (!u.ok()) return 0;
  (void)heal::ledger::decode_record(u->commitment.record);
  (void)heal::blake2b_256(u->contribution);
  auto again = decode_update(encode_update(*u));
  if (!again.ok() || again->num_samples != u->num_samples || again->metrics != u->metrics ||
      again->stats.train_seconds != u->stats.train_seconds ||
      again->stats.encrypt_seconds != u->stats.encrypt_seconds ||
      again->stats.norm_before_clip != u->stats.norm_before_clip || again->stats.clipped != u->stats.clipped ||
      again->contribution != u->contribution || again->commitment.record != u->commitment.record ||
      again->commitment.signatures != u->commitment.signatures) {
    std::abort();
  }
  return 0;
}
