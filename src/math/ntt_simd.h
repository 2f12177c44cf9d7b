// Vector kernels of the negacyclic NTT (internal; see ntt.h for the algorithm and the tables).
// Each runs only after ntt.cpp has checked simd_level(); each gives exactly the scalar result.
//  - AVX-512 (ntt_avx512.cpp): Harvey lazy butterflies on 8 lanes, as in Intel HEXL (Boemer et al.,
//    arXiv:2103.16400): 52-bit Shoup multiplication with IFMA for q < 2^50, 64-bit Shoup with an
//    emulated high product for larger primes.
//  - AVX2 (ntt_avx2.cpp): for q < 2^50, residues held exactly in doubles on 4 lanes; the product
//    y*w is split exactly into h + l with an FMA (Dekker's two-product), the quotient estimated in
//    floating point, and the remainder formed exactly (see ntt_avx2.cpp); for 2^50 <= q < 2^60
//    (ntt_avx2_x64.cpp) the scalar Harvey/Shoup algorithm on 4 integer lanes, the 64-bit products
//    emulated with vpmuludq.
#pragma once

#include "heal/math/ntt.h"
#include "heal/math/simd.h"

namespace heal::math::detail {

#if HEAL_X86_KERNELS
/// Forward NTT; output in [0, q) when `reduce`, else [0, 4q). Needs n >= 32.
void ntt_forward_avx512(u64* a, const NttTables& t, bool reduce, bool ifma);
/// Inverse NTT with n^-1 folded in; output in [0, q). Needs n >= 32.
void ntt_inverse_avx512(u64* a, const NttTables& t, bool ifma);
/// Forward NTT, output in [0, q). Needs n >= 8, q < 2^50 and t.has_fp_roots().
void ntt_forward_avx2(u64* a, const NttTables& t);
/// Inverse NTT, output in [0, q). Needs n >= 8, q < 2^50 and t.has_fp_roots().
void ntt_inverse_avx2(u64* a, const NttTables& t);
/// AVX2 NTT for 2^50 <= q < 2^60 (integer lanes, the scalar algorithm word for word). Needs n >= 8.
void ntt_forward_avx2_x64(u64* a, const NttTables& t, bool reduce);
void ntt_inverse_avx2_x64(u64* a, const NttTables& t);
/// One limb of RnsPoly::rescale_inplace (NTT form): x = (x - NTT((last - half) mod q)) * ql_inv
/// mod q, with last in [0, q_l), q_l < 2^50, half_mod = floor(q_l / 2) mod q, ql_inv = q_l^-1 mod q.
/// scratch: n words. Same requirements as ntt_forward_avx2.
void rescale_limb_avx2(u64* x, const u64* last, u64 half_mod, u64 ql_inv, const NttTables& t, u64* scratch);
#endif

}  // namespace heal::math::detail
