#include <stdexcept>

#include "heal/fl/he_aggregator.h"
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
  if (config.mode == "he" || config.mode == "threshold-ckks") {
    HeAggregatorConfig he;
    he.threshold = config.threshold;
    he.seed = config.seed;
    try {
      return std::unique_ptr<SecureAggregator>(std::make_unique<HeAggregator>(he, hospitals));
    } catch (const std::invalid_argument& e) {
      return Status::invalid_argument(std::string("secure mode '") + config.mode + "': " + e.what());
    }
  }
  return Status::invalid_argument("unknown secure mode '" + config.mode + "' (expected none or he)");
}

}  // namespace heal::fl
