// Batch-mode multiply-accumulate kernel (see kernels.h, sparse_mac).
//
// The linear stage is a GEMM per (limb, coefficient): out[r] = sum_k W[r,k] x[col(r,k)]. We block it
// like a GEMM (Goto & van de Geijn, ACM TOMS 34(3), 2008): each thread owns a range of 16-coefficient
// tiles; per tile it packs the inputs (optionally squared) into a contiguous buffer that stays in L2,
// then each row group runs a micro-kernel whose accumulators (R rows x P polys x 16 coefficients)
// live in registers across the whole row. With primes <= 2^26 the products of residues are < 2^52,
// so AVX-512 IFMA (vpmadd52luq, as used for NTTs by Intel HEXL, arXiv:2103.16400) adds them exactly
// into 64-bit lanes; one Barrett reduction per floor(2^64 / q^2) terms and per output word.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#if defined(__AVX512IFMA__) && defined(__AVX512F__)
#include <immintrin.h>
#define HEAL_HE_INFER_IFMA 1
#else
#define HEAL_HE_INFER_IFMA 0
#endif

#include <sys/mman.h>

#include "heal/core/check.h"
#include "kernels.h"

namespace heal::he_infer::detail {

using math::u64;

namespace {

constexpr std::size_t kTile = 16;  // coefficients per tile (two 8-lane vectors)
constexpr std::size_t kRows = 4;   // rows per micro-kernel call

// Reduces accumulators in place (scalar Barrett; rare: once per `chunk` terms).
inline void reduce_words(u64* a, std::size_t n, const math::Modulus& q) {
  for (std::size_t i = 0; i < n; ++i) a[i] = q.reduce(a[i]);
}

// Portable micro-kernel: acc[r][p][t] += w[k, j0 + r] * buf[col(k)][p][t]; the output is acc mod q
// (Acc: (out + acc) mod q; the accumulators stay below 2^64 - q, see sparse_mac's `chunk`).
template <std::size_t P, std::size_t R, bool Acc>
void micro_scalar(const u64* buf, const std::int32_t* cols, std::size_t K, const u64* w, std::size_t G, std::size_t j0,
                  std::size_t chunk, const math::Modulus& q, u64* const* outp) {
  alignas(64) u64 acc[R][P][kTile] = {};
  std::size_t cnt = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const u64* xb = buf + static_cast<std::size_t>(cols[k]) * P * kTile;
    const u64* wk = w + k * G + j0;
    for (std::size_t r = 0; r < R; ++r) {
      const u64 we = wk[r];
      for (std::size_t p = 0; p < P; ++p)
        for (std::size_t t = 0; t < kTile; ++t) acc[r][p][t] += we * xb[p * kTile + t];
    }
    if (++cnt == chunk) {
      reduce_words(&acc[0][0][0], R * P * kTile, q);
      cnt = 0;
    }
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t p = 0; p < P; ++p) {
      u64* o = outp[r * P + p];
      for (std::size_t t = 0; t < kTile; ++t) o[t] = q.reduce(Acc ? acc[r][p][t] + o[t] : acc[r][p][t]);
    }
}

#if HEAL_HE_INFER_IFMA
// Constants of the vector reduction x mod q for 64-bit x and q <= 2^26.
struct VecMod {
  __m512i q, c52, m52;
  __m512d inv_q;
  explicit VecMod(const math::Modulus& m)
      : q(_mm512_set1_epi64(static_cast<long long>(m.value()))),
        c52(_mm512_set1_epi64(static_cast<long long>(m.reduce(u64{1} << 52)))),
        m52(_mm512_set1_epi64(static_cast<long long>((u64{1} << 52) - 1))),
        inv_q(_mm512_set1_pd(1.0 / static_cast<double>(m.value()))) {}
};

// x mod q: y = (x mod 2^52) + (x >> 52) * (2^52 mod q) < 2^53 is exact in a double, so
// floor(y / q) is estimated in floating point (off by at most one) and corrected.
inline __m512i reduce_vec(__m512i x, const VecMod& m) {
  // (maskz form: GCC 12's header makes the unmasked _mm512_srli_epi64 trip -Wuninitialized)
  const __m512i hi = _mm512_maskz_srli_epi64(static_cast<__mmask8>(0xFF), x, 52);
  const __m512i y = _mm512_madd52lo_epu64(_mm512_and_si512(x, m.m52), hi, m.c52);
  const __m512i qe = _mm512_cvttpd_epu64(_mm512_mul_pd(_mm512_cvtepu64_pd(y), m.inv_q));
  __m512i r = _mm512_sub_epi64(y, _mm512_mullo_epi64(qe, m.q));
  r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, m.q);
  return _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, m.q), r, m.q);
}

// IFMA micro-kernel (all residues and weights < 2^26, so each 52-bit product is exact).
template <std::size_t P, std::size_t R, bool Acc>
void micro_ifma(const u64* buf, const std::int32_t* cols, std::size_t K, const u64* w, std::size_t G, std::size_t j0,
                std::size_t chunk, const math::Modulus& q, u64* const* outp) {
  const VecMod vm(q);
  __m512i acc[R][P][2];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p) acc[r][p][0] = acc[r][p][1] = _mm512_setzero_si512();
  std::size_t cnt = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const u64* xb = buf + static_cast<std::size_t>(cols[k]) * P * kTile;
    __m512i xv[P][2];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p) {
      xv[p][0] = _mm512_load_si512(xb + p * kTile);
      xv[p][1] = _mm512_load_si512(xb + p * kTile + 8);
    }
    const u64* wk = w + k * G + j0;
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const __m512i wv = _mm512_set1_epi64(static_cast<long long>(wk[r]));
#pragma GCC unroll 16
      for (std::size_t p = 0; p < P; ++p) {
        acc[r][p][0] = _mm512_madd52lo_epu64(acc[r][p][0], xv[p][0], wv);
        acc[r][p][1] = _mm512_madd52lo_epu64(acc[r][p][1], xv[p][1], wv);
      }
    }
    if (++cnt == chunk) {
#pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (std::size_t p = 0; p < P; ++p) {
          acc[r][p][0] = reduce_vec(acc[r][p][0], vm);
          acc[r][p][1] = reduce_vec(acc[r][p][1], vm);
        }
      cnt = 0;
    }
  }
  // Output words are written once: stream them (no read-for-ownership; limbs are 64-byte aligned).
  // Accumulating reads them, so those are plain stores.
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (std::size_t p = 0; p < P; ++p) {
      u64* o = outp[r * P + p];
      if constexpr (Acc) {
        auto* o0 = reinterpret_cast<__m512i*>(o);
        auto* o1 = reinterpret_cast<__m512i*>(o + 8);
        _mm512_store_si512(o0, reduce_vec(_mm512_add_epi64(acc[r][p][0], _mm512_load_si512(o0)), vm));
        _mm512_store_si512(o1, reduce_vec(_mm512_add_epi64(acc[r][p][1], _mm512_load_si512(o1)), vm));
      } else {
        _mm512_stream_si512(reinterpret_cast<__m512i*>(o), reduce_vec(acc[r][p][0], vm));
        _mm512_stream_si512(reinterpret_cast<__m512i*>(o + 8), reduce_vec(acc[r][p][1], vm));
      }
    }
}

// Packs one squared tile with IFMA: (a^2, 2ac, c^2) mod q, all products exact (< 2^53).
inline void square_tile_ifma(const u64* x0, const u64* x1, u64* b, const VecMod& vm) {
  const __m512i z = _mm512_setzero_si512();
  for (std::size_t h = 0; h < kTile; h += 8) {
    const __m512i a = _mm512_load_si512(x0 + h), c = _mm512_load_si512(x1 + h);
    const __m512i ac = _mm512_madd52lo_epu64(z, a, c);
    _mm512_store_si512(b + h, reduce_vec(_mm512_madd52lo_epu64(z, a, a), vm));
    _mm512_store_si512(b + kTile + h, reduce_vec(_mm512_add_epi64(ac, ac), vm));
    _mm512_store_si512(b + 2 * kTile + h, reduce_vec(_mm512_madd52lo_epu64(z, c, c), vm));
  }
}
#endif

using MicroFn = void (*)(const u64*, const std::int32_t*, std::size_t, const u64*, std::size_t, std::size_t, std::size_t,
                         const math::Modulus&, u64* const*);

template <std::size_t P, bool Acc>
std::array<MicroFn, kRows + 1> micro_table(bool ifma) {
#if HEAL_HE_INFER_IFMA
  if (ifma) return {nullptr, &micro_ifma<P, 1, Acc>, &micro_ifma<P, 2, Acc>, &micro_ifma<P, 3, Acc>, &micro_ifma<P, 4, Acc>};
#else
  (void)ifma;
#endif
  return {nullptr, &micro_scalar<P, 1, Acc>, &micro_scalar<P, 2, Acc>, &micro_scalar<P, 3, Acc>, &micro_scalar<P, 4, Acc>};
}

// Packs tile [cb, cb + kTile) of limb l of every input into buf[k][p][t] (squared when P == 3 from 2 polys).
void pack_tile(std::span<const ckks::Ciphertext> in, std::size_t l, std::size_t cb, bool square, std::size_t P,
               const math::Modulus& q, bool ifma, u64* buf) {
#if HEAL_HE_INFER_IFMA
  if (square && ifma) {
    const VecMod vm(q);
    for (std::size_t k = 0; k < in.size(); ++k) square_tile_ifma(in[k][0].limb(l) + cb, in[k][1].limb(l) + cb, buf + k * P * kTile, vm);
    return;
  }
#else
  (void)ifma;
#endif
  for (std::size_t k = 0; k < in.size(); ++k) {
    u64* b = buf + k * P * kTile;
    if (square) {
      const u64 *x0 = in[k][0].limb(l) + cb, *x1 = in[k][1].limb(l) + cb;
      for (std::size_t t = 0; t < kTile; ++t) {
        const u64 a = x0[t], c = x1[t];  // < q < 2^31: products fit 62 bits, 2ac fits 63
        b[t] = q.reduce(a * a);
        b[kTile + t] = q.reduce(2 * a * c);
        b[2 * kTile + t] = q.reduce(c * c);
      }
    } else {
      for (std::size_t p = 0; p < P; ++p) std::copy_n(in[k][p].limb(l) + cb, kTile, b + p * kTile);
    }
  }
}

// Pre-faults the pages of freshly allocated output polynomials in one madvise call each
// (MADV_POPULATE_WRITE, Linux >= 5.14) instead of one page fault per 4 KiB page on first store:
// the conv stage writes > 1 GiB of new memory per batch and on this (paravirtualised) VM the
// page-fault path cost more than the arithmetic. Best effort: ignored where unsupported.
void prefault(std::vector<ckks::Ciphertext>& out, int threads) {
#if defined(MADV_POPULATE_WRITE)
  parallel_for(out.size(), threads, [&](std::size_t b, std::size_t e) {
    const auto page = static_cast<std::uintptr_t>(4096);
    for (std::size_t j = b; j < e; ++j)
      for (std::size_t p = 0; p < out[j].size(); ++p) {
        auto& poly = out[j][p];
        const auto lo = reinterpret_cast<std::uintptr_t>(poly.data());
        const auto hi = lo + poly.num_limbs() * poly.n() * sizeof(u64);
        const std::uintptr_t a = (lo + page - 1) & ~(page - 1), z = hi & ~(page - 1);
        if (z > a) (void)madvise(reinterpret_cast<void*>(a), z - a, MADV_POPULATE_WRITE);
      }
  });
#else
  (void)out;
  (void)threads;
#endif
}

// Checks the inputs of a MAC stage; returns the number of polynomials of its outputs.
std::size_t check_mac_inputs(const MacStage& st, std::span<const ckks::Ciphertext> in, bool square_inputs) {
  HEAL_REQUIRE(static_cast<int>(in.size()) == st.in_dim && !in.empty(),
               "sparse_mac: expected " << st.in_dim << " ciphertexts, got " << in.size());
  const std::size_t npi = in[0].size(), limbs = in[0].level() + 1, n = in[0].n();
  HEAL_REQUIRE(npi == 2 || (npi == 3 && !square_inputs),
               "sparse_mac: ciphertexts must have 2 polynomials (or 3 without square_inputs), got " << npi);
  HEAL_REQUIRE(st.level + 1 == limbs, "sparse_mac: weights encoded for level " << st.level << ", ciphertexts at level " << limbs - 1);
  for (const auto& c : in)
    HEAL_REQUIRE(c.size() == npi && c.level() + 1 == limbs, "sparse_mac: inputs must share level and size");
  HEAL_REQUIRE(n % kTile == 0, "sparse_mac: ring degree must be a multiple of " << kTile);
  return square_inputs ? 3 : npi;
}

// out[r] = (accumulate ? out[r] : 0) + sum_k w[r,k] in[col(r,k)] for the rows of st's groups; the
// inputs were checked by the caller (check_mac_inputs, which gave the P output polynomials).
void run_mac(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in, std::vector<ckks::Ciphertext>& out,
             int threads, bool square_inputs, bool accumulate, std::size_t P) {
  const std::size_t limbs = in[0].level() + 1, n = in[0].n();
  std::vector<std::size_t> chunk(limbs);
  bool ifma = HEAL_HE_INFER_IFMA != 0;
  for (std::size_t l = 0; l < limbs; ++l) {
    const u64 qv = ctx.q(l).value(), qm1 = qv - 1;
    HEAL_REQUIRE(qv < (u64{1} << 31), "sparse_mac: batch kernels need Q primes below 2^31 (plan with max_scale_bits <= 30)");
    chunk[l] = static_cast<std::size_t>((~u64{0} - qm1) / (qm1 * qm1));  // chunk*(q-1)^2 + (q-1) < 2^64
    if (qv > (u64{1} << 26)) ifma = false;                              // (q-1)^2 must fit 52 bits
  }
  const auto table = accumulate ? (P == 2 ? micro_table<2, true>(ifma) : micro_table<3, true>(ifma))
                                : (P == 2 ? micro_table<2, false>(ifma) : micro_table<3, false>(ifma));
  const std::size_t tiles = n / kTile;
  // S consecutive tiles are packed together (<= ~768 KiB, L2) so that each output row is written
  // S * 128 contiguous bytes per visit (fewer TLB misses on the thousands of output polynomials).
  const std::size_t tile_bytes = in.size() * P * kTile * sizeof(u64);
  std::size_t S = 1;
  while (S < 8 && 2 * S * tile_bytes <= (std::size_t{768} << 10)) S *= 2;
  parallel_for(tiles, threads, [&](std::size_t t0, std::size_t t1) {
    // 64-byte aligned packed tiles: S x in_dim x P x kTile words.
    std::vector<u64> storage(S * in.size() * P * kTile + 8);
    u64* buf = storage.data();
    while (reinterpret_cast<std::uintptr_t>(buf) % 64) ++buf;
    const std::size_t stride = in.size() * P * kTile;
    std::vector<u64*> outp(kRows * P);
    for (std::size_t l = 0; l < limbs; ++l) {
      const math::Modulus& q = ctx.q(l);
      for (std::size_t tile = t0; tile < t1; tile += S) {
        const std::size_t s_n = std::min(S, t1 - tile);
        for (std::size_t s = 0; s < s_n; ++s) pack_tile(in, l, (tile + s) * kTile, square_inputs, P, q, ifma, buf + s * stride);
        for (const auto& grp : st.groups) {
          const std::size_t G = grp.rows.size(), K = grp.cols.size();
          const u64* w = grp.w[l].data();
          for (std::size_t j0 = 0; j0 < G; j0 += kRows) {
            const std::size_t R = std::min(kRows, G - j0);
            for (std::size_t s = 0; s < s_n; ++s) {
              const std::size_t cb = (tile + s) * kTile;
              for (std::size_t r = 0; r < R; ++r)
                for (std::size_t p = 0; p < P; ++p) outp[r * P + p] = out[static_cast<std::size_t>(grp.rows[j0 + r])][p].limb(l) + cb;
              table[R](buf + s * stride, grp.cols.data(), K, w, G, j0, chunk[l], q, outp.data());
            }
          }
        }
      }
    }
#if HEAL_HE_INFER_IFMA
    _mm_sfence();  // make the streamed output stores visible before the threads join
#endif
  });
}

// Scale of a stage's outputs: the inputs' (squared) scale times q_level (weights are round(w q_level)).
double output_scale(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in, bool square_inputs) {
  const double in_scale = square_inputs ? in[0].scale() * in[0].scale() : in[0].scale();
  return in_scale * static_cast<double>(ctx.q(st.level).value());
}

// An output ciphertext of the stage (P polynomials at the inputs' level, the products' scale),
// its words not yet written.
ckks::Ciphertext new_output(std::span<const ckks::Ciphertext> in, std::size_t P, double scale) {
  std::vector<math::RnsPoly> polys;
  for (std::size_t p = 0; p < P; ++p) polys.push_back(math::RnsPoly::uninitialized(in[0].n(), in[0].level() + 1, true));
  return ckks::Ciphertext(std::move(polys), scale, in[0].slots());
}

void set_zero(ckks::Ciphertext& c) {
  for (std::size_t p = 0; p < c.size(); ++p) c[p].set_zero();
}

// st.out_dim output ciphertexts, pre-faulted.
std::vector<ckks::Ciphertext> new_outputs(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in,
                                          std::size_t P, bool square_inputs, int threads) {
  const double scale = output_scale(ctx, st, in, square_inputs);
  std::vector<ckks::Ciphertext> out(static_cast<std::size_t>(st.out_dim));
  for (auto& o : out) o = new_output(in, P, scale);
  prefault(out, threads);
  return out;
}

}  // namespace

std::vector<ckks::Ciphertext> sparse_mac(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in, int threads,
                                         bool square_inputs) {
  const std::size_t P = check_mac_inputs(st, in, square_inputs);
  std::vector<ckks::Ciphertext> out = new_outputs(ctx, st, in, P, square_inputs, threads);
  run_mac(ctx, st, in, out, threads, square_inputs, /*accumulate=*/false, P);
  return out;
}

ckks::Ciphertext zero_accumulator(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in,
                                  bool square_inputs) {
  ckks::Ciphertext c = new_output(in, check_mac_inputs(st, in, square_inputs), output_scale(ctx, st, in, square_inputs));
  set_zero(c);
  return c;
}

void sparse_mac_accumulate(const ckks::Context& ctx, const MacStage& st, std::span<const ckks::Ciphertext> in,
                           std::vector<ckks::Ciphertext>& out, int threads, bool square_inputs) {
  const std::size_t P = check_mac_inputs(st, in, square_inputs);
  if (out.empty()) out.resize(static_cast<std::size_t>(st.out_dim));
  HEAL_REQUIRE(out.size() == static_cast<std::size_t>(st.out_dim), "sparse_mac_accumulate: expected " << st.out_dim << " outputs");
  const double out_scale = output_scale(ctx, st, in, square_inputs);
  std::vector<std::int32_t> fresh;  // rows this call creates (zero)
  for (const auto& grp : st.groups) {
    for (const auto r : grp.rows) {
      auto& o = out[static_cast<std::size_t>(r)];
      if (o.size() == 0) {
        o = new_output(in, P, out_scale);
        fresh.push_back(r);
        continue;
      }
      HEAL_REQUIRE(o.size() == P && o.level() == st.level && o.n() == in[0].n(),
                   "sparse_mac_accumulate: output " << r << " has the wrong size or level");
      HEAL_REQUIRE(std::fabs(o.scale() / out_scale - 1.0) < 1e-9, "sparse_mac_accumulate: output " << r << " has another scale");
    }
  }
  // Zeroing in parallel also faults the new pages in.
  parallel_for(fresh.size(), threads, [&](std::size_t b, std::size_t e) {
    for (std::size_t j = b; j < e; ++j) set_zero(out[static_cast<std::size_t>(fresh[j])]);
  });
  run_mac(ctx, st, in, out, threads, square_inputs, /*accumulate=*/true, P);
}

}  // namespace heal::he_infer::detail
