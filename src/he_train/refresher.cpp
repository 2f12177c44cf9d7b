// Single-key refresh of the encrypted weights by CKKS bootstrapping.
#include "heal/he_train/refresher.h"

#include <cmath>

#include "heal/core/check.h"

namespace heal::he_train {

BootstrapRefresher::BootstrapRefresher(const ckks::Evaluator& ev, const ckks::Bootstrapper& bs,
                                       const ckks::RelinKey& rk, const ckks::GaloisKeys& gk, double value_bound)
    : ev_(ev), bs_(bs), rk_(rk), gk_(gk), bound_(value_bound) {
  HEAL_REQUIRE(value_bound >= 1 && std::isfinite(value_bound), "BootstrapRefresher: value bound must be >= 1");
}

ckks::Ciphertext BootstrapRefresher::refresh(const ckks::Ciphertext& ct) const {
  HEAL_REQUIRE(ct.size() == 2, "BootstrapRefresher::refresh: relinearize first");
  HEAL_REQUIRE(ct.slots() == slots(),
               "BootstrapRefresher::refresh: ciphertext has " << ct.slots() << " slots, the bootstrapper " << slots());
  // Read the same words at scale * bound (values / bound), bootstrap them to scale delta * bound,
  // then read at delta: the values come back unchanged at the default scale.
  const double delta = bs_.context().default_scale();
  ckks::Ciphertext in = ct;
  in.set_scale(ct.scale() * bound_);
  ckks::Ciphertext out = bs_.bootstrap(ev_, in, rk_, gk_, delta * bound_);
  out.set_scale(delta);
  return out;
}

}  // namespace heal::he_train
