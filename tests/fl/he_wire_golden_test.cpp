// Regression guard for the HE aggregator's bytes: with fixed seeds, a contribution, the aggregate,
// a decryption share and the decrypted sum must be byte-identical to what the code produced before
// fl's cryptography was routed through the ckks layer (issue 16: fl's private coefficient codec
// and share combination replaced by ckks::Encoder::encode_coeffs / decode_coeffs,
// ckks::Encryptor::encrypt_seeded(pt, seed, rng) and ckks::multiparty::combine_decryption_shares).
// The expected hashes were computed with the fl code of commit 4c2893c (before the change). The
// ledger records hashes of these bytes, so they must not change silently.
// Updated deliberately for issue 16 (wire version 3): contributions and decryption shares travel
// in the ckks compact (lossy) form without their k = drop_bits low bits, so all four hashes
// changed; the decrypted sum still matches the plaintext sum within 8 predicted standard
// deviations (checked below), and the HE federation golden model is unchanged.
#include <gtest/gtest.h>

#include <cmath>
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
  // The rounding is far below the noise: the sum matches the plaintext within the predicted bound.
  double max_err = 0;
  const std::vector<float> u[3] = {update(n, 10), update(n, 11), update(n, 12)};
  for (std::size_t k = 0; k < n; ++k) {
    double plain = 0;
    for (std::size_t i = 0; i < 3; ++i) plain += weights[i] * static_cast<double>(u[i][k]);
    max_err = std::max(max_err, std::fabs((*out)[k] - plain));
  }
  EXPECT_GT(agg.budget().drop_bits, 0);
  EXPECT_LE(max_err, 8 * agg.budget().abs_error_std);
  Bytes out_bytes(out->size() * sizeof(double));
  std::memcpy(out_bytes.data(), out->data(), out_bytes.size());

  EXPECT_EQ(digest_hex(blake2b_256(contributions[1])),
            "370fe87552d272e6581e94ffa60caff43df366a4d4853f1e1f5442b619d92684");
  EXPECT_EQ(digest_hex(blake2b_256(*sum)), "ae72376682f4d1cc6f11457510a09f546e82ddfbc3fb253652d9ba3d0cbae72c");
  EXPECT_EQ(digest_hex(blake2b_256(shares[1].bytes)),
            "f27795c94b436ac572285cff1e397272dcb3268a3af0ad6088bbf8bbac27beca");
  EXPECT_EQ(digest_hex(blake2b_256(out_bytes)), "618d5e7264d60327976258efa2a14183b6f97e1974ecc3445bda0d59734da44e");
}

}  // namespace
}  // namespace heal::fl
