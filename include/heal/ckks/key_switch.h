// Hybrid key switching internals (Han-Ki, ePrint 2019/688; GHS special modulus), public so that
// multiparty protocols (collective relinearization/rotation keys) and hoisted linear transforms
// can build on them. Bossuat et al. (ePrint 2020/1203) describe the hoisting used here.
//
//   ModUp:     each digit [c]_{D_j} of c (level l) is extended to Q_l u P by fast base conversion;
//   inner:     (sum_j ext_j * b_j, sum_j ext_j * a_j) over Q_l u P;
//   ModDown:   (x - Conv_{P->Q}([x]_P)) * P^-1 over Q_l.
// Result (d0, d1) satisfies d0 + d1 s = c s' + e (small e) mod Q_l.
#pragma once

#include <vector>

#include "heal/ckks/keys.h"
#include "heal/ckks/params.h"

namespace heal::ckks {

/// A ModUp decomposition of one polynomial: ext[j] = digit j extended to Q_l u P (NTT form).
struct KeySwitchDecomposition {
  std::size_t level = 0;
  std::vector<math::RnsPoly> ext;
};

/// Key-switches c (NTT form, level l <= L): returns (d0, d1) at level l, NTT form, with
/// d0 + d1 s ~= c s' where `key` switches s' -> s. Streams digit conversions (no full ModUp buffer).
void key_switch(const Context& ctx, const math::RnsPoly& c, const KswKey& key, math::RnsPoly& d0,
                math::RnsPoly& d1);

/// ModUp of c (NTT form): the decomposition reused by hoisted rotations.
KeySwitchDecomposition decompose(const Context& ctx, const math::RnsPoly& c);

/// Inner product of a decomposition with `key`, optionally reading the decomposition through the
/// NTT-domain permutation of a Galois element (perm may be null), followed by ModDown.
void key_switch_decomposed(const Context& ctx, const KeySwitchDecomposition& dec, const KswKey& key,
                           const std::vector<std::uint32_t>* perm, math::RnsPoly& d0, math::RnsPoly& d1);

/// ModDown: x over Q_l u P (NTT form, l+1+k limbs) -> round(x / P) over Q_l (NTT form).
math::RnsPoly mod_down(const Context& ctx, const math::RnsPoly& x, std::size_t level);

/// Generates a key-switching key s' -> s. `s_from` is s' in NTT form over the key basis;
/// the a_j expand from `seed`; errors come from `noise_rng`.
KswKey make_ksw_key(const Context& ctx, const math::RnsPoly& s_from, const math::RnsPoly& s_to, const Seed& seed,
                    Rng& noise_rng);

}  // namespace heal::ckks
