#include "heal/ledger/record.h"

#include <gtest/gtest.h>

#include "heal/ledger/block.h"
#include "ledger/ledger_fixture.h"

namespace heal::ledger {
namespace {

using testing::Federation;

std::vector<Record> all_kinds(const Federation& f) {
  return {f.wrap(f.setup()), f.wrap(f.commitment(1, 2)), f.wrap(f.round_result(1, {0, 2})), f.wrap(f.model(3))};
}

TEST(LedgerRecord, RoundTripIsCanonicalForEveryType) {
  Federation f;
  for (const Record& r : all_kinds(f)) {
    Bytes b = encode_record(r);
    auto d = decode_record(b);
    ASSERT_TRUE(d.ok()) << record_type_name(r.type()) << ": " << d.status().to_string();
    EXPECT_EQ(*d, r);
    EXPECT_EQ(encode_record(*d), b);
    EXPECT_EQ(b[6], 48);  // ObjectType::kLedgerRecord in the header
  }
}

TEST(LedgerRecord, EveryTruncationAndTrailingByteIsRejected) {
  Federation f;
  for (const Record& r : all_kinds(f)) {
    Bytes b = encode_record(r);
    for (std::size_t n = 0; n < b.size(); ++n) {
      EXPECT_FALSE(decode_record(std::span(b).first(n)).ok()) << "prefix " << n;
    }
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_FALSE(decode_record(longer).ok());
  }
}

TEST(LedgerRecord, RejectsUnknownTypeRoleStatusAndNonFiniteNumbers) {
  Federation f;
  Bytes b = encode_record(f.wrap(f.model(1)));
  b[16] = 200;  // record type byte follows the 16-byte header (1-9 are known)
  EXPECT_EQ(decode_record(b).status().code(), StatusCode::kCorruption);

  RoundSetup s = f.setup();
  s.clip_norm = -1;
  EXPECT_FALSE(decode_record(encode_record(f.wrap(s))).ok());
  s.clip_norm = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(decode_record(encode_record(f.wrap(s))).ok());

  RoundResult x = f.round_result(1, {0});
  Bytes rb = encode_record(f.wrap(x));
  // status byte: header 16 + type 1 + fed id (4 + 8) + ts 8 + round 8 + epoch 4.
  const std::size_t status_at = 16 + 1 + 4 + f.id.size() + 8 + 8 + 4;
  ASSERT_EQ(rb[status_at], 1);
  rb[status_at] = 3;
  EXPECT_FALSE(decode_record(rb).ok());
}

TEST(LedgerRecord, HugeCountsDoNotAllocate) {
  Federation f;
  RoundResult x = f.round_result(1, {});
  Bytes b = encode_record(f.wrap(x));
  const std::size_t selected_at = 16 + 1 + 4 + f.id.size() + 8 + 8 + 4 + 1 + 4;
  b[selected_at] = 0xff;
  b[selected_at + 1] = 0xff;
  EXPECT_EQ(decode_record(b).status().code(), StatusCode::kCorruption);
}

TEST(LedgerSignature, SignVerifyAndRejectOthers) {
  auto a = Ed25519Signer::from_seed(seed_from_u64(1));
  auto b = Ed25519Signer::from_seed(seed_from_u64(2));
  auto a2 = Ed25519Signer::from_seed(seed_from_u64(1));
  EXPECT_EQ(a->identity(), a2->identity());  // deterministic from the seed
  EXPECT_NE(a->identity(), b->identity());
  Bytes msg = {1, 2, 3};
  Bytes sig = a->sign(msg);
  EXPECT_TRUE(verify_signature(a->identity(), msg, sig).ok());
  EXPECT_FALSE(verify_signature(b->identity(), msg, sig).ok());
  msg[0] ^= 1;
  EXPECT_FALSE(verify_signature(a->identity(), msg, sig).ok());
  EXPECT_FALSE(verify_signature(a->identity(), msg, std::span(sig).first(10)).ok());
  Identity bogus{static_cast<SignatureScheme>(7), Bytes(32, 0)};
  EXPECT_EQ(verify_signature(bogus, msg, sig).code(), StatusCode::kUnsupported);
  auto g1 = Ed25519Signer::generate();
  auto g2 = Ed25519Signer::generate();
  EXPECT_NE(g1->identity(), g2->identity());
}

TEST(LedgerSignature, SignatureListRoundTripAndStrictness) {
  Federation f;
  SignedRecord sr = f.signed_setup();
  Bytes enc = encode_signatures(sr.signatures);
  auto dec = decode_signatures(enc);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, sr.signatures);
  for (std::size_t n = 0; n < enc.size(); ++n) EXPECT_FALSE(decode_signatures(std::span(enc).first(n)).ok());
}

}  // namespace
}  // namespace heal::ledger
