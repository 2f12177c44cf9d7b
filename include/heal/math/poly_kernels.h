// Element-wise modular kernels on word arrays (one limb). For primes below 2^50 they run vector
// kernels chosen at run time (heal/math/simd.h): with AVX-512, 8 lanes, the quotient of a*b by q
// estimated in double precision (|error| < 1) and the remainder computed exactly with 64-bit low
// products (vpmullq); with AVX2, 4 lanes of exact doubles (the two-product split of
// src/math/avx2_fp.h). Otherwise, and for larger primes, 128-bit Barrett reduction. All paths give
// the same words.
#pragma once

#include <cstddef>
#include <cstdint>

#include "heal/math/modulus.h"

namespace heal::math {

/// out[i] = a[i] * b[i] mod q (inputs reduced; out may alias a or b).
void mul_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
/// out[i] = (a[i] * b[i] + c[i]) mod q (inputs reduced; out may alias any input).
void mul_add_mod_vec(const u64* a, const u64* b, const u64* c, u64* out, std::size_t n, const Modulus& q);
/// out[i] = (a[i] + b[i]) mod q and (a[i] - b[i]) mod q (inputs reduced; out may alias a or b).
/// AVX2 / AVX-512 when the level allows.
void add_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
void sub_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
/// out[i] = (x[i] - t[i]) * c mod q for reduced x, t and a constant c with its Shoup quotient
/// (out may alias x or t). AVX2 for every prime (exact doubles below 2^50, emulated 64-bit lanes
/// above; AVX-512 below 2^50).
void sub_mul_const_vec(const u64* x, const u64* t, const ShoupConst& c, u64* out, std::size_t n, const Modulus& q);
/// out[i] = (a[i] + c) mod q for reduced a and c < q (out may alias a). AVX2 / AVX-512 for every
/// prime below 2^62.
void add_const_mod_vec(const u64* a, u64 c, u64* out, std::size_t n, const Modulus& q);
/// out[i] = s[i] mod q for small signed s: |s[i]| < q (noise, secrets). AVX2 / AVX-512.
void lift_signed_vec(const std::int64_t* s, u64* out, std::size_t n, const Modulus& q);

}  // namespace heal::math
