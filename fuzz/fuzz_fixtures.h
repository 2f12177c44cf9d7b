// Shared fixtures of the fl / he_infer fuzz targets and of fuzz_seed_gen (which writes their seed
// corpora): one small, insecure CKKS context (N = 16, test only) and the HE aggregator's public
// state over it, so that seeds and targets agree on the parameter hash.
#pragma once

#include <cmath>
#include <memory>

#include "fl/he_internal.h"
#include "heal/ckks/serialization.h"

namespace heal::fuzz {

inline ckks::ContextPtr small_context() {
  static const ckks::ContextPtr ctx = [] {
    ckks::ParamsSpec s;
    s.log_n = 4;
    s.q_bits = {44, 44};
    s.p_bits = {20};
    s.default_scale = 0x1p30;
    s.allow_insecure = true;  // fuzzing only: keeps every execution fast
    return ckks::Context::create(s);
  }();
  return ctx;
}

/// Public state of a 4-party, 2-of-4 HE aggregation over small_context().
inline const fl::he::Shared& he_shared() {
  static const std::shared_ptr<const fl::he::Shared> sh = [] {
    auto s = std::make_shared<fl::he::Shared>();
    s->ctx = small_context();
    s->parties = 4;
    s->threshold = 2;
    for (std::size_t i = 0; i < s->crs.size(); ++i) s->crs[i] = static_cast<std::uint8_t>(i);
    s->delta = 0x1p30;
    s->params_hash = ckks::params_hash(*s->ctx);
    s->drop_bits = 20;  // contributions and shares in the compact form, 2^19 error << delta
    return s;
  }();
  return *sh;
}

/// Round every seed of the he message target is made for; the target's expected length is
/// derived from the first input byte (kLengths[byte % 4]).
inline constexpr std::uint64_t kHeRound = 7;
inline constexpr std::size_t kHeLengths[4] = {1, 16, 17, 40};

}  // namespace heal::fuzz
