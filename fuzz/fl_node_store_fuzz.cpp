// libFuzzer target for a node's state at rest (heal/fl/node_store.h, heal/core/vault.h). The
// first byte picks the reader: even -> fl::decode_node_state (whatever it accepts must re-encode
// to the same bytes), odd -> vault_open with the fuzz passphrase (test-strength Argon2id allowed,
// costs capped so that one execution stays fast). Neither may crash.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "heal/core/vault.h"
#include "heal/fl/node_store.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto state = heal::fl::decode_node_state(in);
    if (state.ok()) {
      const heal::SecretBytes again = heal::fl::encode_node_state(*state);
      if (again.size() != in.size() || !std::equal(in.begin(), in.end(), again.data())) std::abort();
    }
  } else {
    heal::VaultOpenOptions options;
    options.allow_weak_kdf = true;
    options.max_opslimit = 2;
    options.max_memlimit = std::uint64_t{1} << 16;
    heal::VaultKey key;
    auto opened = heal::vault_open(in, "fuzz", options, &key);
    if (opened.ok() && key.empty()) std::abort();  // an opened vault hands back its key
  }
  return 0;
}
