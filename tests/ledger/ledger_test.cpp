#include "heal/ledger/ledger.h"

#include <gtest/gtest.h>

#include "heal/core/bytes.h"
#include "ledger/ledger_fixture.h"

namespace heal::ledger {
namespace {

using testing::Federation;
using testing::RawDb;
using testing::TempLedgerFile;

std::unique_ptr<SqliteLedger> memory_ledger() {
  auto l = SqliteLedger::open(":memory:");
  EXPECT_TRUE(l.ok()) << l.status().to_string();
  return std::move(l).value();
}

TEST(Ledger, ChainVerifiesWithCounts) {
  Federation f;
  auto l = memory_ledger();
  f.write_chain(*l, 2);
  VerifyReport rep = l->verify();
  EXPECT_TRUE(rep.ok) << rep.summary();
  EXPECT_EQ(rep.counts.blocks, 2u + 2 * 7);  // setup, model v0; per round: open, 3 commits, set, model, result
  EXPECT_EQ(rep.counts.commitments, 6u);
  EXPECT_EQ(rep.counts.rounds_opened, 2u);
  EXPECT_EQ(rep.counts.contributor_sets, 2u);
  EXPECT_EQ(rep.counts.rounds_completed, 2u);
  EXPECT_EQ(rep.counts.model_versions, 3u);
  EXPECT_EQ(rep.counts.signatures, 4u + 1 + 2 * 7);
  EXPECT_EQ(rep.head_hash, l->head()->hash);
  EXPECT_TRUE(l->verify(rep.head_hash).ok);
  EXPECT_FALSE(l->verify(Digest{}).ok);
  EXPECT_EQ(*l->latest_model_version(), 2u);
}

TEST(Ledger, BlocksLinkAndHashAsDocumented) {
  Federation f;
  auto l = memory_ledger();
  f.write_chain(*l, 1);
  Digest prev{};
  for (std::uint64_t h = 0; h < *l->size(); ++h) {
    Block b = *l->block(h);
    EXPECT_EQ(b.height, h);
    EXPECT_EQ(b.prev_hash, prev);
    EXPECT_EQ(b.hash, compute_block_hash(h, prev, b.record, b.signatures));
    prev = b.hash;
  }
  EXPECT_EQ(l->block(*l->size()).status().code(), StatusCode::kNotFound);
}

TEST(Ledger, EmptyLedgerDoesNotVerify) {
  auto l = memory_ledger();
  EXPECT_FALSE(l->verify().ok);
  EXPECT_EQ(l->head().status().code(), StatusCode::kNotFound);
}

TEST(Ledger, AppendRefusesRecordsThatBreakTheRules) {
  Federation f;
  auto l = memory_ledger();
  // Genesis must be a setup.
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.model(0))).ok());
  ASSERT_TRUE(l->append(f.signed_setup()).ok());
  // Model versions are written by a coordinator, not a hospital.
  EXPECT_FALSE(l->append(f.by(*f.hospitals[0], f.model(0))).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.model(0))).ok());
  // Commitments need an open round; rounds are opened by a coordinator, in order.
  EXPECT_FALSE(l->append(f.by(*f.hospitals[0], f.commitment(1, 0))).ok());
  EXPECT_FALSE(l->append(f.by(*f.hospitals[0], f.open(1))).ok());
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.open(2))).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.open(1))).ok());
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.open(1))).ok());  // already open
  // A stranger's key is refused.
  auto stranger = Ed25519Signer::from_seed(seed_from_u64(4242));
  EXPECT_FALSE(l->append(f.by(*stranger, f.commitment(1, 0))).ok());
  // A hospital cannot commit in another hospital's name.
  EXPECT_FALSE(l->append(f.by(*f.hospitals[1], f.commitment(1, 0))).ok());
  // A commitment to a model that is not on the ledger is refused.
  UpdateCommitment c = f.commitment(1, 0);
  c.model_hash = testing::digest_of("some other model");
  EXPECT_FALSE(l->append(f.by(*f.hospitals[0], c)).ok());
  ASSERT_TRUE(l->append(f.by(*f.hospitals[0], f.commitment(1, 0))).ok());
  EXPECT_FALSE(l->append(f.by(*f.hospitals[0], f.commitment(1, 0))).ok());  // twice
  // A bad signature is refused.
  SignedRecord sr = f.by(*f.hospitals[1], f.commitment(1, 1));
  sr.signatures[0].signature[5] ^= 1;
  EXPECT_FALSE(l->append(sr).ok());
  ASSERT_TRUE(l->append(f.by(*f.hospitals[1], f.commitment(1, 1))).ok());
  // Model versions cannot be recorded twice (no equivocation on a version).
  ModelVersion dup = f.model(0);
  dup.model_hash = testing::digest_of("evil");
  EXPECT_FALSE(l->append(f.by(*f.coordinator, dup)).ok());
  // The next model version and a completed result need the round's contributor set first.
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.model(1))).ok());
  // A contributor set may list only committed contributions, and needs the quorum.
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.contributors(1, {0, 1, 2}))).ok());
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.contributors(1, {0}))).ok());
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.contributors(1, {1, 0}))).ok());  // unsorted
  EXPECT_FALSE(l->append(f.by(*f.hospitals[0], f.contributors(1, {0, 1}))).ok());  // not a coordinator
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.contributors(1, {0, 1}))).ok());
  // Exactly one contributor set per round, and no commitment after it.
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.contributors(1, {0, 1}))).ok());
  EXPECT_FALSE(l->append(f.by(*f.hospitals[2], f.commitment(1, 2))).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.model(1))).ok());
  // The result must match the contributor set.
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.round_result(1, {0}))).ok());
  RoundResult other_agg = f.round_result(1, {0, 1});
  other_agg.aggregate_hash = testing::digest_of("another aggregate");
  EXPECT_FALSE(l->append(f.by(*f.coordinator, other_agg)).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.round_result(1, {0, 1}))).ok());
  // Rounds only increase.
  EXPECT_FALSE(l->append(f.by(*f.coordinator, f.round_result(1, {0, 1}))).ok());
  // Another federation's record is refused.
  Record other = f.wrap(f.model(2));
  other.federation_id = "other";
  const Signer* signers[] = {f.coordinator.get()};
  EXPECT_FALSE(l->append(sign_record(other, signers)).ok());
  EXPECT_TRUE(l->verify().ok);
}

TEST(Ledger, FailedRoundsKeepTheModel) {
  Federation f;
  auto l = memory_ledger();
  ASSERT_TRUE(l->append(f.signed_setup()).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.model(0))).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.open(1))).ok());
  RoundResult x = f.round_result(1, {});
  x.status = RoundStatus::kFailed;
  x.failure_reason = "1 of 2 contributions";
  EXPECT_FALSE(l->append(f.by(*f.coordinator, x)).ok());  // still claims model v1
  x.model_version_out = 0;
  x.model_hash_out = Federation::model_hash(0);
  ASSERT_TRUE(l->append(f.by(*f.coordinator, x)).ok());
  EXPECT_EQ(l->verify().counts.rounds_failed, 1u);
}

TEST(Ledger, RoundResultWithDuplicateDecryptorsIsRefused) {
  Federation f;
  auto l = memory_ledger();
  ASSERT_TRUE(l->append(f.signed_setup()).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.model(0))).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.open(1))).ok());
  for (std::uint32_t p = 0; p < 2; ++p) ASSERT_TRUE(l->append(f.by(*f.hospitals[p], f.commitment(1, p))).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.contributors(1, {0, 1}))).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.model(1))).ok());
  // One key holder listed twice must not pass for the 2-of-3 decryption threshold.
  RoundResult x = f.round_result(1, {0, 1});
  x.decryptors = {0, 0};
  auto res = l->append(f.by(*f.coordinator, x));
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("decryptor 0 listed twice"), std::string::npos) << res.status().to_string();
  // A failed round's decryptors are held to the same rule.
  x.status = RoundStatus::kFailed;
  x.failure_reason = "non-finite model";
  x.model_version_out = 0;
  x.model_hash_out = Federation::model_hash(0);
  x.decryptors = {1, 2, 1};
  EXPECT_FALSE(l->append(f.by(*f.coordinator, x)).ok());
  x.decryptors = {1, 2};
  x.selected = {0, 1, 0};  // and a hospital selected twice
  res = l->append(f.by(*f.coordinator, x));
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("hospital 0 selected twice"), std::string::npos) << res.status().to_string();
  x.selected = {0, 1, 2};
  ASSERT_TRUE(l->append(f.by(*f.coordinator, x)).ok());
  EXPECT_TRUE(l->verify().ok);
}

TEST(Ledger, SetupWithAOneOfNKeyIsRefusedEvenWhenEverySignerAgrees) {
  // t = 1 is Shamir degree 0: every key holder would decrypt any contribution alone.
  Federation f;
  auto l = memory_ledger();
  RoundSetup s = f.setup();
  s.decryption_threshold = 1;
  const Signer* all[] = {f.hospitals[0].get(), f.hospitals[1].get(), f.hospitals[2].get(), f.coordinator.get()};
  auto r = l->append(sign_record(f.wrap(s), all));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("decryption threshold 1 refused"), std::string::npos) << r.status().to_string();
  s.decryption_threshold = 0;  // no threshold decryption (plaintext mode): allowed
  s.secure_mode = "none";
  EXPECT_TRUE(l->append(sign_record(f.wrap(s), all)).ok());
}

TEST(Ledger, SetupsNeedEveryParticipantAtGenesisAndAHospitalMajorityAfter) {
  Federation f;
  auto l = memory_ledger();
  // Genesis without hospital 2's signature: it did not consent.
  const Signer* some[] = {f.hospitals[0].get(), f.hospitals[1].get(), f.coordinator.get()};
  auto r = l->append(sign_record(f.wrap(f.setup()), some));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not signed by participant 2"), std::string::npos) << r.status().to_string();
  ASSERT_TRUE(l->append(f.signed_setup()).ok());
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.model(0))).ok());
  // A re-key that lowers the quorum rules, signed by the coordinator alone (or with one hospital).
  RoundSetup weaker = f.setup(2);
  weaker.min_contributors = 1;
  r = l->append(f.by(*f.coordinator, weaker));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than half must sign"), std::string::npos) << r.status().to_string();
  const Signer* one[] = {f.coordinator.get(), f.hospitals[0].get()};
  EXPECT_FALSE(l->append(sign_record(f.wrap(weaker), one)).ok());
  // Not while a round is open, even with a majority.
  const Signer* majority[] = {f.hospitals[0].get(), f.hospitals[2].get()};
  ASSERT_TRUE(l->append(f.by(*f.coordinator, f.open(1))).ok());
  EXPECT_FALSE(l->append(sign_record(f.wrap(weaker), majority)).ok());
  RoundResult x = f.round_result(1, {});
  x.status = RoundStatus::kFailed;
  x.failure_reason = "no contributions";
  x.decryptors.clear();
  x.model_version_out = 0;
  x.model_hash_out = Federation::model_hash(0);
  ASSERT_TRUE(l->append(f.by(*f.coordinator, x)).ok());
  // Two of the three hospitals: accepted.
  ASSERT_TRUE(l->append(sign_record(f.wrap(weaker), majority)).ok());
  EXPECT_EQ(l->current_setup()->key_epoch, 2u);
  EXPECT_TRUE(l->verify().ok);
}

TEST(Ledger, CheckModelDetectsInconsistentModels) {
  Federation f;
  auto l = memory_ledger();
  f.write_chain(*l, 2);
  EXPECT_TRUE(l->check_model(2, Federation::model_hash(2)).ok());
  EXPECT_TRUE(l->check_model(0, Federation::model_hash(0)).ok());
  EXPECT_EQ(l->check_model(2, Federation::model_hash(1)).code(), StatusCode::kCorruption);
  EXPECT_EQ(l->check_model(7, Federation::model_hash(2)).code(), StatusCode::kNotFound);
}

TEST(Ledger, PersistsAndReopensReadOnly) {
  Federation f;
  TempLedgerFile file("persist");
  Digest head;
  {
    auto l = SqliteLedger::open(file.path).value();
    f.write_chain(*l, 1);
    head = l->head()->hash;
  }
  auto ro = SqliteLedger::open_read_only(file.path);
  ASSERT_TRUE(ro.ok()) << ro.status().to_string();
  EXPECT_TRUE((*ro)->verify(head).ok);
  EXPECT_TRUE((*ro)->check_model(1, Federation::model_hash(1)).ok());
  auto history = (*ro)->model_history();
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[1].version, 1u);
  EXPECT_EQ((*history)[1].participants, (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ((*history)[1].metrics_json, R"({"val_acc":0.9})");
  EXPECT_EQ(SqliteLedger::open_read_only(file.path + ".missing").status().code(), StatusCode::kNotFound);
}

TEST(Ledger, TriggersRefuseUpdateDeleteAndOutOfOrderInsert) {
  Federation f;
  TempLedgerFile file("triggers");
  auto l = SqliteLedger::open(file.path).value();
  f.write_chain(*l, 1);
  RawDb raw(file.path);
  EXPECT_NE(raw.exec("UPDATE blocks SET record = x'00' WHERE height = 1"), SQLITE_OK);
  EXPECT_NE(raw.exec("DELETE FROM blocks WHERE height = 6"), SQLITE_OK);
  EXPECT_NE(raw.exec("INSERT INTO blocks VALUES (99, zeroblob(32), x'00', x'00', zeroblob(32))"), SQLITE_OK);
  EXPECT_NE(raw.exec("INSERT OR REPLACE INTO blocks VALUES (3, zeroblob(32), x'00', x'00', zeroblob(32))"), SQLITE_OK);
  EXPECT_NE(raw.exec("UPDATE meta SET value = '2' WHERE key = 'schema_version'"), SQLITE_OK);
  EXPECT_TRUE(l->verify().ok);
}

TEST(Ledger, DeletionsAreDetected) {
  Federation f;
  TempLedgerFile file("delete");
  auto l = SqliteLedger::open(file.path).value();
  f.write_chain(*l, 1);
  const Digest head = l->head()->hash;
  RawDb raw(file.path);
  raw.drop_triggers();
  ASSERT_EQ(raw.exec("DELETE FROM blocks WHERE height = 8"), SQLITE_OK);  // the last block
  VerifyReport rep = l->verify(head);
  EXPECT_FALSE(rep.ok);
  ASSERT_EQ(raw.exec("DELETE FROM blocks WHERE height = 3"), SQLITE_OK);  // a middle block
  rep = l->verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_height, 3u);
  // The replica notices the shrink on its next check and refuses to vouch for any model.
  EXPECT_FALSE(l->check_model(0, Federation::model_hash(0)).ok());
}

TEST(Ledger, OpeningGarbageFailsCleanly) {
  TempLedgerFile file("garbage");
  Bytes junk(4096, 0x5a);
  ASSERT_TRUE(write_file(file.path, junk).ok());
  EXPECT_FALSE(SqliteLedger::open(file.path).ok());
  EXPECT_FALSE(SqliteLedger::open_read_only(file.path).ok());
}

}  // namespace
}  // namespace heal::ledger
