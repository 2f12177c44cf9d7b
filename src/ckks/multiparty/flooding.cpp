// Flooding-noise sizing for threshold decryption (see flooding.h for the formula and papers).
#include "heal/ckks/multiparty/flooding.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "heal/core/check.h"
#include "heal/math/sampler.h"

namespace heal::ckks::multiparty {

double symmetric_noise_bound() { return 6.0 * math::kDefaultSigma; }

double derived_noise_bound(const Context& ctx, const FloodingParams& p) {
  if (p.fresh_encryptions == 0) return 0;
  const double one = p.fresh_kind == FreshEncryption::kSymmetric ? symmetric_noise_bound()
                                                                  : fresh_noise_bound(ctx, p.secret_parties);
  // The noise of a sum is at most the sum of the noises (triangle inequality, coefficient-wise).
  return static_cast<double>(p.fresh_encryptions) * one;
}

void validate(const Context& ctx, const FloodingParams& p) {
  HEAL_REQUIRE(p.security_bits >= 40, "FloodingParams: statistical security must be >= 40 bits, got " << p.security_bits);
  HEAL_REQUIRE(p.max_decryptions >= 1, "FloodingParams: max_decryptions must be >= 1");
  HEAL_REQUIRE(p.parties >= 1, "FloodingParams: parties (shares combined per decryption) must be stated (>= 1)");
  HEAL_REQUIRE(std::isfinite(p.required_bits),
               "FloodingParams: required_bits (the precision the flooded decryption must keep) must be stated");
  HEAL_REQUIRE(p.secret_parties >= 1, "FloodingParams: secret_parties (secrets in the decryption key) must be >= 1");
  const double b = p.ciphertext_noise_bound;
  HEAL_REQUIRE(b >= 0 && std::isfinite(b), "FloodingParams: ciphertext_noise_bound (B_ct) must be finite and >= 0");
  if (p.caller_vouches_for_noise_bound) {
    HEAL_REQUIRE(b > 0, "FloodingParams: a vouched-for ciphertext_noise_bound (B_ct) must be positive");
  } else {
    HEAL_REQUIRE(p.fresh_encryptions >= 1,
                 "FloodingParams: the party cannot bound the ciphertext noise itself: state fresh_encryptions (the "
                 "ciphertexts are sums of fresh encryptions) or set caller_vouches_for_noise_bound with B_ct");
  }
  const double derived = derived_noise_bound(ctx, p);
  HEAL_REQUIRE(b == 0 || b >= derived, "FloodingParams: ciphertext_noise_bound (B_ct) 2^"
                                           << std::log2(b) << " understates the noise of a sum of "
                                           << p.fresh_encryptions << " fresh encryptions (bound 2^"
                                           << std::log2(derived) << ")");
}

double effective_noise_bound(const Context& ctx, const FloodingParams& p) {
  return std::max(p.ciphertext_noise_bound, derived_noise_bound(ctx, p));
}

double flooding_sigma(const Context& ctx, const FloodingParams& p) {
  validate(ctx, p);
  return std::exp2(p.security_bits / 2) *
         std::sqrt(static_cast<double>(ctx.n()) * static_cast<double>(p.max_decryptions)) *
         effective_noise_bound(ctx, p);
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

double flooded_coeff_error_std(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale) {
  HEAL_REQUIRE(scale > 0, "flooded_coeff_error_std: scale must be positive");
  return flooding_sigma(ctx, p) * std::sqrt(static_cast<double>(parties)) / scale;
}

Status check_flooding_precision(const Context& ctx, const FloodingParams& p, std::size_t parties, double scale,
                                double required_bits, std::size_t slots) {
  const double std_err =
      slots == 0 ? flooded_coeff_error_std(ctx, p, parties, scale) : flooded_slot_error_std(ctx, p, parties, scale);
  const double bits = -std::log2(8 * std_err);
  if (bits >= required_bits) return {};
  return Status::failed_precondition(
      "noise flooding (lambda = " + std::to_string(p.security_bits) + ", D = " + std::to_string(p.max_decryptions) +
      ", " + std::to_string(parties) + " shares) leaves about " + std::to_string(bits) +
      " bits of precision at scale 2^" + std::to_string(std::log2(scale)) + ", " + std::to_string(required_bits) +
      " requested: decrypt at scale >= 2^" + std::to_string(std::log2(scale) + required_bits - bits));
}

}  // namespace heal::ckks::multiparty
