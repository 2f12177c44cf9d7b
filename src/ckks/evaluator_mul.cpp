// Evaluator: ciphertext multiplication, squaring and relinearization.
#include "ckks_internal.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_switch.h"
#include "heal/math/poly_kernels.h"

namespace heal::ckks {

using math::RnsPoly;

Ciphertext Evaluator::mul(const Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b, "Evaluator::mul", false);
  HEAL_REQUIRE(a.size() == 2 && b.size() == 2, "Evaluator::mul: operands must have 2 polynomials (relinearize first)");
  const auto& qb = ctx_->q_basis();
  const std::size_t n = ctx_->n(), limbs = a.level() + 1;
  RnsPoly d0 = RnsPoly::uninitialized(n, limbs, true), d1 = RnsPoly::uninitialized(n, limbs, true),
          d2 = RnsPoly::uninitialized(n, limbs, true);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = qb.modulus(i);
    const u64 *a0 = a[0].limb(i), *a1 = a[1].limb(i), *b0 = b[0].limb(i), *b1 = b[1].limb(i);
    u64 *o0 = d0.limb(i), *o1 = d1.limb(i), *o2 = d2.limb(i);
    math::mul_mod_vec(a0, b0, o0, n, q);
    math::mul_mod_vec(a0, b1, o1, n, q);
    math::mul_add_mod_vec(a1, b0, o1, o1, n, q);
    math::mul_mod_vec(a1, b1, o2, n, q);
  }
  std::vector<RnsPoly> polys;
  polys.push_back(std::move(d0));
  polys.push_back(std::move(d1));
  polys.push_back(std::move(d2));
  return Ciphertext(std::move(polys), a.scale() * b.scale(), std::max(a.slots(), b.slots()));
}
void Evaluator::mul_inplace(Ciphertext& a, const Ciphertext& b) const { a = mul(a, b); }

Ciphertext Evaluator::square(const Ciphertext& a) const {
  check(a, "Evaluator::square");
  HEAL_REQUIRE(a.size() == 2, "Evaluator::square: operand must have 2 polynomials (relinearize first)");
  const auto& qb = ctx_->q_basis();
  const std::size_t n = ctx_->n(), limbs = a.level() + 1;
  RnsPoly d0 = RnsPoly::uninitialized(n, limbs, true), d1 = RnsPoly::uninitialized(n, limbs, true),
          d2 = RnsPoly::uninitialized(n, limbs, true);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = qb.modulus(i);
    const u64 *a0 = a[0].limb(i), *a1 = a[1].limb(i);
    u64 *o0 = d0.limb(i), *o1 = d1.limb(i), *o2 = d2.limb(i);
    math::mul_mod_vec(a0, a0, o0, n, q);
    math::mul_mod_vec(a0, a1, o1, n, q);
    for (std::size_t t = 0; t < n; ++t) o1[t] = q.add(o1[t], o1[t]);
    math::mul_mod_vec(a1, a1, o2, n, q);
  }
  std::vector<RnsPoly> polys;
  polys.push_back(std::move(d0));
  polys.push_back(std::move(d1));
  polys.push_back(std::move(d2));
  return Ciphertext(std::move(polys), a.scale() * a.scale(), a.slots());
}
void Evaluator::square_inplace(Ciphertext& a) const { a = square(a); }

void Evaluator::relinearize_inplace(Ciphertext& a, const RelinKey& rk) const {
  check(a, "Evaluator::relinearize");
  if (a.size() == 2) return;
  HEAL_REQUIRE(a.size() == 3, "Evaluator::relinearize: expected 3 polynomials, got " << a.size());
  HEAL_REQUIRE(!rk.key().empty(), "Evaluator::relinearize: empty relinearization key");
  RnsPoly d0, d1;
  key_switch(*ctx_, a[2], rk.key(), d0, d1);
  const auto& qb = ctx_->q_basis();
  a[0].add_inplace(d0, qb);
  a[1].add_inplace(d1, qb);
  a.polys().pop_back();
}
Ciphertext Evaluator::relinearize(const Ciphertext& a, const RelinKey& rk) const {
  Ciphertext r = a;
  relinearize_inplace(r, rk);
  return r;
}

Ciphertext Evaluator::mul_relin(const Ciphertext& a, const Ciphertext& b, const RelinKey& rk) const {
  Ciphertext r = mul(a, b);
  relinearize_inplace(r, rk);
  return r;
}

}  // namespace heal::ckks
