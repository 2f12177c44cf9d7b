// JSON-RPC client against a scripted local HTTP server: retries with backoff on transport errors and
// HTTP 429 / 5xx, no retry on JSON-RPC errors (which carry code, message and revert data), strict
// response validation, bounded response size.
#include "ledger/backends/evm/rpc_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace heal::ledger::evm {
namespace {

using nlohmann::json;

// Answers each HTTP request with the next scripted (status, body); "{id}" in a body becomes the
// request's JSON-RPC id. One request per connection.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::pair<int, std::string>> script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(::listen(fd_, 8), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://user:secret@127.0.0.1:" + std::to_string(port_) + "/rpc?apikey=k"; }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      std::size_t want = std::string::npos;
      while (true) {
        const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
        const std::size_t hdr = req.find("\r\n\r\n");
        if (hdr != std::string::npos && want == std::string::npos) {
          const std::size_t cl = req.find("Content-Length: ");
          want = hdr + 4 + (cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16)));
        }
        if (want != std::string::npos && req.size() >= want) break;
      }
      const std::size_t i = static_cast<std::size_t>(requests_++);
      const auto& [status, body_tmpl] = script_[std::min(i, script_.size() - 1)];
      std::string body = body_tmpl;
      const std::size_t hdr = req.find("\r\n\r\n");
      if (hdr != std::string::npos) {
        const json r = json::parse(req.substr(hdr + 4), nullptr, false);
        const std::size_t at = body.find("{id}");
        if (at != std::string::npos && !r.is_discarded()) body.replace(at, 4, r["id"].dump());
      }
      const std::string resp = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
                               "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                               body;
      ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::vector<std::pair<int, std::string>> script_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

RpcOptions fast(int retries = 3) {
  RpcOptions o;
  o.max_retries = retries;
  o.backoff_initial = std::chrono::milliseconds(1);
  o.backoff_max = std::chrono::milliseconds(4);
  o.timeout = std::chrono::milliseconds(3000);
  return o;
}

const std::string kOk = R"({"jsonrpc":"2.0","id":{id},"result":"0x7a69"})";

TEST(EvmRpc, RetriesServerErrorsThenSucceeds) {
  ScriptedServer s({{503, "busy"}, {429, "slow down"}, {200, kOk}});
  RpcClient c(s.url(), fast());
  auto id = c.chain_id();
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(*id, 31337u);
  EXPECT_EQ(s.requests(), 3);
}

TEST(EvmRpc, GivesUpAfterMaxRetries) {
  ScriptedServer s({{500, "down"}});
  RpcClient c(s.url(), fast(2));
  auto id = c.chain_id();
  EXPECT_EQ(id.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.requests(), 3);
  EXPECT_NE(id.status().message().find("HTTP 500"), std::string::npos);
  // No credentials or API key in the message.
  EXPECT_EQ(id.status().message().find("secret"), std::string::npos) << id.status().message();
  EXPECT_EQ(id.status().message().find("apikey"), std::string::npos) << id.status().message();
}

TEST(EvmRpc, ConnectionRefusedIsRetriedAndUnavailable) {
  int port = 0;
  {
    ScriptedServer s({{200, kOk}});
    port = std::stoi(s.url().substr(s.url().rfind(':') + 1));
  }  // closed: nothing listens there now
  RpcClient c("http://127.0.0.1:" + std::to_string(port), fast(2));
  EXPECT_EQ(c.block_number().status().code(), StatusCode::kUnavailable);
}

TEST(EvmRpc, JsonRpcErrorsAreNotRetriedAndCarryRevertData) {
  ScriptedServer s({{200, R"({"jsonrpc":"2.0","id":{id},"error":{"code":3,"message":"execution reverted",)"
                          R"("data":"0x9fbfc589"}})"}});
  RpcClient c(s.url(), fast());
  RpcError err;
  auto r = c.eth_call(CallRequest{}, "latest", &err);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.requests(), 1);
  EXPECT_EQ(err.code, 3);
  EXPECT_EQ(err.message, "execution reverted");
  EXPECT_EQ(err.data, "0x9fbfc589");
  ASSERT_TRUE(err.selector().has_value());
  EXPECT_EQ(to_hex(*err.selector()), "9fbfc589");
  EXPECT_NE(r.status().message().find("JSON-RPC error 3: execution reverted (data 0x9fbfc589)"), std::string::npos)
      << r.status().message();
}

TEST(EvmRpc, MalformedResponsesAreRefused) {
  for (const std::string& body : {
           std::string(R"({"jsonrpc":"2.0","id":999999,"result":"0x1"})"),  // wrong id
           std::string(R"({"id":{id},"result":"0x1"})"),                    // no jsonrpc
           std::string(R"({"jsonrpc":"1.0","id":{id},"result":"0x1"})"),    // wrong version
           std::string(R"({"jsonrpc":"2.0","id":{id}})"),                   // neither
           std::string(R"({"jsonrpc":"2.0","id":{id},"result":"0x1","error":{"code":1,"message":"x"}})"),  // both
           std::string(R"({"jsonrpc":"2.0","id":{id},"error":{"code":"x","message":"x"}})"),               // bad error
           std::string("not json"), std::string("[1,2]"),
           std::string(R"({"jsonrpc":"2.0","id":{id},"result":"0x01"})"),  // non-canonical quantity
           std::string(R"({"jsonrpc":"2.0","id":{id},"result":7})"),       // not a string
       }) {
    ScriptedServer s({{200, body}});
    RpcClient c(s.url(), fast());
    auto r = c.block_number();
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << body << " -> " << r.status().to_string();
    EXPECT_EQ(s.requests(), 1) << body;
  }
}

TEST(EvmRpc, ResponseSizeIsBounded) {
  ScriptedServer s({{200, R"({"jsonrpc":"2.0","id":{id},"result":")" + std::string(100000, 'a') + "\"}"}});
  RpcOptions o = fast();
  o.max_response_bytes = 4096;
  RpcClient c(s.url(), o);
  EXPECT_EQ(c.block_number().status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(s.requests(), 1);
}

TEST(EvmRpc, ClientErrorsAreNotRetried) {
  ScriptedServer s({{404, "no"}});
  RpcClient c(s.url(), fast());
  EXPECT_EQ(c.block_number().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.requests(), 1);
}

TEST(EvmRpc, JsonRpcErrorWithHttp400IsReadAsSuch) {
  ScriptedServer s({{400, R"({"jsonrpc":"2.0","id":{id},"error":{"code":-32602,"message":"Invalid params"}})"}});
  RpcClient c(s.url(), fast());
  RpcError err;
  auto r = c.call("eth_getBalance", json::array({"0x0"}), &err);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().to_string();
  EXPECT_EQ(err.code, -32602);
  EXPECT_EQ(s.requests(), 1);
}

TEST(EvmRpc, PriorityFeeFallsBackToGasPrice) {
  ScriptedServer s({{200, R"({"jsonrpc":"2.0","id":{id},"error":{"code":-32601,"message":"method not found"}})"},
                    {200, R"({"jsonrpc":"2.0","id":{id},"result":"0x3b9aca00"})"}});
  RpcClient c(s.url(), fast());
  auto fee = c.max_priority_fee_per_gas();
  ASSERT_TRUE(fee.ok()) << fee.status().to_string();
  EXPECT_EQ(fee->low_u64(), 1000000000u);
  EXPECT_EQ(s.requests(), 2);
}

TEST(EvmRpc, ReceiptAndLogParsingIsStrict) {
  const json good = json::parse(R"({
    "transactionHash":"0x)" + std::string(64, '1') +
                                R"(","blockNumber":"0x5","blockHash":"0x)" + std::string(64, '2') +
                                R"(","status":"0x1","from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":null,
    "contractAddress":"0x5fbdb2315678afecb367f032d93f642f64180aa3","gasUsed":"0x5208","effectiveGasPrice":"0x1",
    "logs":[{"address":"0x5fbdb2315678afecb367f032d93f642f64180aa3","topics":["0x)" +
                                std::string(64, '3') + R"("],"data":"0x00","blockNumber":"0x5","blockHash":"0x)" +
                                std::string(64, '2') + R"(","transactionHash":"0x)" + std::string(64, '1') +
                                R"(","logIndex":"0x0","removed":false}]})");
  auto r = parse_receipt(good);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->status);
  EXPECT_FALSE(r->to.has_value());
  ASSERT_TRUE(r->contract_address.has_value());
  EXPECT_EQ(r->gas_used, 21000u);
  ASSERT_EQ(r->logs.size(), 1u);
  EXPECT_EQ(r->logs[0].data, Bytes{0});
  for (const char* field : {"transactionHash", "blockNumber", "status", "from", "logs", "gasUsed"}) {
    json bad = good;
    bad.erase(field);
    EXPECT_FALSE(parse_receipt(bad).ok()) << field;
  }
  json bad = good;
  bad["status"] = "0x2";
  EXPECT_FALSE(parse_receipt(bad).ok());
  bad = good;
  bad["logs"][0]["topics"] = json::array({"0x1", "0x2", "0x3", "0x4", "0x5"});
  EXPECT_FALSE(parse_receipt(bad).ok());
  bad = good;
  bad["logs"][0]["data"] = "0x0";
  EXPECT_FALSE(parse_receipt(bad).ok());
}

}  // namespace
}  // namespace heal::ledger::evm
