#include "heal/fl/plain_aggregator.h"
#include "heal/fl/secure_aggregator.h"

namespace heal::fl {

Result<std::unique_ptr<SecureAggregator>> make_secure_aggregator(const SecureAggregationConfig& config,
                                                                 std::size_t hospitals) {
  if (hospitals == 0) return Status::invalid_argument("a federation needs at least one hospital");
  if (config.mode == "none") {
    std::set<PartyId> parties;
    for (std::size_t i = 0; i < hospitals; ++i) parties.insert(static_cast<PartyId>(i));
    return std::unique_ptr<SecureAggregator>(std::make_unique<PlainAggregator>(std::move(parties)));
  }
  if (config.mode == "threshold-ckks") {
    return Status::unsupported("secure mode 'threshold-ckks' needs the CKKS aggregator, which is not built yet");
  }
  return Status::invalid_argument("unknown secure mode '" + config.mode + "' (expected none or threshold-ckks)");
}

}  // namespace heal::fl
