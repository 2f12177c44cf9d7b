// What a coalition sees must look uniform: (a) t-1 Shamir shares of a fixed secret, (b) a single
// masked input y_u of a fixed input. Chi-square tests on 256 bins (df = 255: mean 255, sd 22.6)
// with the threshold 255 + 7 sd = 413 (a false alarm has probability ~1e-9, Wilson-Hilferty), plus per-bit
// frequency tests at 6 sd, plus two-sample tests between two different fixed secrets/inputs.
// Negative controls run the same statistics on views that do leak and must fail them.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

#include "heal/math/modulus.h"
#include "heal/math/shamir.h"
#include "heal/smpc/additive.h"
#include "heal/smpc/fixed_point.h"
#include "secagg_harness.h"
#include "secagg_multi_harness.h"

namespace heal::smpc {
namespace {

constexpr double kChi2Threshold = 255.0 + 7.0 * 22.6;

using Hist = std::array<double, 256>;

double chi2_uniform(const Hist& h) {
  double n = 0;
  for (double c : h) n += c;
  const double e = n / 256.0;
  double chi = 0;
  for (double c : h) chi += (c - e) * (c - e) / e;
  return chi;
}

// Two-sample chi-square (homogeneity), df = 255.
double chi2_two_sample(const Hist& a, const Hist& b) {
  double na = 0, nb = 0;
  for (int i = 0; i < 256; ++i) na += a[i], nb += b[i];
  double chi = 0;
  for (int i = 0; i < 256; ++i) {
    const double tot = a[i] + b[i];
    if (tot == 0) continue;
    const double ea = tot * na / (na + nb), eb = tot * nb / (na + nb);
    chi += (a[i] - ea) * (a[i] - ea) / ea + (b[i] - eb) * (b[i] - eb) / eb;
  }
  return chi;
}

// Largest deviation, in standard deviations, of a bit's frequency from 1/2 over bits [0, bits).
double worst_bit_sigma(const std::vector<std::uint64_t>& v, int bits) {
  double worst = 0;
  const double n = static_cast<double>(v.size());
  for (int b = 0; b < bits; ++b) {
    double ones = 0;
    for (auto x : v) ones += static_cast<double>((x >> b) & 1);
    worst = std::max(worst, std::fabs(ones - n / 2) / std::sqrt(n / 4));
  }
  return worst;
}

// The top 8 of the 61 bits of a field element (the field is 2^61 - 1: the bias is 2^-61).
Hist top_byte_hist_field(const std::vector<std::uint64_t>& v) {
  Hist h{};
  for (auto x : v) h[x >> 53] += 1;
  return h;
}
Hist top_byte_hist(const std::vector<std::uint64_t>& v) {
  Hist h{};
  for (auto x : v) h[x >> 56] += 1;
  return h;
}

// The coalition {1, 2} (t - 1 = 2 of n = 5 parties, t = 3) over many sharings of one fixed seed.
// Its view is the pair of shares; the statistics are the top byte of each share and of the line
// through the two points evaluated at 0 (what the coalition would take for the secret).
struct CoalitionView {
  std::vector<std::uint64_t> party1, party2, line_at_0;
};

CoalitionView coalition_view(std::size_t samples, std::uint8_t fill, std::size_t t, Rng& rng) {
  const Bytes secret(32, fill);
  const std::vector<std::uint64_t> xs{1, 2, 3, 4, 5};
  const math::Modulus p(kShamirPrime);
  const std::vector<std::uint64_t> pair{1, 2};
  const std::uint64_t l1 = math::lagrange_at_zero(pair, 0, p), l2 = math::lagrange_at_zero(pair, 1, p);
  CoalitionView v;
  for (std::size_t i = 0; i < samples; ++i) {
    const auto sh = shamir_share_bytes(secret, xs, t, rng);
    v.party1.push_back(sh[0].limbs[0]);
    v.party2.push_back(sh[1].limbs[0]);
    v.line_at_0.push_back(p.add(p.mul(l1, sh[0].limbs[0]), p.mul(l2, sh[1].limbs[0])));
  }
  return v;
}

TEST(Distribution, TMinusOneShamirSharesOfAFixedSecretLookUniform) {
  SeededRng rng(seed_from_u64(50));
  const std::size_t n = 40000;
  const auto a = coalition_view(n, 0xab, 3, rng);
  const auto b = coalition_view(n, 0x00, 3, rng);
  for (const auto* v : {&a.party1, &a.party2, &a.line_at_0}) {
    EXPECT_LT(chi2_uniform(top_byte_hist_field(*v)), kChi2Threshold);
    EXPECT_LT(worst_bit_sigma(*v, 61), 6.0);
  }
  EXPECT_LT(chi2_two_sample(top_byte_hist_field(a.line_at_0), top_byte_hist_field(b.line_at_0)), kChi2Threshold);
  EXPECT_LT(chi2_two_sample(top_byte_hist_field(a.party1), top_byte_hist_field(b.party1)), kChi2Threshold);

  // Negative control 1: shared with threshold 2 instead of 3, the same two parties hold the secret:
  // their line at 0 is the constant limb, and the statistics must say so.
  const auto leak = coalition_view(n, 0xab, 2, rng);
  EXPECT_GT(chi2_uniform(top_byte_hist_field(leak.line_at_0)), 100 * kChi2Threshold);
  EXPECT_GT(worst_bit_sigma(leak.line_at_0, 61), 100.0);
  const auto leak0 = coalition_view(n, 0x00, 2, rng);
  EXPECT_GT(chi2_two_sample(top_byte_hist_field(leak.line_at_0), top_byte_hist_field(leak0.line_at_0)),
            100 * kChi2Threshold);
  // Negative control 2: a sharing whose random coefficients are short (40 bits) leaks in each share.
  std::vector<std::uint64_t> weak;
  const math::Modulus p(kShamirPrime);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t c1 = rng.uniform(std::uint64_t{1} << 40), c2 = rng.uniform(std::uint64_t{1} << 40);
    weak.push_back(p.add(p.add(0xababababababab, c1), p.mul(c2, 1)));  // f(1) = s + c1 + c2
  }
  EXPECT_GT(chi2_uniform(top_byte_hist_field(weak)), 100 * kChi2Threshold);
}

// Client 1's masked input over a run with vector length 40000, every input word the same value.
std::vector<std::uint64_t> masked_view(double value, std::uint64_t seed) {
  const std::size_t len = 40000;
  test_support::SecAggNet net(3, 2, len, seed);
  std::vector<std::vector<std::uint64_t>> x(3, std::vector<std::uint64_t>(len, fixed_encode(value)));
  EXPECT_TRUE(net.run(x, {5, 5, 5}).ok());
  auto m = decode_masked_input(net.rec.masked[0]);
  EXPECT_TRUE(m.ok());
  EXPECT_EQ(m->id, 1u);
  return m->y;
}

TEST(Distribution, AMaskedInputLooksUniform) {
  const auto y = masked_view(1234.5, 60);
  const auto y2 = masked_view(-7.25, 61);
  EXPECT_LT(chi2_uniform(top_byte_hist(y)), kChi2Threshold);
  EXPECT_LT(worst_bit_sigma(y, 64), 6.0);
  EXPECT_LT(chi2_two_sample(top_byte_hist(y), top_byte_hist(y2)), kChi2Threshold);
  // Low byte too (where a small input would show first if the mask were short).
  Hist low{};
  for (auto v : y) low[v & 0xff] += 1;
  EXPECT_LT(chi2_uniform(low), kChi2Threshold);

  // Negative control 1: the unmasked input fails every test.
  const std::vector<std::uint64_t> x(y.size(), fixed_encode(1234.5)), x2(y.size(), fixed_encode(-7.25));
  EXPECT_GT(chi2_uniform(top_byte_hist(x)), 100 * kChi2Threshold);
  EXPECT_GT(worst_bit_sigma(x, 64), 100.0);
  EXPECT_GT(chi2_two_sample(top_byte_hist(x), top_byte_hist(x2)), 100 * kChi2Threshold);
  // Negative control 2: a mask that is only 48 bits wide (the top 16 bits of y are those of x,
  // up to a carry) is caught too.
  std::vector<std::uint64_t> weak(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) weak[i] = x[i] + ((y[i] - x[i]) >> 16);
  EXPECT_GT(chi2_uniform(top_byte_hist(weak)), 100 * kChi2Threshold);
}

// Multi-round SecAgg (3-byte words): client 1's masked inputs of rounds 1 and 2 of one setup, with
// the same fixed input in both rounds. Each must look uniform on its 24 bits, and so must their
// difference: the rounds' masks are independent (a reused or related mask would cancel).
struct MultiView {
  std::vector<std::uint64_t> y1, y2;
};
MultiView multi_masked_view(double value, std::uint64_t seed) {
  const std::size_t len = 40000;
  test_support::SecAggMultiNet net(3, 2, len, 4, seed, 3);
  EXPECT_TRUE(net.setup().ok());
  std::vector<std::vector<std::uint64_t>> x(3, std::vector<std::uint64_t>(len, fixed_encode(value)));
  MultiView v;
  for (std::uint32_t r = 1; r <= 2; ++r) {
    EXPECT_TRUE(net.round(r, x).ok());
    auto m = decode_m_masked_input(net.rec.masked[r][0]);
    EXPECT_TRUE(m.ok());
    EXPECT_EQ(m->id, 1u);
    (r == 1 ? v.y1 : v.y2) = m->y;
  }
  return v;
}
Hist bits16_to_23_hist(const std::vector<std::uint64_t>& v) {
  Hist h{};
  for (auto x : v) h[(x >> 16) & 0xff] += 1;
  return h;
}

TEST(Distribution, MultiRoundMaskedInputsLookUniformAndIndependentAcrossRounds) {
  const auto a = multi_masked_view(3.5, 70), b = multi_masked_view(-0.25, 71);
  std::vector<std::uint64_t> diff(a.y1.size());
  for (std::size_t i = 0; i < diff.size(); ++i) diff[i] = (a.y2[i] - a.y1[i]) & 0xffffff;
  const std::vector<std::uint64_t>* views[] = {&a.y1, &a.y2, &b.y1, &diff};
  for (const auto* y : views) {
    EXPECT_LT(chi2_uniform(bits16_to_23_hist(*y)), kChi2Threshold);
    EXPECT_LT(worst_bit_sigma(*y, 24), 6.0);
  }
  EXPECT_LT(chi2_two_sample(bits16_to_23_hist(a.y2), bits16_to_23_hist(b.y2)), kChi2Threshold);
  // Negative controls: the packed input itself, and the difference of two rounds had the mask been
  // reused (x + m - (x + m) = 0) or shifted by a short word, fail.
  const std::vector<std::uint64_t> x(a.y1.size(), fixed_encode(3.5) & 0xffffff);
  EXPECT_GT(chi2_uniform(bits16_to_23_hist(x)), 100 * kChi2Threshold);
  std::vector<std::uint64_t> reused(a.y1.size()), short_mask(a.y1.size());
  for (std::size_t i = 0; i < reused.size(); ++i) {
    reused[i] = (a.y1[i] - a.y1[i]) & 0xffffff;
    short_mask[i] = (diff[i] & 0xffff);  // a mask difference confined to 16 bits
  }
  EXPECT_GT(chi2_uniform(bits16_to_23_hist(reused)), 100 * kChi2Threshold);
  EXPECT_GT(chi2_uniform(bits16_to_23_hist(short_mask)), 100 * kChi2Threshold);
}

}  // namespace
}  // namespace heal::smpc
