// The node runtime (heal/node/runtime.h): a coordinator or a hospital in its own process.
#include "heal/node/runtime.h"

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "heal/core/bytes.h"
#include "heal/core/log.h"
#include "heal/core/rng.h"
#include "heal/fl/he_aggregator.h"
#include "heal/fl/he_keygen.h"
#include "heal/fl/hospital.h"
#include "heal/fl/keygen_exchange.h"
#include "heal/fl/node_store.h"
#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/ledger/block.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/record.h"
#include "heal/ledger/uri.h"
#ifdef HEAL_HAVE_EVM
#include "heal/ledger/backends/evm_ledger.h"
#endif
#include "heal/net/grpc_transport.h"
#include "runtime_internal.h"

namespace heal::node {

namespace internal {

Result<std::unique_ptr<net::GrpcTransport>> start_transport(const NodeConfig& c) {
  HEAL_ASSIGN_OR_RETURN(net::TlsIdentity tls, net::load_tls_identity(c.ca_cert_path, c.cert_path, c.key_path));
  net::GrpcTransportConfig t;
  t.self = c.party_id;
  t.listen_address = c.listen_address;
  t.peers = c.peers;
  t.tls = std::move(tls);
  return net::GrpcTransport::start(std::move(t));
}

// Hello answer: u8 has_keys, u8 scheme, u32 key length, key bytes, 32-byte collective key hash.
Bytes encode_hello(const ledger::Identity& id, const std::optional<Digest>& keys) {
  ByteWriter w;
  w.put<std::uint8_t>(keys ? 1 : 0);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(id.scheme));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(id.public_key.size()));
  w.put_bytes(id.public_key);
  const Digest d = keys.value_or(Digest{});
  w.put_bytes(d);
  return w.take();
}

struct Hello {
  ledger::Identity identity;
  std::optional<Digest> keys;
};

Result<Hello> decode_hello(std::span<const std::uint8_t> b) {
  ByteReader r(b);
  std::uint8_t has = 0, scheme = 0;
  std::uint32_t len = 0;
  HEAL_RETURN_IF_ERROR(r.get(&has));
  HEAL_RETURN_IF_ERROR(r.get(&scheme));
  HEAL_RETURN_IF_ERROR(r.get(&len));
  if (len > 128 || has > 1) return Status::corruption("malformed hello");
  std::span<const std::uint8_t> key, digest;
  HEAL_RETURN_IF_ERROR(r.get_bytes(len, &key));
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &digest));
  if (r.remaining() != 0) return Status::corruption("trailing bytes in hello");
  Hello h;
  h.identity.scheme = static_cast<ledger::SignatureScheme>(scheme);
  h.identity.public_key.assign(key.begin(), key.end());
  HEAL_RETURN_IF_ERROR(ledger::validate_identity(h.identity));
  if (has) {
    Digest d;
    std::memcpy(d.data(), digest.data(), 32);
    h.keys = d;
  }
  return h;
}

fl::HePublicSetup public_setup(const NodeConfig& c, const Digest& cpk_hash) {
  fl::HePublicSetup s;
  s.config = c.he;
  s.num_parties = c.hospitals;
  const Bytes fid(c.federation_id.begin(), c.federation_id.end());
  s.crs = fl::he_crs_from_federation(fid);
  s.cpk_hash = cpk_hash;
  return s;
}

bool on_chain(const ledger::LedgerUri& u) { return u.scheme == "evm" || u.scheme == "evms"; }

// The hospital's ledger key: a 32-byte seed in a vault next to its node store (same passphrase, mode
// 0600), made on first start: Ed25519 for a SQLite ledger (<store>.ledger-key), secp256k1 for an EVM
// ledger (<store>.chain-key: the key is the hospital's chain account).
Result<std::unique_ptr<ledger::Signer>> hospital_ledger_key(const NodeConfig& c, const std::string& passphrase,
                                                            const NodeOptions& o, bool secp256k1) {
  const std::string path = c.node_store_path + (secp256k1 ? ".chain-key" : ".ledger-key");
  auto from_seed = [&](const Seed& seed) -> std::unique_ptr<ledger::Signer> {
    if (secp256k1) return ledger::Secp256k1Signer::from_seed(seed);
    return ledger::Ed25519Signer::from_seed(seed);
  };
  VaultOpenOptions open;
  open.allow_weak_kdf =
      o.kdf.opslimit < VaultKdf::interactive().opslimit || o.kdf.memlimit < VaultKdf::interactive().memlimit;
  if (std::filesystem::exists(path)) {
    HEAL_ASSIGN_OR_RETURN(SecretBytes seed_bytes, read_vault_file(path, passphrase, open));
    if (seed_bytes.span().size() != 32) return Status::corruption(path + ": not a ledger key");
    Seed seed;
    std::memcpy(seed.data(), seed_bytes.span().data(), 32);
    auto signer = from_seed(seed);
    std::memset(seed.data(), 0, seed.size());
    return signer;
  }
  Seed seed;
  SystemRng rng;
  rng.fill(seed);
  HEAL_ASSIGN_OR_RETURN(VaultKey key, VaultKey::derive(passphrase, o.kdf));
  HEAL_RETURN_IF_ERROR(write_vault_file(path, key, seed));
  auto signer = from_seed(seed);
  std::memset(seed.data(), 0, seed.size());
  return signer;
}

// The setup record's quorum and decryption threshold under this node's configuration.
std::uint32_t quorum_of(const NodeConfig& c) { return c.min_contributors != 0 ? c.min_contributors : c.hospitals; }
std::uint32_t threshold_of(const NodeConfig& c) { return c.he.threshold != 0 ? c.he.threshold : c.hospitals / 2 + 1; }

Result<std::unique_ptr<ledger::Ledger>> open_sqlite(const ledger::LedgerUri& u) {
  HEAL_ASSIGN_OR_RETURN(auto l, ledger::SqliteLedger::open(u.path));
  return std::unique_ptr<ledger::Ledger>(std::move(l));
}

Result<std::unique_ptr<ledger::Ledger>> open_coordinator_ledger(const ledger::LedgerUri& uri) {
  if (on_chain(uri)) {
#ifdef HEAL_HAVE_EVM
    // A new contract is deployed later (from the URI's key), so the ledger starts empty.
    HEAL_ASSIGN_OR_RETURN(auto e, ledger::evm::EvmLedger::open(uri, /*read_only=*/false));
    return std::unique_ptr<ledger::Ledger>(std::move(e));
#else
    return Status::unsupported("node config: ledger " + uri.redacted() + ": built without the EVM backend");
#endif
  }
  HEAL_ASSIGN_OR_RETURN(std::unique_ptr<ledger::Ledger> ledger, open_sqlite(uri));
  HEAL_ASSIGN_OR_RETURN(std::uint64_t blocks, ledger->size());
  if (blocks != 0) {
    return Status::failed_precondition(
        "the coordinator needs an empty ledger (resuming a federation is not supported)");
  }
  return ledger;
}

#ifdef HEAL_HAVE_EVM
// kNodeLedger payload: u64 first chain block to scan, then the contract's 0x address.
Bytes encode_contract(const std::string& address, std::uint64_t from_block) {
  ByteWriter w;
  w.put<std::uint64_t>(from_block);
  w.put_bytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(address.data()), address.size()));
  return w.take();
}

// A hospital attaches to the contract the coordinator names, on the chain of its own URI.
Result<std::unique_ptr<ledger::evm::EvmLedger>> open_contract(ledger::LedgerUri u, std::span<const std::uint8_t> b) {
  ByteReader r(b);
  std::uint64_t from_block = 0;
  HEAL_RETURN_IF_ERROR(r.get(&from_block));
  if (r.remaining() != 42) return Status::corruption("malformed contract message");
  std::span<const std::uint8_t> addr;
  HEAL_RETURN_IF_ERROR(r.get_bytes(42, &addr));
  u.query["contract"] = std::string(addr.begin(), addr.end());
  u.query["from_block"] = std::to_string(from_block);
  return ledger::evm::EvmLedger::open(u, /*read_only=*/false);
}

// Before co-signing on a chain: the contract must be the one for the record's consortium (its
// participants' accounts, this node's threshold and quorum), read back from the chain.
Status check_contract(const NodeConfig& c, const ledger::evm::EvmLedger& chain, std::span<const std::uint8_t> msg) {
  const Bytes prefix = ledger::signing_message({});
  if (msg.size() < prefix.size()) return Status::invalid_argument("not a ledger signing message");
  HEAL_ASSIGN_OR_RETURN(ledger::Record rec, ledger::decode_record(msg.subspan(prefix.size())));
  const auto* s = std::get_if<ledger::RoundSetup>(&rec.body);
  if (!s) return Status::invalid_argument("asked to co-sign something other than the setup record");
  HEAL_ASSIGN_OR_RETURN(ledger::evm::Consortium want,
                        ledger::evm::consortium_of(c.federation_id, s->participants, threshold_of(c), quorum_of(c)));
  return chain.check_deployed_consortium(want);
}
#endif

}  // namespace internal

namespace internal {

// A hospital co-signs the setup record only if it is this federation's, lists it with its own
// identity and holds the collective public key its own key setup derived.
Result<ledger::RoundSetup> setup_record_to_cosign(const NodeConfig& c, std::span<const std::uint8_t> message) {
  const Bytes prefix = ledger::signing_message({});
  if (message.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), message.begin())) {
    return Status::invalid_argument("not a ledger signing message");
  }
  HEAL_ASSIGN_OR_RETURN(ledger::Record rec, ledger::decode_record(message.subspan(prefix.size())));
  auto* s = std::get_if<ledger::RoundSetup>(&rec.body);
  if (!s) return Status::invalid_argument("asked to co-sign something other than the setup record");
  if (rec.federation_id != c.federation_id) return Status::invalid_argument("setup record of another federation");
  return std::move(*s);
}

Status check_setup_record(const NodeConfig& c, const ledger::Identity& me, const Digest& cpk,
                          std::span<const std::uint8_t> message) {
  HEAL_ASSIGN_OR_RETURN(const ledger::RoundSetup record, setup_record_to_cosign(c, message));
  const ledger::RoundSetup* s = &record;
  if (s->collective_public_key_hash != cpk) {
    return Status::invalid_argument("the setup record's collective public key is not the one this hospital derived");
  }
  if (s->participants.size() != c.hospitals + 1) return Status::invalid_argument("wrong number of participants");
  bool listed = false;
  for (const auto& p : s->participants) {
    if (p.party_id == c.party_id) listed = p.role == ledger::Role::kHospital && p.identity == me;
  }
  if (!listed) return Status::invalid_argument("the setup record does not list this hospital with its identity");
  if (s->min_contributors != quorum_of(c)) {
    return Status::invalid_argument("the setup record's quorum differs from this hospital's configuration");
  }
  if (s->decryption_threshold != threshold_of(c)) {
    return Status::invalid_argument("the setup record's decryption threshold differs from this hospital's");
  }
  return {};
}

}  // namespace internal

using namespace internal;  // NOLINT: this file's own helpers

Status run_hospital_node(const NodeConfig& c, std::unique_ptr<fl::LocalTrainer> trainer, const NodeOptions& o) {
  HEAL_REQUIRE(c.role == NodeRole::kHospital, "run_hospital_node needs a hospital configuration");
  HEAL_REQUIRE(trainer != nullptr, "run_hospital_node needs a trainer");
  if (!c.sites.empty()) {
    return Status::invalid_argument("node config: hospital " + std::to_string(c.party_id) +
                                    " names sites among its peers; sites belong to an ensemble (training.federation)");
  }
  HEAL_ASSIGN_OR_RETURN(std::string passphrase, node_passphrase(c));
  HEAL_ASSIGN_OR_RETURN(ledger::LedgerUri uri, ledger::parse_ledger_uri(c.ledger_path));
  const bool chain = on_chain(uri);
#ifndef HEAL_HAVE_EVM
  if (chain) return Status::unsupported("node config: ledger " + uri.redacted() + ": built without the EVM backend");
#endif
  HEAL_ASSIGN_OR_RETURN(auto net, start_transport(c));
  // SQLite: opened now. EVM: opened when the coordinator names the contract (kNodeLedger).
  std::unique_ptr<ledger::Ledger> ledger;
  if (!chain) {
    HEAL_ASSIGN_OR_RETURN(ledger, open_sqlite(uri));
  }
  HEAL_ASSIGN_OR_RETURN(auto signer, hospital_ledger_key(c, passphrase, o, chain));
  const ledger::Identity me = signer->identity();
  [[maybe_unused]] const ledger::Signer* my_key = signer.get();  // owned by the fl::Hospital once built
  const fl::PartyId self = c.party_id;
  VaultOpenOptions open;
  open.allow_weak_kdf =
      o.kdf.opslimit < VaultKdf::interactive().opslimit || o.kdf.memlimit < VaultKdf::interactive().memlimit;

  // Key material: reopened from the node store, or made by the key setup when the coordinator asks.
  std::shared_ptr<fl::NodeStore> store;
  std::unique_ptr<fl::HeAggregator> pub;  // the public side the party is built against
  if (std::filesystem::exists(c.node_store_path)) {
    HEAL_ASSIGN_OR_RETURN(std::unique_ptr<fl::NodeStore> s, fl::NodeStore::open(c.node_store_path, passphrase, open));
    if (s->safeguards().party != self)
      return Status::failed_precondition(c.node_store_path + " is another party's store");
    store = std::move(s);
  }

  std::deque<fl::Message> node_msgs;
  NodeTransport transport(*net, [&](fl::Message m) { node_msgs.push_back(std::move(m)); });
  std::unique_ptr<fl::Hospital> hospital;
  auto build = [&]() -> Status {
    if (!ledger) return {};  // built once the contract is known
    // Rollback detection: a store older than what the ledger shows this party did is refused now
    // and before every round (fl/node_store.h). On a chain the ledger is known once attached.
    HEAL_RETURN_IF_ERROR(store->bind_ledger(*ledger).with_context("hospital " + std::to_string(self)));
    pub = std::make_unique<fl::HeAggregator>(public_setup(c, store->safeguards().key_epoch));
    HEAL_ASSIGN_OR_RETURN(auto party, pub->party_from_store(store));
    hospital = std::make_unique<fl::Hospital>(self, "hospital-" + std::to_string(self), std::move(trainer),
                                              std::move(signer), *ledger, transport, std::make_unique<SystemRng>());
    hospital->set_federation(c.federation_id, 0, 0);
    hospital->set_aggregation_party(std::move(party));
    if (c.verify_aggregate) {
      // This hospital's own public side recomputes every aggregate it is asked to decrypt.
      hospital->set_aggregate_check(
          [agg = pub.get()](std::span<const Bytes> contributions, std::size_t length, std::uint64_t round) {
            return agg->aggregate(contributions, length, round);
          });
    }
    return {};
  };
  if (store) HEAL_RETURN_IF_ERROR(build());
#ifdef HEAL_HAVE_EVM
  // The contract the coordinator named (public: address and deployment block), kept next to the
  // node store so that a restarted hospital reattaches to it and answers the next round.
  const std::string contract_path = c.node_store_path + ".contract";
  ledger::evm::EvmLedger* evm = nullptr;
  auto attach = [&](std::span<const std::uint8_t> named) -> Status {
    auto e = open_contract(uri, named);
    if (!e.ok()) return e.status().with_context("hospital " + std::to_string(self) + ": the federation's contract");
    evm = e->get();
    evm->add_local_signer(*my_key);  // this hospital's records are sent from its own account
    ledger = std::move(*e);
    return store && !hospital ? build() : Status{};
  };
  if (chain && store && std::filesystem::exists(contract_path)) {
    std::ifstream in(contract_path, std::ios::binary);
    const Bytes named((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    HEAL_RETURN_IF_ERROR(attach(named));
  }
#endif

  std::vector<fl::Message> early;  // key setup messages of faster peers, before the order to start
  CoordinatorWatch coordinator(*net, c);
  while (true) {
    if (hospital) {
      hospital->step();
    } else {
      while (auto m = transport.receive(self)) {
        if (fl::is_keygen_message(m->kind)) early.push_back(std::move(*m));
      }
    }
    const bool silent = coordinator.silent_too_long();
    while (!node_msgs.empty()) {
      fl::Message m = std::move(node_msgs.front());
      node_msgs.pop_front();
      if (m.from != fl::kCoordinatorId) continue;
      if (m.kind == kNodeStop) return {};
      if (m.kind == kNodeHello) {
        std::optional<Digest> keys;
        if (store) keys = store->safeguards().key_epoch;
        (void)net->send({self, fl::kCoordinatorId, kNodeHello, 0, encode_hello(me, keys)});
      } else if (m.kind == kNodeLedger) {
#ifdef HEAL_HAVE_EVM
        if (!chain || ledger) continue;  // a SQLite ledger, or told already
        HEAL_RETURN_IF_ERROR(attach(m.payload));
        std::ofstream(contract_path, std::ios::binary | std::ios::trunc)
            .write(reinterpret_cast<const char*>(m.payload.data()), static_cast<std::streamsize>(m.payload.size()));
#endif
      } else if (m.kind == kNodeKeyGen) {
        if (store) continue;  // keys exist: the coordinator learnt it from the hello
        const Bytes fid(c.federation_id.begin(), c.federation_id.end());
        SystemRng rng;
        std::unique_ptr<fl::HeKeyGenParty> kg;
        try {
          kg = std::make_unique<fl::HeKeyGenParty>(c.he, c.hospitals, self, fid, rng);
        } catch (const std::invalid_argument& e) {
          return Status::invalid_argument(std::string("node config: he: ") + e.what());
        }
        HEAL_ASSIGN_OR_RETURN(fl::HeKeyMaterial material,
                              fl::run_hospital_keygen(
                                  *net, *kg, c.hospitals, rng, c.setup_timeout,
                                  [&](fl::Message x) { node_msgs.push_back(std::move(x)); }, std::move(early)));
        HEAL_ASSIGN_OR_RETURN(std::unique_ptr<fl::NodeStore> s,
                              material.create_store(c.node_store_path, passphrase, o.kdf));
        store = std::move(s);
        HEAL_RETURN_IF_ERROR(build());
      } else if (m.kind == kNodeCosign) {
        if (!store) continue;
        Status ok = check_setup_record(c, me, store->safeguards().key_epoch, m.payload);
#ifdef HEAL_HAVE_EVM
        if (ok.ok() && chain) {
          ok = evm ? check_contract(c, *evm, m.payload)
                   : Status::failed_precondition("the coordinator has not named the federation's contract");
        }
#endif
        if (!ok.ok()) return ok.with_context("hospital " + std::to_string(self) + " refuses to co-sign the setup");
        (void)net->send({self, fl::kCoordinatorId, kNodeCosign, 0, hospital->signer().sign(m.payload)});
      }
    }
    if (silent) {
      return Status::unavailable("hospital " + std::to_string(self) + ": nothing from the coordinator for too long");
    }
    transport.wait(self, 200ms);
  }
}

namespace internal {

Status collect_hellos(fl::Transport& net, std::uint32_t n, Clock::time_point deadline, const std::string& who,
                      const std::function<Status(fl::PartyId, std::span<const std::uint8_t>)>& on_hello) {
  std::set<fl::PartyId> answered;
  auto last_ask = Clock::now() - 1h;
  while (answered.size() < n) {
    if (Clock::now() - last_ask > 500ms) {
      for (fl::PartyId h = 0; h < n; ++h) {
        if (!answered.count(h)) (void)net.send({fl::kCoordinatorId, h, kNodeHello, 0, {}});
      }
      last_ask = Clock::now();
    }
    while (auto m = net.receive(fl::kCoordinatorId)) {
      if (m->kind != kNodeHello || m->from >= n || answered.count(m->from)) continue;
      HEAL_RETURN_IF_ERROR(on_hello(m->from, m->payload));
      answered.insert(m->from);
    }
    if (Clock::now() >= deadline) {
      return Status::unavailable("only " + std::to_string(answered.size()) + " of " + std::to_string(n) + " " + who +
                                 " answered before the setup deadline");
    }
    net.wait(fl::kCoordinatorId, std::min<std::chrono::milliseconds>(left(deadline), 500ms));
  }
  return {};
}

void stop_all(fl::Transport& net, std::uint32_t hospitals) {
  for (fl::PartyId h = 0; h < hospitals; ++h) (void)net.send({fl::kCoordinatorId, h, kNodeStop, 0, {}});
}

}  // namespace internal

Result<CoordinatorNodeResult> run_coordinator_node(const NodeConfig& c, std::vector<float> initial_model,
                                                   const fl::StrategyConfig& strategy, const NodeOptions& o) {
  HEAL_REQUIRE(c.role == NodeRole::kCoordinator, "run_coordinator_node needs a coordinator configuration");
  HEAL_ASSIGN_OR_RETURN(ledger::LedgerUri uri, ledger::parse_ledger_uri(c.ledger_path));
  const bool chain = on_chain(uri);
#ifndef HEAL_HAVE_EVM
  if (chain) return Status::unsupported("node config: ledger " + uri.redacted() + ": built without the EVM backend");
#endif
  HEAL_ASSIGN_OR_RETURN(auto net, start_transport(c));
  HEAL_ASSIGN_OR_RETURN(std::unique_ptr<ledger::Ledger> ledger, open_coordinator_ledger(uri));
#ifdef HEAL_HAVE_EVM
  auto* evm = dynamic_cast<ledger::evm::EvmLedger*>(ledger.get());
#endif
  const std::uint32_t n = c.hospitals;
  const auto setup_deadline = Clock::now() + c.setup_timeout;

  // 1. Who is there: every hospital's ledger identity and whether it already holds keys. A hospital
  // that is not up yet is asked again.
  std::map<fl::PartyId, Hello> hellos;
  HEAL_RETURN_IF_ERROR(collect_hellos(*net, n, setup_deadline, "hospitals",
                                      [&](fl::PartyId from, std::span<const std::uint8_t> payload) -> Status {
                                        auto h = decode_hello(payload);
                                        if (!h.ok())
                                          return h.status().with_context("hello of hospital " + std::to_string(from));
                                        hellos[from] = std::move(*h);
                                        return {};
                                      }));
  for (const auto& [id, h] : hellos) {
    if (h.keys) {
      return Status::failed_precondition("hospital " + std::to_string(id) +
                                         " already holds key material, but the ledger is empty: a new federation "
                                         "needs new node stores");
    }
  }

  // The coordinator's own ledger key: Ed25519 on SQLite; on a chain a secp256k1 account.
  std::unique_ptr<ledger::Signer> coordinator_key;
  if (chain) {
    coordinator_key = ledger::Secp256k1Signer::generate();
  } else {
    coordinator_key = ledger::Ed25519Signer::generate();
  }
  [[maybe_unused]] const ledger::Signer* coordinator_key_ptr = coordinator_key.get();

#ifdef HEAL_HAVE_EVM
  // On a chain: the contract for the consortium of the hellos' accounts and this coordinator's, with
  // the configured threshold and quorum, deployed (and the accounts funded: dev chains) from the
  // URI's key; the hospitals are told its address and check it before co-signing the setup record.
  if (evm) {
    std::vector<ledger::Participant> parts;
    for (fl::PartyId h = 0; h < n; ++h) {
      parts.push_back({h, ledger::Role::kHospital, "hospital-" + std::to_string(h), hellos[h].identity});
    }
    parts.push_back({fl::kCoordinatorId, ledger::Role::kCoordinator, "coordinator", coordinator_key->identity()});
    HEAL_ASSIGN_OR_RETURN(ledger::evm::Consortium cons,
                          ledger::evm::consortium_of(c.federation_id, parts, threshold_of(c), quorum_of(c)));
    auto contract = evm->fund_and_deploy(cons);
    if (!contract.ok()) {
      stop_all(*net, n);
      return contract.status();
    }
    evm->add_local_signer(*coordinator_key_ptr);
    for (fl::PartyId h = 0; h < n; ++h) {
      Status st = net->send({fl::kCoordinatorId, h, kNodeLedger, 0, encode_contract(*contract, evm->from_block())});
      if (!st.ok()) return st.with_context("naming the contract");
    }
  }
#endif

  // 2. Dealer-free key setup between the hospitals; the coordinator receives the public shares only.
  for (fl::PartyId h = 0; h < n; ++h) {
    Status st = net->send({fl::kCoordinatorId, h, kNodeKeyGen, 0, {}});
    if (!st.ok()) return st.with_context("ordering the key setup");
  }
  const Bytes fid(c.federation_id.begin(), c.federation_id.end());
  HEAL_ASSIGN_OR_RETURN(fl::HePublicSetup pub, fl::run_coordinator_keygen(*net, c.he, n, fid, left(setup_deadline)));

  // 3. The setup record, checked and co-signed by every hospital, and model v0.
  std::vector<ledger::Participant> members;
  std::vector<std::unique_ptr<RemoteCosigner>> remote;
  std::vector<const ledger::Signer*> cosigners;
  for (fl::PartyId h = 0; h < n; ++h) {
    members.push_back({h, ledger::Role::kHospital, "hospital-" + std::to_string(h), hellos[h].identity});
    remote.push_back(std::make_unique<RemoteCosigner>(*net, h, hellos[h].identity, c.setup_timeout));
    cosigners.push_back(remote.back().get());
  }
  fl::CoordinatorConfig cc;
  cc.federation_id = c.federation_id;
  cc.strategy = strategy;
  if (c.training) cc.clip_norm = c.training->clip_norm;
  cc.min_contributors = c.min_contributors;
  cc.response_timeout = c.response_timeout;
  cc.attach_contributions = c.verify_aggregate;
  cc.on_reject = o.on_reject ? o.on_reject : [](const fl::Rejection& r) { log::warn("coordinator: " + r.to_string()); };
  std::unique_ptr<fl::Coordinator> made;
  try {
    made = std::make_unique<fl::Coordinator>(cc, members, std::make_unique<fl::HeAggregator>(pub),
                                             std::move(coordinator_key), *ledger, *net, std::move(initial_model));
  } catch (const std::invalid_argument& e) {
    stop_all(*net, n);
    return Status::invalid_argument(std::string("node config: ") + e.what());
  }
  fl::Coordinator& coordinator = *made;
  Status st = coordinator.setup(cosigners);
  if (!st.ok()) {
    stop_all(*net, n);
    return st.with_context("setup record");
  }

  // 4. The rounds.
  for (std::uint64_t r = 0; r < c.rounds; ++r) {
    auto s = coordinator.run_round();
    if (!s.ok()) {
      stop_all(*net, n);
      return s.status();
    }
    if (o.on_round) o.on_round(*s);
  }
  stop_all(*net, n);
  CoordinatorNodeResult out{coordinator.report(), coordinator.global_model(), uri.path};
#ifdef HEAL_HAVE_EVM
  if (evm) out.ledger = evm->audit_uri();
#endif
  ledger::VerifyReport v = ledger->verify();
  out.report.ledger_verified = v.ok;
  out.report.ledger_head = v.head_hash;
  if (!v.ok) return Status::corruption("ledger fails verification after the run: " + v.summary());
  return out;
}

}  // namespace heal::node
