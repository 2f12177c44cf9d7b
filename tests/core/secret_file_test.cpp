// Files and buffers that hold secrets: write_file / write_secret_file never write through a
// symlink (at the destination or at a guessable temporary path), secret files are 0600 whatever
// the umask, and the wipe helpers cover the whole allocation.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "testing/temp_dir.h"

namespace heal {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at the end of the test.
struct TempDir : ::heal::testing::TempDir {
  TempDir() : ::heal::testing::TempDir("heal-secret-file-test") {}
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

unsigned mode_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Restores the process umask on scope exit.
struct UmaskGuard {
  explicit UmaskGuard(mode_t m) : old(::umask(m)) {}
  ~UmaskGuard() { ::umask(old); }
  mode_t old;
};

const Bytes kSecret{'s', 'e', 'c', 'r', 'e', 't'};

TEST(SecretFile, WriteFileDoesNotWriteThroughSymlinksAtTheOldTmpPathOrTheDestination) {
  TempDir d;
  const std::string victim = d / "victim", path = d / "out.bin";
  put(victim, "untouched");
  fs::create_symlink(victim, path + ".tmp");  // the temporary path earlier versions used
  ASSERT_TRUE(write_file(path, kSecret).ok());
  EXPECT_EQ(slurp(victim), "untouched");
  EXPECT_EQ(slurp(path), "secret");
  // A symlink at the destination is replaced by the new file, not written through.
  fs::remove(path);
  fs::create_symlink(victim, path);
  ASSERT_TRUE(write_file(path, kSecret).ok());
  EXPECT_EQ(slurp(victim), "untouched");
  EXPECT_FALSE(fs::is_symlink(path));
  EXPECT_EQ(slurp(path), "secret");
  // No temporary file is left behind.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path())) {
    files += e.path().filename() != "out.bin.tmp";
  }
  EXPECT_EQ(files, 2u);  // victim, out.bin
}

TEST(SecretFile, WriteSecretFileIsMode0600EvenUnderUmask0) {
  TempDir d;
  const UmaskGuard guard(0);
  const std::string path = d / "secret.key";
  ASSERT_TRUE(write_secret_file(path, kSecret).ok());
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(slurp(path), "secret");
  // Overwriting a world-readable file leaves a 0600 file.
  put(path, "old");
  fs::permissions(path, fs::perms::all);
  ASSERT_TRUE(write_secret_file(path, kSecret).ok());
  EXPECT_EQ(mode_of(path), 0600u);
  // A restrictive umask does not make it unreadable for its owner either.
  const UmaskGuard strict(0277);
  ASSERT_TRUE(write_secret_file(path, kSecret).ok());
  EXPECT_EQ(mode_of(path), 0600u);
}

TEST(SecretFile, WriteSecretFileRefusesSymlinksAndIgnoresThePredictableTmpPath) {
  TempDir d;
  const std::string victim = d / "victim", path = d / "secret.key";
  put(victim, "untouched");
  fs::create_symlink(victim, path);
  const Status st = write_secret_file(path, kSecret);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.to_string();
  EXPECT_EQ(slurp(victim), "untouched");
  EXPECT_TRUE(fs::is_symlink(path));
  fs::remove(path);
  fs::create_symlink(victim, path + ".tmp");
  ASSERT_TRUE(write_secret_file(path, kSecret).ok());
  EXPECT_EQ(slurp(victim), "untouched");
  EXPECT_EQ(slurp(path), "secret");
  // A directory at the destination is refused too.
  fs::create_directory(d / "dir.key");
  EXPECT_EQ(write_secret_file(d / "dir.key", kSecret).code(), StatusCode::kFailedPrecondition);
  // A missing directory is an IoError, not a crash.
  EXPECT_EQ(write_secret_file(d / "missing/secret.key", kSecret).code(), StatusCode::kIoError);
}

TEST(SecretFile, ReadSecretFileRoundTripsAndRefusesSymlinks) {
  TempDir d;
  const std::string path = d / "secret.key", link = d / "link.key";
  ASSERT_TRUE(write_secret_file(path, kSecret).ok());
  auto r = read_secret_file(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(std::equal(r->span().begin(), r->span().end(), kSecret.begin(), kSecret.end()));
  fs::create_symlink(path, link);
  EXPECT_EQ(read_secret_file(link).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(read_secret_file(d / "none").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(read_secret_file(path, 3).status().code(), StatusCode::kOutOfRange);
}

TEST(SecretBytes, WipeCoversTheWholeCapacity) {
  Bytes b(4096, 0xab);
  b.resize(16);  // bytes 16..4095 still hold the old contents
  const std::size_t cap = b.capacity();
  ASSERT_GE(cap, 4096u);
  const volatile std::uint8_t* p = b.data();
  secure_wipe(b);
  EXPECT_TRUE(b.empty());
  ASSERT_EQ(b.capacity(), cap);  // the allocation is still ours: inspect it
  std::size_t nonzero = 0;
  for (std::size_t i = 0; i < cap; ++i) nonzero += p[i] != 0;
  EXPECT_EQ(nonzero, 0u);
}

TEST(SecretBytes, MoveOnlyOwnerKeepsTheBytes) {
  Bytes b(kSecret);
  const std::uint8_t* data = b.data();
  SecretBytes s(std::move(b));
  EXPECT_EQ(s.data(), data);  // adopted, not copied
  SecretBytes t = std::move(s);
  EXPECT_TRUE(s.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by design
  EXPECT_EQ(t.size(), kSecret.size());
  const std::span<const std::uint8_t> view = t;
  EXPECT_TRUE(std::equal(view.begin(), view.end(), kSecret.begin(), kSecret.end()));
}

}  // namespace
}  // namespace heal
