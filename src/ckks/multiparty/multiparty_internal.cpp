#include "multiparty_internal.h"

#include <algorithm>
#include <cmath>

#include "heal/core/check.h"
#include "heal/math/sampler.h"

namespace heal::ckks::multiparty::detail {

math::RnsPoly gaussian_ntt(Rng& rng, const math::RnsBasis& basis, std::size_t limbs, double sigma) {
  HEAL_REQUIRE(sigma > 0 && sigma <= 0x1p55, "multiparty: noise sigma " << sigma << " outside (0, 2^55]");
  std::vector<std::int64_t> e = math::sample_gaussian(rng, basis.n(), sigma);
  math::RnsPoly p(basis.n(), limbs, false);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = basis.modulus(i);
    u64* o = p.limb(i);
    for (std::size_t t = 0; t < e.size(); ++t) o[t] = q.from_signed(e[t]);
  }
  secure_wipe(e.data(), e.size() * sizeof(std::int64_t));
  p.ntt_inplace(basis);
  return p;
}

math::RnsPoly ternary_ntt(Rng& rng, const Context& ctx) {
  const auto& kb = ctx.key_basis();
  std::vector<std::int64_t> u = math::sample_ternary(rng, ctx.n());
  math::RnsPoly p = math::RnsPoly::from_signed(u, kb, kb.size());
  secure_wipe(u.data(), u.size() * sizeof(std::int64_t));
  p.ntt_inplace(kb);
  return p;
}

void add_gadget(const Context& ctx, math::RnsPoly& b, std::size_t digit, const math::RnsPoly& x) {
  const auto& kb = ctx.key_basis();
  const std::size_t beg = ctx.digit_begin(digit), end = std::min(beg + ctx.alpha(), ctx.q_count());
  for (std::size_t i = beg; i < end; ++i) {
    const math::Modulus& q = kb.modulus(i);
    const math::ShoupConst pm(ctx.p_mod_q(i), q.value());
    u64* bi = b.limb(i);
    const u64* xi = x.limb(i);
    for (std::size_t t = 0; t < ctx.n(); ++t) bi[t] = q.add(bi[t], math::mul_shoup(xi[t], pm.value, pm.shoup, q.value()));
  }
}

void check_secret(const Context& ctx, const math::RnsPoly& s, const char* op) {
  HEAL_REQUIRE(s.n() == ctx.n() && s.num_limbs() == ctx.key_basis().size() && s.is_ntt(),
               op << ": secret must be NTT form over the key basis of the context (N = " << ctx.n() << ")");
}

void sort_unique_parties(std::vector<PartyId>& parties, const char* op) {
  std::sort(parties.begin(), parties.end());
  HEAL_REQUIRE(std::adjacent_find(parties.begin(), parties.end()) == parties.end(),
               op << ": a party's share is included twice");
}

void check_key_share(const Context& ctx, const KeyShare& share, ShareKind kind, std::size_t count, const char* op) {
  HEAL_REQUIRE(share.kind == kind, op << ": share of kind " << static_cast<int>(share.kind) << ", expected "
                                      << static_cast<int>(kind));
  HEAL_REQUIRE(share.polys.size() == count, op << ": share has " << share.polys.size() << " polynomials, expected " << count);
  for (const auto& p : share.polys) {
    HEAL_REQUIRE(p.n() == ctx.n() && p.num_limbs() == ctx.key_basis().size() && p.is_ntt(),
                 op << ": share polynomials must be NTT form over the key basis");
  }
}

}  // namespace heal::ckks::multiparty::detail
