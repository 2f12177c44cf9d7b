// Ensemble nodes (heal/node/ensemble.h): an institution or the coordinator of an SMPC ensemble in its
// own process, over net::GrpcTransport and a shared ledger (a SQLite file, or the HealFederation
// contract on an EVM chain).
#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "heal/core/bytes.h"
#include "heal/core/log.h"
#include "heal/core/rng.h"
#include "heal/ledger/block.h"
#include "heal/ledger/record.h"
#include "heal/node/ensemble.h"
#include "heal/smpc/secagg.h"
#include "runtime_internal.h"

namespace heal::node {

using namespace internal;  // NOLINT: the runtime's shared helpers

namespace {

constexpr const char* kBindingDomain = "heal-ensemble-secagg-key-v1";
constexpr std::size_t kMaxArchitecture = 1024;

std::uint32_t ensemble_threshold(const NodeConfig& c, const EnsembleNodeOptions& o) {
  return o.threshold != 0 ? o.threshold : c.hospitals / 2 + 1;
}

}  // namespace

namespace internal {

// What a ledger key signs to bind an institution's SecAgg verify key to it in this federation.
Bytes ensemble_binding_message(const std::string& federation_id, fl::PartyId party, const smpc::PublicKey& verify_key) {
  // domain, 0, federation id, 0, u32 party, verify key (built by hand: GCC 12 reports a false
  // -Wstringop-overflow for ByteWriter::put_string on a constant here).
  const std::string_view domain = kBindingDomain;
  Bytes m(domain.begin(), domain.end());
  m.push_back(0);
  m.insert(m.end(), federation_id.begin(), federation_id.end());
  m.push_back(0);
  for (int i = 0; i < 4; ++i) m.push_back(static_cast<std::uint8_t>(party >> (8 * i)));
  m.insert(m.end(), verify_key.begin(), verify_key.end());
  return m;
}

}  // namespace internal

namespace {

void put_blob(ByteWriter& w, std::span<const std::uint8_t> b) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(b.size()));
  w.put_bytes(b);
}

Status get_blob(ByteReader& r, std::size_t max, Bytes* out) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > max) return Status::corruption("field too long");
  std::span<const std::uint8_t> b;
  HEAL_RETURN_IF_ERROR(r.get_bytes(n, &b));
  out->assign(b.begin(), b.end());
  return {};
}

template <std::size_t N>
Status get_fixed(ByteReader& r, std::array<std::uint8_t, N>* out) {
  std::span<const std::uint8_t> b;
  HEAL_RETURN_IF_ERROR(r.get_bytes(N, &b));
  std::memcpy(out->data(), b.data(), N);
  return {};
}

}  // namespace

namespace internal {

Bytes encode_ensemble_hello(const EnsembleHello& h) {
  ByteWriter w;
  w.put<std::uint8_t>(static_cast<std::uint8_t>(h.identity.scheme));
  put_blob(w, h.identity.public_key);
  w.put_bytes(h.verify_key);
  put_blob(w, h.binding);
  w.put_string(h.architecture);
  w.put<std::uint64_t>(h.num_parameters);
  w.put_bytes(h.reference_hash);
  w.put<std::uint64_t>(h.reference_size);
  w.put<std::uint32_t>(h.num_classes);
  return w.take();
}

Result<EnsembleHello> decode_ensemble_hello(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  EnsembleHello h;
  std::uint8_t scheme = 0;
  HEAL_RETURN_IF_ERROR(r.get(&scheme));
  h.identity.scheme = static_cast<ledger::SignatureScheme>(scheme);
  HEAL_RETURN_IF_ERROR(get_blob(r, 128, &h.identity.public_key));
  HEAL_RETURN_IF_ERROR(ledger::validate_identity(h.identity));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &h.verify_key));
  HEAL_RETURN_IF_ERROR(get_blob(r, 256, &h.binding));
  HEAL_RETURN_IF_ERROR(r.get_string(&h.architecture, kMaxArchitecture));
  HEAL_RETURN_IF_ERROR(r.get(&h.num_parameters));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &h.reference_hash));
  HEAL_RETURN_IF_ERROR(r.get(&h.reference_size));
  HEAL_RETURN_IF_ERROR(r.get(&h.num_classes));
  if (r.remaining() != 0) return Status::corruption("trailing bytes in an ensemble hello");
  return h;
}

// kNodeEnsembleConfig: u32 threshold, u32 rounds per setup, u32 K, then per institution in party
// order: u32 party, verify key, binding signature.
Bytes encode_ensemble_group(std::uint32_t threshold, std::uint32_t rounds_per_setup,
                            const std::vector<EnsembleGroupEntry>& g) {
  ByteWriter w;
  w.put<std::uint32_t>(threshold);
  w.put<std::uint32_t>(rounds_per_setup);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(g.size()));
  for (const auto& e : g) {
    w.put<std::uint32_t>(e.party);
    w.put_bytes(e.verify_key);
    put_blob(w, e.binding);
  }
  return w.take();
}

Status decode_group(std::span<const std::uint8_t> b, std::uint32_t max_parties, std::uint32_t* threshold,
                    std::uint32_t* rounds_per_setup, std::vector<EnsembleGroupEntry>* g) {
  ByteReader r(b);
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(threshold));
  HEAL_RETURN_IF_ERROR(r.get(rounds_per_setup));
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > max_parties) return Status::corruption("too many institutions in the SecAgg group");
  g->clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    EnsembleGroupEntry e;
    HEAL_RETURN_IF_ERROR(r.get(&e.party));
    HEAL_RETURN_IF_ERROR(get_fixed(r, &e.verify_key));
    HEAL_RETURN_IF_ERROR(get_blob(r, 256, &e.binding));
    g->push_back(std::move(e));
  }
  if (r.remaining() != 0) return Status::corruption("trailing bytes in the SecAgg group");
  return {};
}

// An institution co-signs the genesis record only if it is this federation's ensemble setup, lists
// every institution 0..K-1 once (itself with its own identity) and the coordinator, with the SecAgg
// threshold this institution expects as the quorum.
Result<EnsembleHello> check_ensemble_peer(const NodeConfig& c, fl::PartyId from, const Digest& reference_hash,
                                          std::span<const std::uint8_t> payload) {
  if (from >= c.hospitals || from == c.party_id) return Status::invalid_argument("an announcement from a non-peer");
  HEAL_ASSIGN_OR_RETURN(EnsembleHello h, decode_ensemble_hello(payload));
  if (Status s = ledger::verify_signature(h.identity, ensemble_binding_message(c.federation_id, from, h.verify_key),
                                          h.binding);
      !s.ok()) {
    return Status::invalid_argument("institution " + std::to_string(from) +
                                    "'s SecAgg key is not bound by the ledger key it announced");
  }
  if (h.reference_hash != reference_hash) {
    return Status::failed_precondition("institution " + std::to_string(from) + " holds another reference set");
  }
  return h;
}

Status check_ensemble_genesis(const NodeConfig& c, const EnsembleNodeOptions& o, const ledger::Identity& me,
                              const EnsemblePeers& peers, std::span<const std::uint8_t> message) {
  HEAL_ASSIGN_OR_RETURN(const ledger::RoundSetup record, setup_record_to_cosign(c, message));
  const ledger::RoundSetup* s = &record;
  if (s->secure_mode != "smpc-ensemble") return Status::invalid_argument("the setup record is not an ensemble's");
  if (s->participants.size() != c.hospitals + 1) return Status::invalid_argument("wrong number of participants");
  std::vector<int> seen(c.hospitals, 0);
  bool listed = false, coordinator = false;
  for (const auto& p : s->participants) {
    if (p.role == ledger::Role::kCoordinator && p.party_id == fl::kCoordinatorId) {
      coordinator = true;
      continue;
    }
    if (p.role != ledger::Role::kHospital || p.party_id >= c.hospitals) {
      return Status::invalid_argument("the setup record lists a party outside the ensemble");
    }
    ++seen[p.party_id];
    if (p.party_id == c.party_id) {
      listed = p.identity == me;
      continue;
    }
    const auto peer = peers.find(p.party_id);
    if (peer == peers.end() || peer->second.identity != p.identity) {
      return Status::invalid_argument("the setup record lists institution " + std::to_string(p.party_id) +
                                      " with an identity it did not announce to this institution");
    }
  }
  if (!coordinator || std::any_of(seen.begin(), seen.end(), [](int k) { return k != 1; })) {
    return Status::invalid_argument("the setup record does not list every institution once and the coordinator");
  }
  if (!listed) return Status::invalid_argument("the setup record does not list this institution with its identity");
  if (s->min_contributors != ensemble_threshold(c, o)) {
    return Status::invalid_argument("the setup record's quorum differs from this institution's SecAgg threshold");
  }
  return {};
}

// The SecAgg group the coordinator sent, checked against the co-signed genesis record on the ledger:
// every party an institution of the setup, every verify key bound by that party's ledger key, and this
// institution's own key in its place.
Result<fl::ensemble::SecAggGroup> check_ensemble_group(const NodeConfig& c, const EnsembleNodeOptions& o,
                                                       const ledger::Ledger& ledger, const smpc::PublicKey& mine,
                                                       const EnsemblePeers& peers,
                                                       std::span<const std::uint8_t> payload) {
  std::uint32_t threshold = 0, rps = 0;
  std::vector<EnsembleGroupEntry> g;
  HEAL_RETURN_IF_ERROR(decode_group(payload, c.hospitals, &threshold, &rps, &g));
  HEAL_ASSIGN_OR_RETURN(ledger::RoundSetup setup, ledger.current_setup());
  if (g.size() != c.hospitals) return Status::invalid_argument("the SecAgg group does not hold every institution");
  if (threshold != ensemble_threshold(c, o) || rps != o.secagg_rounds_per_setup) {
    return Status::invalid_argument("the SecAgg group's threshold or session length differs from this institution's");
  }
  fl::ensemble::SecAggGroup out;
  out.threshold = threshold;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const EnsembleGroupEntry& e = g[i];
    if (e.party != i) return Status::invalid_argument("the SecAgg group is not in party order");
    const auto p = std::find_if(
        setup.participants.begin(), setup.participants.end(),
        [&](const ledger::Participant& x) { return x.party_id == e.party && x.role == ledger::Role::kHospital; });
    if (p == setup.participants.end())
      return Status::invalid_argument("the SecAgg group names a party the setup does not");
    if (Status s = ledger::verify_signature(
            p->identity, ensemble_binding_message(c.federation_id, e.party, e.verify_key), e.binding);
        !s.ok()) {
      return Status::invalid_argument("the SecAgg key of institution " + std::to_string(e.party) +
                                      " is not bound by its ledger key (" + s.message() + ")");
    }
    if (e.party == c.party_id && e.verify_key != mine) {
      return Status::invalid_argument("the SecAgg group holds another key for this institution");
    }
    if (e.party != c.party_id) {
      const auto peer = peers.find(e.party);
      if (peer == peers.end() || peer->second.verify_key != e.verify_key) {
        return Status::invalid_argument("the SecAgg group holds another key for institution " +
                                        std::to_string(e.party) + " than the one it announced");
      }
    }
    out.parties.push_back(e.party);
    out.verify_keys.push_back(e.verify_key);
  }
  return out;
}

Bytes encode_site_hello(const SiteHello& h) {
  ByteWriter w;
  w.put_bytes(h.verify_key);
  w.put_string(h.architecture);
  w.put<std::uint64_t>(h.num_parameters);
  return w.take();
}

Result<SiteHello> decode_site_hello(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  SiteHello h;
  HEAL_RETURN_IF_ERROR(get_fixed(r, &h.verify_key));
  HEAL_RETURN_IF_ERROR(r.get_string(&h.architecture, kMaxArchitecture));
  HEAL_RETURN_IF_ERROR(r.get(&h.num_parameters));
  if (r.remaining() != 0) return Status::corruption("trailing bytes in a site hello");
  return h;
}

Bytes encode_site_group(const fl::ensemble::SecAggGroup& g) {
  ByteWriter w;
  w.put<std::uint32_t>(g.threshold);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(g.parties.size()));
  for (std::size_t i = 0; i < g.parties.size(); ++i) {
    w.put<std::uint32_t>(g.parties[i]);
    w.put_bytes(g.verify_keys[i]);
  }
  return w.take();
}

Result<fl::ensemble::SecAggGroup> check_site_group(const NodeConfig& c, const smpc::PublicKey& mine,
                                                   const std::map<fl::PartyId, SiteHello>& siblings,
                                                   std::span<const std::uint8_t> payload) {
  ByteReader r(payload);
  fl::ensemble::SecAggGroup g;
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(&g.threshold));
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > kMaxSitesPerInstitution) return Status::corruption("too many sites in the site group");
  for (std::uint32_t i = 0; i < n; ++i) {
    fl::PartyId p = 0;
    smpc::PublicKey k{};
    HEAL_RETURN_IF_ERROR(r.get(&p));
    HEAL_RETURN_IF_ERROR(get_fixed(r, &k));
    g.parties.push_back(p);
    g.verify_keys.push_back(k);
  }
  if (r.remaining() != 0) return Status::corruption("trailing bytes in the site group");
  if (g.parties != c.sites) {
    return Status::invalid_argument("the site group is not this site and the siblings its configuration names");
  }
  if (g.threshold != site_threshold(c.sites.size())) {
    return Status::invalid_argument("the site group's threshold is not floor(S/2) + 1");
  }
  for (std::size_t i = 0; i < g.parties.size(); ++i) {
    if (g.parties[i] == c.party_id) {
      if (g.verify_keys[i] != mine) return Status::invalid_argument("the site group holds another key for this site");
      continue;
    }
    const auto s = siblings.find(g.parties[i]);
    if (s == siblings.end() || s->second.verify_key != g.verify_keys[i]) {
      return Status::invalid_argument("the site group holds another key for site " + std::to_string(g.parties[i]) +
                                      " than the one it announced");
    }
  }
  return g;
}

#ifdef HEAL_HAVE_EVM
Result<ledger::evm::Consortium> ensemble_consortium(const NodeConfig& c, const EnsembleNodeOptions& o,
                                                    const std::vector<ledger::Participant>& participants) {
  return ledger::evm::ensemble_consortium_of(c.federation_id, participants, ensemble_threshold(c, o));
}

Status check_ensemble_contract(const NodeConfig& c, const EnsembleNodeOptions& o, const ledger::evm::EvmLedger& chain,
                               std::span<const std::uint8_t> message) {
  HEAL_ASSIGN_OR_RETURN(const ledger::RoundSetup rec, setup_record_to_cosign(c, message));
  HEAL_ASSIGN_OR_RETURN(const ledger::evm::Consortium want, ensemble_consortium(c, o, rec.participants));
  return chain.check_deployed_consortium(want);
}
#endif

}  // namespace internal

Result<EnsembleInstitutionNodeResult> run_ensemble_institution_node(const NodeConfig& c,
                                                                    fl::ensemble::EnsembleMember& member,
                                                                    const EnsembleNodeOptions& o) {
  HEAL_REQUIRE(c.role == NodeRole::kHospital, "run_ensemble_institution_node needs a hospital configuration");
  HEAL_ASSIGN_OR_RETURN(std::string passphrase, node_passphrase(c));
  HEAL_ASSIGN_OR_RETURN(ledger::LedgerUri uri, ledger::parse_ledger_uri(c.ledger_path));
  const bool chain = on_chain(uri);
#ifdef HEAL_HAVE_EVM
  if (chain) HEAL_RETURN_IF_ERROR(ledger::evm::check_ensemble_size(c.hospitals).with_context("node config"));
#else
  if (chain) return Status::unsupported("node config: ledger " + uri.redacted() + ": built without the EVM backend");
#endif
  HEAL_ASSIGN_OR_RETURN(auto net, start_transport(c));
  // SQLite: opened now. EVM: opened when the coordinator names the contract (kNodeLedger).
  std::unique_ptr<ledger::Ledger> ledger;
  if (!chain) {
    HEAL_ASSIGN_OR_RETURN(ledger, open_sqlite(uri));
  }
  NodeOptions ko;
  ko.kdf = o.kdf;
  // Ed25519 on SQLite; on a chain a secp256k1 key, which is also this institution's account.
  HEAL_ASSIGN_OR_RETURN(std::unique_ptr<ledger::Signer> signer, hospital_ledger_key(c, passphrase, ko, chain));
#ifdef HEAL_HAVE_EVM
  ledger::evm::EvmLedger* evm = nullptr;
#endif
  const ledger::Identity me = signer->identity();
  const fl::PartyId self = c.party_id;
  SystemRng rng;
  smpc::SecAggIdentity secagg = smpc::make_secagg_identity(rng);
  const smpc::PublicKey my_verify_key = secagg.verify_key;

  // What this institution announces: to the coordinator (hello) and directly to every other institution.
  EnsembleHello announce;
  announce.identity = me;
  announce.verify_key = my_verify_key;
  announce.binding = signer->sign(ensemble_binding_message(c.federation_id, self, my_verify_key));
  const fl::ensemble::MemberDescription d = member.describe();
  announce.architecture = d.architecture.substr(0, kMaxArchitecture);
  announce.num_parameters = d.num_parameters;
  announce.reference_hash = member.reference_hash();
  announce.reference_size = member.num_reference();
  announce.num_classes = static_cast<std::uint32_t>(member.num_classes());
  const Bytes announcement = encode_ensemble_hello(announce);
  EnsemblePeers peers;
  auto last_announce = Clock::now() - 1h;
  std::optional<fl::Message> cosign;  // the genesis record, held until every peer has announced itself

  // A multi-site institution: its sites' announcements, the group sent back, their acknowledgements.
  // It answers the coordinator's hello only once every site has accepted the group.
  const auto is_my_site = [&](fl::PartyId p) { return std::binary_search(c.sites.begin(), c.sites.end(), p); };
  std::map<fl::PartyId, SiteHello> site_hellos;
  std::set<fl::PartyId> site_acks;
  fl::ensemble::SecAggGroup site_group;
  auto last_site_group = Clock::now() - 1h;
  auto last_move = Clock::now();
  const auto sites_ready = [&] { return site_acks.size() == c.sites.size(); };
  const auto site_traffic = [&](EnsembleInstitutionNodeResult& r) {
    for (fl::PartyId p : c.sites) {
      const fl::TrafficCounters t = net->counters(p);
      r.bytes_to_sites += t.bytes_up;
      r.bytes_from_sites += t.bytes_down;
    }
  };

  std::deque<fl::Message> node_msgs;
  NodeTransport transport(*net, [&](fl::Message m) { node_msgs.push_back(std::move(m)); });
  std::unique_ptr<fl::ensemble::EnsembleNode> node;
  CoordinatorWatch coordinator(*net, c);
  while (true) {
    // Until the group is accepted, announce to every peer again each second (a peer may not listen
    // yet); repeats are idempotent.
    if (!node && Clock::now() - last_announce > 1s) {
      for (fl::PartyId h = 0; h < c.hospitals; ++h) {
        if (h != self) (void)net->send({self, h, kNodeEnsemblePeer, 0, announcement});
      }
      last_announce = Clock::now();
    }
    if (node) {
      auto moved = node->poll();
      if (!moved.ok()) return moved.status().with_context("institution " + std::to_string(self));
      if (*moved) {
        last_move = Clock::now();
      } else if (!c.sites.empty() && Clock::now() - last_move > c.response_timeout / 2) {
        // The sites' aggregation waits for no site longer than half the coordinator's patience.
        auto closed = node->on_idle();
        if (!closed.ok()) return closed.status().with_context("institution " + std::to_string(self));
        last_move = Clock::now();
      }
    } else {
      while (transport.receive(self)) {
      }
    }
    const bool silent = coordinator.silent_too_long();
    bool hello_answered = false;
    while (!node_msgs.empty()) {
      fl::Message m = std::move(node_msgs.front());
      node_msgs.pop_front();
      if (m.kind == kNodeEnsemblePeer) {
        if (node || peers.count(m.from)) continue;  // the first announcement of a peer is the one that counts
        auto peer = check_ensemble_peer(c, m.from, announce.reference_hash, m.payload);
        if (!peer.ok()) return peer.status().with_context("institution " + std::to_string(self));
        peers[m.from] = std::move(*peer);
        continue;
      }
      if (m.kind == kNodeSiteHello) {
        if (!is_my_site(m.from) || site_hellos.count(m.from)) continue;  // the first announcement counts
        auto h = decode_site_hello(m.payload);
        if (!h.ok())
          return h.status().with_context("institution " + std::to_string(self) + ": site " + std::to_string(m.from));
        if (h->architecture != announce.architecture || h->num_parameters != announce.num_parameters) {
          return Status::failed_precondition("institution " + std::to_string(self) + ": site " +
                                             std::to_string(m.from) + " trains " + h->architecture +
                                             ", not the institution's " + announce.architecture);
        }
        site_hellos[m.from] = std::move(*h);
        continue;
      }
      if (m.kind == kNodeSiteGroup) {
        if (is_my_site(m.from) && site_hellos.count(m.from)) site_acks.insert(m.from);
        continue;
      }
      if (m.from != fl::kCoordinatorId) continue;
      if (m.kind == kNodeStop) {
        for (fl::PartyId p : c.sites) (void)net->send({self, p, kNodeStop, 0, {}});
        EnsembleInstitutionNodeResult r;
        site_traffic(r);
        const fl::TrafficCounters t = net->counters(fl::kCoordinatorId);  // up: sent to it
        r.bytes_to_coordinator = t.bytes_up;
        r.bytes_from_coordinator = t.bytes_down;
        for (fl::PartyId h = 0; h < c.hospitals; ++h) {
          if (h == self) continue;
          const fl::TrafficCounters p = net->counters(h);
          r.bytes_to_peers += p.bytes_up;
          r.bytes_from_peers += p.bytes_down;
        }
        return r;
      }
#ifdef HEAL_HAVE_EVM
      if (m.kind == kNodeLedger) {
        if (!chain || evm) continue;  // the first naming counts; it is checked against the genesis record
        auto e = open_contract(uri, m.payload);
        if (!e.ok())
          return e.status().with_context("institution " + std::to_string(self) + ": the ensemble's contract");
        evm = e->get();
        evm->add_local_signer(*signer);  // this institution's member versions are sent from its own account
        ledger = std::move(*e);
        continue;
      }
#endif
      if (m.kind == kNodeHello) {
        // Hellos queue up while this process is busy (announcing to peers that do not listen yet):
        // one answer per batch is enough.
        if (hello_answered || !sites_ready()) continue;
        hello_answered = true;
        (void)net->send({self, fl::kCoordinatorId, kNodeHello, 0, announcement});
      } else if (m.kind == kNodeCosign) {
        if (!node) cosign = std::move(m);
      } else if (m.kind == kNodeEnsembleConfig) {
        if (node) continue;
        if (!ledger) {
          return Status::failed_precondition("institution " + std::to_string(self) +
                                             ": the coordinator sent the SecAgg group before naming the contract");
        }
        auto group = check_ensemble_group(c, o, *ledger, my_verify_key, peers, m.payload);
        if (!group.ok())
          return group.status().with_context("institution " + std::to_string(self) + " refuses the SecAgg group");
        fl::ensemble::EnsembleConfig cfg;
        cfg.federation_id = c.federation_id;
        cfg.institutions = std::move(*group);
        cfg.secagg_rounds_per_setup = o.secagg_rounds_per_setup;
        fl::ensemble::NodeOptions no;
        no.id = self;
        no.model = &member;
        no.identity = std::move(secagg);
        no.sites = site_group;
        no.train = o.train;
        no.on_round_end = o.on_node_round;
        node = std::make_unique<fl::ensemble::EnsembleNode>(std::move(cfg), std::move(no), transport, *ledger, *signer,
                                                            rng);
        HEAL_RETURN_IF_ERROR(node->publish_initial_version().with_context("institution " + std::to_string(self)));
        (void)net->send({self, fl::kCoordinatorId, kNodeEnsembleConfig, 0, {}});
      }
    }
    // Every site has announced itself: the site group goes to the sites (again each second until
    // each has acknowledged it).
    if (!c.sites.empty() && site_hellos.size() == c.sites.size() && !sites_ready() &&
        Clock::now() - last_site_group > 1s) {
      if (site_group.parties.empty()) {
        site_group.threshold = site_threshold(c.sites.size());
        for (fl::PartyId p : c.sites) {
          site_group.parties.push_back(p);
          site_group.verify_keys.push_back(site_hellos.at(p).verify_key);
        }
      }
      const Bytes g = encode_site_group(site_group);
      for (fl::PartyId p : c.sites) {
        if (!site_acks.count(p)) (void)net->send({self, p, kNodeSiteGroup, 0, g});
      }
      last_site_group = Clock::now();
    }
    if (cosign && peers.size() + 1 == c.hospitals) {
      Status ok = check_ensemble_genesis(c, o, me, peers, cosign->payload);
#ifdef HEAL_HAVE_EVM
      if (ok.ok() && chain) {
        // The contract must be the one for the record's consortium, read back from the chain: its
        // members' accounts, the SecAgg threshold and quorum this institution derives itself.
        ok = evm ? check_ensemble_contract(c, o, *evm, cosign->payload)
                 : Status::failed_precondition("the coordinator has not named the ensemble's contract");
      }
#endif
      if (!ok.ok()) return ok.with_context("institution " + std::to_string(self) + " refuses to co-sign the setup");
      (void)net->send({self, fl::kCoordinatorId, kNodeCosign, 0, signer->sign(cosign->payload)});
      cosign.reset();
    }
    if (silent) {
      return Status::unavailable("institution " + std::to_string(self) + ": nothing from the coordinator for too long");
    }
    transport.wait(self, 200ms);
  }
}

Result<EnsembleSiteNodeResult> run_ensemble_site_node(const NodeConfig& c, fl::ensemble::EnsembleMember& member,
                                                      const EnsembleNodeOptions& o) {
  HEAL_REQUIRE(c.role == NodeRole::kSite, "run_ensemble_site_node needs a site configuration");
  HEAL_ASSIGN_OR_RETURN(auto net, start_transport(c));
  const fl::PartyId self = c.party_id;
  const std::string who = "site " + std::to_string(self);
  SystemRng rng;
  smpc::SecAggIdentity secagg = smpc::make_secagg_identity(rng);
  const smpc::PublicKey mine = secagg.verify_key;
  SiteHello hello;
  hello.verify_key = mine;
  const fl::ensemble::MemberDescription d = member.describe();
  hello.architecture = d.architecture.substr(0, kMaxArchitecture);
  hello.num_parameters = d.num_parameters;
  const Bytes announcement = encode_site_hello(hello);
  std::map<fl::PartyId, SiteHello> siblings;
  std::optional<fl::Message> group;  // held until every sibling has announced itself
  auto last_announce = Clock::now() - 1h;

  std::deque<fl::Message> node_msgs;
  NodeTransport transport(*net, [&](fl::Message m) { node_msgs.push_back(std::move(m)); });
  std::unique_ptr<fl::ensemble::EnsembleSite> site;
  CoordinatorWatch institution(*net, c, c.institution);
  while (true) {
    if (!site && Clock::now() - last_announce > 1s) {
      (void)net->send({self, c.institution, kNodeSiteHello, 0, announcement});
      for (fl::PartyId p : c.sites) {
        if (p != self) (void)net->send({self, p, kNodeSiteHello, 0, announcement});
      }
      last_announce = Clock::now();
    }
    if (site) {
      auto moved = site->poll();
      if (!moved.ok()) return moved.status().with_context(who);
    } else {
      while (transport.receive(self)) {
      }
    }
    const bool silent = institution.silent_too_long();
    while (!node_msgs.empty()) {
      fl::Message m = std::move(node_msgs.front());
      node_msgs.pop_front();
      if (m.kind == kNodeSiteHello) {
        if (m.from == self || m.from == c.institution || !std::binary_search(c.sites.begin(), c.sites.end(), m.from)) {
          continue;
        }
        if (site) {
          // A sibling still announcing itself may never have heard this site: every announcement
          // this site sent may have gone out before that sibling listened (a send to a party that
          // does not listen is lost), and this site stopped announcing once it had its group. Answer
          // it directly; its first copy is the one that counts.
          (void)net->send({self, m.from, kNodeSiteHello, 0, announcement});
          continue;
        }
        if (siblings.count(m.from)) continue;  // the first announcement of a sibling is the one that counts
        auto h = decode_site_hello(m.payload);
        if (!h.ok()) return h.status().with_context(who + ": the announcement of site " + std::to_string(m.from));
        siblings[m.from] = std::move(*h);
        continue;
      }
      if (m.from != c.institution) continue;
      if (m.kind == kNodeStop) {
        EnsembleSiteNodeResult r;
        const fl::TrafficCounters t = net->counters(c.institution);
        r.bytes_to_institution = t.bytes_up;
        r.bytes_from_institution = t.bytes_down;
        for (fl::PartyId p : c.sites) {
          if (p == self) continue;
          const fl::TrafficCounters s = net->counters(p);
          r.bytes_to_siblings += s.bytes_up;
          r.bytes_from_siblings += s.bytes_down;
        }
        return r;
      }
      if (m.kind == kNodeSiteGroup) {
        if (site) {
          (void)net->send({self, c.institution, kNodeSiteGroup, 0, {}});  // the acknowledgement was lost
        } else {
          group = std::move(m);
        }
      }
    }
    if (group && siblings.size() + 1 == c.sites.size()) {
      auto g = check_site_group(c, mine, siblings, group->payload);
      if (!g.ok()) return g.status().with_context(who + " refuses its site group");
      site = std::make_unique<fl::ensemble::EnsembleSite>(self, c.institution, member, std::move(secagg), std::move(*g),
                                                          o.train, transport, rng);
      site->on_trained(o.on_site_round);
      (void)net->send({self, c.institution, kNodeSiteGroup, 0, {}});
      group.reset();
    }
    if (silent) return Status::unavailable(who + ": nothing from its institution for too long");
    transport.wait(self, 200ms);
  }
}

Result<EnsembleCoordinatorNodeResult> run_ensemble_coordinator_node(const NodeConfig& c, const Digest& reference_hash,
                                                                    std::uint64_t reference_size,
                                                                    std::uint32_t num_classes,
                                                                    const EnsembleNodeOptions& o) {
  HEAL_REQUIRE(c.role == NodeRole::kCoordinator, "run_ensemble_coordinator_node needs a coordinator configuration");
  HEAL_ASSIGN_OR_RETURN(ledger::LedgerUri uri, ledger::parse_ledger_uri(c.ledger_path));
  const bool chain = on_chain(uri);
#ifndef HEAL_HAVE_EVM
  if (chain) return Status::unsupported("node config: ledger " + uri.redacted() + ": built without the EVM backend");
#endif
  const std::uint32_t n = c.hospitals;
  const std::uint32_t threshold = ensemble_threshold(c, o);
  if (n < 2 || threshold <= n / 2 || threshold > n) {
    return Status::invalid_argument("an ensemble needs >= 2 institutions and a SecAgg threshold t with n/2 < t <= n");
  }
#ifdef HEAL_HAVE_EVM
  if (chain) HEAL_RETURN_IF_ERROR(ledger::evm::check_ensemble_size(c.hospitals).with_context("node config"));
#endif
  HEAL_ASSIGN_OR_RETURN(auto net, start_transport(c));
  HEAL_ASSIGN_OR_RETURN(std::unique_ptr<ledger::Ledger> ledger, open_coordinator_ledger(uri));
#ifdef HEAL_HAVE_EVM
  auto* evm = dynamic_cast<ledger::evm::EvmLedger*>(ledger.get());
#endif
  const auto setup_deadline = Clock::now() + c.setup_timeout;
  auto fail = [&](Status s) {
    stop_all(*net, n);
    return s;
  };

  // 1. Who is there, with what model and which reference set.
  std::map<fl::PartyId, EnsembleHello> hellos;
  Status said = collect_hellos(
      *net, n, setup_deadline, "institutions", [&](fl::PartyId from, std::span<const std::uint8_t> payload) -> Status {
        auto h = decode_ensemble_hello(payload);
        if (!h.ok()) return h.status().with_context("hello of institution " + std::to_string(from));
        if (h->reference_hash != reference_hash || h->reference_size != reference_size ||
            h->num_classes != num_classes) {
          return Status::failed_precondition("institution " + std::to_string(from) +
                                             " holds another reference set (or class count) than the consortium's");
        }
        hellos[from] = std::move(*h);
        return {};
      });
  if (!said.ok()) return fail(said);

  // 2. The genesis record, co-signed by every institution, and the ensemble setup.
  // The coordinator's own ledger key: Ed25519 on SQLite; on a chain a secp256k1 account.
  const std::unique_ptr<ledger::Signer> coordinator_key =
      chain ? std::unique_ptr<ledger::Signer>(ledger::Secp256k1Signer::generate())
            : std::unique_ptr<ledger::Signer>(ledger::Ed25519Signer::generate());
  ledger::RoundSetup genesis;
  genesis.key_epoch = 1;
  genesis.secure_mode = "smpc-ensemble";
  genesis.min_contributors = threshold;
  genesis.strategy = std::string("ensemble-distillation(") + fl::ensemble::kWeightRule + ")";
  std::vector<std::unique_ptr<RemoteCosigner>> remote;
  std::vector<const ledger::Signer*> signers;
  std::vector<ledger::EnsembleMemberInfo> members;
  EnsembleCoordinatorNodeResult out;
  for (fl::PartyId h = 0; h < n; ++h) {
    genesis.participants.push_back(
        {h, ledger::Role::kHospital, "institution-" + std::to_string(h), hellos[h].identity});
    remote.push_back(std::make_unique<RemoteCosigner>(*net, h, hellos[h].identity, c.setup_timeout));
    signers.push_back(remote.back().get());
    members.push_back({h, hellos[h].architecture, 1});
    out.institutions.push_back({h, hellos[h].architecture, hellos[h].num_parameters});
  }
  genesis.participants.push_back(
      {fl::kCoordinatorId, ledger::Role::kCoordinator, "coordinator", coordinator_key->identity()});
  signers.push_back(coordinator_key.get());
#ifdef HEAL_HAVE_EVM
  // On a chain: the contract for the consortium of the hellos' accounts and this coordinator's,
  // deployed (and the accounts funded: dev chains) from the URI's key; the institutions are told its
  // address and check it before co-signing the genesis record.
  if (evm) {
    auto cons = ensemble_consortium(c, o, genesis.participants);
    if (!cons.ok()) return fail(cons.status().with_context("the ensemble's contract"));
    auto contract = evm->fund_and_deploy(*cons);
    if (!contract.ok()) return fail(contract.status());
    evm->add_local_signer(*coordinator_key);
    for (fl::PartyId h = 0; h < n; ++h) {
      Status st = net->send({fl::kCoordinatorId, h, kNodeLedger, 0, encode_contract(*contract, evm->from_block())});
      if (!st.ok()) return fail(st.with_context("naming the contract"));
    }
  }
#endif
  if (auto b = ledger->append(ledger::sign_record({c.federation_id, ledger::now_ms(), genesis}, signers)); !b.ok()) {
    return fail(b.status().with_context("the setup record (an institution refused or did not answer)"));
  }
  fl::ensemble::EnsembleConfig cfg;
  cfg.federation_id = c.federation_id;
  cfg.institutions.threshold = threshold;
  cfg.secagg_rounds_per_setup = o.secagg_rounds_per_setup;
  std::vector<EnsembleGroupEntry> group;
  for (fl::PartyId h = 0; h < n; ++h) {
    cfg.institutions.parties.push_back(h);
    cfg.institutions.verify_keys.push_back(hellos[h].verify_key);
    group.push_back({h, hellos[h].verify_key, hellos[h].binding});
  }
  SystemRng rng;
  std::deque<fl::Message> late;  // node-level messages that arrive during the rounds (ignored)
  NodeTransport transport(*net, [&](fl::Message m) { late.push_back(std::move(m)); });
  fl::ensemble::EnsembleCoordinator coordinator(cfg, reference_size, num_classes, transport, *ledger, *coordinator_key,
                                                rng);
  if (Status s = coordinator.write_setup(members, reference_hash); !s.ok())
    return fail(s.with_context("ensemble setup"));

  // 3. The SecAgg group; every institution checks it against the ledger and records its version 1.
  const Bytes group_msg = encode_ensemble_group(threshold, o.secagg_rounds_per_setup, group);
  for (fl::PartyId h = 0; h < n; ++h) (void)net->send({fl::kCoordinatorId, h, kNodeEnsembleConfig, 0, group_msg});
  std::vector<bool> ready(n, false);
  while (std::count(ready.begin(), ready.end(), true) < static_cast<long>(n)) {
    while (auto m = net->receive(fl::kCoordinatorId)) {
      if (m->kind == kNodeEnsembleConfig && m->from < n) ready[m->from] = true;
    }
    if (Clock::now() >= setup_deadline) {
      return fail(Status::unavailable("an institution did not accept the SecAgg group before the setup deadline"));
    }
    net->wait(fl::kCoordinatorId, std::min<std::chrono::milliseconds>(left(setup_deadline), 200ms));
  }

  // 4. The rounds: deliver until the round is done; after response_timeout without a message, close
  // the current SecAgg phase with the institutions that answered.
  // `rounds` attempts; an attempt after a failed round takes its number again (next_round()).
  for (std::uint64_t attempt = 1; attempt <= c.rounds; ++attempt) {
    if (Status s = coordinator.start_round(coordinator.next_round()); !s.ok()) return fail(s);
    auto last_progress = Clock::now();
    while (!coordinator.round_finished()) {
      auto moved = coordinator.poll();
      if (!moved.ok()) return fail(moved.status());
      if (*moved) {
        last_progress = Clock::now();
        continue;
      }
      if (Clock::now() - last_progress >= c.response_timeout) {
        auto closed = coordinator.on_idle();
        if (!closed.ok()) return fail(closed.status());
        last_progress = Clock::now();
        continue;
      }
      transport.wait(fl::kCoordinatorId, std::min<std::chrono::milliseconds>(200ms, c.response_timeout));
    }
    late.clear();
    out.rounds.push_back(coordinator.last_round());
    if (o.on_round) o.on_round(out.rounds.back());
  }
  stop_all(*net, n);
  for (fl::PartyId h = 0; h < n; ++h) {
    const fl::TrafficCounters t = net->counters(h);
    out.bytes_up.push_back(t.bytes_up);
    out.bytes_down.push_back(t.bytes_down);
  }
  out.ledger = uri.path;
#ifdef HEAL_HAVE_EVM
  if (evm) out.ledger = evm->audit_uri();
#endif
  const ledger::VerifyReport v = ledger->verify();
  out.ledger_verified = v.ok;
  out.ledger_head = v.head_hash;
  if (!v.ok) return Status::corruption("ledger fails verification after the run: " + v.summary());
  return out;
}

}  // namespace heal::node
