#include "ledger/backends/evm/rpc_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <thread>

namespace heal::ledger::evm {
namespace {

using nlohmann::json;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void ensure_curl() { static CurlGlobal g; }

struct Sink {
  std::string body;
  std::size_t limit = 0;
  bool overflow = false;
};

std::size_t write_cb(char* p, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  const std::size_t bytes = size * n;
  if (s->body.size() + bytes > s->limit) {
    s->overflow = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  s->body.append(p, bytes);
  return bytes;
}

std::string shown(const std::string& url) {
  const std::size_t scheme = url.find("://");
  const std::size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  std::size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = url.size();
  std::string host = url.substr(host_start, host_end - host_start);
  const std::size_t at = host.rfind('@');
  if (at != std::string::npos) host = host.substr(at + 1);
  return url.substr(0, host_start) + host;
}

Status bad_response(const std::string& method, const std::string& what) {
  return Status::corruption("JSON-RPC " + method + ": " + what);
}

Result<std::string> get_string(const json& j, const char* key, const std::string& ctx) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return Status::corruption(ctx + ": field '" + key + "' missing or not a string");
  return it->get<std::string>();
}

template <typename T, typename F>
Result<T> field(const json& j, const char* key, const std::string& ctx, F parse) {
  HEAL_ASSIGN_OR_RETURN(const std::string s, get_string(j, key, ctx));
  auto r = parse(s);
  if (!r.ok()) return Status::corruption(ctx + ": field '" + key + "': " + r.status().message());
  return std::move(r).value();
}

Result<std::optional<Address>> optional_address(const json& j, const char* key, const std::string& ctx) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<Address>{};
  HEAL_ASSIGN_OR_RETURN(const Address a, field<Address>(j, key, ctx, [](const std::string& s) {
                          // Nodes send lower-case addresses; accept any case here (no checksum intent).
                          std::string lower = s;
                          std::transform(lower.begin(), lower.end(), lower.begin(),
                                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                          return Address::from_hex(lower);
                        }));
  return std::optional<Address>(a);
}

Result<Address> required_address(const json& j, const char* key, const std::string& ctx) {
  HEAL_ASSIGN_OR_RETURN(const auto a, optional_address(j, key, ctx));
  if (!a) return Status::corruption(ctx + ": field '" + key + "' missing");
  return *a;
}

auto as_u64 = [](const std::string& s) { return parse_quantity_u64(s); };
auto as_u256 = [](const std::string& s) { return U256::from_quantity(s); };
auto as_hash = [](const std::string& s) { return parse_hash32(s); };
auto as_data = [](const std::string& s) { return parse_data_hex(s); };

}  // namespace

std::optional<std::array<std::uint8_t, 4>> RpcError::selector() const {
  auto b = parse_data_hex(data);
  if (!b.ok() || b->size() < 4) return std::nullopt;
  return std::array<std::uint8_t, 4>{(*b)[0], (*b)[1], (*b)[2], (*b)[3]};
}

json CallRequest::to_json() const {
  json j = json::object();
  if (from) j["from"] = from->to_lower_hex();
  if (to) j["to"] = to->to_lower_hex();
  j["data"] = to_data_hex(data);
  if (value) j["value"] = value->to_quantity();
  if (gas) j["gas"] = to_quantity(*gas);
  return j;
}

Result<Log> parse_log(const json& j) {
  const std::string ctx = "log";
  if (!j.is_object()) return Status::corruption("log is not an object");
  Log l;
  HEAL_ASSIGN_OR_RETURN(l.address, required_address(j, "address", ctx));
  auto t = j.find("topics");
  if (t == j.end() || !t->is_array() || t->size() > 4) return Status::corruption("log: topics missing or more than 4");
  for (const auto& topic : *t) {
    if (!topic.is_string()) return Status::corruption("log: topic is not a string");
    auto h = parse_hash32(topic.get<std::string>());
    if (!h.ok()) return Status::corruption("log: topic: " + h.status().message());
    l.topics.push_back(*h);
  }
  HEAL_ASSIGN_OR_RETURN(l.data, field<Bytes>(j, "data", ctx, as_data));
  HEAL_ASSIGN_OR_RETURN(l.block_number, field<std::uint64_t>(j, "blockNumber", ctx, as_u64));
  HEAL_ASSIGN_OR_RETURN(l.block_hash, field<Hash32>(j, "blockHash", ctx, as_hash));
  HEAL_ASSIGN_OR_RETURN(l.transaction_hash, field<Hash32>(j, "transactionHash", ctx, as_hash));
  HEAL_ASSIGN_OR_RETURN(l.log_index, field<std::uint64_t>(j, "logIndex", ctx, as_u64));
  auto rm = j.find("removed");
  if (rm != j.end()) {
    if (!rm->is_boolean()) return Status::corruption("log: removed is not a bool");
    l.removed = rm->get<bool>();
  }
  return l;
}

Result<Receipt> parse_receipt(const json& j) {
  const std::string ctx = "receipt";
  if (!j.is_object()) return Status::corruption("receipt is not an object");
  Receipt r;
  HEAL_ASSIGN_OR_RETURN(r.transaction_hash, field<Hash32>(j, "transactionHash", ctx, as_hash));
  HEAL_ASSIGN_OR_RETURN(r.block_number, field<std::uint64_t>(j, "blockNumber", ctx, as_u64));
  HEAL_ASSIGN_OR_RETURN(r.block_hash, field<Hash32>(j, "blockHash", ctx, as_hash));
  HEAL_ASSIGN_OR_RETURN(const std::uint64_t status, field<std::uint64_t>(j, "status", ctx, as_u64));
  if (status > 1) return Status::corruption("receipt: status " + std::to_string(status));
  r.status = status == 1;
  HEAL_ASSIGN_OR_RETURN(r.from, required_address(j, "from", ctx));
  HEAL_ASSIGN_OR_RETURN(r.to, optional_address(j, "to", ctx));
  HEAL_ASSIGN_OR_RETURN(r.contract_address, optional_address(j, "contractAddress", ctx));
  HEAL_ASSIGN_OR_RETURN(r.gas_used, field<std::uint64_t>(j, "gasUsed", ctx, as_u64));
  if (j.contains("effectiveGasPrice")) {
    HEAL_ASSIGN_OR_RETURN(r.effective_gas_price, field<U256>(j, "effectiveGasPrice", ctx, as_u256));
  }
  auto logs = j.find("logs");
  if (logs == j.end() || !logs->is_array()) return Status::corruption("receipt: logs missing or not an array");
  for (const auto& l : *logs) {
    HEAL_ASSIGN_OR_RETURN(Log log, parse_log(l));
    r.logs.push_back(std::move(log));
  }
  return r;
}

RpcClient::RpcClient(std::string url, RpcOptions options)
    : url_(std::move(url)), shown_url_(shown(url_)), options_(options) {}

void RpcClient::CurlDeleter::operator()(void* c) const { curl_easy_cleanup(static_cast<CURL*>(c)); }

Result<std::string> RpcClient::post(const std::string& body, long* http_status) {
  ensure_curl();
  if (!curl_) {
    curl_.reset(curl_easy_init());
    if (!curl_) return Status::internal("curl_easy_init failed");
  }
  CURL* c = static_cast<CURL*>(curl_.get());
  curl_easy_reset(c);  // options back to defaults; the connection cache is kept
  Sink sink;
  sink.limit = options_.max_response_bytes;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip before a large body
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  const CURLcode rc = curl_easy_perform(c);
  *http_status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http_status);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) curl_.reset();  // never reuse a handle whose connection failed
  if (sink.overflow) {
    return Status::out_of_range("JSON-RPC response from " + shown_url_ + " exceeds " +
                                std::to_string(options_.max_response_bytes) + " bytes");
  }
  if (rc != CURLE_OK) return Status::unavailable("JSON-RPC " + shown_url_ + ": " + curl_easy_strerror(rc));
  return std::move(sink.body);
}

Result<json> RpcClient::call(const std::string& method, const json& params, RpcError* error) {
  if (!params.is_array()) return Status::invalid_argument("JSON-RPC params must be an array");
  const std::uint64_t id = next_id_++;
  const std::string body = json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
  std::chrono::milliseconds delay = options_.backoff_initial;
  Status last;
  std::string text;
  long final_http = 0;
  bool got = false;
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(delay);
      delay = std::min(delay * 2, options_.backoff_max);
    }
    long http = 0;
    auto r = post(body, &http);
    if (!r.ok()) {
      last = r.status();
      if (last.code() == StatusCode::kUnavailable) continue;  // transport error: retry
      return last;
    }
    if (http == 429 || (http >= 500 && http <= 599)) {
      last = Status::unavailable("JSON-RPC " + method + ": HTTP " + std::to_string(http) + " from " + shown_url_);
      continue;
    }
    final_http = http;
    text = std::move(r).value();
    got = true;
    break;
  }
  if (!got) {
    return Status::unavailable(last.message() + " (after " + std::to_string(options_.max_retries + 1) + " attempts)");
  }
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  // Some nodes answer a JSON-RPC error with HTTP 400; anything else that is not 200 and carries no
  // JSON-RPC object is an HTTP failure (not retried: the request itself was refused).
  if (final_http != 200 && (j.is_discarded() || !j.is_object() || !j.contains("jsonrpc"))) {
    return Status::unavailable("JSON-RPC " + method + ": HTTP " + std::to_string(final_http) + " from " + shown_url_);
  }
  if (j.is_discarded() || !j.is_object()) return bad_response(method, "response is not a JSON object");
  auto v = j.find("jsonrpc");
  if (v == j.end() || *v != "2.0") return bad_response(method, "response lacks jsonrpc \"2.0\"");
  auto rid = j.find("id");
  if (rid == j.end() || !rid->is_number_unsigned() || rid->get<std::uint64_t>() != id) {
    return bad_response(method, "response id does not match the request id " + std::to_string(id));
  }
  const bool has_result = j.contains("result"), has_error = j.contains("error");
  if (has_result == has_error) return bad_response(method, "response must have exactly one of result and error");
  if (has_error) {
    const json& e = j["error"];
    if (!e.is_object() || !e.contains("code") || !e["code"].is_number_integer() || !e.contains("message") ||
        !e["message"].is_string()) {
      return bad_response(method, "malformed error object");
    }
    RpcError err;
    err.code = e["code"].get<std::int64_t>();
    err.message = e["message"].get<std::string>();
    if (e.contains("data")) err.data = e["data"].is_string() ? e["data"].get<std::string>() : e["data"].dump();
    if (err.message.size() > 4096) err.message.resize(4096);
    std::string msg = "JSON-RPC error " + std::to_string(err.code) + ": " + err.message;
    if (!err.data.empty()) msg += " (data " + err.data.substr(0, 4096) + ")";
    if (error != nullptr) *error = std::move(err);
    return Status::failed_precondition(method + ": " + msg);
  }
  return j["result"];
}

namespace {
template <typename T, typename F>
Result<T> parse_result(const std::string& method, const json& r, F parse) {
  if (!r.is_string()) return bad_response(method, "result is not a string");
  auto v = parse(r.get<std::string>());
  if (!v.ok()) return bad_response(method, v.status().message());
  return std::move(v).value();
}
}  // namespace

Result<std::uint64_t> RpcClient::chain_id() {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_chainId", json::array()));
  return parse_result<std::uint64_t>("eth_chainId", r, as_u64);
}

Result<std::uint64_t> RpcClient::block_number() {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_blockNumber", json::array()));
  return parse_result<std::uint64_t>("eth_blockNumber", r, as_u64);
}

Result<U256> RpcClient::get_balance(const Address& a, const std::string& block) {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_getBalance", json::array({a.to_lower_hex(), block})));
  return parse_result<U256>("eth_getBalance", r, as_u256);
}

Result<std::uint64_t> RpcClient::get_transaction_count(const Address& a, const std::string& block) {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_getTransactionCount", json::array({a.to_lower_hex(), block})));
  return parse_result<std::uint64_t>("eth_getTransactionCount", r, as_u64);
}

Result<U256> RpcClient::gas_price() {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_gasPrice", json::array()));
  return parse_result<U256>("eth_gasPrice", r, as_u256);
}

Result<U256> RpcClient::max_priority_fee_per_gas() {
  RpcError err;
  auto r = call("eth_maxPriorityFeePerGas", json::array(), &err);
  if (!r.ok()) {
    // -32601: method not found (nodes without EIP-1559 helpers): fall back to the legacy price.
    if (r.status().code() == StatusCode::kFailedPrecondition && err.code == -32601) return gas_price();
    return r.status();
  }
  return parse_result<U256>("eth_maxPriorityFeePerGas", *r, as_u256);
}

Result<U256> RpcClient::latest_base_fee() {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_getBlockByNumber", json::array({"latest", false})));
  if (!r.is_object()) return bad_response("eth_getBlockByNumber", "result is not a block object");
  if (!r.contains("baseFeePerGas")) return U256{};
  return parse_result<U256>("eth_getBlockByNumber", r["baseFeePerGas"], as_u256);
}

Result<std::pair<U256, U256>> RpcClient::suggest_eip1559_fees() {
  HEAL_ASSIGN_OR_RETURN(const U256 tip, max_priority_fee_per_gas());
  HEAL_ASSIGN_OR_RETURN(const U256 base, latest_base_fee());
  HEAL_ASSIGN_OR_RETURN(const U256 twice, U256::add(base, base));
  HEAL_ASSIGN_OR_RETURN(const U256 max_fee, U256::add(twice, tip));
  return std::make_pair(tip, max_fee);
}

Result<std::uint64_t> RpcClient::estimate_gas(const CallRequest& req) {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_estimateGas", json::array({req.to_json()})));
  return parse_result<std::uint64_t>("eth_estimateGas", r, as_u64);
}

Result<Hash32> RpcClient::send_raw_transaction(std::span<const std::uint8_t> raw) {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_sendRawTransaction", json::array({to_data_hex(raw)})));
  HEAL_ASSIGN_OR_RETURN(const Hash32 h, parse_result<Hash32>("eth_sendRawTransaction", r, as_hash));
  if (h != keccak256(raw)) return bad_response("eth_sendRawTransaction", "node returned a different transaction hash");
  return h;
}

Result<std::optional<Receipt>> RpcClient::get_transaction_receipt(const Hash32& tx_hash) {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_getTransactionReceipt", json::array({to_data_hex(tx_hash)})));
  if (r.is_null()) return std::optional<Receipt>{};
  auto rec = parse_receipt(r);
  if (!rec.ok()) return bad_response("eth_getTransactionReceipt", rec.status().message());
  if (rec->transaction_hash != tx_hash)
    return bad_response("eth_getTransactionReceipt", "receipt of another transaction");
  return std::optional<Receipt>(std::move(rec).value());
}

Result<Receipt> RpcClient::wait_for_receipt(const Hash32& tx_hash, std::chrono::milliseconds timeout,
                                            std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    HEAL_ASSIGN_OR_RETURN(auto rec, get_transaction_receipt(tx_hash));
    if (rec) return std::move(*rec);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::unavailable("no receipt for transaction " + to_data_hex(tx_hash) + " after " +
                                 std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(poll);
  }
}

Result<Bytes> RpcClient::eth_call(const CallRequest& req, const std::string& block, RpcError* error) {
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_call", json::array({req.to_json(), block}), error));
  return parse_result<Bytes>("eth_call", r, as_data);
}

Result<std::vector<Log>> RpcClient::get_logs(const LogFilter& f) {
  json q = json::object();
  if (f.address) q["address"] = f.address->to_lower_hex();
  q["fromBlock"] = f.from_block;
  q["toBlock"] = f.to_block;
  json topics = json::array();
  for (const auto& alts : f.topics) {
    if (alts.empty()) {
      topics.push_back(nullptr);
    } else if (alts.size() == 1) {
      topics.push_back(to_data_hex(alts[0]));
    } else {
      json a = json::array();
      for (const auto& t : alts) a.push_back(to_data_hex(t));
      topics.push_back(a);
    }
  }
  q["topics"] = topics;
  HEAL_ASSIGN_OR_RETURN(const json r, call("eth_getLogs", json::array({q})));
  if (!r.is_array()) return bad_response("eth_getLogs", "result is not an array");
  std::vector<Log> out;
  out.reserve(r.size());
  for (const auto& l : r) {
    auto log = parse_log(l);
    if (!log.ok()) return bad_response("eth_getLogs", log.status().message());
    out.push_back(std::move(log).value());
  }
  return out;
}

}  // namespace heal::ledger::evm
