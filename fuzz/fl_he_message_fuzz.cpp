// libFuzzer target: read_message, the reader of the HE aggregator's wire messages (contribution,
// aggregate, decryption share; src/fl/he_internal.h), followed by what its callers do with each
// chunk (load the compact contribution / exact aggregate ciphertext or compact decryption share
// with the agreed drop_bits, he::load_contribution_chunk / load_share_chunk, sum ciphertexts under one a / combine
// shares through the ckks API, check it belongs to the round, expand it).
// The first byte selects the expected kind (bits 0-1: contribution, aggregate, share, share) and
// the expected length (bits 2-3: kHeLengths), the rest is the message. Nothing may crash.
#include <cstdint>
#include <span>

#include "fuzz_fixtures.h"
#include "heal/ckks/multiparty/threshold.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal;
  if (size < 1) return 0;
  const fl::he::Shared& sh = fuzz::he_shared();
  const ckks::Context& ctx = *sh.ctx;
  static constexpr std::uint8_t kKinds[4] = {fl::he::kContribution, fl::he::kAggregate, fl::he::kShare,
                                             fl::he::kShare};
  const std::uint8_t kind = kKinds[data[0] & 3];
  const std::size_t length = fuzz::kHeLengths[(data[0] >> 2) & 3];
  auto p = fl::he::read_message(sh, std::span<const std::uint8_t>(data + 1, size - 1), kind, fuzz::kHeRound, length);
  if (!p.ok()) return 0;
  for (std::size_t c = 0; c < p->chunks.size(); ++c) {
    const Seed seed = fl::he::chunk_seed(sh.crs, fuzz::kHeRound, c);
    if (kind == fl::he::kShare) {
      auto h = fl::he::load_share_chunk(sh, p->chunks[c]);
      if (!h.ok()) continue;
      // What HeAggregator::finalize does with loaded shares (ckks; Status on a bad share).
      const ckks::SeededCiphertext zero(seed, math::RnsPoly(ctx.n(), ctx.q_count(), true), sh.delta, 0);
      const ckks::multiparty::DecryptionShare twice[2] = {*h, *h};
      (void)ckks::multiparty::combine_decryption_shares(ctx, zero, std::span(twice, 1));
      (void)ckks::multiparty::combine_decryption_shares(ctx, zero, twice);
      continue;
    }
    auto ct = kind == fl::he::kContribution ? fl::he::load_contribution_chunk(sh, p->chunks[c])
                                            : ckks::load_seeded_ciphertext(ctx, p->chunks[c]);
    if (!ct.ok()) continue;
    // What HeAggregator::aggregate does: sum under one a (ckks; Status on a mismatch).
    const ckks::SeededCiphertext pair[2] = {*ct, *ct};
    (void)ckks::multiparty::sum_seeded_ciphertexts(ctx, pair);
    if (ct->seed() != seed || ct->level() != ctx.max_level() || ct->scale() != sh.delta) continue;
    (void)ct->expand(ctx);
  }
  return 0;
}
