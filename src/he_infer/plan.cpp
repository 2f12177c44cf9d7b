// CKKS parameter planning for compiled circuits (see plan.h).
#include "heal/he_infer/plan.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "heal/core/check.h"

namespace heal::he_infer {

namespace {

constexpr int kPExtraBits = 8;

ParamPlan make_plan(int log_n, int depth, int s, bool insecure) {
  ParamPlan p;
  p.depth = depth;
  p.scale_bits = s;
  p.spec.log_n = log_n;
  p.spec.q_bits.assign(static_cast<std::size_t>(depth) + 2, s);
  p.spec.p_bits = {std::min(60, s + kPExtraBits)};
  p.spec.default_scale = std::ldexp(1.0, s);
  p.spec.dnum = 0;
  p.spec.allow_insecure = insecure;
  p.input_level = depth + 1;
  p.output_level = 1;
  return p;
}

}  // namespace

std::string ParamPlan::describe() const {
  std::ostringstream os;
  os << "N=2^" << spec.log_n << ", depth " << depth << ", Q=" << spec.q_bits.size() << "x" << scale_bits << " bits, P="
     << spec.p_bits[0] << " bits, log2(QP)=" << (static_cast<int>(spec.q_bits.size()) * scale_bits + spec.p_bits[0])
     << ", scale=2^" << scale_bits << (spec.allow_insecure ? " (INSECURE: tests only)" : ", 128-bit secure");
  return os.str();
}

ParamPlan plan_params(int depth, const PlanOptions& opts) {
  HEAL_REQUIRE(depth >= 1, "plan_params: depth must be >= 1");
  HEAL_REQUIRE(opts.min_scale_bits >= 20 && opts.min_scale_bits <= opts.max_scale_bits && opts.max_scale_bits <= 30,
               "plan_params: need 20 <= min_scale_bits <= max_scale_bits <= 30");
  if (opts.allow_insecure) {
    HEAL_REQUIRE(opts.log_n > 0, "plan_params: allow_insecure requires an explicit log_n");
    return make_plan(opts.log_n, depth, opts.max_scale_bits, true);
  }
  for (int log_n = 12; log_n <= 16; ++log_n) {
    if (opts.log_n > 0 && log_n != opts.log_n) continue;
    const int bound = ckks::max_secure_log_qp(log_n);
    // (depth + 2) * s  +  (s + kPExtraBits)  <=  bound
    const int s = std::min(opts.max_scale_bits, (bound - kPExtraBits) / (depth + 3));
    if (s >= opts.min_scale_bits) return make_plan(log_n, depth, s, false);
  }
  HEAL_REQUIRE(false, "plan_params: depth " << depth << " does not fit 128-bit security with "
                                            << opts.min_scale_bits << "-bit scales"
                                            << (opts.log_n > 0 ? " at the requested N" : " for any N <= 2^16"));
  return {};
}

}  // namespace heal::he_infer
