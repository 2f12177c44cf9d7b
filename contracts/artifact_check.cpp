// Checks the generated heal_federation_artifact.h against the compiler's JSON output (contract.artifact_header):
// the embedded bytecode, ABI and selectors must be exactly what solc-js produced, and the header must compile as
// a plain C++20 header through the heal_contract_artifacts target.
#include <heal_federation_artifact.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace artifact = heal::ledger::evm::artifact;

static_assert(!artifact::kBytecodeHex.empty(), "the bytecode is embedded");
static_assert(artifact::kAbiJson.front() == '[' && artifact::kAbiJson.back() == ']', "the ABI is a JSON array");

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s heal_federation.json\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 2;
  }
  const nlohmann::json expected = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (expected.is_discarded()) {
    std::fprintf(stderr, "%s is not JSON\n", argv[1]);
    return 2;
  }
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "FAIL: %s\n", what);
      ++failures;
    }
  };
  check(expected.value("bytecode", std::string()) == "0x" + std::string(artifact::kBytecodeHex), "bytecode");
  check(nlohmann::json::parse(artifact::kAbiJson) == expected.at("abi"), "ABI");
  check(expected.value("compiler", std::string()) == artifact::kCompilerVersion, "compiler version");
  const auto& ids = expected.at("methodIdentifiers");
  check(ids.size() == std::size(artifact::kMethodIdentifiers), "number of selectors");
  for (const auto& [sig, sel] : artifact::kMethodIdentifiers) {
    check(ids.contains(std::string(sig)) && ids.at(std::string(sig)) == std::string(sel), "selector");
  }
  if (failures == 0) {
    std::printf("artifact header matches %s: %zu bytecode hex digits, %zu ABI bytes, %zu selectors\n", argv[1],
                artifact::kBytecodeHex.size(), artifact::kAbiJson.size(), std::size(artifact::kMethodIdentifiers));
  }
  return failures == 0 ? 0 : 1;
}
