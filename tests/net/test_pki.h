// A throwaway consortium PKI for tests: a CA (Ed25519, self-signed) and party certificates it
// signs (CN and subjectAltName DNS `party-<id>`, serverAuth + clientAuth), written as PEM files into a
// directory; key files have mode 0600. Built with OpenSSL's C API (no `openssl` command needed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace heal::testing {

struct PartyPki {
  std::string ca_cert_path;
  std::string cert_path;
  std::string key_path;
};

class TestCa {
 public:
  /// Creates a CA named `name` with its certificate at `<dir>/<name>.crt` (key kept in memory).
  TestCa(const std::string& dir, const std::string& name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  /// Issues `<dir>/<name>-<cn>.crt` and `<dir>/<name>-<cn>.key` (0600) for the common name `cn`
  /// (e.g. "party-2"; the subjectAltName DNS is the same name).
  PartyPki issue(const std::string& cn);
  /// Signs the PKCS#10 request at `csr_path` as a CA would after checking it: the request's own
  /// signature must verify and its CN is the certificate's name. Writes `<dir>/<name>-<cn>.crt` and
  /// returns its path (throws on a bad request).
  std::string sign_csr(const std::string& csr_path);
  const std::string& cert_path() const { return cert_path_; }

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string dir_;
  std::string name_;
  std::string cert_path_;
};

}  // namespace heal::testing
