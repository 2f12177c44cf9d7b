// heal::net::GrpcTransport: fl::Transport over gRPC with mutual TLS (include/heal/net/grpc_transport.h).
#include "heal/net/grpc_transport.h"

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_context.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

#include "heal/core/bytes.h"
#include "heal/core/check.h"
#include "heal/core/log.h"
#include "heal_transport.grpc.pb.h"

namespace heal::net {
namespace {

namespace v1 = ::heal::net::v1;
constexpr std::size_t kMaxChunkBytes = std::size_t{3} << 20;

std::string pem_subject_cn(X509* cert) {
  char buf[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Parses the PEM identity with OpenSSL so that a broken file is reported here, not as an opaque
// handshake failure later; returns the CN of the party's certificate.
Result<std::string> check_identity(const TlsIdentity& tls) {
  auto bio_of = [](const std::string& s) { return BIO_new_mem_buf(s.data(), static_cast<int>(s.size())); };
  BIO* ca_bio = bio_of(tls.ca_cert_pem);
  X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr);
  BIO_free(ca_bio);
  if (ca == nullptr) return Status::corruption("the CA certificate is not a PEM X.509 certificate");
  X509_free(ca);
  BIO* cert_bio = bio_of(tls.cert_chain_pem);
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  if (cert == nullptr) return Status::corruption("the party certificate is not a PEM X.509 certificate");
  BIO* key_bio = bio_of(tls.private_key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  if (key == nullptr) {
    X509_free(cert);
    return Status::corruption("the party key is not an unencrypted PEM private key");
  }
  const bool match = X509_check_private_key(cert, key) == 1;
  std::string cn = pem_subject_cn(cert);
  EVP_PKEY_free(key);
  X509_free(cert);
  if (!match) return Status::invalid_argument("the party key does not belong to the party certificate");
  return cn;
}

// What a refused call answers; the message is logged on the receiving side.
grpc::Status refuse(std::atomic<std::uint64_t>& rejected, const grpc::ServerContext& ctx, grpc::StatusCode code,
                    const std::string& why) {
  ++rejected;
  log::warn("net: refused a message from " + ctx.peer() + ": " + why);
  return {code, why};
}

}  // namespace

std::string party_cert_name(fl::PartyId id) { return "party-" + std::to_string(id); }

std::optional<fl::PartyId> parse_party_cert_name(const std::string& name) {
  static constexpr std::string_view kPrefix = "party-";
  if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  const std::string digits = name.substr(kPrefix.size());
  if (digits.size() > 10 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > 0xffffffffULL) return std::nullopt;
  return static_cast<fl::PartyId>(v);
}

Result<TlsIdentity> load_tls_identity(const std::string& ca_cert_path, const std::string& cert_path,
                                      const std::string& key_path) {
  struct stat st {};
  if (::lstat(key_path.c_str(), &st) != 0) return Status::not_found("TLS key " + key_path + " does not exist");
  if (!S_ISREG(st.st_mode)) return Status::failed_precondition("TLS key " + key_path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return Status::failed_precondition("TLS key " + key_path + " is readable by group or others (chmod 600)");
  }
  TlsIdentity id;
  HEAL_ASSIGN_OR_RETURN(Bytes ca, read_file(ca_cert_path, std::size_t{1} << 20));
  HEAL_ASSIGN_OR_RETURN(Bytes cert, read_file(cert_path, std::size_t{1} << 20));
  HEAL_ASSIGN_OR_RETURN(SecretBytes key, read_secret_file(key_path, std::size_t{1} << 20));
  id.ca_cert_pem.assign(ca.begin(), ca.end());
  id.cert_chain_pem.assign(cert.begin(), cert.end());
  id.private_key_pem.assign(reinterpret_cast<const char*>(key.data()), key.size());
  return id;
}

struct GrpcTransport::Impl final : public v1::PartyTransport::Service {
  GrpcTransportConfig cfg;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<grpc::ChannelCredentials> client_creds;

  struct Peer {
    std::string address;
    std::shared_ptr<v1::PartyTransport::Stub> stub;
  };
  std::mutex peers_mu;
  std::map<fl::PartyId, Peer> peers;

  mutable std::mutex mu;               // queue, counters, stopping
  std::condition_variable message_cv;  // a message was queued (or the transport stops)
  std::condition_variable space_cv;    // the queue shrank (or the transport stops)
  std::deque<fl::Message> queue;
  std::size_t queued_bytes = 0;
  std::map<fl::PartyId, fl::TrafficCounters> traffic;
  bool stopping = false;
  std::atomic<std::uint64_t> rejected{0};

  bool admits(std::size_t bytes) const {
    if (queue.empty()) return true;
    return queue.size() < cfg.max_queued_messages && queued_bytes + bytes <= cfg.max_queued_bytes;
  }

  grpc::Status Deliver(grpc::ServerContext* ctx, grpc::ServerReader<v1::Chunk>* reader, v1::Ack* ack) override {
    // Who is calling: the handshake already verified the chain to the consortium CA
    // (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY); the party is the certificate's CN.
    std::optional<fl::PartyId> sender;
    const auto auth = ctx->auth_context();
    if (auth && auth->IsPeerAuthenticated()) {
      const auto cns = auth->FindPropertyValues("x509_common_name");
      if (cns.size() == 1) sender = parse_party_cert_name(std::string(cns[0].data(), cns[0].size()));
    }
    if (!sender) {
      return refuse(rejected, *ctx, grpc::StatusCode::UNAUTHENTICATED, "the client certificate names no party-<id>");
    }
    v1::Chunk chunk;
    if (!reader->Read(&chunk)) return refuse(rejected, *ctx, grpc::StatusCode::INVALID_ARGUMENT, "empty stream");
    if (chunk.from() != *sender) {
      return refuse(rejected, *ctx, grpc::StatusCode::PERMISSION_DENIED,
                    "certificate of " + party_cert_name(*sender) + " claims from=" + std::to_string(chunk.from()));
    }
    if (chunk.to() != cfg.self) {
      return refuse(rejected, *ctx, grpc::StatusCode::PERMISSION_DENIED,
                    "addressed to party " + std::to_string(chunk.to()) + ", this is party " + std::to_string(cfg.self));
    }
    if (chunk.kind() > 0xff) {
      return refuse(rejected, *ctx, grpc::StatusCode::INVALID_ARGUMENT, "message kind out of range");
    }
    const std::uint64_t size = chunk.payload_size();
    if (size > cfg.max_message_bytes) {
      return refuse(rejected, *ctx, grpc::StatusCode::RESOURCE_EXHAUSTED,
                    "payload of " + std::to_string(size) + " bytes exceeds " + std::to_string(cfg.max_message_bytes));
    }
    fl::Message m;
    m.from = chunk.from();
    m.to = chunk.to();
    m.kind = static_cast<fl::MessageKind>(chunk.kind());
    m.round = chunk.round();
    // Grows with what arrives: a declared size alone does not allocate more than 64 MiB.
    m.payload.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(size, std::uint64_t{64} << 20)));
    do {
      const std::string& data = chunk.data();
      if (m.payload.size() + data.size() > size) {
        return refuse(rejected, *ctx, grpc::StatusCode::INVALID_ARGUMENT, "more payload than declared");
      }
      m.payload.insert(m.payload.end(), data.begin(), data.end());
    } while (reader->Read(&chunk));
    if (m.payload.size() != size) {
      return refuse(
          rejected, *ctx, grpc::StatusCode::INVALID_ARGUMENT,
          "stream ended after " + std::to_string(m.payload.size()) + " of " + std::to_string(size) + " bytes");
    }
    // Bounded queue: hold the call (and so the sender) until there is room.
    std::unique_lock lock(mu);
    while (!stopping && !admits(m.payload.size())) {
      if (ctx->IsCancelled()) return {grpc::StatusCode::CANCELLED, "sender gave up while the queue was full"};
      space_cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    if (stopping) return {grpc::StatusCode::UNAVAILABLE, "party is shutting down"};
    auto& c = traffic[m.from];
    c.bytes_down += m.payload.size() + fl::InProcessTransport::kEnvelopeBytes;
    ++c.messages_down;
    queued_bytes += m.payload.size();
    ack->set_payload_bytes(m.payload.size());
    queue.push_back(std::move(m));
    lock.unlock();
    message_cv.notify_all();
    return grpc::Status::OK;
  }
};

GrpcTransport::GrpcTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcTransport::~GrpcTransport() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->message_cv.notify_all();
  impl_->space_cv.notify_all();
  if (impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    impl_->server->Wait();
  }
}

Result<std::unique_ptr<GrpcTransport>> GrpcTransport::start(GrpcTransportConfig config) {
  if (config.chunk_bytes == 0 || config.chunk_bytes > kMaxChunkBytes) {
    return Status::invalid_argument("chunk_bytes must be in [1, 3 MiB]");
  }
  if (config.max_queued_messages == 0) return Status::invalid_argument("max_queued_messages must be positive");
  HEAL_ASSIGN_OR_RETURN(std::string cn, check_identity(config.tls));
  if (cn != party_cert_name(config.self)) {
    // Not refused here: the peers' servers refuse every message this party sends under another name.
    log::warn("net: party " + std::to_string(config.self) + " runs with a certificate for '" + cn +
              "'; peers will refuse its messages");
  }
  auto impl = std::make_unique<Impl>();
  impl->cfg = std::move(config);
  const TlsIdentity& tls = impl->cfg.tls;

  grpc::SslServerCredentialsOptions server_opts(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  server_opts.pem_root_certs = tls.ca_cert_pem;
  server_opts.pem_key_cert_pairs.push_back({tls.private_key_pem, tls.cert_chain_pem});
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a second party on the same port must fail
  builder.AddListeningPort(impl->cfg.listen_address, grpc::SslServerCredentials(server_opts), &impl->port);
  builder.RegisterService(impl.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return Status::unavailable("cannot listen on " + impl->cfg.listen_address);
  }

  grpc::SslCredentialsOptions client_opts;
  client_opts.pem_root_certs = tls.ca_cert_pem;
  client_opts.pem_private_key = tls.private_key_pem;
  client_opts.pem_cert_chain = tls.cert_chain_pem;
  impl->client_creds = grpc::SslCredentials(client_opts);

  std::unique_ptr<GrpcTransport> t(new GrpcTransport(std::move(impl)));
  for (const auto& [peer, address] : t->impl_->cfg.peers) t->set_peer(peer, address);
  log::info("net: party " + std::to_string(t->impl_->cfg.self) + " listening on port " +
            std::to_string(t->impl_->port) + " (gRPC, mutual TLS)");
  return t;
}

void GrpcTransport::set_peer(fl::PartyId peer, const std::string& address) {
  std::lock_guard lock(impl_->peers_mu);
  auto& p = impl_->peers[peer];
  p.address = address;
  p.stub.reset();
}

fl::PartyId GrpcTransport::self() const { return impl_->cfg.self; }
int GrpcTransport::port() const { return impl_->port; }
std::uint64_t GrpcTransport::rejected_messages() const { return impl_->rejected.load(); }

Status GrpcTransport::send(fl::Message m) {
  HEAL_REQUIRE(m.from == impl_->cfg.self, "GrpcTransport::send: m.from must be this party");
  std::shared_ptr<v1::PartyTransport::Stub> stub;
  {
    std::lock_guard lock(impl_->peers_mu);
    auto it = impl_->peers.find(m.to);
    if (it == impl_->peers.end()) return Status::not_found("party " + std::to_string(m.to) + " has no address");
    auto& p = it->second;
    if (!p.stub) {
      // The server must present a CA-signed certificate for party-<to>.
      grpc::ChannelArguments args;
      args.SetSslTargetNameOverride(party_cert_name(m.to));
      // Its own subchannel: a channel made after a failure (below) starts without the old one's
      // reconnect backoff, so a peer that restarted is reached on the next send.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      p.stub = v1::PartyTransport::NewStub(grpc::CreateCustomChannel(p.address, impl_->client_creds, args));
    }
    stub = p.stub;  // shared: set_peer may replace it while this send runs
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + impl_->cfg.send_timeout);
  v1::Ack ack;
  auto writer = stub->Deliver(&ctx, &ack);
  const std::size_t size = m.payload.size();
  std::size_t offset = 0;
  bool first = true;
  bool streamed = true;
  do {
    v1::Chunk chunk;
    if (first) {
      chunk.set_from(m.from);
      chunk.set_to(m.to);
      chunk.set_kind(static_cast<std::uint32_t>(m.kind));
      chunk.set_round(m.round);
      chunk.set_payload_size(size);
    }
    const std::size_t n = std::min(impl_->cfg.chunk_bytes, size - offset);
    chunk.set_data(reinterpret_cast<const char*>(m.payload.data() + offset), n);
    offset += n;
    first = false;
    // Write blocks while HTTP/2 flow control holds the stream (the receiver is slower): backpressure.
    if (!writer->Write(chunk)) {
      streamed = false;  // the stream broke; Finish() says why
      break;
    }
  } while (offset < size);
  if (streamed) writer->WritesDone();
  const grpc::Status st = writer->Finish();
  const std::string to = std::to_string(m.to);
  if (!st.ok()) {
    switch (st.error_code()) {
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        return Status::failed_precondition("party " + to + " refused the message: " + st.error_message());
      default: {
        // Drop the channel: the next send opens a new one instead of failing fast while this one
        // backs off (a hospital process that was killed and restarted listens again at once).
        std::lock_guard lock(impl_->peers_mu);
        if (auto it = impl_->peers.find(m.to); it != impl_->peers.end() && it->second.stub == stub) it->second.stub.reset();
        return Status::unavailable("party " + to + " unreachable: " + st.error_message());
      }
    }
  }
  if (!streamed || ack.payload_bytes() != size) return Status::unavailable("party " + to + " did not take the message");
  std::lock_guard lock(impl_->mu);
  auto& c = impl_->traffic[m.to];
  c.bytes_up += size + fl::InProcessTransport::kEnvelopeBytes;
  ++c.messages_up;
  return {};
}

std::optional<fl::Message> GrpcTransport::receive(fl::PartyId party) {
  HEAL_REQUIRE(party == impl_->cfg.self, "GrpcTransport::receive: a transport receives for its own party only");
  std::unique_lock lock(impl_->mu);
  if (impl_->queue.empty()) return std::nullopt;
  fl::Message m = std::move(impl_->queue.front());
  impl_->queue.pop_front();
  impl_->queued_bytes -= m.payload.size();
  lock.unlock();
  impl_->space_cv.notify_all();
  return m;
}

void GrpcTransport::wait(fl::PartyId party, std::chrono::milliseconds timeout) {
  HEAL_REQUIRE(party == impl_->cfg.self, "GrpcTransport::wait: a transport waits for its own party only");
  std::unique_lock lock(impl_->mu);
  const bool whole = impl_->cfg.wait_until_deadline;
  impl_->message_cv.wait_for(lock, timeout, [&] { return impl_->stopping || (!whole && !impl_->queue.empty()); });
}

fl::TrafficCounters GrpcTransport::counters(fl::PartyId peer) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->traffic.find(peer);
  fl::TrafficCounters c = it == impl_->traffic.end() ? fl::TrafficCounters{} : it->second;
  if (impl_->cfg.self == fl::kCoordinatorId) {  // the hospital's end: up = hospital -> coordinator
    std::swap(c.bytes_up, c.bytes_down);
    std::swap(c.messages_up, c.messages_down);
  }
  return c;
}

}  // namespace heal::net
