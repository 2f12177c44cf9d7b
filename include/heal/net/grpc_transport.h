// fl::Transport between processes: gRPC over mutual TLS (docs/deployment.md, "Node transport: gRPC
// with mutual TLS"). One GrpcTransport is one party: it runs a gRPC server on `listen_address` for the
// messages addressed to it and opens a channel to each peer it sends to.
//
//  - Every party holds a certificate and key signed by the consortium CA. The server requires and
//    verifies the client's certificate (a peer without a CA-signed certificate fails the TLS handshake,
//    before any message is read); the client verifies the server's certificate against the same CA and
//    the name `party-<peer id>` (subjectAltName DNS, or the CN).
//  - The identity of a party is the CN `party-<id>` of its certificate. A message whose `from` differs
//    from the sender's certificate, or whose `to` is not this party, is refused (PERMISSION_DENIED),
//    logged and counted in rejected_messages(); nothing of it is queued.
//  - A message travels as one client-streaming call in chunks of `chunk_bytes` (1 MiB), so payloads of
//    hundreds of MB need no large gRPC message limit. HTTP/2 flow control gives backpressure inside a
//    message; the receive queue is bounded (messages and bytes) and a full queue holds the sender's
//    call until receive() makes room or its deadline passes.
//
// The public header is std-only (pimpl): gRPC and protobuf stay inside src/net/grpc.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "heal/core/status.h"
#include "heal/fl/transport.h"

namespace heal::net {

/// PEM text of a party's TLS identity. The key stays in memory for the transport's lifetime.
struct TlsIdentity {
  std::string ca_cert_pem;     // the consortium CA (trust anchor for peers)
  std::string cert_chain_pem;  // this party's certificate (CN=party-<id>), then any intermediates
  std::string private_key_pem;
};

/// Reads the three PEM files. The key file must be a regular file that only its owner can read
/// (no group/other permission bits: FailedPrecondition otherwise); NotFound / IoError as read_file.
Result<TlsIdentity> load_tls_identity(const std::string& ca_cert_path, const std::string& cert_path,
                                      const std::string& key_path);

/// `party-<id>`: the certificate name of a party (CN and subjectAltName DNS).
std::string party_cert_name(fl::PartyId id);
/// Parses `party-<decimal id>` (no sign, no leading zero unless the id is 0); nullopt otherwise.
std::optional<fl::PartyId> parse_party_cert_name(const std::string& name);

struct GrpcTransportConfig {
  fl::PartyId self = 0;
  /// host:port to listen on; port 0 picks a free port (GrpcTransport::port()).
  std::string listen_address = "127.0.0.1:0";
  /// Peers this party sends to: party id -> host:port (more can be added with set_peer()).
  std::map<fl::PartyId, std::string> peers;
  TlsIdentity tls;
  /// Payload bytes per streamed chunk (at most 3 MiB, below gRPC's 4 MiB message limit).
  std::size_t chunk_bytes = std::size_t{1} << 20;
  /// Largest payload accepted from a peer (a larger declared size is refused before it is read).
  std::size_t max_message_bytes = std::size_t{1} << 30;
  /// Receive queue bounds: a message waits in its sender's call while the queue is full (one message
  /// is always admitted into an empty queue).
  std::size_t max_queued_messages = 256;
  std::size_t max_queued_bytes = std::size_t{1} << 30;
  /// Deadline of one send (connect, stream, queue admission); past it the message is lost (Unavailable).
  std::chrono::milliseconds send_timeout{60'000};
  /// false: wait() returns as soon as a message is queued. true: wait() always gives the peers the
  /// whole timeout. fl::Coordinator does not need true: each phase waits again with the time left
  /// until every party asked has answered (kept for callers that want a fixed collection window).
  bool wait_until_deadline = false;
};

class GrpcTransport final : public fl::Transport {
 public:
  /// Starts the server (InvalidArgument on a bad configuration, Unavailable when the address cannot be
  /// bound, Corruption when the PEM identity is unusable).
  static Result<std::unique_ptr<GrpcTransport>> start(GrpcTransportConfig config);
  ~GrpcTransport() override;
  GrpcTransport(const GrpcTransport&) = delete;
  GrpcTransport& operator=(const GrpcTransport&) = delete;

  /// Sends `m` (m.from must be this party) to m.to: NotFound for an unknown peer, Unavailable when the
  /// peer is unreachable, refuses the TLS handshake or the deadline passes, FailedPrecondition when the
  /// peer refused the message (identity or addressing); OK once the peer queued it.
  Status send(fl::Message m) override;
  /// Next message queued for this party (`party` must be this party).
  std::optional<fl::Message> receive(fl::PartyId party) override;
  /// Blocks until a message is queued for this party or `timeout` passes (with wait_until_deadline,
  /// until `timeout` passes).
  void wait(fl::PartyId party, std::chrono::milliseconds timeout) override;
  /// Traffic between this party and `peer` (payload plus fl::InProcessTransport::kEnvelopeBytes per
  /// message, so both transports count alike). As fl::Transport defines it, traffic is seen from the
  /// hospital's end: on the coordinator's transport counters(h) has up = received from hospital h and
  /// down = sent to it (what the coordinator's round report expects); on any other party's transport
  /// up = sent to `peer` and down = received from it.
  fl::TrafficCounters counters(fl::PartyId peer) const override;

  /// Adds or replaces a peer's address (its channel is opened on the next send).
  void set_peer(fl::PartyId peer, const std::string& address);
  fl::PartyId self() const;
  /// The bound port (the chosen one when listen_address asked for port 0).
  int port() const;
  /// Messages refused by this party's server (wrong identity, wrong recipient, malformed stream).
  std::uint64_t rejected_messages() const;

 private:
  struct Impl;
  explicit GrpcTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace heal::net
