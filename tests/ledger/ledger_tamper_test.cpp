// Tamper detection: flip bytes of stored blocks directly in the SQLite file (after dropping the
// append-only triggers, as an attacker with the file could) and check that verify() names the
// block that was changed. The exhaustive version (every byte of every column) is in
// ledger_tamper_slow_test.cpp.
#include <gtest/gtest.h>

#include "ledger/ledger_fixture.h"
#include "ledger/ledger_tamper.h"

namespace heal::ledger {
namespace {

using testing::Federation;
using testing::RawDb;
using testing::TempLedgerFile;

TEST(LedgerTamper, EveryByteOfASmallRecordIsDetectedAtItsHeight) {
  Federation f;
  TempLedgerFile file("tamper_small");
  auto l = SqliteLedger::open(file.path).value();
  f.write_chain(*l, 1);
  RawDb raw(file.path);
  raw.drop_triggers();
  raw.exec("PRAGMA synchronous=OFF");
  // Height 7 holds model v1, the smallest record of the chain.
  const std::uint64_t h = 7;
  ASSERT_EQ(decode_record(l->block(h)->record)->type(), RecordType::kModelVersion);
  testing::expect_every_flip_detected(*l, raw, "record", h, 1);
}

TEST(LedgerTamper, SampledBytesOfEveryColumnOfEveryBlockAreDetected) {
  Federation f;
  TempLedgerFile file("tamper_sample");
  auto l = SqliteLedger::open(file.path).value();
  f.write_chain(*l, 1);
  RawDb raw(file.path);
  raw.drop_triggers();
  raw.exec("PRAGMA synchronous=OFF");
  for (std::uint64_t h = 0; h < *l->size(); ++h) {
    for (const char* col : {"prev_hash", "record", "signatures", "hash"}) {
      testing::expect_every_flip_detected(*l, raw, col, h, 23);
    }
  }
}

TEST(LedgerTamper, RehashingTheChainDoesNotHideAnEditedRecord) {
  Federation f;
  TempLedgerFile file("tamper_rehash");
  auto l = SqliteLedger::open(file.path).value();
  f.write_chain(*l, 2);
  RawDb raw(file.path);
  raw.drop_triggers();
  // Change the metrics of round 1's result and recompute every block hash from there on, so
  // the chain links are consistent again: only the signatures can tell.
  const std::uint64_t target = 8;
  Record rec = *decode_record(l->block(target)->record);
  ASSERT_EQ(rec.type(), RecordType::kRoundResult);
  std::get<RoundResult>(rec.body).metrics_json = R"({"train_loss":0.01})";
  ASSERT_EQ(raw.set("record", target, encode_record(rec)), SQLITE_DONE);
  Digest prev = l->block(target - 1)->hash;
  for (std::uint64_t h = target; h < *l->size(); ++h) {
    Block b = *l->block(h);
    Digest hash = compute_block_hash(h, prev, b.record, b.signatures);
    ASSERT_EQ(raw.set("prev_hash", h, Bytes(prev.begin(), prev.end())), SQLITE_DONE);
    ASSERT_EQ(raw.set("hash", h, Bytes(hash.begin(), hash.end())), SQLITE_DONE);
    prev = hash;
  }
  VerifyReport rep = l->verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_height, target);
  EXPECT_NE(rep.reason.find("signature"), std::string::npos) << rep.reason;
}

TEST(LedgerTamper, ResignedByAStrangerIsDetected) {
  Federation f;
  TempLedgerFile file("tamper_resign");
  auto l = SqliteLedger::open(file.path).value();
  f.write_chain(*l, 1);
  RawDb raw(file.path);
  raw.drop_triggers();
  // Replace model v1 by another model, properly signed and hashed, but by a key outside the setup.
  auto stranger = Ed25519Signer::from_seed(seed_from_u64(31337));
  const std::uint64_t target = 7;
  Record rec = *decode_record(l->block(target)->record);
  std::get<ModelVersion>(rec.body).model_hash = testing::digest_of("backdoored");
  const Signer* signers[] = {stranger.get()};
  SignedRecord sr = sign_record(rec, signers);
  Bytes sigs = encode_signatures(sr.signatures);
  Digest prev = l->block(target - 1)->hash;
  Digest hash = compute_block_hash(target, prev, sr.record, sigs);
  ASSERT_EQ(raw.set("record", target, sr.record), SQLITE_DONE);
  ASSERT_EQ(raw.set("signatures", target, sigs), SQLITE_DONE);
  ASSERT_EQ(raw.set("hash", target, Bytes(hash.begin(), hash.end())), SQLITE_DONE);
  VerifyReport rep = l->verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_height, target);
  EXPECT_NE(rep.reason.find("not a participant"), std::string::npos) << rep.reason;
}

}  // namespace
}  // namespace heal::ledger
