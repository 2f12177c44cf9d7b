// A gtest fixture that runs a private anvil dev chain (Foundry, from npm: scripts/install-deps.sh) on
// a free loopback port for each test, with a temporary HOME (anvil keeps state under ~/.foundry), and
// stops it afterwards. Tests skip when anvil is not installed, unless HEAL_REQUIRE_ANVIL=1 (set by
// scripts/test.sh and CI), where a missing anvil fails them.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "heal/ledger/identity.h"

namespace heal::ledger::evm::testing {

class AnvilFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// http://127.0.0.1:<port>
  const std::string& url() const { return url_; }
  /// anvil's funded dev accounts (10,000 ETH each), read from its start-up output.
  const std::vector<std::string>& dev_private_keys_hex() const { return dev_keys_; }
  /// evm://127.0.0.1:<port> (the ledger URI of this chain, no key).
  std::string evm_uri() const { return "evm://" + url_.substr(std::string("http://").size()); }
  /// evm://127.0.0.1:<port>?key=<dev key 0>: a writer that deploys and pays from dev account 0.
  std::string evm_uri_with_dev_key() const { return evm_uri() + "?key=" + dev_keys_.at(0); }
  /// Dev account i as a signer.
  std::unique_ptr<Secp256k1Signer> dev_signer(std::size_t i) const;
  /// anvil's default chain id.
  static constexpr std::uint64_t kChainId = 31337;
  /// The whole start-up output (for diagnostics).
  const std::string& startup_output() const { return output_; }

 private:
  pid_t pid_ = -1;
  std::string home_;
  std::string url_;
  std::string output_;
  std::vector<std::string> dev_keys_;
  std::vector<std::string> dev_addresses_;
};

/// The anvil binary: $HEAL_ANVIL if set, else the npm install under the source tree.
std::string anvil_path();

}  // namespace heal::ledger::evm::testing
