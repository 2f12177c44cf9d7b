// Evaluator: checks, additive operations, plaintext and constant operations.
#include "heal/ckks/evaluator.h"
#include "heal/math/poly_kernels.h"

#include <cmath>

#include "ckks_internal.h"

namespace heal::ckks {

using math::RnsPoly;

Evaluator::Evaluator(ContextPtr ctx) : ctx_(std::move(ctx)) { HEAL_REQUIRE(ctx_ != nullptr, "Evaluator: null context"); }

void Evaluator::check(const Ciphertext& a, const char* op) const { detail::check_ciphertext(*ctx_, a, op); }

void Evaluator::check_pair(const Ciphertext& a, const Ciphertext& b, const char* op, bool scales) const {
  check(a, op);
  check(b, op);
  HEAL_REQUIRE(a.level() == b.level(), op << ": operands at different levels (" << a.level() << " vs " << b.level()
                                          << "); use mod_switch_to or rescale first");
  if (scales) {
    HEAL_REQUIRE(detail::scales_match(a.scale(), b.scale()),
                 op << ": operands have different scales (" << a.scale() << " vs " << b.scale() << ")");
  }
}

void Evaluator::check_plain(const Ciphertext& a, const Plaintext& pt, const char* op, bool scales) const {
  check(a, op);
  HEAL_REQUIRE(pt.poly().n() == ctx_->n() && pt.poly().is_ntt(), op << ": plaintext must be NTT form for this context");
  HEAL_REQUIRE(pt.level() == a.level(), op << ": plaintext at level " << pt.level() << ", ciphertext at level "
                                           << a.level() << " (encode at the ciphertext's level)");
  if (scales) {
    HEAL_REQUIRE(detail::scales_match(a.scale(), pt.scale()),
                 op << ": plaintext scale " << pt.scale() << " differs from ciphertext scale " << a.scale());
  }
}

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b, "Evaluator::add", true);
  const auto& qb = ctx_->q_basis();
  const std::size_t common = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < common; ++i) a[i].add_inplace(b[i], qb);
  for (std::size_t i = common; i < b.size(); ++i) a.polys().push_back(b[i]);
}
Ciphertext Evaluator::add(const Ciphertext& a, const Ciphertext& b) const {
  if (a.size() != b.size()) {
    Ciphertext r = a;
    add_inplace(r, b);
    return r;
  }
  check_pair(a, b, "Evaluator::add", true);
  // One pass into fresh (pooled) memory instead of copy + in-place add.
  const auto& qb = ctx_->q_basis();
  const std::size_t n = ctx_->n(), limbs = a.level() + 1;
  std::vector<RnsPoly> polys;
  for (std::size_t k = 0; k < a.size(); ++k) {
    RnsPoly p = RnsPoly::uninitialized(n, limbs, true);
    for (std::size_t i = 0; i < limbs; ++i) math::add_mod_vec(a[k].limb(i), b[k].limb(i), p.limb(i), n, qb.modulus(i));
    polys.push_back(std::move(p));
  }
  return Ciphertext(std::move(polys), a.scale(), a.slots());
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b, "Evaluator::sub", true);
  const auto& qb = ctx_->q_basis();
  const std::size_t common = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < common; ++i) a[i].sub_inplace(b[i], qb);
  for (std::size_t i = common; i < b.size(); ++i) {
    a.polys().push_back(b[i]);
    a.polys().back().negate_inplace(qb);
  }
}
Ciphertext Evaluator::sub(const Ciphertext& a, const Ciphertext& b) const {
  Ciphertext r = a;
  sub_inplace(r, b);
  return r;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
  check(a, "Evaluator::negate");
  for (auto& p : a.polys()) p.negate_inplace(ctx_->q_basis());
}
Ciphertext Evaluator::negate(const Ciphertext& a) const {
  Ciphertext r = a;
  negate_inplace(r);
  return r;
}

void Evaluator::add_plain_inplace(Ciphertext& a, const Plaintext& pt) const {
  check_plain(a, pt, "Evaluator::add_plain", true);
  a[0].add_inplace(pt.poly(), ctx_->q_basis());
}
Ciphertext Evaluator::add_plain(const Ciphertext& a, const Plaintext& pt) const {
  Ciphertext r = a;
  add_plain_inplace(r, pt);
  return r;
}

void Evaluator::sub_plain_inplace(Ciphertext& a, const Plaintext& pt) const {
  check_plain(a, pt, "Evaluator::sub_plain", true);
  a[0].sub_inplace(pt.poly(), ctx_->q_basis());
}
Ciphertext Evaluator::sub_plain(const Ciphertext& a, const Plaintext& pt) const {
  Ciphertext r = a;
  sub_plain_inplace(r, pt);
  return r;
}

void Evaluator::mul_plain_inplace(Ciphertext& a, const Plaintext& pt) const {
  check_plain(a, pt, "Evaluator::mul_plain", false);
  for (auto& p : a.polys()) p.mul_inplace(pt.poly(), ctx_->q_basis());
  a.set_scale(a.scale() * pt.scale());
}
Ciphertext Evaluator::mul_plain(const Ciphertext& a, const Plaintext& pt) const {
  Ciphertext r = a;
  mul_plain_inplace(r, pt);
  return r;
}

// Constant re + im*i as the polynomial round(re*scale) + round(im*scale) X^(N/2), NTT form.
// X^(N/2) evaluates to psi^(N/2 * (2 bitrev(j) + 1)) = +iota for j < N/2 and -iota otherwise,
// where iota = psi^(N/2) is a square root of -1 mod q.
RnsPoly Evaluator::constant_poly(std::complex<double> c, double scale, std::size_t level) const {
  const auto& qb = ctx_->q_basis();
  const std::size_t n = ctx_->n(), limbs = level + 1;
  const auto re = detail::round_to_residues(c.real() * scale, qb, limbs);
  const auto im = detail::round_to_residues(c.imag() * scale, qb, limbs);
  RnsPoly p = RnsPoly::uninitialized(n, limbs, true);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = qb.modulus(i);
    const u64 iota = q.pow(qb.ntt(i).psi(), n / 2);
    const u64 plus = q.add(re[i], q.mul(im[i], iota)), minus = q.sub(re[i], q.mul(im[i], iota));
    u64* d = p.limb(i);
    std::fill(d, d + n / 2, plus);
    std::fill(d + n / 2, d + n, minus);
  }
  return p;
}

void Evaluator::add_const_inplace(Ciphertext& a, std::complex<double> c) const {
  check(a, "Evaluator::add_const");
  if (c.imag() == 0.0) {
    const auto r = detail::round_to_residues(c.real() * a.scale(), ctx_->q_basis(), a.level() + 1);
    a[0].add_scalar_ntt_inplace(r, ctx_->q_basis());
  } else {
    a[0].add_inplace(constant_poly(c, a.scale(), a.level()), ctx_->q_basis());
  }
}
Ciphertext Evaluator::add_const(const Ciphertext& a, std::complex<double> c) const {
  Ciphertext r = a;
  add_const_inplace(r, c);
  return r;
}

void Evaluator::mul_const_inplace(Ciphertext& a, std::complex<double> c, double const_scale) const {
  check(a, "Evaluator::mul_const");
  const double s = const_scale > 0 ? const_scale : static_cast<double>(ctx_->q(a.level()).value());
  HEAL_REQUIRE(std::isfinite(s) && s >= 1.0, "Evaluator::mul_const: const_scale must be >= 1");
  if (c.imag() == 0.0) {
    const auto r = detail::round_to_residues(c.real() * s, ctx_->q_basis(), a.level() + 1);
    for (auto& p : a.polys()) p.mul_scalar_inplace(r, ctx_->q_basis());
  } else {
    const RnsPoly k = constant_poly(c, s, a.level());
    for (auto& p : a.polys()) p.mul_inplace(k, ctx_->q_basis());
  }
  a.set_scale(a.scale() * s);
}
Ciphertext Evaluator::mul_const(const Ciphertext& a, std::complex<double> c, double const_scale) const {
  Ciphertext r = a;
  mul_const_inplace(r, c, const_scale);
  return r;
}

void Evaluator::mul_integer_inplace(Ciphertext& a, std::int64_t k) const {
  check(a, "Evaluator::mul_integer");
  std::vector<u64> r(a.level() + 1);
  for (std::size_t i = 0; i <= a.level(); ++i) r[i] = ctx_->q(i).from_signed(k);
  for (auto& p : a.polys()) p.mul_scalar_inplace(r, ctx_->q_basis());
}
Ciphertext Evaluator::mul_integer(const Ciphertext& a, std::int64_t k) const {
  Ciphertext r = a;
  mul_integer_inplace(r, k);
  return r;
}

}  // namespace heal::ckks
