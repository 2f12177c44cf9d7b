// Ledger locations as URIs (`heal ... --ledger URI`, ledger::open in heal/ledger/open.h).
//
//   sqlite:///abs/path.db   sqlite://rel/path.db   path.db          (the embedded SQLite backend)
//   evm://127.0.0.1:8545?contract=0x…&key=…                         (a contract on an EVM chain)
//   evms://rpc.hospital.example:8545?…                              (the same over HTTPS)
//
// Parsing is strict: unknown schemes, empty paths, bad ports, repeated or empty query keys and
// characters outside the URI set are refused with a message naming the problem.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "heal/core/status.h"

namespace heal::ledger {

struct LedgerUri {
  std::string scheme;                         // "sqlite" | "evm" | "evms"
  std::string path;                           // sqlite: the file
  std::string host;                           // evm: host name or IPv4 address
  std::uint16_t port = 0;                     // evm: RPC port
  std::map<std::string, std::string> query;   // evm: contract, key, keystore, confirmations, …
  /// The URI again, with any `key=` value replaced by "***" (for logs and reports).
  std::string redacted() const;
};

/// Parses `uri`; a string without "scheme://" is a SQLite file path.
Result<LedgerUri> parse_ledger_uri(const std::string& uri);

}  // namespace heal::ledger
