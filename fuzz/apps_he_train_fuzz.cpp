// libFuzzer target: the readers of train-encrypted's files from the other party (src/apps):
// decode_ciphertexts (train.cts, val.cts, weights, margins) against a small context, and
// job_from_json (job.json). Nothing may crash; an accepted job re-encodes to an equal job.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "apps/ciphertext_file.h"
#include "fuzz_fixtures.h"
#include "heal/apps/encrypted_training.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace et = heal::apps::he_train;
  const std::span<const std::uint8_t> bytes(data, size);
  (void)et::internal::decode_ciphertexts(*heal::fuzz::small_context(), bytes);
  const auto job = et::job_from_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (job.ok()) {
    const auto again = et::job_from_json(et::job_to_json(*job));
    if (!again.ok() || et::job_to_json(*again) != et::job_to_json(*job)) std::abort();
  }
  return 0;
}
