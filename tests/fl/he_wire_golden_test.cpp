// Regression guard for the HE aggregator's bytes: with fixed seeds, a contribution, the aggregate,
// a decryption share and the decrypted sum must be byte-identical to what the code produced before
// fl's cryptography was routed through the ckks layer (issue 16: fl's private coefficient codec
// and share combination replaced by ckks::Encoder::encode_coeffs / decode_coeffs,
// ckks::Encryptor::encrypt_seeded(pt, seed, rng) and ckks::multiparty::combine_decryption_shares).
// The expected hashes were computed with the fl code of commit 4c2893c (before the change). The
// ledger records hashes of these bytes, so they must not change silently.
#include <gtest/gtest.h>

#include <cstring>

#include "fl/fl_fixture.h"
#include "heal/core/hash.h"
#include "heal/fl/he_aggregator.h"

namespace heal::fl {
namespace {

std::vector<float> update(std::size_t n, std::uint64_t seed) {
  SeededRng rng(seed_from_u64(seed));
  std::vector<float> u(n);
  for (auto& x : u) x = static_cast<float>((rng.uniform_double() - 0.5) * 0.2);
  return u;
}

TEST(HeWireGolden, ContributionAggregateShareAndSumBytesAreUnchanged) {
  HeAggregatorConfig c;
  c.threshold = 2;
  c.max_total_weight = 4096;
  HeAggregator agg(c, 3);
  const std::size_t n = 5000;  // two ciphertexts at N = 4096, the second partial
  const std::uint64_t round = 3;
  std::vector<std::unique_ptr<AggregationParty>> parties;
  for (PartyId p = 0; p < 3; ++p) parties.push_back(std::move(agg.party(p)).value());
  std::vector<Bytes> contributions;
  const double weights[] = {100, 250, 37};
  for (std::size_t i = 0; i < 3; ++i) {
    SeededRng rng(seed_from_u64(50 + i));
    auto b = parties[i]->contribute(update(n, 10 + i), weights[i], round, rng);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    contributions.push_back(*b);
  }
  auto sum = agg.aggregate(contributions, n, round);
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  const std::vector<PartyId> quorum{0, 2};
  std::vector<DecryptionShare> shares;
  for (PartyId p : quorum) {
    SeededRng rng(seed_from_u64(90 + p));
    const std::vector<PartyId> contributors{0, 1, 2};
    auto s = parties[p]->decryption_share(*sum, quorum, contributors, round, rng);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    shares.push_back({p, *s});
  }
  auto out = agg.finalize(*sum, shares, n, round);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  Bytes out_bytes(out->size() * sizeof(double));
  std::memcpy(out_bytes.data(), out->data(), out_bytes.size());

  EXPECT_EQ(digest_hex(blake2b_256(contributions[1])), "d189a6299dd42341f58264850bd0f7373004f12302c52a0e4ab497b3ee510c55");
  EXPECT_EQ(digest_hex(blake2b_256(*sum)), "933b7c4e62d68e8862a0cdbe25d9a37716aeeee1657572d8d8080c4d8000e9c4");
  EXPECT_EQ(digest_hex(blake2b_256(shares[1].bytes)), "846dfcec49ce1f1678a1bd242a926794090d70ae91307f21896f40fcf0885867");
  EXPECT_EQ(digest_hex(blake2b_256(out_bytes)), "620322c0180c1586d035aca3d731db79cb73c40d8f973b641a986d96118f715d");
}

}  // namespace
}  // namespace heal::fl
