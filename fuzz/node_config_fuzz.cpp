// libFuzzer target for a node's configuration file (heal/node/config.h): outside bytes. Any input
// is parsed (JSON text); whatever is accepted must satisfy the checks the parser promises (ids in
// range, every needed peer present, a passphrase variable for a hospital; a site talks to its
// institution and its siblings only). Never a crash.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "heal/node/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = heal::node::parse_node_config(text, "/fuzz");
  if (!c.ok()) return 0;
  if (c->hospitals == 0) std::abort();
  // An institution's sites, or a site's group: none, or at least 2, each a site of that institution.
  if (c->sites.size() == 1) std::abort();
  if (c->role == heal::node::NodeRole::kSite) {
    const auto k = heal::node::site_institution(c->party_id);
    if (!k || *k != c->institution || c->institution >= c->hospitals || !c->peers.count(c->institution) ||
        c->peers.count(heal::fl::kCoordinatorId) || !c->ledger_path.empty() || !c->passphrase_env.empty() ||
        !std::binary_search(c->sites.begin(), c->sites.end(), c->party_id)) {
      std::abort();
    }
    for (const auto& [id, address] : c->peers) {
      if (id != c->institution && heal::node::site_institution(id) != c->institution) std::abort();
    }
    for (heal::fl::PartyId s : c->sites) {
      if (heal::node::site_institution(s) != c->institution) std::abort();
    }
    return 0;
  }
  if (c->role == heal::node::NodeRole::kHospital) {
    if (c->party_id >= c->hospitals || c->passphrase_env.empty() || !c->peers.count(heal::fl::kCoordinatorId)) {
      std::abort();
    }
    for (heal::fl::PartyId s : c->sites) {
      if (heal::node::site_institution(s) != c->party_id || !c->peers.count(s)) std::abort();
    }
  } else if (c->party_id != heal::fl::kCoordinatorId || !c->sites.empty()) {
    std::abort();
  }
  for (heal::fl::PartyId h = 0; h < c->hospitals; ++h) {
    if (h != c->party_id && !c->peers.count(h)) std::abort();
  }
  return 0;
}
