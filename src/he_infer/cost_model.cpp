// Cost model (see cost_model.h).
#include "heal/he_infer/cost_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>

#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/core/check.h"
#include "heal/he_infer/single_engine.h"
#include "kernels.h"

namespace heal::he_infer {

const char* mode_name(Mode m) { return m == Mode::kBatch ? "batch" : "single"; }

namespace {
template <typename F>
double time_it(F&& f, int reps = 3) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}
}  // namespace

UnitCosts calibrate(const ckks::ContextPtr& ctx, int threads) {
  UnitCosts u;
  ckks::KeyGenerator kg(ctx);
  ckks::Encryptor enc(ctx, kg.create_public_key());
  ckks::Decryptor dec(ctx, kg.secret_key());
  ckks::Encoder encoder(ctx);
  const ckks::Evaluator ev(ctx);
  const auto rk = kg.create_relin_key();
  const auto gk = kg.create_galois_keys({1, 2, 3, 4});
  std::vector<double> v(ctx->slots(), 0.5);
  const auto pt = encoder.encode(std::span<const double>(v), ctx->default_scale(), ctx->max_level());
  ckks::Ciphertext a, b;
  u.encrypt = time_it([&] { a = enc.encrypt(pt); });
  b = enc.encrypt(pt);
  u.decrypt = time_it([&] { (void)encoder.decode_real(dec.decrypt(a)); });
  u.add = time_it([&] { (void)ev.add(a, b); });
  u.mul_ct_pt = time_it([&] { (void)ev.mul_plain(a, pt); });
  ckks::Ciphertext c3;
  u.mul_ct_ct = time_it([&] { c3 = ev.mul(a, b); });
  u.relin = time_it([&] { (void)ev.relinearize(c3, rk); }, 2);
  u.rescale = time_it([&] { (void)ev.rescale(a); });
  u.rotate = time_it([&] { (void)ev.rotate(a, 1, gk); }, 2);
  u.hoisted_rotate = time_it([&] { (void)ev.rotate_hoisted(a, {1, 2, 3, 4}, gk); }, 2) / 4;
  // Batch kernel: 64 inputs -> 16 outputs, dense.
  const int in = 64, out = 16;
  SparseLinear lin = SparseLinear::identity(1, "cal");
  lin.in_dim = in;
  lin.out_dim = out;
  lin.row_ptr.assign(1, 0);
  lin.cols.clear();
  lin.vals.clear();
  for (int r = 0; r < out; ++r) {
    for (int j = 0; j < in; ++j) {
      lin.cols.push_back(j);
      lin.vals.push_back(0.01);
    }
    lin.row_ptr.push_back(static_cast<std::int32_t>(lin.cols.size()));
  }
  lin.bias.assign(out, 0.0);
  std::vector<ckks::Ciphertext> xs(in, a);
  const auto st = detail::make_mac_stage(lin, *ctx, ctx->max_level());
  const double t = time_it([&] { (void)detail::sparse_mac(*ctx, st, xs, threads); }, 2);
  u.threads = std::max(1, threads);
  u.mac_word = t / (static_cast<double>(in) * out * 2 * static_cast<double>(ctx->max_level() + 1) * static_cast<double>(ctx->n()));
  return u;
}

CostReport estimate_cost(const Circuit& c, const ParamPlan& plan, Mode mode, bool encrypted_weights, const UnitCosts* unit) {
  CostReport r;
  r.mode = mode;
  r.encrypted_weights = encrypted_weights;
  r.params = plan.describe();
  r.log_n = plan.spec.log_n;
  r.depth = c.depth();
  r.levels = static_cast<int>(plan.spec.q_bits.size()) - 1;
  const std::size_t n = std::size_t{1} << plan.spec.log_n, slots = n / 2;
  const std::size_t L = plan.spec.q_bits.size(), P = plan.spec.p_bits.size();
  const double top = static_cast<double>(L);
  const std::size_t ksw_bytes = L * 2 * (L + P) * n * 8;  // dnum = #Q digits, (b, a) over Q u P
  r.relin_key_bytes = ksw_bytes;
  auto ct_bytes = [&](std::size_t level, std::size_t polys = 2) { return polys * (level + 1) * n * 8; };
  double t = 0;
  auto lin = [&](std::size_t level) { return (static_cast<double>(level) + 1) / top; };
  auto quad = [&](std::size_t level) { return std::pow((static_cast<double>(level) + 1) / top, 2); };
  if (mode == Mode::kBatch) {
    r.images_per_eval = slots;
    r.input_ciphertexts = c.input.size();
    r.input_bytes = r.input_ciphertexts * ct_bytes(L - 1);
    r.output_bytes = static_cast<std::size_t>(c.num_classes) * ct_bytes(1);
    std::size_t level = L - 1;
    for (std::size_t i = 0; i < c.linears.size(); ++i) {
      const auto& l = c.linears[i];
      const std::size_t polys = i == 0 ? 2 : 3;
      if (i > 0) {
        r.ct_ct_mul += static_cast<std::size_t>(l.in_dim);
        if (unit) t += l.in_dim * unit->mul_ct_ct * lin(level) / unit->threads;
      }
      const double words = static_cast<double>(l.nnz()) * static_cast<double>(polys) * static_cast<double>(level + 1) * static_cast<double>(n);
      r.mac_words += words;
      const std::size_t resc = i == 0 ? 1 : 2;
      r.rescale += resc * l.out_dim;
      if (i > 0) r.relin += l.out_dim;
      if (unit) {
        t += words * unit->mac_word;
        t += l.out_dim * (static_cast<double>(resc) * unit->rescale * lin(level) + (i > 0 ? unit->relin * quad(level) : 0)) / unit->threads;
      }
      level -= i == 0 ? 1 : 2;
    }
  } else {
    const auto ctx = ckks::Context::create(plan.spec);
    const SingleEngine eng(c, ctx, 1);
    const OpCounts oc = eng.op_counts(encrypted_weights);
    r.images_per_eval = 1;
    r.rotations = oc.rotations;
    r.hoisted_rotations = oc.hoisted_rotations;
    r.ct_ct_mul = oc.ct_ct_mul;
    r.ct_pt_mul = oc.ct_pt_mul;
    r.relin = oc.relin;
    r.rescale = oc.rescale;
    r.galois_keys = eng.rotation_steps().size();
    r.galois_key_bytes = r.galois_keys * ksw_bytes;
    r.input_ciphertexts = eng.input_ciphertexts();
    r.input_bytes = r.input_ciphertexts * ct_bytes(L - 1);
    r.output_bytes = ct_bytes(1);
    std::size_t wcount = 0;
    for (const auto& p : eng.plan()) {
      wcount += p.num_weights();
      r.weight_bytes += p.num_weights() * ct_bytes(p.level, encrypted_weights ? 2 : 1) + ct_bytes(p.level - 1, encrypted_weights ? 2 : 1);
      if (unit) {
        // Per-stage costs at the stage's level (key switching ~ limbs^2).
        const std::size_t lv = p.level;
        const double w = static_cast<double>(p.num_weights());
        t += w * (encrypted_weights ? unit->mul_ct_ct : unit->mul_ct_pt) * lin(lv) / unit->threads;
        t += w * unit->add * lin(lv) / unit->threads;
      }
    }
    (void)wcount;
    if (unit) {
      // Rotations and relinearizations mostly run one level below the top stage's; use the mid level.
      const std::size_t mid = (L - 1) / 2 + 1;
      t += (static_cast<double>(oc.rotations) * unit->rotate / unit->threads + static_cast<double>(oc.hoisted_rotations) * unit->hoisted_rotate +
            static_cast<double>(oc.relin) * unit->relin) * quad(mid);
      t += static_cast<double>(oc.rescale) * unit->rescale * lin(mid);
    }
  }
  r.predicted_seconds = t;
  return r;
}

bool single_flood_fits(const Circuit& c, const ParamPlan& plan) {
  try {
    const SingleEngine eng(c, ckks::Context::create(plan.spec), 1);
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

PlanChoice choose_single_plan(const Circuit& c, bool encrypted_weights, int threads, int extra) {
  HEAL_REQUIRE(extra >= 0, "choose_single_plan: extra must be >= 0");
  PlanChoice out;
  // The smallest secure N whose levels leave room for the output flood (privacy.h): the single
  // engine refuses a plan without it (e.g. depth 5 at N = 2^13 with 26-bit primes).
  ParamPlan first = plan_params(c.depth());
  while (!single_flood_fits(c, first)) {
    HEAL_REQUIRE(first.spec.log_n < 16, "choose_single_plan: no N <= 2^16 leaves room for the circuit-privacy flood");
    first = plan_params(c.depth(), {.log_n = first.spec.log_n + 1});
  }
  double best = 0;
  for (int log_n = first.spec.log_n; log_n <= std::min(16, first.spec.log_n + extra); ++log_n) {
    const ParamPlan p = log_n == first.spec.log_n ? first : plan_params(c.depth(), {.log_n = log_n});
    if (!single_flood_fits(c, p)) continue;  // a larger N can have less room (more flood, same primes)
    const UnitCosts unit = calibrate(ckks::Context::create(p.spec), threads);
    out.candidates.push_back(estimate_cost(c, p, Mode::kSingle, encrypted_weights, &unit));
    const double t = out.candidates.back().predicted_seconds;
    if (out.candidates.size() == 1 || t < best) {
      best = t;
      out.plan = p;
    }
  }
  return out;
}

std::string CostReport::to_string() const {
  std::ostringstream os;
  auto mb = [](std::size_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); };
  os << "mode " << mode_name(mode) << (encrypted_weights ? " (encrypted weights)" : "") << ": " << params << "\n"
     << "  depth " << depth << ", levels " << levels << ", images/evaluation " << images_per_eval << "\n"
     << "  rotations " << rotations << " (+" << hoisted_rotations << " hoisted), ct x ct " << ct_ct_mul << ", ct x pt " << ct_pt_mul
     << ", relin " << relin << ", rescale " << rescale;
  if (mac_words > 0) os << ", scalar MAC words " << mac_words;
  os << "\n  keys: relin " << mb(relin_key_bytes) << " MiB, Galois " << galois_keys << " keys = " << mb(galois_key_bytes) << " MiB\n"
     << "  input " << input_ciphertexts << " ct = " << mb(input_bytes) << " MiB, output " << mb(output_bytes) << " MiB";
  if (weight_bytes) os << ", weights " << mb(weight_bytes) << " MiB";
  os << "\n";
  if (predicted_seconds > 0) os << "  predicted " << predicted_seconds << " s per evaluation\n";
  return os.str();
}

}  // namespace heal::he_infer
