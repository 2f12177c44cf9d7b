// Flooding-noise sizing for threshold decryption (see flooding.h for the formula and papers).
#include "heal/ckks/multiparty/flooding.h"

#include <cmath>

#include "heal/core/check.h"

namespace heal::ckks::multiparty {

void validate(const FloodingParams& p) {
  HEAL_REQUIRE(p.security_bits >= 40, "FloodingParams: statistical security must be >= 40 bits, got " << p.security_bits);
  HEAL_REQUIRE(p.ciphertext_noise_bound > 0 && std::isfinite(p.ciphertext_noise_bound),
               "FloodingParams: ciphertext_noise_bound (B_ct) must be a positive bound on the ciphertext noise");
  HEAL_REQUIRE(p.max_decryptions >= 1, "FloodingParams: max_decryptions must be >= 1");
}

double flooding_sigma(const Context& ctx, const FloodingParams& p) {
  validate(p);
  return std::exp2(p.security_bits / 2) *
         std::sqrt(static_cast<double>(ctx.n()) * static_cast<double>(p.max_decryptions)) * p.ciphertext_noise_bound;
}

double fresh_noise_bound(const Context& ctx, std::size_t secret_parties) {
  HEAL_REQUIRE(secret_parties >= 1, "fresh_noise_bound: at least one secret");
  const double n = static_cast<double>(ctx.n());
  const double var = (1.0 + n * 2.0 / 3.0 * static_cast<double>(secret_parties)) / 12.0;
  return 6.0 * std::sqrt(var) + 1.0;
}

double flooded_slot_error_std(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale) {
  HEAL_REQUIRE(scale > 0, "flooded_slot_error_std: scale must be positive");
  return flooding_sigma(ctx, p) * std::sqrt(static_cast<double>(parties) * static_cast<double>(ctx.n())) / scale;
}

Status check_flooding_precision(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale,
                                double required_bits) {
  const double err = 8 * flooded_slot_error_std(ctx, p, parties, scale);
  const double bits = -std::log2(err);
  if (bits >= required_bits) return {};
  return Status::failed_precondition("noise flooding (lambda = " + std::to_string(p.security_bits) + ", D = " +
                                     std::to_string(p.max_decryptions) + ") leaves about " + std::to_string(bits) +
                                     " bits of precision at scale 2^" + std::to_string(std::log2(scale)) + ", " +
                                     std::to_string(required_bits) + " requested: decrypt at scale >= 2^" +
                                     std::to_string(std::log2(scale) + required_bits - bits));
}

}  // namespace heal::ckks::multiparty
