// Regression corpus of weak CKKS parameter files (tests/ckks/weak_params/*.heal, issue 14): sets
// that fail 128-bit security (small N, log QP above ePrint 2024/463 Table 5.2 -- several of them
// passed the 2018 table --, sparse secrets of low Hamming weight or too much modulus) and files
// whose "insecure" marker byte was cleared or tampered with. Every file must be refused by
// load_params without the caller's opt-in, with a message naming the problem.
//
// The files are written by the generator below, independently of Context (it computes the primes
// and the params hash as docs/formats/ckks.md describes), so it can write any field values.
// Regenerate after a deliberate format change with
//   HEAL_WRITE_WEAK_PARAMS=1 build/tests/ckks/heal_ckks_tests --gtest_filter='WeakParams.*'
// (run from the repository root): it rewrites tests/ckks/weak_params/. The fuzz seeds for
// fuzz_ckks_deserialize are derived from these files by fuzz/corpus/gen_ckks_params_corpus.py.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "heal/ckks/serialization.h"
#include "heal/core/hash.h"
#include "heal/core/serialization.h"
#include "heal/math/modulus.h"

namespace heal::ckks {
namespace {

namespace fs = std::filesystem;

const char* const kCorpusDir = "tests/ckks/weak_params";

struct WeakFile {
  std::string name;
  int log_n = 12;
  std::vector<int> q_bits, p_bits;
  std::uint8_t secret = 0;
  std::uint32_t hamming_weight = 0;
  std::uint8_t marker = 0;  // the stored "insecure" byte
  std::string expect;       // substring of the refusal message
};

std::vector<int> bits(int first, std::size_t count, int each) {
  std::vector<int> v{first};
  v.insert(v.end(), count, each);
  return v;
}

std::vector<WeakFile> corpus() {
  return {
      {"n10_qp200_marked", 10, {60, 40, 40}, {60}, 0, 0, 1, "marked insecure"},
      {"n10_qp200_unmarked", 10, {60, 40, 40}, {60}, 0, 0, 0, "log_n must be in [12, 16]"},
      {"n4_tiny_unmarked", 4, {30, 25, 25}, {30}, 0, 0, 0, "log_n must be in [12, 16]"},
      {"n12_qp200_unmarked", 12, {60, 40, 40}, {60}, 0, 0, 0, "bound of 106 bits"},
      {"n12_qp108_fl_preset_2018", 12, {44, 44}, {20}, 0, 0, 0, "bound of 106 bits"},
      {"n13_qp216_plan_2018", 13, std::vector<int>(7, 26), {34}, 0, 0, 0, "bound of 214 bits"},
      {"n14_qp438_2018", 14, bits(60, 8, 40), {58}, 0, 0, 0, "bound of 430 bits"},
      {"n15_qp880_anchor_2018", 15, bits(60, 19, 40), {60}, 0, 0, 0, "bound of 868 bits"},
      {"n16_qp1760_2018", 16, bits(60, 41, 40), {60}, 0, 0, 0, "bound of 1747 bits"},
      {"n14_sparse_h1", 14, {60, 40}, {60}, 1, 1, 0, "Hamming weight 1 is below the minimum of 128"},
      {"n14_sparse_h64", 14, {60, 40}, {60}, 1, 64, 0, "Hamming weight 64 is below the minimum of 128"},
      {"n14_sparse_h0", 14, {60, 40}, {60}, 1, 0, 0, "hamming_weight must be in [1, N]"},
      {"n14_sparse_h192_qp400", 14, bits(60, 7, 40), {60}, 1, 192, 0, "bound of 361 bits"},
      {"n15_sparse_h128_qp760", 15, bits(60, 16, 40), {60}, 1, 128, 0, "bound of 718 bits"},
      {"n13_sparse_h192", 13, {60, 40}, {60}, 1, 192, 0, "sparse secrets need N >= 2^14"},
      {"n14_marker_2", 14, {60, 40}, {60}, 0, 0, 2, "insecure marker must be 0 or 1"},
      {"n14_secure_but_marked", 14, {60, 40}, {60}, 0, 0, 1, "marked insecure"},
  };
}

// Primes as Context::create chooses them: per bit size, distinct NTT primes descending from 2^b.
std::vector<u64> primes_for(const WeakFile& f) {
  std::vector<int> all = f.q_bits;
  all.insert(all.end(), f.p_bits.begin(), f.p_bits.end());
  std::map<int, std::size_t> need, used;
  for (int b : all) need[b]++;
  std::map<int, std::vector<u64>> pool;
  for (auto [b, count] : need) pool[b] = math::generate_ntt_primes(b, count, std::size_t{1} << f.log_n);
  std::vector<u64> out;
  for (int b : all) out.push_back(pool[b][used[b]++]);
  return out;
}

// The parameter object of docs/formats/ckks.md (tag 1), dnum 0, scale 2^40.
Bytes encode(const WeakFile& f) {
  const std::vector<u64> primes = primes_for(f);
  ByteWriter hw;
  hw.put<std::uint32_t>(static_cast<std::uint32_t>(f.log_n));
  hw.put<std::uint32_t>(static_cast<std::uint32_t>(f.q_bits.size()));
  hw.put<std::uint32_t>(static_cast<std::uint32_t>(f.p_bits.size()));
  for (u64 p : primes) hw.put<u64>(p);
  hw.put<std::uint64_t>(f.q_bits.size());  // effective dnum = #Q
  hw.put<std::uint8_t>(f.secret);
  hw.put<std::uint64_t>(f.secret == 1 ? f.hamming_weight : 0);
  Blake2b h;
  h.update(std::string_view("heal.ckks.params.v1"));
  h.update(hw.bytes());
  const Digest digest = h.finish();

  ByteWriter w;
  const std::size_t start = begin_object(w, ObjectType::kCkksParams, kCkksFormatVersion);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(f.log_n));
  w.put<std::uint8_t>(static_cast<std::uint8_t>(f.q_bits.size()));
  for (int b : f.q_bits) w.put<std::uint8_t>(static_cast<std::uint8_t>(b));
  w.put<std::uint8_t>(static_cast<std::uint8_t>(f.p_bits.size()));
  for (int b : f.p_bits) w.put<std::uint8_t>(static_cast<std::uint8_t>(b));
  w.put<double>(0x1p40);
  w.put<std::uint8_t>(f.secret);
  w.put<std::uint32_t>(f.hamming_weight);
  w.put<std::uint32_t>(0);
  w.put<std::uint8_t>(f.marker);
  for (u64 p : primes) w.put<u64>(p);
  w.put_bytes(digest);
  end_object(w, start);
  return w.take();
}

Bytes read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

TEST(WeakParams, CommittedCorpusMatchesGenerator) {
  const bool regenerate = std::getenv("HEAL_WRITE_WEAK_PARAMS") != nullptr;
  if (regenerate) fs::create_directories(kCorpusDir);
  std::size_t files = 0;
  for (const auto& f : corpus()) {
    const Bytes want = encode(f);
    const fs::path file = fs::path(kCorpusDir) / (f.name + ".heal");
    if (regenerate) write_all(file, want);
    ASSERT_TRUE(fs::exists(file)) << file << " missing (run from the repository root)";
    EXPECT_EQ(read_all(file), want) << file << " differs from the generator";
    ++files;
  }
  std::size_t on_disk = 0;
  for (const auto& e : fs::directory_iterator(kCorpusDir)) on_disk += e.path().extension() == ".heal";
  EXPECT_EQ(on_disk, files) << "every corpus file must have a generator entry (and an expected message)";
}

TEST(WeakParams, EveryCorpusFileIsRefusedWithAClearMessage) {
  std::size_t checked = 0;
  for (const auto& f : corpus()) {
    const fs::path file = fs::path(kCorpusDir) / (f.name + ".heal");
    const Bytes b = read_all(file);
    ASSERT_FALSE(b.empty()) << file;
    const auto loaded = load_params(b);
    ++checked;
    if (loaded.ok()) {
      ADD_FAILURE() << f.name << " was accepted: " << (*loaded)->describe();
      continue;
    }
    EXPECT_NE(loaded.status().message().find(f.expect), std::string::npos)
        << f.name << ": message \"" << loaded.status().message() << "\" lacks \"" << f.expect << "\"";
  }
  EXPECT_EQ(checked, corpus().size());
}

// The opt-in comes from the calling code only, and it does not excuse a malformed or tampered
// file: the marked N = 2^10 set loads when the caller asks for it (its primes and hash are
// genuine), the marker-2 file stays refused.
TEST(WeakParams, CallerOptInLoadsGenuineTestParameters) {
  const Bytes marked = read_all(fs::path(kCorpusDir) / "n10_qp200_marked.heal");
  const auto ctx = load_params(marked, {.allow_insecure = true});
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  EXPECT_FALSE((*ctx)->meets_security_bound());
  EXPECT_EQ((*ctx)->n(), 1024u);
  const Bytes bad_marker = read_all(fs::path(kCorpusDir) / "n14_marker_2.heal");
  EXPECT_FALSE(load_params(bad_marker, {.allow_insecure = true}).ok());
  // inspect() flags every weak file without building a context.
  for (const auto& f : corpus()) {
    if (f.marker > 1) continue;  // not parseable
    const auto info = inspect(read_all(fs::path(kCorpusDir) / (f.name + ".heal")));
    ASSERT_TRUE(info.ok()) << f.name << ": " << info.status().to_string();
    EXPECT_NE(info->description.find("INSECURE"), std::string::npos) << f.name << ": " << info->description;
  }
}

}  // namespace
}  // namespace heal::ckks
