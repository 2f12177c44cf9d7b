// Element-wise modular kernels on word arrays (one limb). For primes below 2^50 on CPUs with
// AVX-512 DQ they run 8 lanes wide: the quotient of a*b by q is estimated in double precision
// (|error| < 1) and the remainder is computed exactly with 64-bit low products (vpmullq), then
// corrected once in each direction. Otherwise they fall back to 128-bit Barrett reduction.
#pragma once

#include <cstddef>

#include "heal/math/modulus.h"

namespace heal::math {

/// out[i] = a[i] * b[i] mod q (inputs reduced; out may alias a or b).
void mul_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
/// out[i] = (a[i] * b[i] + c[i]) mod q (inputs reduced; out may alias any input).
void mul_add_mod_vec(const u64* a, const u64* b, const u64* c, u64* out, std::size_t n, const Modulus& q);

}  // namespace heal::math
