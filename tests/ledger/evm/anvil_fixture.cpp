#include "ledger/evm/anvil_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "heal/core/bytes.h"
#include "ledger/backends/evm/types.h"

#ifndef HEAL_ANVIL_PATH
#define HEAL_ANVIL_PATH ""
#endif

namespace heal::ledger::evm::testing {
namespace {

bool anvil_required() {
  const char* v = std::getenv("HEAL_REQUIRE_ANVIL");
  return v != nullptr && std::string(v) == "1";
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string anvil_path() {
  const char* env = std::getenv("HEAL_ANVIL");
  if (env != nullptr && *env != '\0') return env;
  return HEAL_ANVIL_PATH;
}

void AnvilFixture::SetUp() {
  const std::string bin = anvil_path();
  if (bin.empty() || ::access(bin.c_str(), X_OK) != 0) {
    const std::string msg = "anvil not found at '" + bin +
                            "': run scripts/install-deps.sh (installs the npm packages, npm ci) or set HEAL_ANVIL";
    if (anvil_required()) FAIL() << msg << " (HEAL_REQUIRE_ANVIL=1)";
    GTEST_SKIP() << msg;
  }
  char tmpl[] = "/tmp/heal-anvil-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  home_ = tmpl;
  const std::string log = home_ + "/anvil.log";
  // Environment with HOME replaced, built before fork (the child only calls async-signal-safe functions).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("HOME=", 0) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back("HOME=" + home_);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  ASSERT_GE(pid_, 0);
  if (pid_ == 0) {
    // Child: own process group, HOME in the temporary directory, output to the log file.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test binary
    if (::getppid() != parent) ::_exit(127);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) ::_exit(127);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execle(bin.c_str(), bin.c_str(), "--host", "127.0.0.1", "--port", "0", static_cast<char*>(nullptr), envp.data());
    ::_exit(127);
  }
  // Parent: wait (up to 20 s) for "Listening on 127.0.0.1:<port>".
  const std::regex listening(R"(Listening on 127\.0\.0\.1:([0-9]+))");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::smatch m;
  while (true) {
    output_ = read_all(log);
    if (std::regex_search(output_, m, listening)) break;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "anvil exited before listening:\n" << output_;
    }
    if (std::chrono::steady_clock::now() > deadline) FAIL() << "anvil did not start within 20 s:\n" << output_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  url_ = "http://127.0.0.1:" + m[1].str();
  // Dev accounts: "(i) 0x<40 hex> (10000...)" and "(i) 0x<64 hex>" lines.
  const std::regex key_re(R"(\(([0-9]+)\) 0x([0-9a-fA-F]{64}))");
  const std::regex addr_re(R"(\(([0-9]+)\) (0x[0-9a-fA-F]{40}) )");
  for (auto it = std::sregex_iterator(output_.begin(), output_.end(), key_re); it != std::sregex_iterator(); ++it) {
    dev_keys_.push_back((*it)[2].str());
  }
  for (auto it = std::sregex_iterator(output_.begin(), output_.end(), addr_re); it != std::sregex_iterator(); ++it) {
    dev_addresses_.push_back((*it)[2].str());
  }
  ASSERT_GE(dev_keys_.size(), 2u) << output_;
  ASSERT_EQ(dev_keys_.size(), dev_addresses_.size()) << output_;
  // The printed (EIP-55 checksummed) addresses are those of the printed keys.
  for (std::size_t i = 0; i < dev_keys_.size(); ++i) {
    EXPECT_EQ(address_of(dev_signer(i)->identity())->to_hex(), dev_addresses_[i]) << "dev account " << i;
  }
}

void AnvilFixture::TearDown() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int st = 0;
    bool done = false;
    for (int i = 0; i < 100 && !done; ++i) {
      done = ::waitpid(pid_, &st, WNOHANG) == pid_;
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!done) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
    pid_ = -1;
  }
  if (!home_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
    home_.clear();
  }
}

std::unique_ptr<Secp256k1Signer> AnvilFixture::dev_signer(std::size_t i) const {
  auto b = from_hex(dev_keys_.at(i));
  auto s = Secp256k1Signer::from_secret(*b);
  secure_wipe(*b);
  return std::move(s).value();
}

}  // namespace heal::ledger::evm::testing
