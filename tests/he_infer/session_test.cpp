// The client's key directory: secret.key is created 0600 (whatever the umask), never written or
// read through a symlink, including one planted at the temporary path earlier versions used.
#include "heal/he_infer/session.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "test_models.h"
#include "testing/temp_dir.h"

namespace heal::he_infer {
namespace {

namespace fs = std::filesystem;

// A per-test temporary directory (tests/testing/temp_dir.h).
struct TempDir : ::heal::testing::TempDir {
  TempDir() : ::heal::testing::TempDir("heal-session-test") {}
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct UmaskGuard {
  explicit UmaskGuard(mode_t m) : old(::umask(m)) {}
  ~UmaskGuard() { ::umask(old); }
  mode_t old;
};

TEST(Session, SecretKeyIs0600AndNeverWrittenThroughASymlink) {
  const nn::ModelIr model = testing::tiny_cnn();
  TempDir t;
  const fs::path keys = t.path() / "keys", victim = t.path() / "victim";
  fs::create_directories(keys);
  std::ofstream(victim) << "untouched";
  fs::create_symlink(victim, keys / "secret.key.tmp");  // the predictable temporary path of old
  const UmaskGuard guard(0);
  const Status st = client_keygen(model, Mode::kBatch, keys.string());
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(slurp(victim), "untouched");
  struct stat sb{};
  ASSERT_EQ(::lstat((keys / "secret.key").c_str(), &sb), 0);
  EXPECT_TRUE(S_ISREG(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  // The key reads back (decryption then fails only on the missing result file).
  EXPECT_EQ(client_decrypt(model, keys.string(), (t.path() / "none.bin").string()).status().code(),
            StatusCode::kNotFound);

  // A symlink in place of secret.key is neither written through by keygen nor read through.
  fs::remove(keys / "secret.key");
  fs::create_symlink(victim, keys / "secret.key");
  EXPECT_EQ(client_keygen(model, Mode::kBatch, keys.string()).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(slurp(victim), "untouched");
  EXPECT_EQ(client_decrypt(model, keys.string(), (t.path() / "none.bin").string()).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace heal::he_infer
