// Learning rate per round (heal/apps/round_schedule.h).
#include "heal/apps/round_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace heal::apps {

Result<RoundSchedule> parse_round_schedule(const std::string& name, std::uint64_t rounds) {
  if (rounds < 1) return Status::invalid_argument("learning-rate schedule: rounds must be >= 1");
  if (name == "constant") return RoundSchedule{false, rounds};
  if (name == "cosine") return RoundSchedule{true, rounds};
  return Status::invalid_argument("unknown learning-rate schedule '" + name + "' (constant, cosine)");
}

double round_learning_rate(double base, const RoundSchedule& s, std::uint64_t round) {
  if (!s.cosine) return base;
  const std::uint64_t r = std::clamp<std::uint64_t>(round, 1, s.rounds);
  const double progress = static_cast<double>(r - 1) / static_cast<double>(s.rounds);
  return base * 0.5 * (1 + std::cos(std::numbers::pi * progress));
}

}  // namespace heal::apps
