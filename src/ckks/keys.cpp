#include "heal/ckks/keys.h"

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/params.h"
#include "heal/math/sampler.h"

namespace heal::ckks {

const KswKey& GaloisKeys::get(std::uint64_t galois_elt) const {
  auto it = keys_.find(galois_elt);
  HEAL_REQUIRE(it != keys_.end(), "GaloisKeys: no key for Galois element " << galois_elt
                                                                        << " (generate it with KeyGenerator::create_galois_keys)");
  return it->second;
}

Ciphertext SeededCiphertext::expand(const Context& ctx) const {
  HEAL_REQUIRE(c0_.n() == ctx.n() && c0_.num_limbs() >= 1 && c0_.num_limbs() <= ctx.q_count() && c0_.is_ntt(),
               "SeededCiphertext::expand: c0 does not match the context");
  math::RnsPoly a = math::expand_uniform_poly(seed_, kCiphertextStream, ctx.q_basis(), c0_.num_limbs(), true);
  std::vector<math::RnsPoly> polys;
  polys.push_back(c0_);
  polys.push_back(std::move(a));
  return Ciphertext(std::move(polys), scale_, slots_);
}

}  // namespace heal::ckks
