// Refreshing the encrypted weights with the federation's collective bootstrapping (interactive
// refresh of Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, ePrint 2020/304, Sec. IV-D) instead
// of a single-key bootstrapping circuit: the training server sends the weight ciphertext to a
// quorum of key holders (the hospitals), each returns a masked and flooded RefreshShare, and the
// server aggregates them and finalizes the ciphertext at the top level of Q. The server holds no
// secret material: it only sees shares, each of which is masked by the party's uniform M_i.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/multiparty/refresh.h"
#include "heal/ckks/multiparty/shares.h"
#include "heal/ckks/params.h"
#include "heal/core/rng.h"
#include "heal/he_train/refresher.h"

namespace heal::he_train {

/// Where the server obtains refresh shares: one call per refresh, for the ciphertext `ct` and the
/// session number `session` (distinct per refresh; it enters the a' seed). Returns the shares of
/// one quorum (n-of-n: every party; t-of-n: at least t parties of the same quorum), each made by
/// the party itself with its own secret and its own CollectiveBootstrapper. In a deployment this
/// is the network round trip (shares serialize as ObjectType::kCkksRefreshShare).
class RefreshShareSource {
 public:
  virtual ~RefreshShareSource() = default;
  virtual std::vector<ckks::multiparty::RefreshShare> refresh_shares(const ckks::Ciphertext& ct,
                                                                     std::uint64_t session) = 0;
};

/// Refresher by collective bootstrapping. Output level: the context's top level (all levels come
/// back, unlike a bootstrapping circuit, which keeps only the levels above its own depth); the
/// output scale is the input's (the trainer keeps its state at the default scale, which refresh
/// requires). Message bound = value bound: |value| of the refreshed slots must stay below
/// params.message_bound (the masks are sized from it). The input level must leave room for the
/// masks: CollectiveBootstrapper::combined_bound_bits < log2 Q_l - 2 (the parties refuse otherwise).
class CollectiveRefresher final : public Refresher {
 public:
  /// Keeps a reference to `source` (must outlive it). crs and params must be the ones the parties
  /// use (the server's CollectiveBootstrapper only aggregates and finalizes). slots: the weights'
  /// slots (Packing::weight_slots). Sessions are numbered first_session, first_session + 1, ...
  CollectiveRefresher(ckks::ContextPtr ctx, const Seed& crs, ckks::multiparty::RefreshParams params,
                      RefreshShareSource& source, std::size_t slots, std::uint64_t first_session = 1);
  ckks::Ciphertext refresh(const ckks::Ciphertext& ct) const override;
  std::size_t output_level() const override { return ctx_->max_level(); }
  std::size_t slots() const override { return slots_; }
  double value_bound() const override { return bound_; }
  /// The next session number refresh will use.
  std::uint64_t next_session() const { return session_; }

 private:
  ckks::ContextPtr ctx_;
  ckks::multiparty::CollectiveBootstrapper cb_;
  RefreshShareSource& source_;
  std::size_t slots_;
  double bound_;
  mutable std::uint64_t session_;
};

}  // namespace heal::he_train
