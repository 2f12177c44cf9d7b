#include "ckks_internal.h"

namespace heal::ckks::detail {

std::vector<math::u64> round_to_residues(double v, const math::RnsBasis& basis, std::size_t limbs) {
  HEAL_REQUIRE(std::isfinite(v), "CKKS: cannot encode a non-finite value (" << v << ")");
  std::vector<math::u64> out(limbs);
  const double r = std::nearbyint(v);
  if (std::fabs(r) < 0x1p62) {
    const auto iv = static_cast<std::int64_t>(r);
    for (std::size_t i = 0; i < limbs; ++i) out[i] = basis.modulus(i).from_signed(iv);
    return out;
  }
  // |r| >= 2^62: r = m * 2^e exactly with a 53-bit integer mantissa m.
  int e = 0;
  const double frac = std::frexp(std::fabs(r), &e);
  const auto m = static_cast<math::u64>(std::ldexp(frac, 53));
  const int shift = e - 53;
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = basis.modulus(i);
    math::u64 x = q.mul(q.reduce(m), q.pow(2, static_cast<math::u64>(shift)));
    out[i] = r < 0 ? q.neg(x) : x;
  }
  return out;
}

void check_ciphertext(const Context& ctx, const Ciphertext& ct, const char* op) {
  HEAL_REQUIRE(ct.size() >= 2, op << ": ciphertext has " << ct.size() << " polynomials, expected 2 or 3");
  const std::size_t limbs = ct[0].num_limbs();
  HEAL_REQUIRE(limbs >= 1 && limbs <= ctx.q_count(),
               op << ": ciphertext has " << limbs << " limbs, context allows 1.." << ctx.q_count());
  for (const auto& p : ct.polys()) {
    HEAL_REQUIRE(p.n() == ctx.n() && p.num_limbs() == limbs && p.is_ntt(),
                 op << ": ciphertext polynomials must all be NTT form with N = " << ctx.n() << " and equal limb counts");
  }
}

}  // namespace heal::ckks::detail
