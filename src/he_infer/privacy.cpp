// Circuit privacy of the server's output: noise flooding (see privacy.h).
#include "heal/he_infer/privacy.h"

#include <cmath>
#include <vector>

#include "heal/ckks/multiparty/flooding.h"
#include "heal/ckks/plaintext.h"
#include "heal/core/check.h"
#include "heal/core/rng.h"
#include "heal/math/sampler.h"

namespace heal::he_infer {

double OutputFlood::slot_std(const ckks::Context& ctx) const {
  HEAL_REQUIRE(scale > 0, "OutputFlood: scale must be positive");
  return sigma * std::sqrt(static_cast<double>(ctx.n()) / 2) / scale;
}

double flood_sigma(const ckks::Context& ctx, double noise_bound) {
  HEAL_REQUIRE(noise_bound > 0 && std::isfinite(noise_bound), "flood_sigma: the noise bound must be positive");
  return std::exp2(kFloodSecurityBits - 1) * std::sqrt(static_cast<double>(ctx.n())) * noise_bound;
}

double key_switch_noise_bound(const ckks::Context& ctx, std::size_t key_switches) {
  // Each key switch adds its ModDown rounding r0 + r1 s (fresh_noise_bound) and sum_i d_i e_i / P
  // (< 1 for P above the digits); bounds add up under the inf norm. +1: a fresh encryption.
  return static_cast<double>(key_switches + 1) * (ckks::multiparty::fresh_noise_bound(ctx, 1) + 1.0);
}

ckks::Ciphertext flooding_encryption(const ckks::Context& ctx, const OutputFlood& f, double scale, std::size_t slots,
                                     ckks::Encryptor& enc, Rng* rng) {
  HEAL_REQUIRE(f.sigma > 0 && 6 * f.sigma < 0x1p62, "flooding_encryption: bad flooding width");
  SystemRng sys;
  std::vector<std::int64_t> e = math::sample_gaussian(rng ? *rng : sys, ctx.n(), f.sigma);
  math::RnsPoly p = math::RnsPoly::from_signed(e, ctx.q_basis(), f.level + 1);
  secure_wipe(e.data(), e.size() * sizeof(std::int64_t));
  p.ntt_inplace(ctx.q_basis());
  ckks::Plaintext pt(std::move(p), scale, slots);
  ckks::Ciphertext z = enc.encrypt(pt);
  pt.poly().wipe();
  return z;
}

void add_flood_inplace(const ckks::Context& ctx, const OutputFlood& f, ckks::Ciphertext& ct, const ckks::Ciphertext& flood) {
  HEAL_REQUIRE(ct.size() == 2, "flood: relinearize first (2 polynomials)");
  HEAL_REQUIRE(ct.level() == f.level && flood.level() == f.level,
               "flood: ciphertext at level " << ct.level() << ", flood planned at " << f.level);
  for (std::size_t k = 0; k < 2; ++k) ct[k].add_inplace(flood[k], ctx.q_basis());
}

void flood_inplace(const ckks::Context& ctx, const OutputFlood& f, ckks::Ciphertext& ct, ckks::Encryptor& enc) {
  add_flood_inplace(ctx, f, ct, flooding_encryption(ctx, f, ct.scale(), ct.slots(), enc));
}

}  // namespace heal::he_infer
