// Secure mode "none": contributions are weight * update in float64, summed in the clear. The
// coordinator sees every update; use only for baselines and tests. Wire format in src/fl/README.md.
#pragma once

#include <set>

#include "heal/fl/secure_aggregator.h"

namespace heal::fl {

class PlainAggregator final : public SecureAggregator {
 public:
  /// `parties`: the hospitals allowed to contribute.
  explicit PlainAggregator(std::set<PartyId> parties);

  AggregatorSetupInfo setup_info() const override;
  Result<std::unique_ptr<AggregationParty>> party(PartyId party) override;
  Result<Bytes> aggregate(std::span<const Bytes> contributions, std::size_t length, std::uint64_t round) override;
  Result<std::vector<double>> finalize(std::span<const std::uint8_t> aggregate, std::span<const DecryptionShare> shares,
                                       std::size_t length, std::uint64_t round) override;

 private:
  std::set<PartyId> parties_;
};

}  // namespace heal::fl
