// A node's TLS identity for the gRPC transport (`heal node init` style): the party creates its own key
// and a certificate signing request; the consortium CA signs the request offline and sends back the
// certificate (docs/deployment.md, "Node transport: gRPC with mutual TLS"). The key never leaves the node.
#pragma once

#include <string>

#include "heal/core/status.h"
#include "heal/fl/model.h"

namespace heal::net {

struct NodeIdentityFiles {
  std::string key_path;  // <dir>/party-<id>.key: Ed25519, PKCS#8 PEM, mode 0600
  std::string csr_path;  // <dir>/party-<id>.csr: PKCS#10 PEM, CN and subjectAltName DNS party-<id>
};

/// Creates a fresh Ed25519 key (RFC 8032; the 32-byte seed comes from SystemRng) and a CSR signed by
/// it for the name `party-<id>` (and `O=<organisation>` when not empty). FailedPrecondition when the
/// key file already exists (a key is never overwritten), IoError when the files cannot be written.
Result<NodeIdentityFiles> init_node_identity(fl::PartyId id, const std::string& dir,
                                             const std::string& organisation = "");

}  // namespace heal::net
