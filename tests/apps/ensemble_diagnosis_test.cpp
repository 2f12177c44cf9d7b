// Secure ensemble diagnosis: SMPC mode equals the plaintext weighted ensemble (also with a member
// dropping out) and the querier only sees masked words; HE mode decrypts to the plaintext weighted sum
// of the members' reference logits (nn::forward on the same IRs), and refuses members it cannot evaluate.
#include "heal/apps/ensemble_diagnosis.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "heal/he_infer/synthetic.h"
#include "heal/nn/forward.h"
#include "heal/smpc/fixed_point.h"

namespace heal::apps::ensemble {
namespace {

constexpr std::size_t kClasses = 3;

std::vector<double> softmax_rows(std::vector<double> z, std::size_t k) {
  for (std::size_t r = 0; r < z.size() / k; ++r) {
    double* p = z.data() + r * k;
    const double mx = *std::max_element(p, p + k);
    double s = 0;
    for (std::size_t c = 0; c < k; ++c) s += (p[c] = std::exp(p[c] - mx));
    for (std::size_t c = 0; c < k; ++c) p[c] /= s;
  }
  return z;
}

// Three members of different architectures (synthetic hecnn of different widths), as probabilities.
std::vector<nn::ModelIr> tiny_members(int side = 8, int classes = static_cast<int>(kClasses)) {
  return {he_infer::synthetic_cnn({.side = side, .channels = 2, .hidden = 6, .classes = classes, .seed = 11}),
          he_infer::synthetic_cnn({.side = side, .channels = 3, .hidden = 8, .classes = classes, .seed = 12}),
          he_infer::synthetic_cnn({.side = side, .channels = 4, .hidden = 5, .classes = classes, .seed = 13})};
}

ProbabilityFn prob_fn(const nn::ModelIr& m) {
  return [&m](std::span<const float> x, std::size_t n) {
    return softmax_rows(nn::forward(m, x, n), static_cast<std::size_t>(m.num_classes));
  };
}

// sum_{i in ids} w_i p_i and its weighted mean, in the clear.
void plain_ensemble(const std::vector<nn::ModelIr>& ms, const std::vector<double>& w,
                    const std::vector<std::uint32_t>& ids, std::span<const float> x, std::size_t n,
                    std::vector<double>* sum, std::vector<double>* mean) {
  sum->assign(n * kClasses, 0.0);
  double ws = 0;
  for (std::uint32_t id : ids) {
    const auto p = softmax_rows(nn::forward(ms[id - 1], x, n), kClasses);
    for (std::size_t k = 0; k < p.size(); ++k) (*sum)[k] += w[id - 1] * p[k];
    ws += w[id - 1];
  }
  *mean = *sum;
  for (auto& v : *mean) v /= ws;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST(EnsembleDiagnosisSmpc, EqualsPlaintextWeightedEnsemble) {
  const auto ms = tiny_members();
  const std::vector<double> w = {0.5, 0.3, 0.2};
  const std::size_t n = 4;
  const auto x = he_infer::random_images(n, ms[0].input.size());
  SeededRng rng(seed_from_u64(21));
  RunStats st;
  auto out = smpc_diagnose({{w[0], prob_fn(ms[0])}, {w[1], prob_fn(ms[1])}, {w[2], prob_fn(ms[2])}}, x, n, kClasses,
                           rng, 0, {}, &st);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out->members, (std::vector<std::uint32_t>{1, 2, 3}));
  std::vector<double> sum, mean;
  plain_ensemble(ms, w, {1, 2, 3}, x, n, &sum, &mean);
  // Each member's w_i p_i is rounded to 2^-17 (fixed_point.h): 3 members, |error| <= 3 * 2^-17.
  const double bound = 3 * std::ldexp(1.0, -17);
  EXPECT_LE(max_abs_diff(out->weighted_sum, sum), bound);
  EXPECT_LE(max_abs_diff(out->mean, mean), bound / 1.0);
  // The ensemble's probabilities still sum to 1 per query.
  for (std::size_t r = 0; r < n; ++r) {
    double s = 0;
    for (std::size_t c = 0; c < kClasses; ++c) s += out->mean[r * kClasses + c];
    EXPECT_NEAR(s, 1.0, 1e-4);
  }
  EXPECT_GT(st.querier_received, 0u);
  EXPECT_EQ(st.member_sent.size(), 3u);
}

TEST(EnsembleDiagnosisSmpc, OneMemberDropsOut) {
  const auto ms = tiny_members();
  const std::vector<double> w = {0.5, 0.3, 0.2};
  const std::size_t n = 3;
  const auto x = he_infer::random_images(n, ms[0].input.size(), 5);
  const std::vector<SmpcMemberSpec> specs = {{w[0], prob_fn(ms[0])}, {w[1], prob_fn(ms[1])}, {w[2], prob_fn(ms[2])}};
  const double bound = 3 * std::ldexp(1.0, -17);
  {
    // Member 2 is gone before sending its masked input: the sum holds members 1 and 3, normalised by w1 + w3.
    SeededRng rng(seed_from_u64(22));
    auto out = smpc_diagnose(specs, x, n, kClasses, rng, 2, {5, 2, 5});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(out->members, (std::vector<std::uint32_t>{1, 3}));
    std::vector<double> sum, mean;
    plain_ensemble(ms, w, {1, 3}, x, n, &sum, &mean);
    EXPECT_LE(max_abs_diff(out->weighted_sum, sum), bound);
    EXPECT_LE(max_abs_diff(out->mean, mean), bound / (w[0] + w[2]));
  }
  {
    // Member 3 sent its masked input, then dropped (no unmasking share): its output is still in the sum.
    SeededRng rng(seed_from_u64(23));
    auto out = smpc_diagnose(specs, x, n, kClasses, rng, 2, {5, 5, 3});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(out->members, (std::vector<std::uint32_t>{1, 2, 3}));
    std::vector<double> sum, mean;
    plain_ensemble(ms, w, {1, 2, 3}, x, n, &sum, &mean);
    EXPECT_LE(max_abs_diff(out->weighted_sum, sum), bound);
  }
  {
    // Two of three gone (below t = 2): the round fails instead of revealing one member's output.
    SeededRng rng(seed_from_u64(24));
    auto out = smpc_diagnose(specs, x, n, kClasses, rng, 2, {5, 2, 2});
    EXPECT_FALSE(out.ok());
  }
}

bool contains(const Bytes& hay, std::span<const std::uint8_t> needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

TEST(EnsembleDiagnosisSmpc, QuerierReceivesOnlyMaskedWords) {
  const auto ms = tiny_members();
  const std::vector<double> w = {0.5, 0.3, 0.2};
  const std::size_t n = 4;
  const auto x = he_infer::random_images(n, ms[0].input.size(), 9);
  SeededRng rng(seed_from_u64(25));
  RunStats st;
  auto out = smpc_diagnose({{w[0], prob_fn(ms[0])}, {w[1], prob_fn(ms[1])}, {w[2], prob_fn(ms[2])}}, x, n, kClasses,
                           rng, 0, {}, &st);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_FALSE(st.querier_inbox.empty());
  for (std::size_t i = 0; i < ms.size(); ++i) {
    // The member's plaintext fixed-point vector (as SmpcMember encodes it), as bytes on the wire.
    const auto p = softmax_rows(nn::forward(ms[i], x, n), kClasses);
    std::vector<double> wp(p.size());
    for (std::size_t k = 0; k < p.size(); ++k) wp[k] = w[i] * p[k];
    const auto enc = smpc::fixed_encode(wp);
    Bytes plain(enc.size() * 8);
    std::memcpy(plain.data(), enc.data(), plain.size());
    // Positive control: the search finds the vector inside a message that carried it unmasked.
    Bytes control = {1, 2, 3};
    control.insert(control.end(), plain.begin(), plain.end());
    ASSERT_TRUE(contains(control, plain));
    for (const Bytes& m : st.querier_inbox) {
      EXPECT_FALSE(contains(m, plain)) << "member " << i + 1 << "'s vector in the clear";
      // No two consecutive plaintext words (16 bytes) appear either.
      for (std::size_t k = 0; k + 1 < enc.size(); ++k)
        EXPECT_FALSE(contains(m, std::span<const std::uint8_t>(plain.data() + 8 * k, 16))) << "words " << k;
    }
  }
}

he_infer::PlanOptions test_plan() {
  // The explicit test-only opt-in (as tests/he_infer): N = 2^11 is far below 128-bit security.
  return {.min_scale_bits = 25, .max_scale_bits = 30, .log_n = 11, .allow_insecure = true};
}

TEST(EnsembleDiagnosisHe, DecryptedSumEqualsPlainWeightedLogits) {
  const auto ms = tiny_members();
  const std::vector<double> w = {0.5, 0.3, 0.2};
  const std::size_t n = 5;
  const auto x = he_infer::random_images(n, ms[0].input.size(), 4);
  RunStats st;
  auto out = he_diagnose({{&ms[0], w[0]}, {&ms[1], w[1]}, {&ms[2], w[2]}}, x, n, {.plan = test_plan()},
                         std::make_unique<SeededRng>(seed_from_u64(31)), 1, &st);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<double> ref(n * kClasses, 0.0);
  double scale = 0;
  for (std::size_t i = 0; i < ms.size(); ++i) {
    const auto z = nn::forward(ms[i], x, n);
    for (std::size_t k = 0; k < z.size(); ++k) ref[k] += w[i] * z[k];
    for (double v : z) scale = std::max(scale, std::fabs(v));
  }
  ASSERT_GT(scale, 0.1);  // non-trivial logits
  const double err = max_abs_diff(out->weighted_sum, ref);
  // BatchEngine's own bound on one member (tests/he_infer): 1e-3 at a 30-bit scale; weights sum to 1.
  EXPECT_LT(err, 1e-3) << "max error " << err;
  std::printf("HE ensemble: max |decrypted - plain| = %.3g (logits up to %.3g)\n", err, scale);
  // A wrong answer is caught: the sum is not any single member's weighted logits.
  const auto z0 = nn::forward(ms[0], x, n);
  std::vector<double> only0(z0.size());
  for (std::size_t k = 0; k < z0.size(); ++k) only0[k] = w[0] * z0[k];
  EXPECT_GT(max_abs_diff(out->weighted_sum, only0), 1e-2);
  EXPECT_EQ(st.member_sent.size(), 3u);
  EXPECT_GT(st.querier_received, 0u);
}

TEST(EnsembleDiagnosisHe, PiecesExchangeBytesOnly) {
  // The roles driven by hand: a member refuses an insecure bundle without the opt-in, a query of the
  // wrong kind, and the aggregator refuses a member output given twice beyond the member count.
  const auto ms = tiny_members();
  HeQuerier q({he_member_info(ms[0]), he_member_info(ms[1])}, {.plan = test_plan()},
              std::make_unique<SeededRng>(seed_from_u64(32)));
  HeMember a(ms[0], 0.6), b(ms[1], 0.4);
  EXPECT_FALSE(a.load_keys(q.key_bundle()).ok());  // insecure parameters, no opt-in
  ASSERT_TRUE(a.load_keys(q.key_bundle(), true).ok());
  ASSERT_TRUE(b.load_keys(q.key_bundle(), true).ok());
  const std::size_t n = 2;
  const auto x = he_infer::random_images(n, ms[0].input.size(), 8);
  const Bytes query = q.encrypt_query(x, n);
  auto oa = a.evaluate(query);
  ASSERT_TRUE(oa.ok()) << oa.status().to_string();
  EXPECT_FALSE(b.evaluate(*oa).ok());  // a member output is not a query
  auto ob = b.evaluate(query);
  ASSERT_TRUE(ob.ok());
  HeAggregator agg;
  ASSERT_TRUE(agg.load_keys(q.key_bundle(), true).ok());
  ASSERT_TRUE(agg.add(*oa).ok());
  ASSERT_TRUE(agg.add(*ob).ok());
  EXPECT_FALSE(agg.add(*ob).ok());  // 3 outputs for 2 members
  auto sum = agg.result();
  ASSERT_TRUE(sum.ok());
  EXPECT_FALSE(q.decrypt_result(query, n).ok());  // a query is not a result
  auto got = q.decrypt_result(*sum, n);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  const auto za = nn::forward(ms[0], x, n), zb = nn::forward(ms[1], x, n);
  std::vector<double> ref(za.size());
  for (std::size_t k = 0; k < ref.size(); ++k) ref[k] = 0.6 * za[k] + 0.4 * zb[k];
  EXPECT_LT(max_abs_diff(*got, ref), 1e-3);
  // Truncated bytes return a Status, never crash.
  Bytes cut(sum->begin(), sum->begin() + static_cast<std::ptrdiff_t>(sum->size() / 2));
  EXPECT_FALSE(q.decrypt_result(cut, n).ok());
}

// Outside bytes never crash a role: every byte of the headers and a spread of payload bytes of a
// member output (aggregator) and of a query (member) flipped, and every truncation length class.
TEST(EnsembleDiagnosisHe, RolesSurviveMutatedMessages) {
  const auto ms = tiny_members();
  HeQuerier q({he_member_info(ms[0]), he_member_info(ms[1])}, {.plan = test_plan()},
              std::make_unique<SeededRng>(seed_from_u64(34)));
  HeMember a(ms[0], 0.5);
  ASSERT_TRUE(a.load_keys(q.key_bundle(), true).ok());
  const auto x = he_infer::random_images(1, ms[0].input.size(), 2);
  const Bytes query = q.encrypt_query(x, 1);
  auto oa = a.evaluate(query);
  ASSERT_TRUE(oa.ok());
  std::vector<std::size_t> pos;
  for (std::size_t i = 0; i < 96; ++i) pos.push_back(i);
  for (std::size_t i = 96; i < oa->size(); i += oa->size() / 40) pos.push_back(i);
  std::size_t refused = 0;
  for (std::size_t p : pos) {
    Bytes m = *oa;
    m[p] ^= 0x5a;
    HeAggregator agg;
    ASSERT_TRUE(agg.load_keys(q.key_bundle(), true).ok());
    Status s;
    EXPECT_NO_THROW(s = agg.add(m)) << "byte " << p;
    refused += !s.ok();
    if (s.ok()) {
      auto r = agg.result();
      ASSERT_TRUE(r.ok());
      EXPECT_NO_THROW((void)q.decrypt_result(*r, 1)) << "byte " << p;
    }
  }
  EXPECT_GT(refused, 20u);  // the framing and object headers are checked
  for (std::size_t len : {std::size_t{0}, std::size_t{5}, std::size_t{17}, oa->size() / 3, oa->size() - 1}) {
    HeAggregator agg;
    ASSERT_TRUE(agg.load_keys(q.key_bundle(), true).ok());
    EXPECT_FALSE(agg.add(std::span<const std::uint8_t>(oa->data(), len)).ok()) << "length " << len;
  }
  for (std::size_t p : {0, 4, 6, 10, 14, 18, 26, 40, 60}) {
    Bytes m = query;
    m[p] ^= 0xff;
    Result<Bytes> r = Status::internal("not run");
    EXPECT_NO_THROW(r = a.evaluate(m)) << "query byte " << p;
  }
  EXPECT_FALSE(a.evaluate(std::span<const std::uint8_t>(query.data(), query.size() / 2)).ok());
}

TEST(EnsembleDiagnosisHe, RefusesMemberThatIsNotHeEvaluable) {
  auto ms = tiny_members();
  nn::ModelIr relu = ms[1];
  relu.meta.architecture = "relu-cnn";
  bool replaced = false;
  for (auto& l : relu.layers) {
    if (l.kind == nn::OpKind::kPolyAct && !replaced) {
      l.kind = nn::OpKind::kRelu;
      replaced = true;
    }
  }
  ASSERT_TRUE(replaced);
  const std::vector<float> x = he_infer::random_images(1, relu.input.size());
  try {
    (void)he_diagnose({{&ms[0], 0.5}, {&relu, 0.5}}, x, 1, {.plan = test_plan()});
    FAIL() << "a ReLU member joined HE mode";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("member 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cannot join HE mode"), std::string::npos) << msg;
    EXPECT_NE(msg.find("relu-cnn"), std::string::npos) << msg;
  }
  EXPECT_THROW(HeMember(relu, 0.5), std::invalid_argument);
}

TEST(EnsembleDiagnosisHe, RefusesMembersWithDifferentOutputLayouts) {
  const auto ms = tiny_members();
  const nn::ModelIr two = he_infer::synthetic_cnn({.side = 8, .channels = 2, .hidden = 6, .classes = 2, .seed = 3});
  const nn::ModelIr side10 = he_infer::synthetic_cnn({.side = 10, .channels = 2, .hidden = 6, .classes = 3});
  auto expect_refused = [&](const nn::ModelIr& other, const char* word) {
    try {
      HeQuerier q({he_member_info(ms[0]), he_member_info(other)}, {.plan = test_plan()});
      FAIL() << "mismatch accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  expect_refused(two, "classes");
  expect_refused(side10, "input");
  HeMemberInfo deeper = he_member_info(ms[0]);
  deeper.depth += 2;
  EXPECT_THROW(HeQuerier({he_member_info(ms[0]), deeper}, {.plan = test_plan()}), std::invalid_argument);
  // A member whose model does not match the querier's keys refuses them with a message.
  HeQuerier q({he_member_info(ms[0])}, {.plan = test_plan()}, std::make_unique<SeededRng>(seed_from_u64(33)));
  HeMember m(two, 1.0);
  const Status s = m.load_keys(q.key_bundle(), true);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("classes"), std::string::npos) << s.to_string();
}

// The model-file pipeline (heal infer ensemble): weights normalised, SMPC output and HE logit mean
// equal to the plaintext ensemble computed here independently, predictions its argmax, bad input refused.
TEST(EnsembleDiagnosisModels, SmpcAndHeMatchPlaintextEnsemble) {
  const auto ms = tiny_members();
  const std::vector<const nn::ModelIr*> ptrs = {&ms[0], &ms[1], &ms[2]};
  const std::size_t n = 4;
  const auto x = he_infer::random_images(n, ms[0].input.size(), 4);
  SeededRng rng(seed_from_u64(41));
  ModelDiagnosisOptions o;
  o.weights = {4, 3, 3};  // -> 0.4, 0.3, 0.3
  o.plaintext_reference = true;
  auto r = diagnose_with_models(ptrs, x, n, o, rng);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_NEAR(r->weights[0], 0.4, 1e-12);
  std::vector<double> sum, mean;
  plain_ensemble(ms, {0.4, 0.3, 0.3}, {1, 2, 3}, x, n, &sum, &mean);
  EXPECT_LT(max_abs_diff(r->probabilities, mean), 3 * std::ldexp(1.0, -16));
  EXPECT_LT(max_abs_diff(r->plaintext, mean), 1e-12);
  EXPECT_LT(r->max_abs_diff, 3 * std::ldexp(1.0, -16));
  ASSERT_EQ(r->predicted.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto row = mean.begin() + static_cast<long>(i * kClasses);
    EXPECT_EQ(r->predicted[i], std::max_element(row, row + kClasses) - row);
  }
  EXPECT_EQ(r->stats.member_sent.size(), 3u);

  o.mode = DiagnosisMode::kHe;
  o.he = {.plan = test_plan()};
  auto h = diagnose_with_models(ptrs, x, n, o, rng, std::make_unique<SeededRng>(seed_from_u64(42)));
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  std::vector<double> logits(n * kClasses, 0.0);
  for (std::size_t i = 0; i < ms.size(); ++i) {
    const auto z = nn::forward(ms[i], x, n);
    for (std::size_t k = 0; k < z.size(); ++k) logits[k] += o.weights[i] / 10 * z[k];
  }
  EXPECT_LT(max_abs_diff(h->secure.mean, logits), 1e-3);
  EXPECT_LT(max_abs_diff(h->plaintext, logits), 1e-12);
  EXPECT_LT(max_abs_diff(h->probabilities, softmax_rows(logits, kClasses)), 1e-3);

  o.mode = DiagnosisMode::kSmpc;
  o.weights = {1, 1};
  EXPECT_FALSE(diagnose_with_models(ptrs, x, n, o, rng).ok());  // 2 weights for 3 members
  o.weights = {};
  EXPECT_FALSE(diagnose_with_models(ptrs, x, n - 1, o, rng).ok());  // wrong image count
  const auto other = tiny_members(8, 2);
  EXPECT_FALSE(diagnose_with_models({&ms[0], &other[1]}, x, n, o, rng).ok());  // 3 vs 2 classes
}

}  // namespace
}  // namespace heal::apps::ensemble
