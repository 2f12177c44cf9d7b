// Evaluator: rescaling (divide-and-round by the last prime) and modulus switching (drop limbs).
#include "ckks_internal.h"
#include "heal/ckks/evaluator.h"

namespace heal::ckks {

void Evaluator::rescale_inplace(Ciphertext& a) const {
  check(a, "Evaluator::rescale");
  HEAL_REQUIRE(a.level() >= 1, "Evaluator::rescale: ciphertext is at level 0, nothing left to rescale by");
  const double ql = static_cast<double>(ctx_->q(a.level()).value());
  for (auto& p : a.polys()) p.rescale_inplace(ctx_->q_basis());
  a.set_scale(a.scale() / ql);
}
Ciphertext Evaluator::rescale(const Ciphertext& a) const {
  Ciphertext r = a;
  rescale_inplace(r);
  return r;
}

void Evaluator::mod_switch_to_inplace(Ciphertext& a, std::size_t level) const {
  check(a, "Evaluator::mod_switch_to");
  HEAL_REQUIRE(level <= a.level(), "Evaluator::mod_switch_to: target level " << level << " above current level " << a.level());
  const std::size_t drop = a.level() - level;
  for (auto& p : a.polys()) p.drop_limbs(drop);
}
Ciphertext Evaluator::mod_switch_to(const Ciphertext& a, std::size_t level) const {
  check(a, "Evaluator::mod_switch_to");
  HEAL_REQUIRE(level <= a.level(), "Evaluator::mod_switch_to: target level " << level << " above current level " << a.level());
  // Copy only the kept limbs.
  std::vector<math::RnsPoly> polys;
  for (const auto& p : a.polys()) {
    math::RnsPoly q = math::RnsPoly::uninitialized(p.n(), level + 1, p.is_ntt());
    std::copy(p.data(), p.data() + p.n() * (level + 1), q.data());
    polys.push_back(std::move(q));
  }
  return Ciphertext(std::move(polys), a.scale(), a.slots());
}

void Evaluator::mod_switch_to_inplace(Plaintext& pt, std::size_t level) const {
  HEAL_REQUIRE(level <= pt.level(), "Evaluator::mod_switch_to: target level " << level << " above plaintext level " << pt.level());
  pt.poly().drop_limbs(pt.level() - level);
}

}  // namespace heal::ckks
