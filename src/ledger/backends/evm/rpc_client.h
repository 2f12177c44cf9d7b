// Ethereum JSON-RPC 2.0 client over HTTP(S) (libcurl). Transport failures and HTTP 429 / 5xx are
// retried with exponential backoff; a JSON-RPC error (a revert, a nonce too low) is never retried and
// comes back as a Status carrying its code, message and `data` (a revert's custom-error selector).
// Responses are size-bounded and strictly validated (jsonrpc "2.0", the request's id, exactly one of
// result / error).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "ledger/backends/evm/types.h"

namespace heal::ledger::evm {

struct RpcOptions {
  std::chrono::milliseconds timeout{10000};  // whole request
  int max_retries = 4;                       // retries after the first attempt
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  std::size_t max_response_bytes = std::size_t{32} << 20;
};

/// A JSON-RPC error object. Status messages of such errors read
/// "JSON-RPC error <code>: <message>[ (data <data>)]"; code FailedPrecondition.
struct RpcError {
  std::int64_t code = 0;
  std::string message;
  std::string data;  // "0x..." revert data when the node sends it, else "" (or the JSON text of `data`)
  /// The first 4 bytes of `data` (a Solidity custom error selector), if present.
  std::optional<std::array<std::uint8_t, 4>> selector() const;
};

/// eth_call / eth_estimateGas request object.
struct CallRequest {
  std::optional<Address> from;
  std::optional<Address> to;
  Bytes data;
  std::optional<U256> value;
  std::optional<std::uint64_t> gas;
  nlohmann::json to_json() const;
};

struct Log {
  Address address;
  std::vector<Hash32> topics;
  Bytes data;
  std::uint64_t block_number = 0;
  Hash32 block_hash{};
  Hash32 transaction_hash{};
  std::uint64_t log_index = 0;
  bool removed = false;
};

struct Receipt {
  Hash32 transaction_hash{};
  std::uint64_t block_number = 0;
  Hash32 block_hash{};
  bool status = false;  // 1 = success, 0 = reverted
  Address from;
  std::optional<Address> to;
  std::optional<Address> contract_address;
  std::uint64_t gas_used = 0;
  U256 effective_gas_price;
  std::vector<Log> logs;
};

struct LogFilter {
  std::optional<Address> address;
  /// Per position: empty = any; otherwise one of these topics.
  std::vector<std::vector<Hash32>> topics;
  std::string from_block = "0x0";  // quantity or "latest" / "earliest" / "pending" / "safe" / "finalized"
  std::string to_block = "latest";
};

/// Strict parsers of node objects (exposed for tests).
Result<Log> parse_log(const nlohmann::json& j);
Result<Receipt> parse_receipt(const nlohmann::json& j);

/// One client per thread (it numbers its requests); libcurl handles are per call.
class RpcClient {
 public:
  explicit RpcClient(std::string url, RpcOptions options = {});

  /// One JSON-RPC call; `params` must be an array. On a JSON-RPC error the Status is
  /// FailedPrecondition and `*error` (if given) receives the error object.
  Result<nlohmann::json> call(const std::string& method, const nlohmann::json& params, RpcError* error = nullptr);

  Result<std::uint64_t> chain_id();
  Result<std::uint64_t> block_number();
  Result<U256> get_balance(const Address& a, const std::string& block = "latest");
  Result<std::uint64_t> get_transaction_count(const Address& a, const std::string& block = "pending");
  Result<U256> gas_price();
  /// eth_maxPriorityFeePerGas; falls back to eth_gasPrice when the node lacks the method.
  Result<U256> max_priority_fee_per_gas();
  /// baseFeePerGas of the latest block (zero when the block has none, e.g. a legacy chain).
  Result<U256> latest_base_fee();
  /// {maxPriorityFeePerGas, maxFeePerGas = 2 * base fee + priority fee} (the usual wallet rule).
  Result<std::pair<U256, U256>> suggest_eip1559_fees();
  Result<std::uint64_t> estimate_gas(const CallRequest& req);
  /// Returns the node's transaction hash after checking it equals keccak256(raw).
  Result<Hash32> send_raw_transaction(std::span<const std::uint8_t> raw);
  /// nullopt while the transaction is pending or unknown.
  Result<std::optional<Receipt>> get_transaction_receipt(const Hash32& tx_hash);
  /// Polls for the receipt every `poll` until `timeout` (Unavailable on timeout).
  Result<Receipt> wait_for_receipt(const Hash32& tx_hash, std::chrono::milliseconds timeout = std::chrono::seconds(60),
                                   std::chrono::milliseconds poll = std::chrono::milliseconds(20));
  /// eth_call; on a revert the Status carries the revert data (see RpcError).
  Result<Bytes> eth_call(const CallRequest& req, const std::string& block = "latest", RpcError* error = nullptr);
  Result<std::vector<Log>> get_logs(const LogFilter& filter);

  const std::string& url() const { return url_; }

 private:
  Result<std::string> post(const std::string& body, long* http_status);
  std::string url_;
  std::string shown_url_;  // scheme://host[:port] only: no credentials or API keys in messages
  RpcOptions options_;
  std::uint64_t next_id_ = 1;
  // One libcurl handle per client, so its connection is kept alive between requests (dropped after
  // a transport error). On a loopback anvil this made no measurable difference; on a remote TLS
  // endpoint it saves a handshake per call.
  struct CurlDeleter {
    void operator()(void* c) const;
  };
  std::unique_ptr<void, CurlDeleter> curl_;
};

}  // namespace heal::ledger::evm
