// Vault files (heal/core/vault.h): round trip, 0600 files, refusal of group/world-accessible files,
// wrong passphrase, every flipped byte, every truncation, other versions, Argon2id cost limits,
// and no plaintext in the file.
#include "heal/core/vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "heal/core/rng.h"
#include "heal/core/serialization.h"
#include "testing/temp_dir.h"

namespace heal {
namespace {

namespace fs = std::filesystem;

// A per-test temporary directory (tests/testing/temp_dir.h).
struct TempDir : ::heal::testing::TempDir {
  TempDir() : ::heal::testing::TempDir("heal-vault-test") {}
};

VaultOpenOptions test_options() {
  VaultOpenOptions o;
  o.allow_weak_kdf = true;
  return o;
}

Bytes secret_bytes() {
  Bytes b(200);
  SystemRng().fill(b);
  return b;
}

TEST(Vault, RoundTripAndFreshNonceEachSeal) {
  auto key = VaultKey::derive("correct horse", VaultKdf::min_for_testing());
  ASSERT_TRUE(key.ok()) << key.status().to_string();
  const Bytes secret = secret_bytes();
  const Bytes a = vault_seal(*key, secret), b = vault_seal(*key, secret);
  EXPECT_NE(a, b);  // fresh nonce
  EXPECT_EQ(a.size(), kHeaderSize + 68 + secret.size() + 16);
  VaultKey again = std::move(*key);
  auto opened = vault_open(a, "correct horse", test_options(), &again);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EXPECT_TRUE(std::equal(opened->span().begin(), opened->span().end(), secret.begin(), secret.end()));
  // The key handed back reseals a file the passphrase opens.
  auto reopened = vault_open(vault_seal(again, secret), "correct horse", test_options());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->size(), secret.size());
}

TEST(Vault, FileIs0600AndHoldsNoPlaintext) {
  TempDir dir;
  const std::string path = dir / "node.vault";
  auto key = VaultKey::derive("pw", VaultKdf::min_for_testing());
  ASSERT_TRUE(key.ok());
  const Bytes secret = secret_bytes();
  ASSERT_TRUE(write_vault_file(path, *key, secret).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  auto raw = read_file(path);
  ASSERT_TRUE(raw.ok());
  // No 8-byte window of the secret appears in the file.
  for (std::size_t i = 0; i + 8 <= secret.size(); ++i) {
    EXPECT_EQ(std::search(raw->begin(), raw->end(), secret.begin() + i, secret.begin() + i + 8), raw->end());
  }
  auto opened = read_vault_file(path, "pw", test_options());
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EXPECT_EQ(opened->size(), secret.size());
}

TEST(Vault, RefusesGroupOrWorldAccessibleFile) {
  TempDir dir;
  const std::string path = dir / "node.vault";
  auto key = VaultKey::derive("pw", VaultKdf::min_for_testing());
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(write_vault_file(path, *key, secret_bytes()).ok());
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto r = read_vault_file(path, "pw", test_options());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("chmod 600"), std::string::npos) << r.status().message();
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(read_vault_file(path, "pw", test_options()).ok());
  // A symlink to it is refused (read_secret_file's O_NOFOLLOW).
  fs::create_symlink(path, dir / "link.vault");
  EXPECT_FALSE(read_vault_file(dir / "link.vault", "pw", test_options()).ok());
}

TEST(Vault, WrongPassphraseIsAClearError) {
  auto key = VaultKey::derive("right", VaultKdf::min_for_testing());
  ASSERT_TRUE(key.ok());
  const Bytes file = vault_seal(*key, secret_bytes());
  auto r = vault_open(file, "wrong", test_options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("wrong passphrase"), std::string::npos);
  EXPECT_FALSE(vault_open(file, "", test_options()).ok());
}

TEST(Vault, EveryFlippedBitAndEveryTruncationIsRefused) {
  auto key = VaultKey::derive("pw", VaultKdf::min_for_testing());
  ASSERT_TRUE(key.ok());
  const Bytes file = vault_seal(*key, Bytes(40, 7));
  for (std::size_t i = 0; i < file.size(); ++i) {
    for (int bit : {0, 7}) {
      Bytes t = file;
      t[i] ^= static_cast<std::uint8_t>(1u << bit);
      auto r = vault_open(t, "pw", test_options());
      EXPECT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
    }
  }
  for (std::size_t n = 0; n < file.size(); ++n) {
    auto r = vault_open(std::span(file).first(n), "pw", test_options());
    EXPECT_FALSE(r.ok()) << "truncated to " << n;
  }
  Bytes longer = file;
  longer.push_back(0);
  EXPECT_FALSE(vault_open(longer, "pw", test_options()).ok());
}

TEST(Vault, OtherVersionIsUnsupported) {
  auto key = VaultKey::derive("pw", VaultKdf::min_for_testing());
  ASSERT_TRUE(key.ok());
  Bytes file = vault_seal(*key, Bytes(8, 1));
  file[4] = 2;  // version 2
  auto r = vault_open(file, "pw", test_options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("version 2"), std::string::npos) << r.status().message();
}

TEST(Vault, CostLimitsAreCheckedBeforeTheKdf) {
  auto key = VaultKey::derive("pw", VaultKdf::min_for_testing());
  ASSERT_TRUE(key.ok());
  const Bytes file = vault_seal(*key, Bytes(8, 1));
  // A test-strength file is refused without the explicit opt-in.
  auto weak = vault_open(file, "pw");
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.status().code(), StatusCode::kFailedPrecondition);
  // A file asking for more memory than the reader allows is refused before Argon2id runs.
  Bytes greedy = file;
  const std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(greedy.data() + kHeaderSize + 12, &huge, 8);  // memlimit
  auto r = vault_open(greedy, "pw", test_options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(VaultKey::derive("", VaultKdf::min_for_testing()).ok());
  EXPECT_FALSE(VaultKey::derive("pw", VaultKdf{0, 1}).ok());
}

}  // namespace
}  // namespace heal
