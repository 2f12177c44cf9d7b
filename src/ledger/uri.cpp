// Strict parsing of ledger URIs (include/heal/ledger/uri.h).
#include "heal/ledger/uri.h"

#include <cctype>

namespace heal::ledger {

namespace {

bool uri_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("-._~:/?#[]@!$&'()*+,;=%").find(c) != std::string_view::npos;
}

Status bad(const std::string& uri, const std::string& why) {
  return Status::invalid_argument("ledger URI '" + uri + "': " + why +
                                  " (expected sqlite:///path.db or evm://host:port?contract=0x…)");
}

}  // namespace

Result<LedgerUri> parse_ledger_uri(const std::string& uri) {
  if (uri.empty()) return bad(uri, "empty");
  if (uri.size() > 4096) return Status::invalid_argument("ledger URI longer than 4096 characters");
  const auto sep = uri.find("://");
  LedgerUri u;
  if (sep == std::string::npos) {
    u.scheme = "sqlite";
    u.path = uri;
    return u;
  }
  for (char c : uri) {
    if (!uri_char(c)) return bad(uri, "character '" + std::string(1, c) + "' is not allowed");
  }
  u.scheme = uri.substr(0, sep);
  const std::string rest = uri.substr(sep + 3);
  if (u.scheme == "sqlite") {
    if (rest.empty() || rest == "/") return bad(uri, "no file path");
    if (rest.find('?') != std::string::npos) return bad(uri, "sqlite URIs take no query");
    u.path = rest;
    return u;
  }
  if (u.scheme != "evm" && u.scheme != "evms") return bad(uri, "unknown scheme '" + u.scheme + "'");
  const auto q = rest.find('?');
  std::string authority = rest.substr(0, q);
  if (!authority.empty() && authority.back() == '/') authority.pop_back();
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad(uri, "needs host:port");
  u.host = authority.substr(0, colon);
  for (char c : u.host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return bad(uri, "bad host name");
  }
  const std::string port = authority.substr(colon + 1);
  if (port.empty() || port.size() > 5) return bad(uri, "bad port");
  std::uint32_t p = 0;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return bad(uri, "bad port");
    p = p * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (p == 0 || p > 65535) return bad(uri, "port out of range");
  u.port = static_cast<std::uint16_t>(p);
  if (q != std::string::npos) {
    std::string query = rest.substr(q + 1);
    std::size_t pos = 0;
    while (pos <= query.size()) {
      const auto amp = query.find('&', pos);
      const std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size())
        return bad(uri, "query item '" + kv + "' is not key=value");
      const std::string k = kv.substr(0, eq);
      if (u.query.count(k)) return bad(uri, "query key '" + k + "' given twice");
      u.query[k] = kv.substr(eq + 1);
      if (amp == std::string::npos) break;
      pos = amp + 1;
    }
  }
  return u;
}

std::string LedgerUri::redacted() const {
  if (scheme == "sqlite") return "sqlite://" + path;
  std::string s = scheme + "://" + host + ":" + std::to_string(port);
  char sep = '?';
  for (const auto& [k, v] : query) {
    s += sep + k + "=" + (k == "key" || k == "password" ? std::string("***") : v);
    sep = '&';
  }
  return s;
}

}  // namespace heal::ledger
