// libFuzzer target for a node's configuration file (heal/node/config.h): outside bytes. Any input
// is parsed (JSON text); whatever is accepted must satisfy the checks the parser promises (ids in
// range, every needed peer present, a passphrase variable for a hospital). Never a crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "heal/node/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = heal::node::parse_node_config(text, "/fuzz");
  if (!c.ok()) return 0;
  if (c->hospitals == 0) std::abort();
  if (c->role == heal::node::NodeRole::kHospital) {
    if (c->party_id >= c->hospitals || c->passphrase_env.empty() || !c->peers.count(heal::fl::kCoordinatorId)) {
      std::abort();
    }
  } else if (c->party_id != heal::fl::kCoordinatorId) {
    std::abort();
  }
  for (heal::fl::PartyId h = 0; h < c->hospitals; ++h) {
    if (h != c->party_id && !c->peers.count(h)) std::abort();
  }
  return 0;
}
