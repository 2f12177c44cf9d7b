// AVX-512 kernels of the negacyclic NTT (internal). Same algorithm and tables as the scalar path
// (Harvey lazy butterflies, arXiv:1205.2926) on 8 lanes, as in Intel HEXL (Boemer et al.,
// arXiv:2103.16400): for q < 2^50, 52-bit Shoup multiplication with IFMA (vpmadd52luq/huq,
// 4q < 2^52); for larger primes (<= 60 bits), 64-bit Shoup with the high product emulated from
// 32-bit multiplies and vpmullq. Compiled with target attributes and selected at run time.
#pragma once

#include "heal/math/ntt.h"

namespace heal::math {

#if defined(__x86_64__) && defined(__GNUC__)
inline constexpr bool kHaveIfmaKernels = true;
#else
inline constexpr bool kHaveIfmaKernels = false;
#endif

/// Forward NTT; output in [0, q) when `reduce`, else [0, 4q). Requires t.simd() != kNone.
void ntt_forward_simd(u64* a, const NttTables& t, bool reduce);
/// Inverse NTT with n^-1 folded in; output in [0, q). Requires t.simd() != kNone.
void ntt_inverse_simd(u64* a, const NttTables& t);

}  // namespace heal::math
