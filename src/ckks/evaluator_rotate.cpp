// Evaluator: slot rotations, conjugation, hoisted rotations and rotate-and-sum.
#include <bit>

#include "ckks_internal.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_switch.h"

namespace heal::ckks {

using math::RnsPoly;

Ciphertext Evaluator::apply_galois(const Ciphertext& a, std::uint64_t galois_elt, const GaloisKeys& gk) const {
  check(a, "Evaluator::apply_galois");
  HEAL_REQUIRE(a.size() == 2, "Evaluator::apply_galois: relinearize first (ciphertext has " << a.size() << " polynomials)");
  HEAL_REQUIRE(gk.has(galois_elt), "Evaluator: missing Galois key for element " << galois_elt);
  const auto& perm = ctx_->galois_permutation(galois_elt);
  const auto& qb = ctx_->q_basis();
  // sigma(c0) + KS(sigma(c1)): the key switches sigma(s) -> s.
  RnsPoly c0 = a[0].automorphism(galois_elt, qb, &perm);
  RnsPoly c1 = a[1].automorphism(galois_elt, qb, &perm);
  RnsPoly d0, d1;
  key_switch(*ctx_, c1, gk.get(galois_elt), d0, d1);
  c1.mark_public();  // sigma(c1): ciphertext words, released without the wipe
  c0.add_inplace(d0, qb);
  std::vector<RnsPoly> polys;
  polys.push_back(std::move(c0));
  polys.push_back(std::move(d1));
  return Ciphertext(std::move(polys), a.scale(), a.slots());
}

Ciphertext Evaluator::rotate(const Ciphertext& a, long step, const GaloisKeys& gk) const {
  const std::uint64_t g = ctx_->galois_elt_for_step(step);
  if (g == 1) {
    check(a, "Evaluator::rotate");
    return a;
  }
  HEAL_REQUIRE(gk.has(g), "Evaluator::rotate: no Galois key for step " << step << " (element " << g << ")");
  return apply_galois(a, g, gk);
}
void Evaluator::rotate_inplace(Ciphertext& a, long step, const GaloisKeys& gk) const { a = rotate(a, step, gk); }

Ciphertext Evaluator::conjugate(const Ciphertext& a, const GaloisKeys& gk) const {
  const std::uint64_t g = ctx_->galois_elt_conjugate();
  HEAL_REQUIRE(gk.has(g), "Evaluator::conjugate: no conjugation key (create_galois_keys(..., true))");
  return apply_galois(a, g, gk);
}
void Evaluator::conjugate_inplace(Ciphertext& a, const GaloisKeys& gk) const { a = conjugate(a, gk); }

std::vector<Ciphertext> Evaluator::rotate_hoisted(const Ciphertext& a, const std::vector<long>& steps,
                                                  const GaloisKeys& gk) const {
  check(a, "Evaluator::rotate_hoisted");
  HEAL_REQUIRE(a.size() == 2, "Evaluator::rotate_hoisted: relinearize first");
  for (long s : steps) {
    const std::uint64_t g = ctx_->galois_elt_for_step(s);
    HEAL_REQUIRE(g == 1 || gk.has(g), "Evaluator::rotate_hoisted: no Galois key for step " << s);
  }
  const auto& qb = ctx_->q_basis();
  std::vector<Ciphertext> out;
  out.reserve(steps.size());
  // With many digits the materialized decomposition (digits x (l+1+k) limbs) no longer fits in
  // cache and re-reading it costs more than redoing ModUp with vector NTTs (measured: at N=2^15,
  // dnum=20, 8 hoisted rotations took 1.7x as long as 8 plain ones; at dnum=3 hoisting wins; at
  // N=2^16 with 5 digits of 60-bit primes, 7 hoisted rotations take 1.15 s against 2.2 s).
  constexpr std::size_t kMaxHoistDigits = 6;
  if (ctx_->digits_at(a.level()) > kMaxHoistDigits) {
    for (long s : steps) out.push_back(rotate(a, s, gk));
    return out;
  }
  KeySwitchDecomposition dec;
  bool have_dec = false;
  for (long s : steps) {
    const std::uint64_t g = ctx_->galois_elt_for_step(s);
    if (g == 1) {
      out.push_back(a);
      continue;
    }
    if (!have_dec) {
      dec = decompose(*ctx_, a[1]);
      have_dec = true;
    }
    const auto& perm = ctx_->galois_permutation(g);
    RnsPoly d0, d1;
    // Permuting the digits of c1 equals decomposing sigma(c1) up to multiples of each digit
    // modulus, which the gadget structure of the key removes.
    key_switch_decomposed(*ctx_, dec, gk.get(g), &perm, d0, d1);
    RnsPoly c0 = a[0].automorphism(g, qb, &perm);
    c0.add_inplace(d0, qb);
    std::vector<RnsPoly> polys;
    polys.push_back(std::move(c0));
    polys.push_back(std::move(d1));
    out.emplace_back(std::move(polys), a.scale(), a.slots());
  }
  return out;
}

void Evaluator::rotate_and_sum_inplace(Ciphertext& a, std::size_t window, const GaloisKeys& gk) const {
  check(a, "Evaluator::rotate_and_sum");
  HEAL_REQUIRE(window >= 1 && std::has_single_bit(window) && window <= ctx_->slots(),
               "Evaluator::rotate_and_sum: window must be a power of two <= N/2, got " << window);
  for (std::size_t s = 1; s < window; s <<= 1) {
    const Ciphertext r = rotate(a, static_cast<long>(s), gk);
    add_inplace(a, r);
  }
}
Ciphertext Evaluator::rotate_and_sum(const Ciphertext& a, std::size_t window, const GaloisKeys& gk) const {
  Ciphertext r = a;
  rotate_and_sum_inplace(r, window, gk);
  return r;
}

Ciphertext Evaluator::sum_slots(const Ciphertext& a, const GaloisKeys& gk) const {
  const std::size_t w = a.slots() ? a.slots() : ctx_->slots();
  return rotate_and_sum(a, w, gk);
}

}  // namespace heal::ckks
