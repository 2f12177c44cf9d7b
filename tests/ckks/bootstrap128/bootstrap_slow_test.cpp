// Bootstrapping at the 128-bit presets (N = 2^16): precision of real full-slot and sparse
// bootstrapping against the floor (mean >= 20 and >= 24 bits over uniform inputs in
// [-1, 1]), depth and security. Timing comparisons live in `heal ckks bootstrap-bench` and
// scripts/bootstrap_vs_openfhe.sh, not here. Needs about 11 GiB of memory (keys + DFT plaintexts).
#include <gtest/gtest.h>

#include <cstdio>

#include "heal/ckks/bootstrap.h"

namespace heal::ckks {
namespace {

BootstrapBenchResult run(const std::string& name, std::size_t inputs) {
  BootstrapBenchOptions opt;
  opt.inputs = inputs;
  opt.seed = 7;
  const auto r = run_bootstrap_bench(bootstrap_preset(name), opt);
  std::printf("[ boot %s ] %s\n  log QP %.0f (128-bit: %s), %zu values: bits min %.1f median %.1f mean %.1f max %.1f; "
              "%.1f s per bootstrap, keygen %.1f s, keys %.2f GiB, DFT plaintexts %.2f GiB\n",
              name.c_str(), r.circuit.c_str(), r.log_qp, r.secure ? "yes" : "no", r.values, r.bits_min, r.bits_median,
              r.bits_mean, r.bits_max, r.seconds_median, r.keygen_seconds, static_cast<double>(r.key_bytes) / 0x1p30,
              static_cast<double>(r.plaintext_bytes) / 0x1p30);
  return r;
}

TEST(BootstrapSlow, FullSlots128Bit) {
  const auto r = run("full", 1);
  EXPECT_TRUE(r.secure);
  EXPECT_EQ(r.slots, 32768u);
  EXPECT_GE(r.levels_after, 9u);
  EXPECT_GE(r.bits_mean, 20.0);
  EXPECT_GE(r.bits_min, 16.0);
  EXPECT_LT(r.failure_log2, -20);
}

TEST(BootstrapSlow, Sparse1024Slots128Bit) {
  const auto r = run("sparse", 2);
  EXPECT_TRUE(r.secure);
  EXPECT_EQ(r.slots, 1024u);
  EXPECT_GE(r.levels_after, 9u);
  EXPECT_GE(r.bits_mean, 24.0);
  EXPECT_GE(r.bits_min, 20.0);
}

}  // namespace
}  // namespace heal::ckks
