// State of one round while the Coordinator runs it (coordinator_round.cpp).
#pragma once

#include <chrono>
#include <map>
#include <vector>

#include "heal/fl/coordinator.h"
#include "messages.h"

namespace heal::fl {

struct Coordinator::RoundWork {
  std::uint64_t round = 0;
  RoundStats stats;
  std::chrono::steady_clock::time_point start;
  std::map<PartyId, PartyRoundStats> parties;
  std::map<PartyId, TrafficCounters> traffic_before;
  std::map<PartyId, TrafficCounters> traffic_after;  // at the end of the protocol (before evaluation)
  std::vector<PartyId> contributors;  // accepted updates, in arrival order
  std::vector<Bytes> contributions;
  std::vector<std::uint64_t> samples;
  std::vector<ledger::Contribution> entries;  // (party, committed hash, samples) of each accepted update
  std::vector<PartyId> decryptors;
  std::map<PartyId, internal::HospitalStats> reported;  // what each accepted update's sender reported
  Digest aggregate_hash{};
  std::uint64_t version_in = 0;
  Digest hash_in{};
  bool failed = false;
  std::string failure;

  void fail(std::string why) {
    if (!failed) failure = std::move(why);
    failed = true;
  }
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace heal::fl
