// Node state at rest (heal/fl/node_store.h): a hospital's HE key material and safeguards in an
// encrypted 0600 vault, and the attacks a restart would otherwise allow. Each attack test first
// shows the attack succeeding against a party rebuilt WITHOUT its store (state lost), then failing
// against one rebuilt from its store.
#include "heal/fl/node_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include "fl/fl_fixture.h"
#include "heal/core/rng.h"
#include "heal/core/vault.h"
#include "heal/fl/federation.h"
#include "heal/fl/he_aggregator.h"
#include "testing/temp_dir.h"

namespace heal::fl {
namespace {

namespace fs = std::filesystem;

// A per-test temporary directory (tests/testing/temp_dir.h).
struct TempDir : ::heal::testing::TempDir {
  TempDir() : ::heal::testing::TempDir("heal-node-store-test") {}
};

constexpr std::string_view kPass = "hospital-0 passphrase";
constexpr std::size_t kN = 100;  // weights: one ciphertext per message
// Contributor sets on the ledger (what the coordinator recorded before asking for shares).
constexpr PartyId kAll[] = {0, 1, 2, 3};
constexpr PartyId kFirstThree[] = {0, 1, 2};
constexpr PartyId kLastThree[] = {1, 2, 3};

VaultOpenOptions test_open() {
  VaultOpenOptions o;
  o.allow_weak_kdf = true;  // the stores below use VaultKdf::min_for_testing()
  return o;
}

// 4 parties, t = 3 (a majority), tolerating 1 colluder: every decrypted sum needs >= 3
// contributions (src/fl/README.md "Threshold rules"), so the subset attacks below drop one of four.
HeAggregatorConfig config(std::uint64_t max_decryptions = 4096) {
  HeAggregatorConfig c;
  c.threshold = 3;
  c.colluders_tolerated = 1;
  c.max_total_weight = 4096;
  c.max_decryptions = max_decryptions;
  return c;
}

std::vector<float> update(std::uint64_t seed) {
  SeededRng rng(seed_from_u64(seed));
  std::vector<float> u(kN);
  for (auto& x : u) x = static_cast<float>(rng.uniform_double() - 0.5);
  return u;
}

// Restarts party `p`: the old objects are gone, the store file is opened again.
std::unique_ptr<AggregationParty> restart(HeAggregator& agg, const std::string& path) {
  auto store = NodeStore::open(path, kPass, test_open());
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  auto party = agg.party_from_store(std::shared_ptr<NodeStore>(std::move(*store)));
  EXPECT_TRUE(party.ok()) << party.status().to_string();
  return std::move(*party);
}

std::unique_ptr<AggregationParty> first_start(HeAggregator& agg, PartyId p, const std::string& path) {
  auto store = agg.create_party_store(p, path, kPass, VaultKdf::min_for_testing());
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  auto party = agg.party_from_store(std::shared_ptr<NodeStore>(std::move(*store)));
  EXPECT_TRUE(party.ok()) << party.status().to_string();
  return std::move(*party);
}

// Contributions of parties 0..3 in `round`; party 0 is `p0`.
std::vector<Bytes> contributions(HeAggregator& agg, AggregationParty& p0, std::uint64_t round, double* sum0) {
  SeededRng rng(seed_from_u64(round));
  std::vector<Bytes> out;
  auto c0 = p0.contribute(update(10 * round), 100, round, rng);
  EXPECT_TRUE(c0.ok()) << c0.status().to_string();
  out.push_back(*c0);
  if (sum0) *sum0 = 100 * static_cast<double>(update(10 * round)[0]);
  for (PartyId p : {1u, 2u, 3u}) {
    auto party = agg.party(p);
    auto c = (*party)->contribute(update(10 * round + p), 100, round, rng);
    EXPECT_TRUE(c.ok());
    out.push_back(*c);
    if (sum0) *sum0 += 100 * static_cast<double>(update(10 * round + p)[0]);
  }
  return out;
}

TEST(NodeStore, PartyRebuiltFromItsStoreDecryptsCorrectly) {
  TempDir dir;
  HeAggregator agg(config(), 4);
  auto p0 = first_start(agg, 0, dir / "p0.vault");
  auto p1 = agg.party(1);
  auto p2 = agg.party(2);
  double expect0 = 0;
  const auto cs = contributions(agg, *p0, 1, &expect0);
  auto aggregate = agg.aggregate(cs, kN, 1);
  ASSERT_TRUE(aggregate.ok());
  p0.reset();                           // the process ends: the store is closed
  p0 = restart(agg, dir / "p0.vault");  // material read back from the encrypted file
  const PartyId quorum[] = {0, 1, 2};
  SeededRng rng(seed_from_u64(9));
  auto s0 = p0->decryption_share(*aggregate, quorum, kAll, 1, rng);
  auto s1 = (*p1)->decryption_share(*aggregate, quorum, kAll, 1, rng);
  auto s2 = (*p2)->decryption_share(*aggregate, quorum, kAll, 1, rng);
  ASSERT_TRUE(s0.ok()) << s0.status().to_string();
  ASSERT_TRUE(s1.ok() && s2.ok());
  const DecryptionShare shares[] = {{0, *s0}, {1, *s1}, {2, *s2}};
  auto sum = agg.finalize(*aggregate, shares, kN, 1);
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_NEAR((*sum)[0], expect0, 1e-3);
}

// (a) Replay after restart: a party asked again for round r must not encrypt a second update
// under a_{r,k} (the difference of the two c0 is the difference of the updates plus noise).
TEST(NodeStoreAttack, ReplayedRoundAfterRestartIsRefused) {
  TempDir dir;
  const std::string path = dir / "p0.vault";
  HeAggregator agg(config(), 4);
  SeededRng rng(seed_from_u64(1));
  {
    auto p0 = first_start(agg, 0, path);
    ASSERT_TRUE(p0->contribute(update(1), 100, 5, rng).ok());
  }  // party and store destroyed: a restart
  // Without a store the state is lost and the replay works (the attack).
  EXPECT_TRUE((*agg.party(0))->contribute(update(2), 100, 5, rng).ok());
  // Rebuilt from its store: refused, also for earlier rounds; the next round is fine.
  auto p0 = restart(agg, path);
  auto replay = p0->contribute(update(2), 100, 5, rng);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(replay.status().message().find("already contributed in round 5"), std::string::npos)
      << replay.status().message();
  EXPECT_FALSE(p0->contribute(update(2), 100, 4, rng).ok());
  EXPECT_TRUE(p0->contribute(update(2), 100, 6, rng).ok());
  p0.reset();  // the process ends (and releases the store's lock)
  EXPECT_FALSE(restart(agg, path)->contribute(update(3), 100, 6, rng).ok());
}

// (b) A second, different aggregate for an already-decrypted round after a restart (e.g. the sum
// over a subset: its difference with the first reveals the missing party's update).
TEST(NodeStoreAttack, SecondAggregateForADecryptedRoundAfterRestartIsRefused) {
  TempDir dir;
  const std::string path = dir / "p0.vault";
  HeAggregator agg(config(), 4);
  const PartyId quorum[] = {0, 1, 2};
  SeededRng rng(seed_from_u64(2));
  Bytes all, subset;
  {
    auto p0 = first_start(agg, 0, path);
    const auto cs = contributions(agg, *p0, 3, nullptr);
    all = *agg.aggregate(cs, kN, 3);
    subset = *agg.aggregate(std::span<const Bytes>(cs.data(), 3), kN, 3);
    ASSERT_TRUE(p0->decryption_share(all, quorum, kAll, 3, rng).ok());
    EXPECT_FALSE(p0->decryption_share(subset, quorum, kFirstThree, 3, rng).ok());  // in memory: refused already
  }
  EXPECT_TRUE(
      (*agg.party(0))->decryption_share(subset, quorum, kFirstThree, 3, rng).ok());  // the attack without a store
  auto p0 = restart(agg, path);
  auto second = p0->decryption_share(subset, quorum, kFirstThree, 3, rng);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("different aggregate was already decrypted in round 3"), std::string::npos)
      << second.status().message();
  // Re-sharing the same aggregate (another quorum after a dropout) is still allowed; earlier rounds are not.
  const PartyId other_quorum[] = {0, 2, 3};
  EXPECT_TRUE(p0->decryption_share(all, other_quorum, kAll, 3, rng).ok());
  p0.reset();
  auto p0b = restart(agg, path);
  EXPECT_FALSE(p0b->decryption_share(subset, quorum, kFirstThree, 3, rng).ok());
  // An aggregate of an earlier round (parties 1 to 3 in round 2) is refused after the restart too.
  std::vector<Bytes> r2;
  for (PartyId p : {1u, 2u, 3u}) r2.push_back(*(*agg.party(p))->contribute(update(p), 100, 2, rng));
  const Bytes earlier = *agg.aggregate(r2, kN, 2);
  EXPECT_TRUE((*agg.party(0))->decryption_share(earlier, quorum, kLastThree, 2, rng).ok());  // without a store
  auto refused = p0b->decryption_share(earlier, quorum, kLastThree, 2, rng);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("earlier than round 3"), std::string::npos) << refused.status().message();
}

// (c) The flooding budget D of the key epoch spent before a restart stays spent after it.
TEST(NodeStoreAttack, FloodingBudgetSpentBeforeRestartStaysSpent) {
  TempDir dir;
  const std::string path = dir / "p0.vault";
  HeAggregator agg(config(/*max_decryptions=*/2), 4);
  const PartyId quorum[] = {0, 1, 2};
  SeededRng rng(seed_from_u64(3));
  std::vector<Bytes> aggregates;
  {
    auto p0 = first_start(agg, 0, path);
    for (std::uint64_t round = 1; round <= 3; ++round) {
      aggregates.push_back(*agg.aggregate(contributions(agg, *p0, round, nullptr), kN, round));
    }
    ASSERT_TRUE(p0->decryption_share(aggregates[0], quorum, kAll, 1, rng).ok());
    ASSERT_TRUE(p0->decryption_share(aggregates[1], quorum, kAll, 2, rng).ok());
  }
  // Without a store a fresh party object has its whole budget again (the attack).
  EXPECT_TRUE((*agg.party(0))->decryption_share(aggregates[2], quorum, kAll, 3, rng).ok());
  auto store = NodeStore::open(path, kPass, test_open());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->safeguards().decryptions_used, 2u);
  EXPECT_EQ((*store)->safeguards().decryption_budget, 2u);
  store->reset();
  auto p0 = restart(agg, path);
  auto third = p0->decryption_share(aggregates[2], quorum, kAll, 3, rng);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kOutOfRange);  // Hospital reports kFloodingBudgetExhausted
  EXPECT_NE(third.status().message().find("budget"), std::string::npos) << third.status().message();
}

// (d) Created 0600; a group/world-readable store is refused with a message naming chmod 600.
TEST(NodeStoreAttack, StoreFileIs0600AndA0644StoreIsRefused) {
  TempDir dir;
  const std::string path = dir / "p0.vault";
  HeAggregator agg(config(), 4);
  {
    auto p0 = first_start(agg, 0, path);
    SeededRng rng(seed_from_u64(4));
    ASSERT_TRUE(p0->contribute(update(1), 100, 1, rng).ok());  // rewritten: still 0600
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // No temporary file is left behind: the directory holds the store and its lock file only.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"p0.vault", "p0.vault.lock"}));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto r = NodeStore::open(path, kPass, test_open());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("0644"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("chmod 600"), std::string::npos) << r.status().message();
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(NodeStore::open(path, kPass, test_open()).ok());
  // An existing store is never replaced by a fresh one (that would reset the safeguards).
  EXPECT_FALSE(agg.create_party_store(0, path, kPass, VaultKdf::min_for_testing()).ok());
}

// (e) Wrong passphrase, a flipped byte anywhere, truncation, another version: clear errors.
TEST(NodeStoreAttack, WrongPassphraseTamperingAndTruncationAreRefused) {
  TempDir dir;
  const std::string path = dir / "p0.vault";
  HeAggregator agg(config(), 4);
  ASSERT_TRUE(agg.create_party_store(0, path, kPass, VaultKdf::min_for_testing()).ok());
  const Bytes good = *read_file(path);
  auto wrong = NodeStore::open(path, "not the passphrase", test_open());
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("wrong passphrase or tampered file"), std::string::npos);
  auto put = [&](const Bytes& b) { ASSERT_TRUE(write_secret_file(path, b).ok()); };
  for (std::size_t i : {std::size_t{0}, std::size_t{5}, std::size_t{20}, std::size_t{40}, std::size_t{90},
                        good.size() / 2, good.size() - 1}) {
    Bytes t = good;
    t[i] ^= 0x10;
    put(t);
    auto r = NodeStore::open(path, kPass, test_open());
    EXPECT_FALSE(r.ok()) << "flipped byte " << i;
  }
  for (std::size_t n : {std::size_t{0}, std::size_t{10}, std::size_t{100}, good.size() - 1}) {
    put(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    auto r = NodeStore::open(path, kPass, test_open());
    ASSERT_FALSE(r.ok()) << "truncated to " << n;
    EXPECT_FALSE(r.status().message().empty());
  }
  Bytes v2 = good;
  v2[4] = 2;
  put(v2);
  auto r = NodeStore::open(path, kPass, test_open());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  // A test-strength file needs the explicit opt-in.
  put(good);
  EXPECT_EQ(NodeStore::open(path, kPass).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(NodeStore::open(path, kPass, test_open()).ok());
}

// (f) The secret material does not appear in the file in plain.
TEST(NodeStoreAttack, SecretBytesDoNotAppearInTheFile) {
  TempDir dir;
  const std::string path = dir / "p0.vault";
  HeAggregator agg(config(), 4);
  auto store = agg.create_party_store(0, path, kPass, VaultKdf::min_for_testing());
  ASSERT_TRUE(store.ok());
  const auto material = (*store)->material();
  const Bytes file = *read_file(path);
  ASSERT_GT(material.size(), 4096u);
  // Control: the same search finds the material in a file that holds it in plain.
  ASSERT_TRUE(write_secret_file(dir / "plain.bin", material).ok());
  const Bytes plain = *read_file(dir / "plain.bin");
  auto found_in = [&](const Bytes& hay, std::size_t i) {
    return std::search(hay.begin(), hay.end(), material.begin() + i, material.begin() + i + 16) != hay.end();
  };
  EXPECT_TRUE(found_in(plain, material.size() / 2));
  // No 16-byte window of the material (stride 61, all-zero windows skipped) is in the vault file.
  for (std::size_t i = 0; i + 16 <= material.size(); i += 61) {
    if (std::all_of(material.begin() + i, material.begin() + i + 16, [](std::uint8_t b) { return b == 0; })) continue;
    ASSERT_FALSE(found_in(file, i)) << "material bytes at " << i << " found in the file";
  }
}

// Write-ahead: when the state cannot be recorded, the party does not act.
TEST(NodeStore, NoContributionWhenTheStateCannotBeWritten) {
  auto dir = std::make_unique<TempDir>();
  HeAggregator agg(config(), 4);
  auto p0 = first_start(agg, 0, *dir / "p0.vault");
  dir.reset();  // the directory is gone: the atomic rewrite cannot create its temporary file
  SeededRng rng(seed_from_u64(5));
  auto c = p0->contribute(update(1), 100, 1, rng);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("refusing to act"), std::string::npos) << c.status().message();
  // The stricter state is kept in memory: round 1 stays used in this process.
  EXPECT_FALSE(p0->contribute(update(1), 100, 1, rng).ok());
}

// End to end: the golden HE federation (tests/fl/federation_golden_test.cpp) with every hospital's
// party built from its own store ends with the same model bytes, and the stores hold what was done.
TEST(NodeStore, GoldenFederationWithStoresIsUnchanged) {
  TempDir dir;
  const std::vector<float> w_star{1, -2, 0.5f, 3, -0.75f};
  std::vector<std::unique_ptr<LocalTrainer>> trainers;
  for (std::uint64_t i = 0; i < 4; ++i) {
    trainers.push_back(
        std::make_unique<testing::LinearRegressionTrainer>(w_star, 30 + 7 * i, 100 + i, 0.1f * static_cast<float>(i)));
  }
  FederationConfig cfg;
  cfg.rounds = 4;
  cfg.min_contributors = 3;  // as tests/fl/federation_golden_test.cpp (opt-in below, same bytes)
  cfg.clip_norm = 0.5;
  cfg.strategy.name = "fedadam";
  cfg.dropouts = {{3, 2, DropPhase::kBeforeBroadcast, 1}, {0, 3, DropPhase::kAfterSubmit, 1}};
  HeAggregatorConfig c;
  c.threshold = 2;
  c.allow_non_majority_threshold = true;
  c.max_total_weight = 4096;
  auto he = std::make_unique<HeAggregator>(c, 4);
  HeAggregator* agg = he.get();
  auto ledger = testing::memory_ledger();
  auto fed =
      std::make_unique<Federation>(cfg, std::move(trainers), std::move(he), *ledger, std::vector<float>(5, 0.0f));
  for (PartyId p = 0; p < 4; ++p) {
    auto store = agg->create_party_store(p, dir / ("h" + std::to_string(p)), kPass, VaultKdf::min_for_testing());
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    ASSERT_TRUE((*store)->bind_ledger(*ledger).ok());  // rollback detection on: no false alarm in 4 rounds
    auto party = agg->party_from_store(std::shared_ptr<NodeStore>(std::move(*store)));
    ASSERT_TRUE(party.ok());
    fed->hospital(p).set_aggregation_party(std::move(*party));
  }
  auto rep = fed->run();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  for (const auto& r : rep->rounds) EXPECT_TRUE(r.completed) << r.round << ": " << r.failure_reason;
  EXPECT_EQ(digest_hex(model_hash(fed->global_model())),
            "b3a9320aa76eb1f688e5cb83496f4ca4c84926c9f4f70f552f76899ba6c62000");
  fed.reset();  // the hospitals stop: their stores are closed (and unlocked)
  std::uint64_t decryptions = 0;
  for (PartyId p = 0; p < 4; ++p) {
    auto store = NodeStore::open(dir / ("h" + std::to_string(p)), kPass, test_open());
    ASSERT_TRUE(store.ok());
    const auto& g = (*store)->safeguards();
    ASSERT_TRUE(g.contributed_round.has_value()) << p;
    EXPECT_EQ(*g.contributed_round, 4u) << p;  // every hospital took part in the last round
    decryptions += g.decryptions_used;
  }
  EXPECT_GE(decryptions, 4u * 2);  // at least a quorum of 2 shares in each of the 4 rounds
}

TEST(NodeStore, StateRoundTripsAndParserRefusesGarbage) {
  NodeState s;
  s.safeguards.party = 7;
  s.safeguards.key_epoch[3] = 9;
  s.safeguards.decryption_budget = 10;
  s.safeguards.decryptions_used = 4;
  s.safeguards.contributed_round = 12;
  s.safeguards.decrypted_round = 11;
  s.safeguards.decrypted_aggregate[0] = 1;
  s.safeguards.shares_in_round = 2;
  s.safeguards.writes = 5;
  s.material = SecretBytes(Bytes{1, 2, 3});
  const SecretBytes enc = encode_node_state(s);
  auto dec = decode_node_state(enc.span());
  ASSERT_TRUE(dec.ok()) << dec.status().to_string();
  EXPECT_EQ(dec->safeguards, s.safeguards);
  EXPECT_EQ(dec->material.size(), 3u);
  const Bytes bytes(enc.span().begin(), enc.span().end());
  for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_node_state(std::span(bytes).first(n)).ok());
  Bytes over = bytes;
  over[16 + 4 + 32 + 8] = 11;  // used (low byte) > budget
  EXPECT_FALSE(decode_node_state(over).ok());
  // Canonical encoding (found by fuzz_fl_node_store): an absent round must be encoded as zero.
  NodeState fresh;
  fresh.material = SecretBytes(Bytes{4});
  const SecretBytes f = encode_node_state(fresh);
  Bytes odd(f.span().begin(), f.span().end());
  ASSERT_TRUE(decode_node_state(odd).ok());
  odd[16 + 4 + 32 + 8 + 8 + 1] = 1;  // contributed round = 1 with the "contributed" flag clear
  EXPECT_FALSE(decode_node_state(odd).ok());
}

// (g) Rollback: an older valid copy of the store put back after round 2 (an attacker, a backup
// restore) forgets that party 0 contributed in round 2, and the party would encrypt a different
// update under round 2's public polynomials again. The ledger holds party 0's signed commitment for
// round 2, so a store bound to the ledger refuses: at the restart and before each round.
TEST(NodeStoreAttack, RolledBackStoreIsRefusedAgainstTheLedger) {
  TempDir dir;
  const std::string path = dir / "h0";
  const std::vector<float> w_star{1, -2, 0.5f, 3, -0.75f};
  std::vector<std::unique_ptr<LocalTrainer>> trainers;
  for (std::uint64_t i = 0; i < 4; ++i) {
    trainers.push_back(std::make_unique<testing::LinearRegressionTrainer>(w_star, 30 + 7 * i, 100 + i, 0.0f));
  }
  FederationConfig cfg;
  cfg.rounds = 3;
  cfg.min_contributors = 3;
  cfg.evaluate = false;
  auto he = std::make_unique<HeAggregator>(config(), 4);
  HeAggregator* agg = he.get();
  auto ledger = testing::memory_ledger();
  Federation fed(cfg, std::move(trainers), std::move(he), *ledger, std::vector<float>(5, 0.0f));
  std::shared_ptr<NodeStore> store;
  {
    auto created = agg->create_party_store(0, path, kPass, VaultKdf::min_for_testing());
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    store = std::move(*created);
  }
  ASSERT_TRUE(store->bind_ledger(*ledger).ok());  // empty ledger: nothing to compare yet
  auto bound_party = agg->party_from_store(store);
  ASSERT_TRUE(bound_party.ok());
  fed.hospital(0).set_aggregation_party(std::move(*bound_party));
  ASSERT_TRUE(fed.setup().ok());
  auto r1 = fed.run_round();
  ASSERT_TRUE(r1.ok() && r1->completed) << (r1.ok() ? r1->failure_reason : r1.status().to_string());
  const Bytes after_round1 = *read_file(path);  // the copy that will be put back
  auto r2 = fed.run_round();
  ASSERT_TRUE(r2.ok() && r2->completed) << (r2.ok() ? r2->failure_reason : r2.status().to_string());
  ASSERT_EQ(store->safeguards().contributed_round, std::optional<std::uint64_t>(2));
  const Digest epoch = store->safeguards().key_epoch;
  auto seen = ledger_activity(*ledger, 0, epoch);
  ASSERT_TRUE(seen.ok()) << seen.status().to_string();
  EXPECT_EQ(seen->contributed_round, std::optional<std::uint64_t>(2));
  const auto results = testing::round_results(*ledger);
  ASSERT_EQ(results.size(), 2u);
  std::optional<std::uint64_t> decrypted;  // the last round whose result lists party 0 as a decryptor
  for (const auto& r : results) {
    if (std::count(r.decryptors.begin(), r.decryptors.end(), 0u) == 1) decrypted = r.round;
  }
  ASSERT_TRUE(decrypted.has_value());  // the coordinator asks the first t = 3 of the 4 for shares
  EXPECT_EQ(seen->decrypted_round, decrypted);
  EXPECT_EQ(store->safeguards().decrypted_round, decrypted);
  {
    // A copy made between party 0's contribution and its share of that round (same contribution
    // round as the ledger, an older decryption) is caught by the decryptor list.
    auto between = agg->create_party_store(0, dir / "between", kPass, VaultKdf::min_for_testing());
    ASSERT_TRUE(between.ok());
    ASSERT_TRUE((*between)->record_contribution(2).ok());
    const Status st = (*between)->check_ledger(*ledger);
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(st.message().find("as a decryptor in round " + std::to_string(*decrypted) +
                                ", the store's last decryption is none"),
              std::string::npos)
        << st.message();
  }
  // Records of another key epoch are not this store's business.
  EXPECT_EQ(*ledger_activity(*ledger, 0, Digest{}), LedgerActivity{});

  // Party 0's process ends (its store is closed) and the round-1 copy is put back.
  auto storeless = agg->party(0);
  ASSERT_TRUE(storeless.ok());
  fed.hospital(0).set_aggregation_party(std::move(*storeless));
  store.reset();
  ASSERT_TRUE(write_secret_file(path, after_round1).ok());
  const std::vector<float> other_update(5, 0.25f);  // not the update committed in round 2
  SeededRng rng(seed_from_u64(7));
  {
    // Without the check (a store not bound to the ledger, as before issue 16's rollback check) the
    // replay of round 2 is accepted: the attack.
    auto old = NodeStore::open(path, kPass, test_open());
    ASSERT_TRUE(old.ok()) << old.status().to_string();
    EXPECT_EQ((*old)->safeguards().contributed_round, std::optional<std::uint64_t>(1));  // round 2 forgotten
    auto party = agg->party_from_store(std::shared_ptr<NodeStore>(std::move(*old)));
    ASSERT_TRUE(party.ok());
    EXPECT_TRUE((*party)->contribute(other_update, 100, 2, rng).ok());
  }
  ASSERT_TRUE(write_secret_file(path, after_round1).ok());  // the attack wrote round 2: put the old copy back again

  // With the check: the restart is refused, and so is every round while the store stays behind.
  auto old = NodeStore::open(path, kPass, test_open());  // the file itself is valid
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  store = std::move(*old);
  const Status bound = store->bind_ledger(*ledger);
  ASSERT_FALSE(bound.ok());
  EXPECT_EQ(bound.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(bound.message().find("node store is older than the ledger: possible rollback"), std::string::npos)
      << bound.message();
  EXPECT_NE(bound.message().find("update commitment for round 2"), std::string::npos) << bound.message();
  EXPECT_NE(bound.message().find("last contribution is round 1"), std::string::npos) << bound.message();
  auto party = agg->party_from_store(store);
  ASSERT_TRUE(party.ok());
  for (std::uint64_t round : {2u, 3u}) {
    auto replay = (*party)->contribute(other_update, 100, round, rng);
    ASSERT_FALSE(replay.ok()) << "round " << round;
    EXPECT_EQ(replay.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(replay.status().message().find("older than the ledger"), std::string::npos) << replay.status().message();
  }
  EXPECT_EQ(store->safeguards().contributed_round, std::optional<std::uint64_t>(1));  // nothing recorded
  EXPECT_EQ(*read_file(path), after_round1);                                          // nor written
  // The hospital with the rolled-back store refuses round 3; the three others complete it.
  fed.hospital(0).set_aggregation_party(std::move(*party));
  auto r3 = fed.run_round();
  ASSERT_TRUE(r3.ok()) << r3.status().to_string();
  EXPECT_TRUE(r3->completed) << r3->failure_reason;
  EXPECT_EQ(r3->contributors, 3u);
  EXPECT_FALSE(ledger->commitment(3, 0).ok());
}

// Two processes on one store: the second open fails while the first holds it, and succeeds once
// the holder is gone (killed: the kernel drops an flock with its holder).
TEST(NodeStore, ASecondProcessCannotOpenAStoreInUse) {
  TempDir dir;
  const std::string path = dir / "p0.vault";
  HeAggregator agg(config(), 4);
  ASSERT_TRUE(agg.create_party_store(0, path, kPass, VaultKdf::min_for_testing()).ok());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    auto held = NodeStore::open(path, kPass, test_open());
    const char c = held.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    while (true) ::pause();  // holds the store until killed
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(c, 'y');
  auto second = NodeStore::open(path, kPass, test_open());
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("node store " + path + " is in use by another process"), std::string::npos)
      << second.status().message();
  // A fresh store cannot be created over it either (the lock is checked first).
  auto created = agg.create_party_store(0, path, kPass, VaultKdf::min_for_testing());
  EXPECT_NE(created.status().message().find("in use by another process"), std::string::npos)
      << created.status().message();
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFSIGNALED(wstatus));
  auto after = NodeStore::open(path, kPass, test_open());
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  // Two objects in one process are two holders as well.
  EXPECT_EQ(NodeStore::open(path, kPass, test_open()).status().code(), StatusCode::kFailedPrecondition);
  after->reset();
  EXPECT_TRUE(NodeStore::open(path, kPass, test_open()).ok());
}

}  // namespace
}  // namespace heal::fl
