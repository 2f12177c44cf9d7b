// EvmLedger: HEAL blocks in the HealFederation contract (include/heal/ledger/backends/evm_ledger.h).
#include "heal/ledger/backends/evm_ledger.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "heal/core/hash.h"
#include "heal/ledger/block.h"
#include "heal/ledger/identity.h"
#include "heal_federation_artifact.h"
#include "ledger/backends/evm/abi.h"
#include "ledger/backends/evm/keystore.h"
#include "ledger/backends/evm/rpc_client.h"
#include "ledger/backends/evm/transaction.h"
#include "ledger/backends/evm/types.h"

namespace heal::ledger::evm {

namespace {

using abi::Value;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kBlockEvent = "Block(uint64,address,bytes,bytes)";
constexpr std::uint64_t kLogChunk = 10'000;  // chain blocks per eth_getLogs request

// ABI types parsed once.
const abi::Type& uint64_type() {
  static const abi::Type t = *abi::parse_type("uint64");
  return t;
}
const abi::Type& address_type() {
  static const abi::Type t = *abi::parse_type("address");
  return t;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The events a block-storing call emits next to its Block event, from the call's arguments (the contract
// enforces its rules on those, contracts/README.md): a reader compares them with the record.
constexpr std::string_view kSetupEvent = "SetupPosted(uint32,bytes32)";
constexpr std::string_view kCommittedEvent = "Committed(uint64,uint32,bytes32)";
constexpr std::string_view kContributorsEvent = "ContributorSetPosted(uint64,bytes32,uint32[])";
constexpr std::string_view kRoundClosedEvent = "RoundClosed(uint64,bool,uint64,bytes32)";
constexpr std::string_view kModelEvent = "ModelRecorded(uint64,uint64,bytes32)";
constexpr std::string_view kRoundOpenedEvent = "RoundOpened(uint64,bytes32)";
constexpr std::string_view kEnsembleSetupEvent = "EnsembleSetupPosted(bytes32,uint32[],uint32)";
constexpr std::string_view kEnsembleRoundEvent = "EnsembleRoundPosted(uint64,bytes32,uint32[])";
constexpr std::string_view kMemberVersionEvent = "MemberVersionRecorded(uint32,uint64,uint64,bytes32)";

Hash32 to_hash32(const Digest& d) {
  Hash32 h{};
  std::copy(d.begin(), d.end(), h.begin());
  return h;
}

Value u32_array(const std::vector<std::uint32_t>& v) {
  std::vector<Value> out;
  out.reserve(v.size());
  for (auto x : v) out.push_back(Value::uint(x));
  return Value::array(std::move(out));
}

std::uint64_t double_bits(double d) {
  std::uint64_t u = 0;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// Custom-error selector -> "Name()" from the contract ABI, to turn a revert into a readable reason.
const std::map<std::string, std::string>& error_names() {
  static const std::map<std::string, std::string> names = [] {
    std::map<std::string, std::string> m;
    const auto j = nlohmann::json::parse(artifact::kAbiJson, nullptr, false);
    if (!j.is_array()) return m;
    for (const auto& e : j) {
      if (!e.is_object() || e.value("type", "") != "error") continue;
      std::string sig = e.value("name", "") + "(";
      bool first = true;
      for (const auto& in : e.value("inputs", nlohmann::json::array())) {
        if (!first) sig += ',';
        sig += in.value("type", "");
        first = false;
      }
      sig += ")";
      const auto sel = abi::selector(sig);
      m[to_data_hex(sel)] = sig;
    }
    return m;
  }();
  return names;
}

std::string revert_reason(const RpcError& e) {
  if (auto sel = e.selector()) {
    auto it = error_names().find(to_data_hex(*sel));
    if (it != error_names().end()) return it->second;
    return "error " + to_data_hex(*sel);
  }
  return e.message;
}

Result<std::uint64_t> query_u64(const LedgerUri& u, const std::string& key, std::uint64_t def) {
  auto it = u.query.find(key);
  if (it == u.query.end()) return def;
  std::uint64_t v = 0;
  if (it->second.empty() || it->second.size() > 18) return Status::invalid_argument(key + "= must be a number");
  for (char c : it->second) {
    if (c < '0' || c > '9') return Status::invalid_argument(key + "= must be a number");
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// The URI's key: raw hex (dev chains), env:VAR, or a keystore file.
Result<std::unique_ptr<Secp256k1Signer>> load_key(const LedgerUri& u) {
  auto k = u.query.find("key");
  auto ks = u.query.find("keystore");
  if (k != u.query.end() && ks != u.query.end()) return Status::invalid_argument("give key= or keystore=, not both");
  if (ks != u.query.end()) {
    auto pe = u.query.find("password_env");
    const std::string var = pe == u.query.end() ? "HEAL_KEYSTORE_PASSWORD" : pe->second;
    const char* pw = std::getenv(var.c_str());
    if (!pw) return Status::invalid_argument("keystore " + ks->second + ": set the password in $" + var);
    return read_keystore(ks->second, pw);
  }
  if (k == u.query.end()) return std::unique_ptr<Secp256k1Signer>();
  std::string hex = k->second;
  if (hex.rfind("env:", 0) == 0) {
    const char* v = std::getenv(hex.substr(4).c_str());
    if (!v) return Status::invalid_argument("key=env:" + hex.substr(4) + ": the variable is not set");
    hex = v;
  }
  if (hex.rfind("0x", 0) != 0) hex = "0x" + hex;
  auto bytes = parse_data_hex(hex, 32);
  if (!bytes.ok() || bytes->size() != 32) return Status::invalid_argument("key= must be 32 bytes of hex");
  SecretBytes secret(std::move(*bytes));
  std::fill(hex.begin(), hex.end(), '\0');
  return Secp256k1Signer::from_secret(secret.span());
}

}  // namespace

// Whether the arguments a block-storing call passed to the contract (as its companion event in the same
// transaction shows them) are the record's: "" if they are (or the record does not decode: the validator
// names it), else what differs.
static std::string argument_mismatch(std::span<const std::uint8_t> record_bytes,
                                     const std::vector<const Log*>& companions) {
  auto rec = decode_record(record_bytes);
  if (!rec.ok()) return "";
  constexpr std::uint64_t kBad = ~std::uint64_t{0};
  auto find = [&](std::string_view event) -> const Log* {
    const Hash32 t = abi::event_topic(event);
    for (const Log* l : companions) {
      if (!l->topics.empty() && l->topics[0] == t) return l;
    }
    return nullptr;
  };
  auto u64 = [](const Value& v) {
    auto r = v.as_u64();
    return r.ok() ? *r : kBad;
  };
  auto topic = [&](const Log& l, std::size_t i, const char* type) {
    if (l.topics.size() <= i) return kBad;
    auto v = abi::decode_topic(*abi::parse_type(type), l.topics[i]);
    return v.ok() ? u64(*v) : kBad;
  };
  // The companion event of `event` with its data decoded as `types`, or nothing.
  auto event_data = [&](std::string_view event,
                        const char* types) -> std::optional<std::pair<const Log*, std::vector<Value>>> {
    const Log* l = find(event);
    if (!l) return std::nullopt;
    auto v = abi::decode(*abi::parse_types(types), l->data);
    if (!v.ok()) return std::nullopt;
    return std::make_pair(l, std::move(*v));
  };
  auto ids = [&](const Value& v) {
    std::vector<std::uint64_t> out;
    for (const Value& x : v.as_array()) out.push_back(u64(x));
    return out;
  };
  const bool same = std::visit(
      [&](const auto& body) -> bool {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, RoundSetup>) {
          auto e = event_data(kSetupEvent, "uint32,bytes32");
          return e && u64(e->second[0]) == body.key_epoch && e->second[1].as_bytes32() == to_hash32(body.params_hash);
        } else if constexpr (std::is_same_v<T, UpdateCommitment>) {
          auto e = event_data(kCommittedEvent, "bytes32");
          return e && topic(*e->first, 1, "uint64") == body.round && topic(*e->first, 2, "uint32") == body.party_id &&
                 e->second[0].as_bytes32() == to_hash32(body.contribution_hash);
        } else if constexpr (std::is_same_v<T, ContributorSet>) {
          auto e = event_data(kContributorsEvent, "bytes32,uint32[]");
          std::vector<std::uint64_t> want;
          for (const auto& c : body.contributions) want.push_back(c.party_id);
          return e && topic(*e->first, 1, "uint64") == body.round &&
                 e->second[0].as_bytes32() == to_hash32(body.aggregate_hash) && ids(e->second[1]) == want;
        } else if constexpr (std::is_same_v<T, RoundResult>) {
          auto e = event_data(kRoundClosedEvent, "bool,uint64,bytes32");
          return e && topic(*e->first, 1, "uint64") == body.round &&
                 e->second[0].as_bool() == (body.status == RoundStatus::kCompleted) &&
                 u64(e->second[1]) == body.model_version_out &&
                 e->second[2].as_bytes32() == to_hash32(body.model_hash_out);
        } else if constexpr (std::is_same_v<T, ModelVersion>) {
          auto e = event_data(kModelEvent, "uint64,bytes32");
          return e && topic(*e->first, 1, "uint64") == body.version && u64(e->second[0]) == body.round &&
                 e->second[1].as_bytes32() == to_hash32(body.model_hash);
        } else if constexpr (std::is_same_v<T, RoundOpen>) {
          auto e = event_data(kRoundOpenedEvent, "uint64,bytes32");
          return e && u64(e->second[0]) == body.round && e->second[1].as_bytes32() == to_hash32(body.params_hash);
        } else if constexpr (std::is_same_v<T, EnsembleSetup>) {
          auto e = event_data(kEnsembleSetupEvent, "bytes32,uint32[],uint32");
          std::vector<std::uint64_t> want;
          for (const auto& m : body.members) want.push_back(m.institution);
          return e && e->second[0].as_bytes32() == to_hash32(body.reference_hash) && ids(e->second[1]) == want &&
                 u64(e->second[2]) == body.secagg_threshold;
        } else if constexpr (std::is_same_v<T, EnsembleRound>) {
          auto e = event_data(kEnsembleRoundEvent, "bytes32,uint32[]");
          std::vector<std::uint64_t> want;
          for (const auto& c : body.contributors) want.push_back(c.institution);
          return e && topic(*e->first, 1, "uint64") == body.round &&
                 e->second[0].as_bytes32() == to_hash32(body.consensus_hash) && ids(e->second[1]) == want;
        } else {
          static_assert(std::is_same_v<T, MemberVersion>);
          auto e = event_data(kMemberVersionEvent, "uint64,uint64,bytes32");
          return e && topic(*e->first, 1, "uint32") == body.institution && u64(e->second[0]) == body.version &&
                 u64(e->second[1]) == body.round && e->second[2].as_bytes32() == to_hash32(body.model_hash);
        }
      },
      rec->body);
  if (same) return "";
  return "the contract's arguments differ from its " + std::string(record_type_name(rec->type())) +
         " record (the chain checked other values than the ledger holds)";
}

struct StoredBlock {
  Bytes record;
  Bytes signatures;
  Address sender;
  Digest hash{};
  // Non-empty: the sender is not one of the record's signers, or the arguments the contract checked
  // (its companion event) are not the record's.
  std::string binding_error;
};

struct EvmLedger::Impl {
  std::unique_ptr<RpcClient> rpc;
  std::uint64_t chain_id = 0;
  std::uint64_t confirmations = 0;
  std::uint64_t from_block = 0;
  bool legacy = false;
  bool read_only = true;
  std::string scheme, host;
  std::uint16_t port = 0;
  std::optional<Address> contract;
  std::unique_ptr<Secp256k1Signer> own_key;              // the URI's key (deploys, funds)
  std::map<Address, const Secp256k1Signer*> local_keys;  // keys this process may send from
  std::map<Address, std::uint64_t> next_nonce;
  std::map<Address, Role> roles;  // members, read from the contract
  // EIP-1559 fee suggestion, reused for a few seconds (2 RPCs per transaction otherwise).
  std::optional<std::pair<U256, U256>> fees;
  Clock::time_point fees_at{};
  // Blocks read back from the contract's events, in height order.
  mutable std::vector<StoredBlock> blocks;
  mutable std::uint64_t scanned_to = 0;  // last chain block scanned (inclusive), valid if scanned_any
  mutable bool scanned_any = false;
  TxStats stats;

  Status load_members();
  Status refresh() const;
  Result<Receipt> send(const Secp256k1Signer& from, std::optional<Address> to, const Bytes& data, const U256& value,
                       const std::string& what);
  Result<Bytes> view(const std::string& signature, const std::vector<Value>& args) const;
};

EvmLedger::EvmLedger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EvmLedger::~EvmLedger() = default;

Result<std::unique_ptr<EvmLedger>> EvmLedger::open(const LedgerUri& uri, bool read_only) {
  if (uri.scheme != "evm" && uri.scheme != "evms") return Status::invalid_argument("not an evm:// URI");
  static const char* kKnown[] = {"contract",      "key",        "keystore", "password_env",
                                 "confirmations", "from_block", "legacy",   "timeout_ms"};
  for (const auto& [k, v] : uri.query) {
    if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown)) {
      return Status::invalid_argument("unknown evm URI key '" + k +
                                      "' (known: contract, key, keystore, password_env, "
                                      "confirmations, from_block, legacy, timeout_ms)");
    }
  }
  if (read_only && (uri.query.count("key") || uri.query.count("keystore"))) {
    return Status::invalid_argument("an audit opens the ledger read-only and needs no key: drop key=/keystore=");
  }
  auto impl = std::make_unique<Impl>();
  impl->scheme = uri.scheme;
  impl->host = uri.host;
  impl->port = uri.port;
  impl->read_only = read_only;
  HEAL_ASSIGN_OR_RETURN(impl->confirmations, query_u64(uri, "confirmations", 0));
  HEAL_ASSIGN_OR_RETURN(impl->from_block, query_u64(uri, "from_block", 0));
  HEAL_ASSIGN_OR_RETURN(std::uint64_t legacy, query_u64(uri, "legacy", 0));
  impl->legacy = legacy != 0;
  HEAL_ASSIGN_OR_RETURN(std::uint64_t timeout_ms, query_u64(uri, "timeout_ms", 10000));
  RpcOptions ro;
  ro.timeout = std::chrono::milliseconds(std::max<std::uint64_t>(timeout_ms, 100));
  const std::string url = (uri.scheme == "evms" ? "https://" : "http://") + uri.host + ":" + std::to_string(uri.port);
  impl->rpc = std::make_unique<RpcClient>(url, ro);
  auto chain = impl->rpc->chain_id();
  if (!chain.ok()) {
    return Status::unavailable("no EVM node answers at " + url + " (" + chain.status().message() +
                               "); is the chain running? For a dev chain: node_modules/.bin/anvil");
  }
  impl->chain_id = *chain;
  if (!read_only) {
    HEAL_ASSIGN_OR_RETURN(impl->own_key, load_key(uri));
    if (impl->own_key) {
      HEAL_ASSIGN_OR_RETURN(Address a, evm::address_of(impl->own_key->identity()));
      impl->local_keys[a] = impl->own_key.get();
    }
  }
  if (auto c = uri.query.find("contract"); c != uri.query.end()) {
    HEAL_ASSIGN_OR_RETURN(Address a, Address::from_hex(c->second));
    auto code = impl->rpc->call("eth_getCode", nlohmann::json::array({a.to_lower_hex(), "latest"}));
    if (!code.ok()) return code.status();
    if (!code->is_string() || code->get<std::string>().size() <= 2) {
      return Status::not_found("no contract at " + a.to_hex() + " on chain " + std::to_string(impl->chain_id));
    }
    impl->contract = a;
    HEAL_RETURN_IF_ERROR(impl->load_members());
  } else if (read_only) {
    return Status::invalid_argument("reading an EVM ledger needs contract=0x… in the URI");
  }
  return std::unique_ptr<EvmLedger>(new EvmLedger(std::move(impl)));
}

Result<Bytes> EvmLedger::Impl::view(const std::string& signature, const std::vector<Value>& args) const {
  HEAL_ASSIGN_OR_RETURN(Bytes data, abi::encode_call(signature, args));
  CallRequest req;
  req.to = contract;
  req.data = std::move(data);
  return rpc->eth_call(req);
}

Status EvmLedger::Impl::load_members() {
  HEAL_ASSIGN_OR_RETURN(Bytes n_raw, view("memberCount()", {}));
  HEAL_ASSIGN_OR_RETURN(auto n_dec, abi::decode(*abi::parse_types("uint256"), n_raw));
  HEAL_ASSIGN_OR_RETURN(std::uint64_t n, n_dec[0].as_u64());
  if (n > 4096) return Status::corruption("the contract reports " + std::to_string(n) + " members");
  roles.clear();
  for (std::uint64_t i = 0; i < n; ++i) {
    HEAL_ASSIGN_OR_RETURN(Bytes raw, view("memberAt(uint256)", {Value::uint(i)}));
    HEAL_ASSIGN_OR_RETURN(auto m, abi::decode(*abi::parse_types("uint32,address,uint8"), raw));
    HEAL_ASSIGN_OR_RETURN(std::uint64_t role, m[2].as_u64());
    roles[m[1].as_address()] = role == 2 ? Role::kCoordinator : Role::kHospital;
  }
  return {};
}

Result<Receipt> EvmLedger::Impl::send(const Secp256k1Signer& from, std::optional<Address> to, const Bytes& data,
                                      const U256& value, const std::string& what) {
  const auto t0 = Clock::now();
  HEAL_ASSIGN_OR_RETURN(Address sender, evm::address_of(from.identity()));
  // Estimating first turns a transaction the contract would revert into a clear error, without
  // spending a nonce and a block on it.
  CallRequest est;
  est.from = sender;
  est.to = to;
  est.data = data;
  if (!value.is_zero()) est.value = value;
  RpcError err;
  auto gas = rpc->call("eth_estimateGas", nlohmann::json::array({est.to_json()}), &err);
  if (!gas.ok()) {
    if (err.code != 0) return Status::failed_precondition("the contract refused " + what + ": " + revert_reason(err));
    return gas.status();
  }
  if (!gas->is_string()) return Status::corruption("eth_estimateGas returned no quantity");
  HEAL_ASSIGN_OR_RETURN(std::uint64_t gas_est, parse_quantity_u64(gas->get<std::string>()));
  const std::uint64_t gas_limit = gas_est + gas_est / 4 + 10'000;

  Status last;
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto nit = next_nonce.find(sender);
    if (nit == next_nonce.end()) {
      HEAL_ASSIGN_OR_RETURN(std::uint64_t n, rpc->get_transaction_count(sender, "pending"));
      nit = next_nonce.emplace(sender, n).first;
    }
    SignedTx tx;
    if (legacy) {
      LegacyTx l;
      l.chain_id = chain_id;
      l.nonce = nit->second;
      HEAL_ASSIGN_OR_RETURN(l.gas_price, rpc->gas_price());
      l.gas_limit = gas_limit;
      l.to = to;
      l.value = value;
      l.data = data;
      tx = sign(l, from);
    } else {
      Eip1559Tx e;
      e.chain_id = chain_id;
      e.nonce = nit->second;
      // maxFee = 2 base fee + tip covers a base fee that doubles before inclusion; refresh it every
      // few seconds, and at once after a refusal (`underpriced`).
      if (!fees || attempt > 0 || Clock::now() - fees_at > std::chrono::seconds(5)) {
        HEAL_ASSIGN_OR_RETURN(auto f, rpc->suggest_eip1559_fees());
        fees = f;
        fees_at = Clock::now();
      }
      e.max_priority_fee_per_gas = fees->first;
      e.max_fee_per_gas = fees->second;
      e.gas_limit = gas_limit;
      e.to = to;
      e.value = value;
      e.data = data;
      tx = sign(e, from);
    }
    RpcError serr;
    auto sent = rpc->call("eth_sendRawTransaction", nlohmann::json::array({to_data_hex(tx.raw)}), &serr);
    if (!sent.ok()) {
      last = sent.status();
      const std::string m = serr.message;
      if (m.find("nonce") != std::string::npos || m.find("already known") != std::string::npos ||
          m.find("underpriced") != std::string::npos) {
        next_nonce.erase(sender);  // re-read the nonce and re-price, then try again
        std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
        continue;
      }
      if (serr.code != 0) return Status::failed_precondition("the node refused " + what + ": " + revert_reason(serr));
      return last;
    }
    ++nit->second;
    HEAL_ASSIGN_OR_RETURN(Receipt r, rpc->wait_for_receipt(tx.hash));
    if (!r.status)
      return Status::failed_precondition(what + " was mined but reverted (transaction " + to_data_hex(tx.hash) + ")");
    if (confirmations > 0) {
      const auto deadline = Clock::now() + std::chrono::minutes(5);
      for (;;) {
        HEAL_ASSIGN_OR_RETURN(std::uint64_t head, rpc->block_number());
        if (head >= r.block_number + confirmations) break;
        if (Clock::now() > deadline) {
          return Status::unavailable(what + ": not " + std::to_string(confirmations) + " blocks deep after 5 minutes");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    ++stats.transactions;
    stats.gas_used += r.gas_used;
    stats.calldata_bytes += data.size();
    stats.seconds += seconds_since(t0);
    return r;
  }
  return Status::unavailable("sending " + what + " failed 4 times: " + last.message());
}

Result<std::string> EvmLedger::fund_and_deploy(const Consortium& c, std::uint64_t wei) {
  std::vector<std::string> accounts;
  for (const auto& m : c.members) accounts.push_back(m.address);
  HEAL_RETURN_IF_ERROR(fund(accounts, wei).with_context("funding the parties' accounts"));
  auto contract = deploy(c);
  if (!contract.ok()) return contract.status().with_context("deploying the federation's contract");
  return contract;
}

Result<std::string> EvmLedger::deploy(const Consortium& c) {
  if (!impl_->own_key) return Status::invalid_argument("deploying needs a key: add key=… or keystore=… to the URI");
  if (impl_->contract) return Status::failed_precondition("this handle is already attached to a contract");
  HEAL_RETURN_IF_ERROR(check_consortium(c));
  std::vector<Value> ids, addrs, roles;
  for (const auto& m : c.members) {
    HEAL_ASSIGN_OR_RETURN(Address a, Address::from_hex(m.address));
    ids.push_back(Value::uint(m.party_id));
    addrs.push_back(Value::address(a));
    roles.push_back(Value::uint(static_cast<std::uint64_t>(m.role)));
  }
  const Hash32 fed = keccak256(c.federation_id);
  HEAL_ASSIGN_OR_RETURN(Bytes args,
                        abi::encode(*abi::parse_types("bytes32,uint32[],address[],uint8[],uint32,uint32"),
                                    {Value::bytes32(fed), Value::array(ids), Value::array(addrs), Value::array(roles),
                                     Value::uint(c.threshold), Value::uint(c.min_contributors)}));
  HEAL_ASSIGN_OR_RETURN(Bytes code, parse_data_hex("0x" + std::string(artifact::kBytecodeHex)));
  code.insert(code.end(), args.begin(), args.end());
  HEAL_ASSIGN_OR_RETURN(Receipt r, impl_->send(*impl_->own_key, std::nullopt, code, U256{}, "the deployment"));
  if (!r.contract_address) return Status::corruption("the deployment receipt names no contract address");
  impl_->contract = *r.contract_address;
  impl_->from_block = r.block_number;
  impl_->blocks.clear();
  impl_->scanned_any = false;
  HEAL_RETURN_IF_ERROR(impl_->load_members());
  return impl_->contract->to_hex();
}

Status EvmLedger::fund(const std::vector<std::string>& addresses, std::uint64_t wei) {
  if (!impl_->own_key) return Status::invalid_argument("funding needs a key: add key=… to the URI");
  for (const auto& s : addresses) {
    HEAL_ASSIGN_OR_RETURN(Address a, Address::from_hex(s));
    HEAL_ASSIGN_OR_RETURN(U256 balance, impl_->rpc->get_balance(a));
    if (balance >= U256::from_u64(wei)) continue;
    HEAL_RETURN_IF_ERROR(impl_->send(*impl_->own_key, a, {}, U256::from_u64(wei), "funding " + a.to_hex()).status());
  }
  return {};
}

Status EvmLedger::check_deployed_consortium(const Consortium& c) const {
  if (!impl_->contract) return Status::failed_precondition("no contract attached");
  const std::string at = "the contract at " + impl_->contract->to_hex();
  auto u64_view = [&](const char* sig) -> Result<std::uint64_t> {
    HEAL_ASSIGN_OR_RETURN(Bytes raw, impl_->view(sig, {}));
    HEAL_ASSIGN_OR_RETURN(auto v, abi::decode(*abi::parse_types("uint256"), raw));
    return v[0].as_u64();
  };
  HEAL_ASSIGN_OR_RETURN(Bytes fed_raw, impl_->view("federationId()", {}));
  HEAL_ASSIGN_OR_RETURN(auto fed, abi::decode(*abi::parse_types("bytes32"), fed_raw));
  if (fed[0].as_bytes32() != keccak256(c.federation_id)) {
    return Status::failed_precondition(at + " belongs to another federation than '" + c.federation_id + "'");
  }
  HEAL_ASSIGN_OR_RETURN(std::uint64_t t, u64_view("threshold()"));
  if (t != c.threshold) {
    return Status::failed_precondition(at + " has decryption threshold " + std::to_string(t) + ", not " +
                                       std::to_string(c.threshold));
  }
  HEAL_ASSIGN_OR_RETURN(std::uint64_t q, u64_view("minContributors()"));
  if (q != c.min_contributors) {
    return Status::failed_precondition(at + " has quorum " + std::to_string(q) + ", not " +
                                       std::to_string(c.min_contributors));
  }
  HEAL_ASSIGN_OR_RETURN(std::uint64_t n, u64_view("memberCount()"));
  if (n != c.members.size()) {
    return Status::failed_precondition(at + " has " + std::to_string(n) + " members, not " +
                                       std::to_string(c.members.size()));
  }
  std::map<std::uint32_t, std::pair<Address, std::uint64_t>> want;
  for (const auto& m : c.members) {
    HEAL_ASSIGN_OR_RETURN(Address a, Address::from_hex(m.address));
    want[m.party_id] = {a, static_cast<std::uint64_t>(m.role)};
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    HEAL_ASSIGN_OR_RETURN(Bytes raw, impl_->view("memberAt(uint256)", {Value::uint(i)}));
    HEAL_ASSIGN_OR_RETURN(auto m, abi::decode(*abi::parse_types("uint32,address,uint8"), raw));
    HEAL_ASSIGN_OR_RETURN(std::uint64_t id, m[0].as_u64());
    HEAL_ASSIGN_OR_RETURN(std::uint64_t role, m[2].as_u64());
    auto it = want.find(static_cast<std::uint32_t>(id));
    if (id > 0xffffffffu || it == want.end() || !(it->second.first == m[1].as_address()) || it->second.second != role) {
      return Status::failed_precondition(at + ": member " + std::to_string(id) + " (" + m[1].as_address().to_hex() +
                                         ") is not in the expected consortium");
    }
    want.erase(it);
  }
  return {};
}

std::string EvmLedger::contract_address() const { return impl_->contract ? impl_->contract->to_hex() : ""; }
std::uint64_t EvmLedger::from_block() const { return impl_->from_block; }

std::string EvmLedger::audit_uri() const {
  std::string s = impl_->scheme + "://" + impl_->host + ":" + std::to_string(impl_->port);
  if (impl_->contract)
    s += "?contract=" + impl_->contract->to_hex() + "&from_block=" + std::to_string(impl_->from_block);
  return s;
}

Result<std::string> EvmLedger::address_of(const Identity& id) {
  HEAL_ASSIGN_OR_RETURN(Address a, evm::address_of(id));
  return a.to_hex();
}

void EvmLedger::add_local_signer(const Signer& signer) {
  const auto* k = dynamic_cast<const Secp256k1Signer*>(&signer);
  if (!k) return;  // not a chain key: its records cannot be sent from here (store() says so)
  auto a = evm::address_of(k->identity());
  if (a.ok()) impl_->local_keys[*a] = k;
}

TxStats EvmLedger::stats() const { return impl_->stats; }

Status EvmLedger::Impl::refresh() const {
  if (!contract)
    return Status::failed_precondition("no contract attached (deploy first, or add contract=0x… to the URI)");
  HEAL_ASSIGN_OR_RETURN(std::uint64_t head, rpc->block_number());
  if (head < confirmations) return {};
  const std::uint64_t until = head - confirmations;
  std::uint64_t start = scanned_any ? scanned_to + 1 : from_block;
  const Hash32 topic = abi::event_topic(kBlockEvent);
  static const auto kDataTypes = *abi::parse_types("bytes,bytes");
  std::vector<Hash32> wanted = {topic};
  for (std::string_view e : {kSetupEvent, kCommittedEvent, kContributorsEvent, kRoundClosedEvent, kModelEvent,
                             kRoundOpenedEvent, kEnsembleSetupEvent, kEnsembleRoundEvent, kMemberVersionEvent}) {
    wanted.push_back(abi::event_topic(e));
  }
  while (start <= until) {
    const std::uint64_t end = std::min(until, start + kLogChunk - 1);
    LogFilter f;
    f.address = contract;
    f.topics = {wanted};
    f.from_block = to_quantity(start);
    f.to_block = to_quantity(end);
    HEAL_ASSIGN_OR_RETURN(std::vector<Log> logs, rpc->get_logs(f));
    std::sort(logs.begin(), logs.end(), [](const Log& a, const Log& b) {
      return a.block_number != b.block_number ? a.block_number < b.block_number : a.log_index < b.log_index;
    });
    // Companion events come before their Block event, in the same transaction.
    std::map<Hash32, std::vector<const Log*>> companions;
    for (const Log& l : logs) {
      if (l.removed) continue;
      if (!l.topics.empty() && l.topics[0] != topic) {
        companions[l.transaction_hash].push_back(&l);
        continue;
      }
      if (l.topics.size() != 3 || l.address != *contract) return Status::corruption("malformed Block event");
      HEAL_ASSIGN_OR_RETURN(Value hv, abi::decode_topic(uint64_type(), l.topics[1]));
      HEAL_ASSIGN_OR_RETURN(std::uint64_t height, hv.as_u64());
      if (height != blocks.size()) {
        return Status::corruption("Block event of height " + std::to_string(height) + " where " +
                                  std::to_string(blocks.size()) + " was expected");
      }
      HEAL_ASSIGN_OR_RETURN(Value sv, abi::decode_topic(address_type(), l.topics[2]));
      HEAL_ASSIGN_OR_RETURN(auto dv, abi::decode(kDataTypes, l.data));
      StoredBlock b;
      b.record = dv[0].as_bytes();
      b.signatures = dv[1].as_bytes();
      b.sender = sv.as_address();
      const Digest prev = blocks.empty() ? Digest{} : blocks.back().hash;
      b.hash = compute_block_hash(height, prev, b.record, b.signatures);
      // The chain authenticated the sender; the block counts only if the sender signed the record.
      b.binding_error =
          "block " + std::to_string(height) + " was sent by " + b.sender.to_hex() + ", which is not one of its signers";
      if (auto sigs = decode_signatures(b.signatures); sigs.ok()) {
        for (const auto& s : *sigs) {
          auto a = evm::address_of(s.signer);
          if (a.ok() && *a == b.sender) b.binding_error.clear();
        }
      } else {
        b.binding_error.clear();  // the validator names the undecodable signature list
      }
      if (b.binding_error.empty()) {
        const auto it = companions.find(l.transaction_hash);
        const std::string why =
            argument_mismatch(b.record, it == companions.end() ? std::vector<const Log*>{} : it->second);
        if (!why.empty()) b.binding_error = "block " + std::to_string(height) + ": " + why;
      }
      blocks.push_back(std::move(b));
    }
    scanned_to = end;
    scanned_any = true;
    start = end + 1;
  }
  return {};
}

Result<std::uint64_t> EvmLedger::size() const {
  HEAL_RETURN_IF_ERROR(impl_->refresh());
  return impl_->blocks.size();
}

Result<Block> EvmLedger::block(std::uint64_t height) const {
  if (height >= impl_->blocks.size()) HEAL_RETURN_IF_ERROR(impl_->refresh());
  if (height >= impl_->blocks.size()) return Status::not_found("no block " + std::to_string(height));
  const StoredBlock& s = impl_->blocks[height];
  if (!s.binding_error.empty()) return Status::corruption(s.binding_error);
  Block b;
  b.height = height;
  b.prev_hash = height == 0 ? Digest{} : impl_->blocks[height - 1].hash;
  b.record = s.record;
  b.signatures = s.signatures;
  b.hash = s.hash;
  return b;
}

Status EvmLedger::store(const Block& b) {
  if (impl_->read_only) return Status::failed_precondition("the ledger is open read-only");
  if (!impl_->contract) return Status::failed_precondition("no contract attached (deploy first)");
  HEAL_ASSIGN_OR_RETURN(Record rec, decode_record(b.record));
  HEAL_ASSIGN_OR_RETURN(std::vector<RecordSignature> sigs, decode_signatures(b.signatures));
  // A block is sent by one of its signers whose key this process holds: the hospital for its
  // commitment or its ensemble member's version, a coordinator for everything else.
  const bool by_hospital = rec.type() == RecordType::kUpdateCommitment || rec.type() == RecordType::kMemberVersion;
  const Secp256k1Signer* from = nullptr;
  for (const auto& s : sigs) {
    auto a = evm::address_of(s.signer);
    if (!a.ok()) continue;
    auto k = impl_->local_keys.find(*a);
    auto r = impl_->roles.find(*a);
    if (k == impl_->local_keys.end() || r == impl_->roles.end()) continue;
    if ((r->second == Role::kHospital) == by_hospital) {
      from = k->second;
      break;
    }
  }
  if (!from) {
    return Status::failed_precondition(
        "no key of this " + std::string(record_type_name(rec.type())) +
        " record's signers is held here with the member role the contract requires (a block is a transaction from "
        "its signer's account; ledger keys must be secp256k1)");
  }
  const Value rv = Value::bytes(b.record), sv = Value::bytes(b.signatures);
  std::string fn;
  std::vector<Value> args;
  struct V {
    std::string& fn;
    std::vector<Value>& a;
    void operator()(const RoundSetup& s) {
      fn = "postSetup(uint32,bytes32,bytes,bytes)";
      a = {Value::uint(s.key_epoch), Value::bytes32(to_hash32(s.params_hash))};
    }
    void operator()(const ModelVersion& m) {
      fn = "postModel(uint64,uint64,bytes32,bytes,bytes)";
      a = {Value::uint(m.version), Value::uint(m.round), Value::bytes32(to_hash32(m.model_hash))};
    }
    void operator()(const RoundOpen& o) {
      fn = "openRound(uint64,bytes32,bytes,bytes)";
      a = {Value::uint(o.round), Value::bytes32(to_hash32(o.params_hash))};
    }
    void operator()(const UpdateCommitment& c) {
      fn = "commit(uint64,bytes32,bytes,bytes)";
      a = {Value::uint(c.round), Value::bytes32(to_hash32(c.contribution_hash))};
    }
    void operator()(const ContributorSet& cs) {
      fn = "postContributors(uint64,uint32[],bytes32,bytes,bytes)";
      std::vector<std::uint32_t> ids;
      for (const auto& c : cs.contributions) ids.push_back(c.party_id);
      a = {Value::uint(cs.round), u32_array(ids), Value::bytes32(to_hash32(cs.aggregate_hash))};
    }
    void operator()(const RoundResult& x) {
      fn = "postResult(uint64,bool,bytes32,uint64,bytes32,bytes32,uint64,bytes32,uint32[],bytes,bytes)";
      std::vector<std::uint32_t> dec = x.decryptors;
      std::sort(dec.begin(), dec.end());
      a = {Value::uint(x.round),
           Value::boolean(x.status == RoundStatus::kCompleted),
           Value::bytes32(to_hash32(x.aggregate_hash)),
           Value::uint(x.model_version_out),
           Value::bytes32(to_hash32(x.model_hash_out)),
           Value::bytes32(to_hash32(blake2b_256(x.metrics_json))),
           Value::uint(double_bits(x.clip_norm)),
           Value::bytes32(to_hash32(blake2b_256(x.strategy))),
           u32_array(dec)};
    }
    // Ensemble records (issue 17): the contract checks membership, order and who sends what.
    void operator()(const EnsembleSetup& e) {
      fn = "postEnsembleSetup(uint32[],uint32,bytes32,bytes,bytes)";
      std::vector<std::uint32_t> ids;
      for (const auto& m : e.members) ids.push_back(m.institution);
      a = {u32_array(ids), Value::uint(e.secagg_threshold), Value::bytes32(to_hash32(e.reference_hash))};
    }
    void operator()(const MemberVersion& m) {
      fn = "postMemberVersion(uint32,uint64,uint64,bytes32,bytes,bytes)";
      a = {Value::uint(m.institution), Value::uint(m.version), Value::uint(m.round),
           Value::bytes32(to_hash32(m.model_hash))};
    }
    void operator()(const EnsembleRound& er) {
      fn = "postEnsembleRound(uint64,uint32[],bytes32,bytes,bytes)";
      std::vector<std::uint32_t> ids;
      for (const auto& c : er.contributors) ids.push_back(c.institution);
      a = {Value::uint(er.round), u32_array(ids), Value::bytes32(to_hash32(er.consensus_hash))};
    }
  };
  std::visit(V{fn, args}, rec.body);
  args.push_back(rv);
  args.push_back(sv);
  HEAL_ASSIGN_OR_RETURN(Bytes data, abi::encode_call(fn, args));
  const std::string what = std::string(record_type_name(rec.type())) + " block " + std::to_string(b.height);
  HEAL_ASSIGN_OR_RETURN(Receipt r, impl_->send(*from, impl_->contract, data, U256{}, what));
  // The contract assigned the height; it must be the one the block was validated for.
  const Hash32 topic = abi::event_topic(kBlockEvent);
  for (const Log& l : r.logs) {
    if (l.topics.size() == 3 && l.topics[0] == topic && l.address == *impl_->contract) {
      HEAL_ASSIGN_OR_RETURN(Value hv, abi::decode_topic(uint64_type(), l.topics[1]));
      HEAL_ASSIGN_OR_RETURN(std::uint64_t h, hv.as_u64());
      if (h != b.height) {
        return Status::failed_precondition("another writer appended first: the " + what + " landed at height " +
                                           std::to_string(h) + "; catch up and retry");
      }
      return {};
    }
  }
  return Status::corruption("the " + what + " transaction emitted no Block event");
}

Status check_consortium(const Consortium& c) {
  auto refuse = [](const std::string& error, const std::string& why) {
    return Status::invalid_argument("consortium refused (the contract would revert " + error + "): " + why);
  };
  std::uint64_t n = 0;  // hospitals
  for (std::size_t i = 0; i < c.members.size(); ++i) {
    const ConsortiumMember& m = c.members[i];
    if (m.role != Role::kHospital && m.role != Role::kCoordinator) {
      return refuse("BadRole", "member " + std::to_string(m.party_id) + " is neither hospital nor coordinator");
    }
    auto a = Address::from_hex(m.address);
    if (!a.ok()) return a.status().with_context("consortium member " + std::to_string(m.party_id));
    if (a->is_zero()) return refuse("BadAddress", "member " + std::to_string(m.party_id) + " has the zero address");
    for (std::size_t j = 0; j < i; ++j) {
      if (c.members[j].party_id == m.party_id) {
        return refuse("DuplicateParty", "party " + std::to_string(m.party_id) + " is listed twice");
      }
      if (auto b = Address::from_hex(c.members[j].address); b.ok() && *b == *a) {
        return refuse("DuplicateAddress", "address " + a->to_hex() + " is listed twice");
      }
    }
    if (m.role == Role::kHospital) ++n;
  }
  const std::uint64_t t = c.threshold, m = c.min_contributors;
  const std::string tn = "t = " + std::to_string(t) + " of n = " + std::to_string(n) + " hospitals";
  if (n == 0) return refuse("NoHospital", "no member is a hospital");
  if (t < 2) {
    return refuse("ThresholdBelowTwo", tn + ": t >= 2 always (" +
                                           (t == 0 ? std::string("the contract needs a threshold decryption key")
                                                   : std::string("a 1-of-n key gives every hospital every secret")) +
                                           ")");
  }
  if (t > n) return refuse("BadThreshold", tn + ": t above n (no t hospitals could ever decrypt)");
  if (2 * t <= n) {
    return refuse("ThresholdNotMajority", tn + ": t > n/2 is needed (two disjoint quorums could decrypt two "
                                               "contributor sets in one round, whose difference is one update)");
  }
  if (m > n) {
    return refuse("BadMinContributors",
                  "min_contributors " + std::to_string(m) + " above n = " + std::to_string(n) + " hospitals");
  }
  // Colluders tolerated c = t - 1, floor max(3, c + 2) (HeAggregator's default).
  const std::uint64_t floor = std::max<std::uint64_t>(3, t + 1);
  if (m < floor) {
    return refuse("MinContributorsBelowFloor",
                  "min_contributors " + std::to_string(m) + " below max(3, t + 1) = " + std::to_string(floor) +
                      " for " + tn + " (t - 1 colluders inside a sum must leave >= 2 honest contributions)");
  }
  return {};
}

Result<Consortium> consortium_of(std::string federation_id, const std::vector<Participant>& participants,
                                 std::uint32_t threshold, std::uint32_t min_contributors) {
  Consortium c;
  c.federation_id = std::move(federation_id);
  c.threshold = threshold;
  c.min_contributors = min_contributors;
  for (const auto& p : participants) {
    auto a = evm::address_of(p.identity);
    if (!a.ok()) {
      return Status::invalid_argument("participant " + std::to_string(p.party_id) +
                                      " has no secp256k1 key, so no chain account (" + a.status().message() + ")");
    }
    c.members.push_back({p.party_id, p.role, p.name, a->to_hex()});
  }
  HEAL_RETURN_IF_ERROR(check_consortium(c));
  return c;
}

Status check_ensemble_size(std::size_t institutions) {
  if (institutions < 3) {
    return Status::invalid_argument(
        "an ensemble on an EVM chain needs >= 3 institutions (the contract's threshold rules: t >= 2 and t > n/2, "
        "and a quorum of max(3, t + 1)); use a SQLite ledger");
  }
  return {};
}

Result<Consortium> ensemble_consortium_of(std::string federation_id, const std::vector<Participant>& participants,
                                          std::uint32_t secagg_threshold) {
  return consortium_of(std::move(federation_id), participants, secagg_threshold, std::max(3u, secagg_threshold + 1));
}

Result<Consortium> parse_consortium(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::invalid_argument("consortium file: not a JSON object");
  Consortium c;
  auto need = [&](const char* k) {
    return j.contains(k) ? Status{} : Status::invalid_argument(std::string("consortium file: missing \"") + k + "\"");
  };
  HEAL_RETURN_IF_ERROR(need("federation_id"));
  HEAL_RETURN_IF_ERROR(need("threshold"));
  HEAL_RETURN_IF_ERROR(need("min_contributors"));
  HEAL_RETURN_IF_ERROR(need("members"));
  if (!j["federation_id"].is_string() || j["federation_id"].get<std::string>().empty()) {
    return Status::invalid_argument("consortium file: federation_id must be a non-empty string");
  }
  c.federation_id = j["federation_id"].get<std::string>();
  for (const char* k : {"threshold", "min_contributors"}) {
    if (!j[k].is_number_unsigned() || j[k].get<std::uint64_t>() == 0 || j[k].get<std::uint64_t>() > 4096) {
      return Status::invalid_argument(std::string("consortium file: ") + k + " must be an integer in [1, 4096]");
    }
  }
  c.threshold = j["threshold"].get<std::uint32_t>();
  c.min_contributors = j["min_contributors"].get<std::uint32_t>();
  if (!j["members"].is_array() || j["members"].empty() || j["members"].size() > 4096) {
    return Status::invalid_argument("consortium file: members must be a non-empty array");
  }
  for (const auto& m : j["members"]) {
    if (!m.is_object() || !m.contains("party_id") || !m.contains("role") || !m.contains("address") ||
        !m["party_id"].is_number_unsigned() || !m["role"].is_string() || !m["address"].is_string() ||
        m["party_id"].get<std::uint64_t>() > 0xffffffffu) {
      return Status::invalid_argument("consortium file: each member needs party_id, role and address");
    }
    ConsortiumMember cm;
    cm.party_id = m["party_id"].get<std::uint32_t>();
    const std::string role = m["role"].get<std::string>();
    if (role != "hospital" && role != "coordinator") {
      return Status::invalid_argument("consortium file: role must be hospital or coordinator, not '" + role + "'");
    }
    cm.role = role == "hospital" ? Role::kHospital : Role::kCoordinator;
    cm.name = m.value("name", "");
    cm.address = m["address"].get<std::string>();
    HEAL_RETURN_IF_ERROR(
        Address::from_hex(cm.address).status().with_context("consortium member " + std::to_string(cm.party_id)));
    c.members.push_back(std::move(cm));
  }
  HEAL_RETURN_IF_ERROR(check_consortium(c).with_context("consortium file"));
  return c;
}

}  // namespace heal::ledger::evm
