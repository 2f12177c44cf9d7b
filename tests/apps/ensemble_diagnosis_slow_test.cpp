// Cost of secure ensemble diagnosis for 3 members on 28x28 images (PneumoniaMNIST-shaped synthetic hecnn
// members of different widths), with 128-bit-secure CKKS parameters in HE mode. Prints time and bytes per
// query batch and checks the answers against the plaintext ensemble. Label `slow` (tens of seconds).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "heal/apps/ensemble_diagnosis.h"
#include "heal/he_infer/synthetic.h"
#include "heal/nn/forward.h"

namespace heal::apps::ensemble {
namespace {

std::vector<nn::ModelIr> members28() {
  return {he_infer::synthetic_cnn({.side = 28, .channels = 2, .kernel = 5, .hidden = 16, .classes = 2, .seed = 1}),
          he_infer::synthetic_cnn({.side = 28, .channels = 4, .kernel = 5, .hidden = 32, .classes = 2, .seed = 2}),
          he_infer::synthetic_cnn({.side = 28, .channels = 8, .kernel = 5, .hidden = 64, .classes = 2, .seed = 3})};
}

double mib(std::size_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

void print(const char* mode, std::size_t count, const RunStats& st) {
  std::size_t up = 0, down = 0;
  for (auto b : st.member_sent) up += b;
  for (auto b : st.member_received) down += b;
  std::printf("%s, 3 members, %zu image(s) of 28x28: %.4f s wall (querier %.4f s, members %.4f s in all)\n", mode,
              count, st.seconds, st.querier_seconds, st.member_seconds);
  if (!st.params.empty()) std::printf("  parameters: %s; up to %zu images per query\n", st.params.c_str(), st.capacity);
  std::printf(
      "  querier sent %.3f MiB, received %.3f MiB; members sent %.3f MiB, received %.3f MiB in all; "
      "aggregator received %.3f MiB, sent %.3f MiB; key bundle %.3f MiB per member (once per key set)\n",
      mib(st.querier_sent), mib(st.querier_received), mib(up), mib(down), mib(st.aggregator_received),
      mib(st.aggregator_sent), mib(st.setup_bytes));
}

TEST(EnsembleDiagnosisCost, SmpcThreeMembers28) {
  const auto ms = members28();
  const std::vector<double> w = {0.2, 0.3, 0.5};
  for (std::size_t count : {std::size_t{1}, std::size_t{64}}) {
    const auto x = he_infer::random_images(count, 28 * 28, 7);
    std::vector<SmpcMemberSpec> specs;
    for (std::size_t i = 0; i < 3; ++i) {
      specs.push_back({w[i], [&ms, i](std::span<const float> im, std::size_t n) {
                         auto z = nn::forward(ms[i], im, n);
                         for (std::size_t r = 0; r < n; ++r) {  // softmax over 2 classes
                           const double m = std::max(z[2 * r], z[2 * r + 1]);
                           const double a = std::exp(z[2 * r] - m), b = std::exp(z[2 * r + 1] - m);
                           z[2 * r] = a / (a + b);
                           z[2 * r + 1] = b / (a + b);
                         }
                         return z;
                       }});
    }
    SystemRng rng;
    RunStats st;
    auto out = smpc_diagnose(specs, x, count, 2, rng, 0, {}, &st);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    print("SMPC", count, st);
    std::printf("  (query images in the clear to each member: %.3f MiB of the members' received bytes)\n",
                mib(3 * count * 28 * 28 * sizeof(float)));
    for (std::size_t r = 0; r < count; ++r) EXPECT_NEAR(out->mean[2 * r] + out->mean[2 * r + 1], 1.0, 1e-4);
  }
}

TEST(EnsembleDiagnosisCost, HeThreeMembers28) {
  const auto ms = members28();
  const std::vector<double> w = {0.2, 0.3, 0.5};
  const std::size_t count = 1;
  const auto x = he_infer::random_images(count, 28 * 28, 7);
  RunStats st;
  HeQuerierOptions opts;  // 128-bit-secure parameters (he_infer::plan_params' smallest N for the depth)
  auto out = he_diagnose({{&ms[0], w[0]}, {&ms[1], w[1]}, {&ms[2], w[2]}}, x, count, opts, nullptr, 2, &st);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  print("HE (batch packing; the same cost for up to N/2 images)", count, st);
  std::vector<double> ref(count * 2, 0.0);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto z = nn::forward(ms[i], x, count);
    for (std::size_t k = 0; k < z.size(); ++k) ref[k] += w[i] * z[k];
  }
  double err = 0;
  for (std::size_t k = 0; k < ref.size(); ++k) err = std::max(err, std::fabs(out->weighted_sum[k] - ref[k]));
  std::printf("  max |decrypted - plain| = %.3g\n", err);
  EXPECT_LT(err, 1e-2);
}

}  // namespace
}  // namespace heal::apps::ensemble
