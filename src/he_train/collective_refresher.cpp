// Refresh of the encrypted weights by collective bootstrapping (ePrint 2020/304, Sec. IV-D).
#include "heal/he_train/collective_refresher.h"

#include <utility>

#include "heal/core/check.h"

namespace heal::he_train {

CollectiveRefresher::CollectiveRefresher(ckks::ContextPtr ctx, const Seed& crs, ckks::multiparty::RefreshParams params,
                                         RefreshShareSource& source, std::size_t slots, std::uint64_t first_session)
    : ctx_(ctx),
      cb_(ctx, crs, params),
      source_(source),
      slots_(slots),
      bound_(params.message_bound),
      session_(first_session) {
  HEAL_REQUIRE(slots >= 1, "CollectiveRefresher: slots must be >= 1");
}

ckks::Ciphertext CollectiveRefresher::refresh(const ckks::Ciphertext& ct) const {
  HEAL_REQUIRE(ct.size() == 2, "CollectiveRefresher::refresh: relinearize first");
  HEAL_REQUIRE(ct.slots() == slots_,
               "CollectiveRefresher::refresh: ciphertext has " << ct.slots() << " slots, expected " << slots_);
  HEAL_REQUIRE(ct.scale() == ctx_->default_scale(),
               "CollectiveRefresher::refresh: the input must be at the default scale (the output keeps it)");
  const std::uint64_t session = session_++;
  const std::vector<ckks::multiparty::RefreshShare> shares = source_.refresh_shares(ct, session);
  HEAL_REQUIRE(!shares.empty(), "CollectiveRefresher::refresh: no shares");
  for (const auto& s : shares)
    HEAL_REQUIRE(s.session == session,
                 "CollectiveRefresher::refresh: a share for session " << s.session << ", expected " << session);
  // aggregate_shares refuses mixed ciphertexts/quorums; finalize refuses a missing quorum member
  // or too few n-of-n shares, and a share made for another ciphertext (seed mismatch).
  return cb_.finalize(ct, cb_.aggregate_shares(shares));
}

}  // namespace heal::he_train
