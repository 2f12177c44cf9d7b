// NodeConfig from JSON (heal/node/config.h): outside bytes, checked field by field.
#include "heal/node/config.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "heal/fl/ensemble/roles.h"
#include "heal/ledger/uri.h"

namespace heal::node {

namespace {

using json = nlohmann::json;

Status bad(const std::string& field, const std::string& why) {
  return Status::invalid_argument("node config: " + field + ": " + why);
}

Status only_keys(const json& obj, const std::string& where, std::initializer_list<const char*> allowed) {
  const std::set<std::string> ok(allowed.begin(), allowed.end());
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!ok.count(it.key())) return bad(where + it.key(), "unknown key");
  }
  return {};
}

Result<std::string> get_string(const json& obj, const std::string& where, const char* key, bool required = true) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return bad(where + key, "missing");
    return std::string();
  }
  if (!it->is_string() || it->get<std::string>().empty()) return bad(where + key, "must be a non-empty string");
  return it->get<std::string>();
}

Result<std::uint64_t> get_uint(const json& obj, const std::string& where, const char* key, std::uint64_t lo,
                               std::uint64_t hi, std::optional<std::uint64_t> dflt) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (dflt) return *dflt;
    return bad(where + key, "missing");
  }
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    return bad(where + key, "must be a non-negative integer");
  }
  const auto v = it->get<std::uint64_t>();
  if (v < lo || v > hi) {
    return bad(where + key, std::to_string(v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

// host:port with a non-empty host and a port in 1..65535 (0 allowed for listening: pick a free one).
Status check_address(const std::string& field, const std::string& a, bool allow_port0) {
  const auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) return bad(field, "expected host:port");
  const std::string port = a.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return bad(field, "bad port");
  const int p = std::stoi(port);
  if (p > 65535 || (p == 0 && !allow_port0)) return bad(field, "port out of range");
  return {};
}

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
  return (std::filesystem::path(base) / p).lexically_normal().string();
}

// A site's party id names an institution of the federation and a site index below the limit.
Status check_site_id(const std::string& field, fl::PartyId id, std::uint32_t hospitals) {
  const auto k = site_institution(id);
  if (!k || *k >= hospitals || id % kSiteIdBase >= kMaxSitesPerInstitution) {
    return bad(field, std::to_string(id) +
                          " is no site of this federation (site s of institution k is 1000 (k + 1) + s, "
                          "s < " +
                          std::to_string(kMaxSitesPerInstitution) + ")");
  }
  return {};
}

Result<fl::PartyId> peer_id(const std::string& key, std::uint32_t hospitals) {
  if (key == "coordinator") return fl::kCoordinatorId;
  if (key.empty() || key.size() > 9 || key.find_first_not_of("0123456789") != std::string::npos ||
      (key.size() > 1 && key[0] == '0')) {
    return bad("peers." + key, "a peer is \"coordinator\", a hospital's or a site's decimal id");
  }
  const auto id = static_cast<fl::PartyId>(std::stoul(key));
  if (id >= kSiteIdBase) {
    HEAL_RETURN_IF_ERROR(check_site_id("peers." + key, id, hospitals));
    return id;
  }
  if (id >= hospitals) return bad("peers." + key, "no such hospital (hospitals = " + std::to_string(hospitals) + ")");
  return id;
}

Result<double> get_number(const json& obj, const std::string& where, const char* key, double lo, double hi,
                          double dflt) {
  auto it = obj.find(key);
  if (it == obj.end()) return dflt;
  if (!it->is_number()) return bad(where + key, "must be a number");
  const double v = it->get<double>();
  if (!(v >= lo && v <= hi))
    return bad(where + key, "outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

// A name: lower-case letters, digits, '_', '-', ':' and '.' (architectures, strategies, partition schemes).
Status check_name(const std::string& field, const std::string& v) {
  if (v.size() > 64 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-:.") != std::string::npos) {
    std::string shown = "\"";  // built by appending: GCC 12's -Wrestrict misfires on "lit" + substr(...)
    shown.append(v, 0, 64).append("\" is not a valid name");
    return bad(field, shown);
  }
  return {};
}

Result<NodeTraining> parse_training(const json& t, const std::string& base_dir) {
  if (!t.is_object()) return bad("training", "must be an object");
  HEAL_RETURN_IF_ERROR(only_keys(t, "training.",
                                 {"data",
                                  "task",
                                  "model",
                                  "partition",
                                  "seed",
                                  "lr",
                                  "batch",
                                  "local_epochs",
                                  "size",
                                  "threads",
                                  "strategy",
                                  "server_lr",
                                  "mu",
                                  "clip",
                                  "lr_schedule",
                                  "loss",
                                  "multiclass",
                                  "federation",
                                  "archs",
                                  "reference_fraction",
                                  "distill_epochs",
                                  "distill_lr",
                                  "sharpen",
                                  "balance_consensus",
                                  "sites"}));
  NodeTraining n;
  HEAL_ASSIGN_OR_RETURN(n.data_path, get_string(t, "training.", "data"));
  n.data_path = resolve(base_dir, n.data_path);
  for (auto [key, dst] : {std::pair<const char*, std::string*>{"task", &n.task},
                          {"model", &n.model},
                          {"partition", &n.partition},
                          {"strategy", &n.strategy}}) {
    HEAL_ASSIGN_OR_RETURN(std::string v, get_string(t, "training.", key, /*required=*/false));
    if (v.empty()) continue;
    HEAL_RETURN_IF_ERROR(check_name(std::string("training.") + key, v));
    *dst = v;
  }
  if (n.task != "classify" && n.task != "segment") return bad("training.task", "\"classify\" or \"segment\"");
  HEAL_ASSIGN_OR_RETURN(std::string sched, get_string(t, "training.", "lr_schedule", /*required=*/false));
  if (!sched.empty()) {
    if (sched != "constant" && sched != "cosine") return bad("training.lr_schedule", "\"constant\" or \"cosine\"");
    n.lr_schedule = sched;
  }
  HEAL_ASSIGN_OR_RETURN(std::string loss, get_string(t, "training.", "loss", /*required=*/false));
  if (!loss.empty()) {
    if (loss != "bce-dice" && loss != "structure") return bad("training.loss", "\"bce-dice\" or \"structure\"");
    n.seg_loss = loss;
  }
  if (t.contains("balance_consensus")) {
    if (!t["balance_consensus"].is_boolean()) return bad("training.balance_consensus", "must be true or false");
    n.balance_consensus = t["balance_consensus"].get<bool>();
  }
  if (t.contains("multiclass")) {
    if (!t["multiclass"].is_boolean()) return bad("training.multiclass", "must be true or false");
    n.multiclass = t["multiclass"].get<bool>();
  }
  HEAL_ASSIGN_OR_RETURN(n.seed, get_uint(t, "training.", "seed", 0, ~std::uint64_t{0}, std::uint64_t{1}));
  HEAL_ASSIGN_OR_RETURN(n.learning_rate, get_number(t, "training.", "lr", 1e-9, 10, n.learning_rate));
  HEAL_ASSIGN_OR_RETURN(std::uint64_t b, get_uint(t, "training.", "batch", 1, 65536, std::uint64_t{n.batch_size}));
  n.batch_size = static_cast<std::uint32_t>(b);
  HEAL_ASSIGN_OR_RETURN(std::uint64_t e, get_uint(t, "training.", "local_epochs", 1, 1000, std::uint64_t{1}));
  n.local_epochs = static_cast<std::uint32_t>(e);
  HEAL_ASSIGN_OR_RETURN(std::uint64_t sz, get_uint(t, "training.", "size", 16, 1024, std::uint64_t{n.image_size}));
  n.image_size = static_cast<std::uint32_t>(sz);
  HEAL_ASSIGN_OR_RETURN(std::uint64_t th, get_uint(t, "training.", "threads", 1, 256, std::uint64_t{1}));
  n.threads = static_cast<std::uint32_t>(th);
  HEAL_ASSIGN_OR_RETURN(n.server_lr, get_number(t, "training.", "server_lr", 1e-9, 100, n.server_lr));
  HEAL_ASSIGN_OR_RETURN(n.proximal_mu, get_number(t, "training.", "mu", 0, 100, n.proximal_mu));
  HEAL_ASSIGN_OR_RETURN(n.clip_norm, get_number(t, "training.", "clip", 0, 1e9, n.clip_norm));
  HEAL_ASSIGN_OR_RETURN(std::string fed, get_string(t, "training.", "federation", /*required=*/false));
  if (!fed.empty()) {
    if (fed != "fedavg" && fed != "ensemble") return bad("training.federation", "\"fedavg\" or \"ensemble\"");
    n.federation = fed;
  }
  if (n.federation == "ensemble" && n.task != "classify") {
    return bad("training.federation", "an ensemble classifies (task \"classify\")");
  }
  if (auto a = t.find("archs"); a != t.end()) {
    if (!a->is_array() || a->empty() || a->size() > 64) return bad("training.archs", "must be a list of 1..64 names");
    n.archs.clear();
    for (const auto& name : *a) {
      if (!name.is_string()) return bad("training.archs", "must be a list of names or .heal files");
      const std::string v = name.get<std::string>();
      const bool file = v.size() > 5 && v.compare(v.size() - 5, 5, ".heal") == 0;
      if (file) {
        // A model file the institution starts from (apps::ensemble::member_arch), relative to the file.
        if (v.size() > 4096 || std::any_of(v.begin(), v.end(), [](char ch) {
              return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
            })) {
          return bad("training.archs", "a model file path must be printable and at most 4096 bytes");
        }
        n.archs.push_back(resolve(base_dir, v));
        continue;
      }
      HEAL_RETURN_IF_ERROR(check_name("training.archs", v));
      n.archs.push_back(v);
    }
  }
  HEAL_ASSIGN_OR_RETURN(n.reference_fraction,
                        get_number(t, "training.", "reference_fraction", 0.01, 0.89, n.reference_fraction));
  HEAL_ASSIGN_OR_RETURN(std::uint64_t de, get_uint(t, "training.", "distill_epochs", 1, 1000, std::uint64_t{1}));
  n.distill_epochs = static_cast<std::uint32_t>(de);
  HEAL_ASSIGN_OR_RETURN(n.distill_lr, get_number(t, "training.", "distill_lr", 1e-9, 10, n.distill_lr));
  HEAL_ASSIGN_OR_RETURN(n.sharpen, get_number(t, "training.", "sharpen", 0.01, 100, n.sharpen));
  if (auto a = t.find("sites"); a != t.end()) {
    if (!a->is_array() || a->empty() || a->size() > 99) return bad("training.sites", "must be a list of 1..99 counts");
    for (const auto& v : *a) {
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() < 1 || v.get<std::uint64_t>() > kMaxSitesPerInstitution) {
        return bad("training.sites",
                   "site counts are integers in [1, " + std::to_string(kMaxSitesPerInstitution) + "]");
      }
      n.sites.push_back(static_cast<std::uint32_t>(v.get<std::uint64_t>()));
    }
    if (n.federation != "ensemble" &&
        std::any_of(n.sites.begin(), n.sites.end(), [](std::uint32_t x) { return x > 1; })) {
      return bad("training.sites", "sites inside an institution belong to an ensemble (training.federation)");
    }
  }
  return n;
}

}  // namespace

Result<NodeConfig> parse_node_config(std::string_view text, const std::string& base_dir) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::invalid_argument("node config: not valid JSON");
  if (!j.is_object()) return Status::invalid_argument("node config: the top level must be an object");
  HEAL_RETURN_IF_ERROR(only_keys(j, "",
                                 {"role", "party_id", "listen", "peers", "tls", "ledger", "federation_id", "hospitals",
                                  "rounds", "min_contributors", "he", "node_store", "response_timeout_ms",
                                  "setup_timeout_ms", "training", "verify_aggregate"}));
  NodeConfig c;
  HEAL_ASSIGN_OR_RETURN(std::string role, get_string(j, "", "role"));
  if (role == "coordinator") {
    c.role = NodeRole::kCoordinator;
  } else if (role == "hospital") {
    c.role = NodeRole::kHospital;
  } else if (role == "site") {
    c.role = NodeRole::kSite;
  } else {
    return bad("role", "\"" + role + "\" is not \"coordinator\", \"hospital\" or \"site\"");
  }
  HEAL_ASSIGN_OR_RETURN(std::uint64_t k, get_uint(j, "", "hospitals", 1, 1000, std::nullopt));
  c.hospitals = static_cast<std::uint32_t>(k);
  if (c.role == NodeRole::kHospital) {
    HEAL_ASSIGN_OR_RETURN(std::uint64_t id, get_uint(j, "", "party_id", 0, c.hospitals - 1, std::nullopt));
    c.party_id = static_cast<fl::PartyId>(id);
  } else if (c.role == NodeRole::kSite) {
    HEAL_ASSIGN_OR_RETURN(std::uint64_t id,
                          get_uint(j, "", "party_id", kSiteIdBase, fl::kCoordinatorId - 1, std::nullopt));
    c.party_id = static_cast<fl::PartyId>(id);
    HEAL_RETURN_IF_ERROR(check_site_id("party_id", c.party_id, c.hospitals));
    c.institution = *site_institution(c.party_id);
  } else {
    if (j.contains("party_id")) return bad("party_id", "the coordinator has no party_id (its id is fixed)");
    c.party_id = fl::kCoordinatorId;
  }
  HEAL_ASSIGN_OR_RETURN(c.listen_address, get_string(j, "", "listen"));
  HEAL_RETURN_IF_ERROR(check_address("listen", c.listen_address, true));
  HEAL_ASSIGN_OR_RETURN(c.federation_id, get_string(j, "", "federation_id"));
  HEAL_ASSIGN_OR_RETURN(c.rounds, get_uint(j, "", "rounds", 1, 1'000'000, std::uint64_t{1}));
  HEAL_ASSIGN_OR_RETURN(std::uint64_t q, get_uint(j, "", "min_contributors", 0, c.hospitals, std::uint64_t{0}));
  c.min_contributors = static_cast<std::uint32_t>(q);
  HEAL_ASSIGN_OR_RETURN(std::uint64_t rt,
                        get_uint(j, "", "response_timeout_ms", 1, 86'400'000, std::uint64_t{120'000}));
  c.response_timeout = std::chrono::milliseconds(rt);
  HEAL_ASSIGN_OR_RETURN(std::uint64_t st, get_uint(j, "", "setup_timeout_ms", 1, 86'400'000, std::uint64_t{120'000}));
  c.setup_timeout = std::chrono::milliseconds(st);

  // Peers.
  auto peers = j.find("peers");
  if (peers == j.end() || !peers->is_object()) return bad("peers", "missing or not an object");
  for (auto it = peers->begin(); it != peers->end(); ++it) {
    HEAL_ASSIGN_OR_RETURN(fl::PartyId id, peer_id(it.key(), c.hospitals));
    if (id == c.party_id) return bad("peers." + it.key(), "a node is not its own peer");
    if (!it->is_string()) return bad("peers." + it.key(), "must be a host:port string");
    HEAL_RETURN_IF_ERROR(check_address("peers." + it.key(), it->get<std::string>(), false));
    c.peers[id] = it->get<std::string>();
  }
  // A hospital talks to the coordinator, (key setup) every other hospital and its own sites; the
  // coordinator to every hospital; a site to its institution and its sibling sites only.
  if (c.role == NodeRole::kSite) {
    if (!c.peers.count(c.institution))
      return bad("peers", "institution " + std::to_string(c.institution) + " is missing");
    for (const auto& [id, address] : c.peers) {
      if (id == c.institution) continue;
      if (site_institution(id) != c.institution) {
        return bad("peers",
                   "a site talks to its institution and its sibling sites only, not to party " + std::to_string(id));
      }
    }
    c.sites.push_back(c.party_id);
  } else {
    for (fl::PartyId h = 0; h < c.hospitals; ++h) {
      if (h != c.party_id && !c.peers.count(h)) return bad("peers", "hospital " + std::to_string(h) + " is missing");
    }
    if (c.role == NodeRole::kHospital && !c.peers.count(fl::kCoordinatorId))
      return bad("peers", "coordinator is missing");
  }
  for (const auto& [id, address] : c.peers) {
    const auto owner = site_institution(id);
    if (!owner) continue;
    if (c.role == NodeRole::kCoordinator)
      return bad("peers", "the coordinator talks to institutions, not to their sites");
    if (*owner != (c.role == NodeRole::kSite ? c.institution : c.party_id)) {
      return bad("peers", "site " + std::to_string(id) + " belongs to another institution");
    }
    c.sites.push_back(id);  // an institution's sites, or a site's siblings
  }
  std::sort(c.sites.begin(), c.sites.end());
  if (c.sites.size() == 1) {
    return bad("peers", c.role == NodeRole::kSite
                            ? "a site has at least one sibling site (1 site: the institution is it)"
                            : "an institution has no site or at least 2 (1 site: the institution is it)");
  }

  // TLS files.
  auto tls = j.find("tls");
  if (tls == j.end() || !tls->is_object()) return bad("tls", "missing or not an object");
  HEAL_RETURN_IF_ERROR(only_keys(*tls, "tls.", {"ca_cert", "cert", "key"}));
  HEAL_ASSIGN_OR_RETURN(c.ca_cert_path, get_string(*tls, "tls.", "ca_cert"));
  HEAL_ASSIGN_OR_RETURN(c.cert_path, get_string(*tls, "tls.", "cert"));
  HEAL_ASSIGN_OR_RETURN(c.key_path, get_string(*tls, "tls.", "key"));
  c.ca_cert_path = resolve(base_dir, c.ca_cert_path);
  c.cert_path = resolve(base_dir, c.cert_path);
  c.key_path = resolve(base_dir, c.key_path);
  if (c.role == NodeRole::kSite) {
    if (j.contains("ledger")) return bad("ledger", "a site writes nothing to the ledger (its institution does)");
    if (j.contains("node_store")) return bad("node_store", "a site holds no stored key material");
  } else {
    HEAL_ASSIGN_OR_RETURN(c.ledger_path, get_string(j, "", "ledger"));
  }
  // A file path is relative to the configuration; a URI (evm://…, sqlite://…) is taken as it is.
  if (c.ledger_path.find("://") == std::string::npos) c.ledger_path = resolve(base_dir, c.ledger_path);
  if (c.role == NodeRole::kSite) {
    // no ledger
  } else if (auto u = ledger::parse_ledger_uri(c.ledger_path); !u.ok()) {
    return u.status().with_context("node config: ledger");
  } else if (u->query.count("contract")) {
    return Status::invalid_argument("node config: ledger: the coordinator deploys the contract; drop contract=");
  }

  // Node store (hospitals only: the coordinator holds no secret key material).
  auto store = j.find("node_store");
  if (c.role == NodeRole::kHospital) {
    if (store == j.end() || !store->is_object()) return bad("node_store", "missing or not an object");
    HEAL_RETURN_IF_ERROR(only_keys(*store, "node_store.", {"path", "passphrase_env"}));
    HEAL_ASSIGN_OR_RETURN(c.node_store_path, get_string(*store, "node_store.", "path"));
    c.node_store_path = resolve(base_dir, c.node_store_path);
    HEAL_ASSIGN_OR_RETURN(c.passphrase_env, get_string(*store, "node_store.", "passphrase_env"));
    if (c.passphrase_env.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
        std::string::npos) {
      return bad("node_store.passphrase_env", "must be an environment variable name (letters, digits, _)");
    }
  } else if (store != j.end() && c.role == NodeRole::kCoordinator) {
    return bad("node_store", "the coordinator holds no key material");
  }

  // HE configuration (secure mode he; the same on every node: it is in the setup record).
  auto he = j.find("he");
  if (he != j.end()) {
    if (!he->is_object()) return bad("he", "must be an object");
    HEAL_RETURN_IF_ERROR(only_keys(
        *he, "he.",
        {"log_n", "q_bits", "p_bits", "threshold", "max_decryptions", "max_abs_update", "min_aggregate_parties"}));
    HEAL_ASSIGN_OR_RETURN(std::uint64_t log_n, get_uint(*he, "he.", "log_n", 10, 16, std::uint64_t(c.he.log_n)));
    c.he.log_n = static_cast<int>(log_n);
    for (const char* key : {"q_bits", "p_bits"}) {
      auto it = he->find(key);
      if (it == he->end()) continue;
      if (!it->is_array() || it->empty() || it->size() > 32)
        return bad(std::string("he.") + key, "a list of prime sizes");
      std::vector<int> bits;
      for (const auto& b : *it) {
        if (!b.is_number_integer() || b.get<std::int64_t>() < 20 || b.get<std::int64_t>() > 60) {
          return bad(std::string("he.") + key, "prime sizes are integers in [20, 60]");
        }
        bits.push_back(b.get<int>());
      }
      (std::string(key) == "q_bits" ? c.he.q_bits : c.he.p_bits) = bits;
    }
    HEAL_ASSIGN_OR_RETURN(std::uint64_t t, get_uint(*he, "he.", "threshold", 0, c.hospitals, std::uint64_t{0}));
    c.he.threshold = static_cast<std::uint32_t>(t);
    HEAL_ASSIGN_OR_RETURN(c.he.max_decryptions,
                          get_uint(*he, "he.", "max_decryptions", 1, 1ull << 40, c.he.max_decryptions));
    HEAL_ASSIGN_OR_RETURN(std::uint64_t mp,
                          get_uint(*he, "he.", "min_aggregate_parties", 0, c.hospitals, std::uint64_t{0}));
    c.he.min_aggregate_parties = static_cast<std::uint32_t>(mp);
    // Threshold rules (src/fl/README.md): t >= 2 and t > n / 2 (no opt-out from a file); a sum is
    // decrypted only over max(3, t + 1) contributions, which needs that many hospitals.
    if (c.he.threshold == 1) return bad("he.threshold", "t = 1 would let every key holder decrypt alone");
    if (c.he.threshold != 0 && c.he.threshold <= c.hospitals / 2) {
      return bad("he.threshold", "t must be a majority (> " + std::to_string(c.hospitals / 2) + ")");
    }
    if (auto it = he->find("max_abs_update"); it != he->end()) {
      if (!it->is_number() || !(it->get<double>() > 0) || it->get<double>() > 1e6) {
        return bad("he.max_abs_update", "a number in (0, 1e6]");
      }
      c.he.max_abs_update = it->get<double>();
    }
  }
  if (auto va = j.find("verify_aggregate"); va != j.end()) {
    if (!va->is_boolean()) return bad("verify_aggregate", "must be true or false");
    c.verify_aggregate = va->get<bool>();
  }
  if (auto tr = j.find("training"); tr != j.end()) {
    HEAL_ASSIGN_OR_RETURN(NodeTraining training, parse_training(*tr, base_dir));
    c.training = std::move(training);
  }
  // The hierarchy the peers describe must be the one the training section partitions the data for.
  if (!c.sites.empty() && c.training) {
    const NodeTraining& t = *c.training;
    const std::uint32_t inst = c.role == NodeRole::kSite ? c.institution : c.party_id;
    if (t.federation != "ensemble") return bad("peers", "sites belong to an ensemble (training.federation)");
    if (t.sites.size() != c.hospitals || t.sites[inst] != c.sites.size()) {
      return bad("training.sites", "must list every institution's site count, " + std::to_string(c.sites.size()) +
                                       " for institution " + std::to_string(inst) + " as its peers say");
    }
  }
  if (c.training && !c.training->sites.empty() && c.training->sites.size() != c.hospitals) {
    return bad("training.sites",
               "must list one site count per institution (hospitals = " + std::to_string(c.hospitals) + ")");
  }
  if (c.role == NodeRole::kHospital && c.sites.empty() && c.training && !c.training->sites.empty() &&
      c.training->sites[c.party_id] > 1) {
    return bad("peers", "training.sites gives institution " + std::to_string(c.party_id) + " " +
                            std::to_string(c.training->sites[c.party_id]) + " sites; name them among the peers");
  }
  if (c.training && c.training->federation == "ensemble") {
    // The ensemble's SecAgg publishes sums of >= 3 institutions' predictions (fl::ensemble::kEnsembleMinInputs);
    // the he section does not apply.
    if (c.hospitals < fl::ensemble::kEnsembleMinInputs) {
      return bad("hospitals", "an ensemble needs at least " + std::to_string(fl::ensemble::kEnsembleMinInputs) +
                                  " institutions: with fewer, the published consensus and an institution's own "
                                  "predictions give the others'");
    }
    return c;
  }
  const std::uint32_t t = c.he.threshold != 0 ? c.he.threshold : c.hospitals / 2 + 1;
  const std::uint32_t floor = std::max<std::uint32_t>({3, t + 1, c.he.min_aggregate_parties});
  if (c.hospitals < floor) {
    return bad("hospitals", "secure mode he decrypts sums of at least " + std::to_string(floor) +
                                " contributions: at least that many hospitals are needed");
  }
  if (c.min_contributors != 0 && c.min_contributors < floor) {
    return bad("min_contributors", "below the aggregator's floor of " + std::to_string(floor) + " contributions");
  }
  return c;
}

Result<NodeConfig> load_node_config(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::io_error("cannot read node config " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  auto c = parse_node_config(ss.str(), dir.empty() ? "." : dir);
  if (!c.ok()) return c.status().with_context(path);
  return c;
}

Result<std::string> node_passphrase(const NodeConfig& config) {
  if (config.passphrase_env.empty()) return Status::failed_precondition("node config names no passphrase variable");
  const char* v = std::getenv(config.passphrase_env.c_str());
  if (v == nullptr || *v == '\0') {
    return Status::failed_precondition("the node store passphrase variable " + config.passphrase_env + " is unset");
  }
  return std::string(v);
}

}  // namespace heal::node
