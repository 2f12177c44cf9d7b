// Internals of the node runtime that tests call directly.
#pragma once

#include <span>

#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/ledger/identity.h"
#include "heal/node/config.h"

namespace heal::node::internal {

/// A hospital co-signs the setup record only if `message` is the ledger signing message of a
/// RoundSetup of its federation, listing it (party id, hospital role) with its own identity `me`,
/// holding the collective public key `cpk` its own key setup derived, with its quorum and threshold
/// and K + 1 participants. InvalidArgument naming the mismatch otherwise.
Status check_setup_record(const NodeConfig& config, const ledger::Identity& me, const Digest& cpk,
                          std::span<const std::uint8_t> message);

}  // namespace heal::node::internal
