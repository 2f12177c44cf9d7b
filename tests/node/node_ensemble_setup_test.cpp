// What an ensemble institution accepts at setup (heal/node/ensemble.h): it co-signs only its
// federation's ensemble genesis record listing every institution once and itself with its identity,
// and it takes the SecAgg group from the coordinator only if every verify key is bound by the ledger
// identity that co-signed genesis record lists for that party. The attack: a coordinator that swaps an
// institution's SecAgg key for one of its own (it could then unmask that institution's predictions)
// is refused, however it presents the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "heal/core/rng.h"
#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/ledger/block.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/record.h"
#include "heal/smpc/secagg.h"
#include "node/runtime_internal.h"

namespace heal::node {
namespace {

struct EnsembleSetupCase {
  NodeConfig config;
  EnsembleNodeOptions options;
  std::vector<std::unique_ptr<ledger::Signer>> keys;  // institutions 0..2, then the coordinator
  std::vector<smpc::SecAggIdentity> secagg;
  std::string path;
  std::unique_ptr<ledger::SqliteLedger> ledger;

  EnsembleSetupCase() {
    config.role = NodeRole::kHospital;
    config.party_id = 1;
    config.hospitals = 3;
    config.federation_id = "fed-ensemble";
    SeededRng rng(seed_from_u64(5));
    for (std::uint64_t i = 0; i < 4; ++i) keys.push_back(ledger::Ed25519Signer::from_seed(seed_from_u64(60 + i)));
    for (int i = 0; i < 3; ++i) secagg.push_back(smpc::make_secagg_identity(rng));
    path =
        (std::filesystem::temp_directory_path() / ("heal_enssetup_" + std::to_string(::getpid()) + ".sqlite")).string();
    std::filesystem::remove(path);
    ledger = ledger::SqliteLedger::open(path).value();
    // The genesis record as the coordinator writes it, signed by all four.
    std::vector<const ledger::Signer*> all;
    for (const auto& k : keys) all.push_back(k.get());
    EXPECT_TRUE(ledger->append(ledger::sign_record({config.federation_id, 1700000000000ull, genesis()}, all)).ok());
  }
  ~EnsembleSetupCase() { std::filesystem::remove(path); }

  ledger::RoundSetup genesis() const {
    ledger::RoundSetup s;
    s.key_epoch = 1;
    s.secure_mode = "smpc-ensemble";
    s.min_contributors = 2;  // t = floor(3/2) + 1
    for (std::uint32_t i = 0; i < 3; ++i) {
      s.participants.push_back({i, ledger::Role::kHospital, "institution-" + std::to_string(i), keys[i]->identity()});
    }
    s.participants.push_back({fl::kCoordinatorId, ledger::Role::kCoordinator, "coordinator", keys[3]->identity()});
    return s;
  }
  Bytes message(const ledger::RoundSetup& s, const std::string& federation = "fed-ensemble") const {
    return ledger::signing_message(ledger::encode_record({federation, 1700000000000ull, s}));
  }
  // What institutions 0 and 2 announced to institution 1 directly.
  internal::EnsemblePeers peers() const {
    internal::EnsemblePeers p;
    for (std::uint32_t i : {0u, 2u}) p[i] = announcement(i);
    return p;
  }
  internal::EnsembleHello announcement(std::uint32_t i) const {
    internal::EnsembleHello h;
    h.identity = keys[i]->identity();
    h.verify_key = secagg[i].verify_key;
    h.binding = keys[i]->sign(internal::ensemble_binding_message(config.federation_id, i, h.verify_key));
    h.architecture = "logreg";
    h.reference_hash = blake2b_256("reference");
    h.reference_size = 120;
    h.num_classes = 3;
    return h;
  }
  Status check_genesis(const Bytes& m) const {
    return internal::check_ensemble_genesis(config, options, keys[1]->identity(), peers(), m);
  }

  // The honest group: every institution's key, bound by its own ledger key.
  std::vector<internal::EnsembleGroupEntry> group() const {
    std::vector<internal::EnsembleGroupEntry> g;
    for (std::uint32_t i = 0; i < 3; ++i) {
      const auto& vk = secagg[i].verify_key;
      g.push_back({i, vk, keys[i]->sign(internal::ensemble_binding_message(config.federation_id, i, vk))});
    }
    return g;
  }
  Result<fl::ensemble::SecAggGroup> check_group_bytes(std::span<const std::uint8_t> payload) const {
    return internal::check_ensemble_group(config, options, *ledger, secagg[1].verify_key, peers(), payload);
  }
  Result<fl::ensemble::SecAggGroup> check_group(const std::vector<internal::EnsembleGroupEntry>& g,
                                                std::uint32_t threshold = 2, std::uint32_t rounds = 20) const {
    return internal::check_ensemble_group(config, options, *ledger, secagg[1].verify_key, peers(),
                                          internal::encode_ensemble_group(threshold, rounds, g));
  }
};

TEST(NodeEnsembleSetup, TheInstitutionCoSignsItsOwnEnsembleGenesisOnly) {
  EnsembleSetupCase s;
  EXPECT_TRUE(s.check_genesis(s.message(s.genesis())).ok()) << s.check_genesis(s.message(s.genesis())).to_string();
  EXPECT_FALSE(s.check_genesis(s.message(s.genesis(), "another-federation")).ok());
  auto r = s.genesis();
  r.secure_mode = "threshold-ckks";
  EXPECT_FALSE(s.check_genesis(s.message(r)).ok());
  r = s.genesis();
  r.participants[1].identity = s.keys[3]->identity();  // lists institution 1 with the coordinator's key
  EXPECT_FALSE(s.check_genesis(s.message(r)).ok());
  r = s.genesis();
  r.participants[2].party_id = 0;  // institution 0 twice, 2 missing
  EXPECT_FALSE(s.check_genesis(s.message(r)).ok());
  r = s.genesis();
  r.min_contributors = 1;  // a quorum of one
  EXPECT_FALSE(s.check_genesis(s.message(r)).ok());
  r = s.genesis();
  r.participants.pop_back();  // no coordinator
  EXPECT_FALSE(s.check_genesis(s.message(r)).ok());
  const Bytes good = s.message(s.genesis());
  for (std::size_t n = 0; n < good.size(); n += 7)
    EXPECT_FALSE(s.check_genesis(Bytes(good.begin(), good.begin() + n)).ok());
}

TEST(NodeEnsembleSetup, ACoordinatorCannotSlipInASecAggKeyOfItsOwn) {
  EnsembleSetupCase s;
  auto honest = s.check_group(s.group());
  ASSERT_TRUE(honest.ok()) << honest.status().to_string();
  EXPECT_EQ(honest->parties, (std::vector<fl::PartyId>{0, 1, 2}));
  EXPECT_EQ(honest->verify_keys[2], s.secagg[2].verify_key);
  EXPECT_EQ(honest->threshold, 2u);

  SeededRng rng(seed_from_u64(9));
  const smpc::SecAggIdentity mallory = smpc::make_secagg_identity(rng);
  // 1. Institution 2's key swapped for the coordinator's, institution 2's binding kept.
  auto g = s.group();
  g[2].verify_key = mallory.verify_key;
  auto r = s.check_group(g);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not bound by its ledger key"), std::string::npos) << r.status().to_string();
  // 2. The same key bound by the coordinator's own ledger key.
  g[2].binding = s.keys[3]->sign(internal::ensemble_binding_message("fed-ensemble", 2, mallory.verify_key));
  EXPECT_FALSE(s.check_group(g).ok());
  // 3. Institution 2's genuine binding from another federation.
  g = s.group();
  g[2].binding = s.keys[2]->sign(internal::ensemble_binding_message("other-fed", 2, s.secagg[2].verify_key));
  EXPECT_FALSE(s.check_group(g).ok());
  // 4. Institution 0's key and binding presented as institution 2's.
  g = s.group();
  g[2].verify_key = g[0].verify_key;
  g[2].binding = g[0].binding;
  EXPECT_FALSE(s.check_group(g).ok());
  // 5. Another key for this institution itself (bound by its own ledger key, e.g. from an earlier run).
  g = s.group();
  g[1].verify_key = mallory.verify_key;
  g[1].binding = s.keys[1]->sign(internal::ensemble_binding_message("fed-ensemble", 1, mallory.verify_key));
  r = s.check_group(g);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("another key for this institution"), std::string::npos);
  // 6. An institution left out, a lowered threshold, another session length, a reordered group.
  g = s.group();
  g.pop_back();
  EXPECT_FALSE(s.check_group(g).ok());
  EXPECT_FALSE(s.check_group(s.group(), 1).ok());
  EXPECT_FALSE(s.check_group(s.group(), 2, 5).ok());
  g = s.group();
  std::swap(g[0], g[2]);
  EXPECT_FALSE(s.check_group(g).ok());
  // Malformed payloads: every truncation and trailing bytes are refused, never a crash.
  const Bytes good = internal::encode_ensemble_group(2, 20, s.group());
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(s.check_group_bytes(std::span(good).first(n)).ok());
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_FALSE(s.check_group_bytes(longer).ok());
}

// The sybil: a coordinator that introduces a key of its own as institution 2 at genesis (listing it
// with the coordinator's ledger key, which signs that entry itself) and binds a SecAgg key to it.
// Institution 1 knows institution 2's identity and key from institution 2 itself (kNodeEnsemblePeer
// over mutual TLS), so it refuses both the record and the group; and a peer announcement that does
// not check out is refused on arrival.
TEST(NodeEnsembleSetup, ACoordinatorCannotReplaceAnInstitutionByASybil) {
  EnsembleSetupCase s;
  auto r = s.genesis();
  r.participants[2].identity = s.keys[3]->identity();
  Status st = s.check_genesis(s.message(r));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("institution 2 with an identity it did not announce"), std::string::npos)
      << st.to_string();
  // Without institution 2's announcement the record cannot be checked: refused as well.
  auto partial = s.peers();
  partial.erase(2);
  EXPECT_FALSE(
      internal::check_ensemble_genesis(s.config, s.options, s.keys[1]->identity(), partial, s.message(s.genesis()))
          .ok());
  // The group with the sybil's key for party 2, bound by the identity the ledger lists... on a ledger
  // that the sybil's record would have made: the announced key still differs.
  SeededRng rng(seed_from_u64(12));
  const smpc::SecAggIdentity sybil = smpc::make_secagg_identity(rng);
  auto g = s.group();
  g[2].verify_key = sybil.verify_key;
  g[2].binding = s.keys[2]->sign(internal::ensemble_binding_message("fed-ensemble", 2, sybil.verify_key));
  auto grp = s.check_group(g);  // bound by institution 2's own ledger key (say, from an earlier run)
  ASSERT_FALSE(grp.ok());
  EXPECT_NE(grp.status().message().find("than the one it announced"), std::string::npos) << grp.status().to_string();

  // Announcements: accepted from a peer with a valid binding and the same reference set.
  const internal::EnsembleHello a = s.announcement(2);
  const Digest ref = blake2b_256("reference");
  EXPECT_TRUE(internal::check_ensemble_peer(s.config, 2, ref, internal::encode_ensemble_hello(a)).ok());
  EXPECT_FALSE(internal::check_ensemble_peer(s.config, 1, ref, internal::encode_ensemble_hello(a)).ok());  // itself
  EXPECT_FALSE(internal::check_ensemble_peer(s.config, 3, ref, internal::encode_ensemble_hello(a)).ok());  // no peer
  EXPECT_FALSE(internal::check_ensemble_peer(s.config, 0, ref, internal::encode_ensemble_hello(a)).ok());  // 2's, as 0
  EXPECT_FALSE(
      internal::check_ensemble_peer(s.config, 2, blake2b_256("other"), internal::encode_ensemble_hello(a)).ok());
  internal::EnsembleHello forged = a;
  forged.verify_key = sybil.verify_key;  // the binding no longer matches
  EXPECT_FALSE(internal::check_ensemble_peer(s.config, 2, ref, internal::encode_ensemble_hello(forged)).ok());
}

// Outside bytes, mutated: the hello an institution sends, the SecAgg group and the genesis message
// the coordinator sends. Every reader returns an error or a value it checked, never crashes (this
// runs under ASan + UBSan in the debug stage; fuzz/node_ensemble_fuzz.cpp is the libFuzzer target).
TEST(NodeEnsembleSetup, MutatedHellosGroupsAndGenesisMessagesAreRefusedOrChecked) {
  EnsembleSetupCase s;
  internal::EnsembleHello h;
  h.identity = s.keys[1]->identity();
  h.verify_key = s.secagg[1].verify_key;
  h.binding = s.keys[1]->sign(internal::ensemble_binding_message("fed-ensemble", 1, h.verify_key));
  h.architecture = "resnet(width=16)";
  h.num_parameters = 77906;
  h.reference_hash = blake2b_256("reference");
  h.reference_size = 109;
  h.num_classes = 2;
  const Bytes hello = internal::encode_ensemble_hello(h);
  auto back = internal::decode_ensemble_hello(hello);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->identity, h.identity);
  EXPECT_EQ(back->verify_key, h.verify_key);
  EXPECT_EQ(back->binding, h.binding);
  EXPECT_EQ(back->architecture, h.architecture);
  EXPECT_EQ(back->reference_hash, h.reference_hash);
  EXPECT_EQ(back->reference_size, 109u);
  for (std::size_t n = 0; n < hello.size(); ++n) {
    EXPECT_FALSE(internal::decode_ensemble_hello(std::span(hello).first(n)).ok()) << n;
  }
  const Bytes group = internal::encode_ensemble_group(2, 20, s.group());
  const Bytes genesis = s.message(s.genesis());
  SeededRng rng(seed_from_u64(77));
  int hellos_ok = 0, groups_ok = 0, genesis_ok = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const Bytes& base = trial % 3 == 0 ? hello : trial % 3 == 1 ? group : genesis;
    Bytes b = base;
    const int flips = 1 + static_cast<int>(rng.uniform(4));
    for (int f = 0; f < flips; ++f) b[rng.uniform(b.size())] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
    if (rng.uniform(4) == 0) b.resize(rng.uniform(b.size() + 1));
    if (trial % 3 == 0) {
      auto d = internal::decode_ensemble_hello(b);
      if (d.ok()) {
        ++hellos_ok;
        EXPECT_LE(d->architecture.size(), 1024u);
        EXPECT_LE(d->binding.size(), 256u);
      }
    } else if (trial % 3 == 1) {
      auto g = s.check_group_bytes(b);
      if (g.ok()) {
        ++groups_ok;  // only a flip that changes nothing the check reads can pass: the honest group
        EXPECT_EQ(g->verify_keys, (std::vector<smpc::PublicKey>{s.secagg[0].verify_key, s.secagg[1].verify_key,
                                                                s.secagg[2].verify_key}));
      }
    } else {
      genesis_ok += s.check_genesis(b).ok();
    }
  }
  // Flips in the signature bytes of a hello still decode (the binding is verified by the group check).
  std::printf("mutated: %d hellos decoded, %d groups and %d genesis messages accepted of 1000 each\n", hellos_ok,
              groups_ok, genesis_ok);
  EXPECT_EQ(groups_ok, 0);
}

// A site of a multi-site institution (heal/node/ensemble.h, kNodeSiteGroup): its institution is the
// SecAgg server of its sites' FedAvg. An institution that put a key of its own in a sibling's place
// could unmask that sibling's weights; one that dropped or added sites could shrink the group. The
// site accepts only the group its configuration names, each sibling with the key it announced directly.
TEST(NodeEnsembleSetup, AnInstitutionCannotSlipInASiteKeyOfItsOwn) {
  NodeConfig c;
  c.role = NodeRole::kSite;
  c.hospitals = 3;
  c.party_id = 2001;
  c.institution = 1;
  c.sites = {2000, 2001, 2002};
  SeededRng rng(seed_from_u64(31));
  std::vector<smpc::SecAggIdentity> id;
  for (int i = 0; i < 3; ++i) id.push_back(smpc::make_secagg_identity(rng));
  const smpc::SecAggIdentity institution_own = smpc::make_secagg_identity(rng);
  // The siblings' announcements, as they arrived directly (round trip through the wire format).
  std::map<fl::PartyId, internal::SiteHello> siblings;
  for (int i : {0, 2}) {
    internal::SiteHello h{id[static_cast<std::size_t>(i)].verify_key, "hecnn(width=8)", 12345};
    const Bytes b = internal::encode_site_hello(h);
    auto back = internal::decode_site_hello(b);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(back->verify_key, h.verify_key);
    EXPECT_EQ(back->architecture, h.architecture);
    EXPECT_EQ(back->num_parameters, 12345u);
    for (std::size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(internal::decode_site_hello(std::span(b).first(n)).ok());
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_FALSE(internal::decode_site_hello(longer).ok());
    siblings[static_cast<fl::PartyId>(2000 + i)] = *back;
  }
  fl::ensemble::SecAggGroup honest;
  honest.threshold = 2;
  honest.parties = {2000, 2001, 2002};
  honest.verify_keys = {id[0].verify_key, id[1].verify_key, id[2].verify_key};
  const smpc::PublicKey mine = id[1].verify_key;
  auto ok = internal::check_site_group(c, mine, siblings, internal::encode_site_group(honest));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->parties, honest.parties);
  EXPECT_EQ(ok->verify_keys, honest.verify_keys);
  EXPECT_EQ(ok->threshold, 2u);

  const auto refused = [&](const fl::ensemble::SecAggGroup& g, const std::string& says,
                           const std::map<fl::PartyId, internal::SiteHello>& sib) {
    auto r = internal::check_site_group(c, mine, sib, internal::encode_site_group(g));
    EXPECT_FALSE(r.ok()) << says;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(says), std::string::npos) << r.status().message();
    }
  };
  auto g = honest;
  g.verify_keys[0] = institution_own.verify_key;  // the attack: a sibling's key replaced
  refused(g, "another key for site 2000", siblings);
  g = honest;
  g.verify_keys[1] = institution_own.verify_key;  // this site's own key replaced
  refused(g, "another key for this site", siblings);
  g = honest;
  g.parties = {2000, 2001};  // a sibling left out: a group of 2 in which the institution knows the rest
  g.verify_keys = {id[0].verify_key, id[1].verify_key};
  refused(g, "siblings its configuration names", siblings);
  g = honest;
  g.parties.push_back(2003);  // a sybil site added
  g.verify_keys.push_back(institution_own.verify_key);
  refused(g, "siblings its configuration names", siblings);
  g = honest;
  std::swap(g.parties[0], g.parties[2]);  // keys put against other parties
  std::swap(g.verify_keys[0], g.verify_keys[2]);
  refused(g, "siblings its configuration names", siblings);
  g = honest;
  g.threshold = 1;  // a threshold that lets one site's input be unmasked alone
  refused(g, "threshold", siblings);
  auto partial = siblings;
  partial.erase(2002);  // a sibling that has not announced itself
  refused(honest, "another key for site 2002", partial);

  // Mutated group messages: a Status, never the acceptance of anything but the honest group.
  const Bytes good = internal::encode_site_group(honest);
  int accepted = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    Bytes b = good;
    const int flips = 1 + static_cast<int>(rng.uniform(4));
    for (int f = 0; f < flips; ++f) b[rng.uniform(b.size())] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
    if (rng.uniform(4) == 0) b.resize(rng.uniform(b.size() + 1));
    accepted += internal::check_site_group(c, mine, siblings, b).ok();
  }
  EXPECT_EQ(accepted, 0);
}

}  // namespace
}  // namespace heal::node
