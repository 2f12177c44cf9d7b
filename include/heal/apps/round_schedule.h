// The learning rate of a federation's members per round (torch-free; used by `heal fl simulate`'s
// hospitals and `heal fl ensemble`'s members).
#pragma once

#include <cstdint>
#include <string>

#include "heal/core/status.h"

namespace heal::apps {

/// The members' learning rate per round. Each round's local training starts a fresh optimiser,
/// so a schedule over the whole federation is a function of the round number: "constant" keeps
/// the base rate, "cosine" decays it over `rounds` rounds as lr_r = lr (1 + cos(pi (r - 1) / R)) / 2
/// (SGDR without restarts, Loshchilov and Hutter, arXiv:1608.03983), rounds past R keep the last rate.
struct RoundSchedule {
  bool cosine = false;
  std::uint64_t rounds = 1;
};
/// "constant" or "cosine" over `rounds` (>= 1); InvalidArgument otherwise.
Result<RoundSchedule> parse_round_schedule(const std::string& name, std::uint64_t rounds);
/// The learning rate of round `round` (1-based).
double round_learning_rate(double base, const RoundSchedule& s, std::uint64_t round);

}  // namespace heal::apps
