// libFuzzer target for what an ensemble node reads from another party at setup (heal/node/ensemble.h):
// the first byte picks the reader, the rest is the message.
//   0: internal::decode_ensemble_hello (institution -> coordinator), internal::check_ensemble_peer
//      (institution -> institution);
//   1: internal::check_ensemble_genesis (coordinator -> institution: the record to co-sign);
//   2: internal::check_ensemble_group (coordinator -> institution: the SecAgg group), against a ledger
//      holding a genesis record of three institutions (a temporary SQLite file made once);
//   3: internal::decode_site_hello (site -> institution and sibling sites);
//   4: internal::check_site_group (institution -> site: the site group), for site 2001 of sites
//      2000-2002 whose siblings have announced themselves.
// Never a crash; a group that is accepted holds three verify keys in party order, this party's own
// in its place.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "heal/core/rng.h"
#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/ledger/block.h"
#include "node/runtime_internal.h"

namespace {

using namespace heal;

struct World {
  node::NodeConfig config;
  node::EnsembleNodeOptions options;
  std::vector<std::unique_ptr<ledger::Signer>> keys;  // institutions 0..2, the coordinator
  std::unique_ptr<ledger::SqliteLedger> ledger;
  smpc::PublicKey mine{};
  node::internal::EnsemblePeers peers;  // institutions 0 and 2 as they announced themselves to 1
  node::NodeConfig site;                // site 2001 of institution 1 (sites 2000-2002)
  smpc::PublicKey site_key{};
  std::map<fl::PartyId, node::internal::SiteHello> siblings;

  World() {
    config.role = node::NodeRole::kHospital;
    config.party_id = 1;
    config.hospitals = 3;
    config.federation_id = "fuzz-ensemble";
    for (std::uint64_t i = 0; i < 4; ++i) keys.push_back(ledger::Ed25519Signer::from_seed(seed_from_u64(90 + i)));
    SeededRng rng(seed_from_u64(3));
    mine = smpc::make_secagg_identity(rng).verify_key;
    for (std::uint32_t i : {0u, 2u}) {
      node::internal::EnsembleHello h;
      h.identity = keys[i]->identity();
      h.verify_key = smpc::make_secagg_identity(rng).verify_key;
      h.binding = keys[i]->sign(node::internal::ensemble_binding_message(config.federation_id, i, h.verify_key));
      peers[i] = h;
    }
    const std::string path =
        (std::filesystem::temp_directory_path() / ("heal_fuzz_ensemble_" + std::to_string(::getpid()) + ".sqlite"))
            .string();
    std::filesystem::remove(path);
    ledger = ledger::SqliteLedger::open(path).value();
    ledger::RoundSetup s;
    s.key_epoch = 1;
    s.secure_mode = "smpc-ensemble";
    s.min_contributors = 2;
    for (std::uint32_t i = 0; i < 3; ++i) {
      s.participants.push_back({i, ledger::Role::kHospital, "institution-" + std::to_string(i), keys[i]->identity()});
    }
    s.participants.push_back({fl::kCoordinatorId, ledger::Role::kCoordinator, "coordinator", keys[3]->identity()});
    std::vector<const ledger::Signer*> all;
    for (const auto& k : keys) all.push_back(k.get());
    if (!ledger->append(ledger::sign_record({config.federation_id, 1700000000000ull, s}, all)).ok()) std::abort();
    site.role = node::NodeRole::kSite;
    site.hospitals = 3;
    site.party_id = 2001;
    site.institution = 1;
    site.sites = {2000, 2001, 2002};
    site_key = smpc::make_secagg_identity(rng).verify_key;
    for (fl::PartyId p : {2000u, 2002u}) siblings[p] = {smpc::make_secagg_identity(rng).verify_key, "logreg", 15};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World w;
  if (size == 0) return 0;
  const std::span<const std::uint8_t> msg(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto h = node::internal::decode_ensemble_hello(msg);
      if (h.ok() && (h->architecture.size() > 1024 || h->binding.size() > 256)) std::abort();
      (void)node::internal::check_ensemble_peer(w.config, 2, Digest{}, msg);
      break;
    }
    case 1:
      (void)node::internal::check_ensemble_genesis(w.config, w.options, w.keys[1]->identity(), w.peers, msg);
      break;
    case 2: {
      auto g = node::internal::check_ensemble_group(w.config, w.options, *w.ledger, w.mine, w.peers, msg);
      if (g.ok() && (g->parties.size() != 3 || g->verify_keys.size() != 3 || g->verify_keys[1] != w.mine)) std::abort();
      break;
    }
    case 3: {
      auto h = node::internal::decode_site_hello(msg);
      if (h.ok() && h->architecture.size() > 1024) std::abort();
      break;
    }
    default: {
      auto g = node::internal::check_site_group(w.site, w.site_key, w.siblings, msg);
      if (g.ok() && (g->parties != w.site.sites || g->verify_keys.size() != 3 || g->verify_keys[1] != w.site_key ||
                     g->verify_keys[0] != w.siblings.at(2000).verify_key || g->threshold != 2)) {
        std::abort();
      }
      break;
    }
  }
  return 0;
}
