// Shared pieces of the ensemble roles: the SecAgg server-side phase machine (used by the coordinator
// among institutions and by an institution among its sites), the client step, payload codecs.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "heal/fl/ensemble/roles.h"
#include "heal/smpc/fixed_point.h"
#include "heal/smpc/secagg_multi.h"

namespace heal::fl::ensemble::internal {

class Stopwatch {
 public:
  explicit Stopwatch(double& acc) : acc_(acc), t0_(std::chrono::steady_clock::now()) {}
  ~Stopwatch() { acc_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  double& acc_;
  std::chrono::steady_clock::time_point t0_;
};

/// The server-side phase machine of one SecAgg over a group (phases 0 adverts, 1 key shares, 2 masked
/// inputs, 3 survivor signatures, 4 unmasking, 5 finished), shared by the one-shot driver (ServerDriver)
/// and the multi-round one (MultiServerDriver): collects the client messages of the current phase and
/// closes it when every expected client answered, or on demand (a deadline: `force`). `Stored` is the
/// server (owned) or a reference to it (held by the caller).
template <class Stored>
class PhaseDriver {
 public:
  using Server = std::remove_reference_t<Stored>;
  virtual ~PhaseDriver() = default;

  /// A SecAgg message from `from` (rejected: wrong phase, unknown party, or the server refuses it).
  Status receive(PartyId from, std::span<const std::uint8_t> msg);
  /// `party` will not take part (a refusal): no longer expected.
  void withdraw(PartyId party);
  /// Closes the current phase if complete (or `force`); appends what to send to `out`. True if closed.
  Result<bool> maybe_close(bool force, std::vector<std::pair<PartyId, Bytes>>* out);
  bool finished() const { return phase_ == 5; }
  /// The sum (valid when finished) and the parties it contains (U3).
  const std::vector<std::uint64_t>& sum() const { return sum_; }
  std::vector<PartyId> contributors() const;
  double seconds() const { return seconds_; }

 protected:
  template <class... ServerArgs>
  PhaseDriver(const SecAggGroup& group, int first_phase, ServerArgs&&... server_args)
      : server_(std::forward<ServerArgs>(server_args)...), group_(group), phase_(first_phase) {}
  /// Runs when the setup closes (phase 1: the shares are routed), before the routed shares go out.
  virtual Status setup_closed() { return {}; }
  PartyId party_of(std::uint32_t id) const { return group_.parties[id - 1]; }

  Stored server_;
  SecAggGroup group_;
  int phase_;
  std::set<PartyId> expected_, got_, withdrawn_;
  std::vector<std::uint64_t> sum_;
  double seconds_ = 0;

 private:
  std::optional<std::uint32_t> id_of(PartyId p) const;
};

/// Server side of one SecAgg over a group (the server is owned).
class ServerDriver : public PhaseDriver<smpc::SecAggServer> {
 public:
  ServerDriver(smpc::SecAggConfig cfg, const SecAggGroup& group);
};

/// Server side of one round of a multi-round SecAgg session (heal/smpc/secagg_multi.h) over a
/// group: the session's server lives across rounds (in the caller); a round either starts with the
/// session's setup (`with_setup`: phases 0 adverts, 1 shares, then the round) or directly with the
/// masked inputs of the setup's members (U2). Same receive / withdraw / maybe_close contract as
/// ServerDriver.
class MultiServerDriver : public PhaseDriver<smpc::SecAggMultiServer&> {
 public:
  MultiServerDriver(smpc::SecAggMultiServer& server, const SecAggGroup& group, std::uint32_t round, bool with_setup);
  /// Opens the round (begin_round) when it has no setup; call once before the first receive.
  Status start();
  /// The setup completed (the session can serve later rounds).
  bool setup_complete() const { return phase_ >= 2; }

 private:
  Status setup_closed() override;  // opens the round

  std::uint32_t round_;
};

/// The client's answer to a server message (nullopt when it answers nothing). `x` is the input.
Result<std::optional<Bytes>> client_step(smpc::SecAggClient& c, std::span<const std::uint8_t> msg,
                                         std::span<const std::uint64_t> x, smpc::MsgType* type);

/// Multi-round client step: the answer to a server message of round `round` (a routed-shares
/// message ends the setup and is answered with the masked input of `round`).
Result<std::optional<Bytes>> multi_client_step(smpc::SecAggMultiClient& c, std::span<const std::uint8_t> msg,
                                               std::uint32_t round, std::span<const std::uint64_t> x,
                                               smpc::MultiMsgType* type);

/// Bytes per SecAgg word for the consensus of `institutions` members: each input w_i p_i(x) is in
/// [0, 1] (weights and probabilities are at most 1), so the sum is at most `institutions` and needs
/// frac_bits + ceil(log2(institutions + 1)) + 1 signed bits; 3 bytes for up to 63 members at f = 16
/// (instead of 8: the masked upload shrinks by 5/8).
std::uint32_t ensemble_word_bytes(std::size_t institutions, int frac_bits);

/// A copy of an identity (a node needs one per round's SecAggClient).
smpc::SecAggIdentity copy_identity(const smpc::SecAggIdentity& id);

/// SecAgg session header of kEnsembleRoundStart / kSiteRound: session | u32 n | u32 t | u64 len |
/// u8 word bytes. (kEnsembleRoundStart follows it with u32 R | u32 r: the multi-round session
/// serves R rounds, this is its round r; r = 1 runs the session's setup.)
void put_session(ByteWriter& w, const smpc::SecAggConfig& c);
Status get_session(ByteReader& r, smpc::SecAggConfig* c);

/// u64 count | count doubles (finite) / floats.
Bytes encode_doubles(std::span<const double> v);
Result<std::vector<double>> decode_doubles(std::span<const std::uint8_t> in, std::uint64_t max_count);

}  // namespace heal::fl::ensemble::internal
