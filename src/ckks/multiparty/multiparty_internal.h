// Helpers shared by the multiparty sources (not installed).
#pragma once

#include "heal/ckks/multiparty/shares.h"
#include "heal/ckks/params.h"
#include "heal/core/rng.h"

namespace heal::ckks::multiparty::detail {

/// round(N(0, sigma^2)) coefficients (bounded at 6 sigma) lifted into the first `limbs` primes
/// of `basis` (any magnitude below 2^62) and transformed to NTT form.
math::RnsPoly gaussian_ntt(Rng& rng, const math::RnsBasis& basis, std::size_t limbs, double sigma);

/// A ternary polynomial in NTT form over the key basis (for ephemeral secrets).
math::RnsPoly ternary_ntt(Rng& rng, const Context& ctx);

/// b += P * x on the Q limbs of hybrid digit j (the gadget of the context's KswKey format).
void add_gadget(const Context& ctx, math::RnsPoly& b, std::size_t digit, const math::RnsPoly& x);

/// Checks a secret (NTT form over the key basis) against the context.
void check_secret(const Context& ctx, const math::RnsPoly& s, const char* op);

/// Sorts the party ids gathered from the shares of one aggregate in place and refuses a party
/// included twice (op names the caller in the message).
void sort_unique_parties(std::vector<PartyId>& parties, const char* op);
/// Checks that every poly of `share` is NTT form over the full key basis and that there are `count`.
void check_key_share(const Context& ctx, const KeyShare& share, ShareKind kind, std::size_t count, const char* op);

}  // namespace heal::ckks::multiparty::detail
