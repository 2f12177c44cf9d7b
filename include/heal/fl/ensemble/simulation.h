// One way to run the ensemble roles (roles.h): all in one process over an InProcessTransport, with
// a shared ledger. The simulation owns the transport and the roles, writes the genesis setup (every
// institution and the coordinator sign it), the EnsembleSetup and the initial member versions, and
// pumps messages until each round is done. Nothing here is needed by the roles themselves.
//
//   EnsembleSimulation sim(institutions, options, ledger, rng);   // rng: SystemRng (SeededRng in tests)
//   HEAL_RETURN_IF_ERROR(sim.setup());
//   HEAL_ASSIGN_OR_RETURN(std::vector<EnsembleRoundReport> reports, sim.run(rounds));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "heal/fl/ensemble/roles.h"

namespace heal::fl::ensemble {

/// One institution: party ids are assigned 1..K in the order given; sites get ids 1000*k + s.
struct InstitutionSpec {
  std::string name;
  /// 1-site institution: its member. Multi-site: the institution model (same architecture as its
  /// sites) that holds the FedAvg of the sites, predicts the reference set and distils.
  EnsembleMember* model = nullptr;
  std::vector<EnsembleMember*> sites;     // empty (the common case) or >= 2
  CrashPoint crash = CrashPoint::kNever;  // test seam: this node crashes in every round from the first
  int crashing_site = -1;                 // test seam: index of a site that crashes before its masked input
};

struct SimulationOptions {
  std::string federation_id = "heal-ensemble";
  std::uint32_t threshold = 0;  // SecAgg t among institutions; 0: floor(n/2) + 1
  Digest reference_hash{};      // the consortium's reference set (required)
  TrainConfig train;
  /// Rounds served by one SecAgg key setup (EnsembleConfig::secagg_rounds_per_setup).
  std::uint32_t secagg_rounds_per_setup = 20;
  /// The parties' ledger keys (secp256k1 on an EVM chain, where each key is the party's account).
  ledger::SignatureScheme signature_scheme = ledger::SignatureScheme::kEd25519;
};

/// Per institution and round (bytes are the institution's traffic with the coordinator only).
struct InstitutionRoundReport {
  PartyId institution = 0;
  std::string name;
  bool contributed = false, distilled = false;
  std::string refusal;
  double val_accuracy = 0, weight = 0;
  std::uint64_t bytes_up = 0, bytes_down = 0;  // this round, envelopes included
  /// Of bytes_up: the SecAgg setup (advertisement and shares, envelopes included), sent in the
  /// first round of each SecAgg session only.
  std::uint64_t setup_bytes_up = 0;
  /// The upload with the setup spread over the R rounds it serves: bytes_up - setup_bytes_up +
  /// (this institution's upload in its session's setup) / R. The figure to compare across rounds.
  double amortised_bytes_up = 0;
  std::uint64_t plaintext_bytes = 0;                     // its predictions in the clear, float32: n_ref * C * 4
  std::uint64_t site_bytes_up = 0, site_bytes_down = 0;  // its sites -> it, it -> its sites (multi-site only)
  double train_seconds = 0, secagg_seconds = 0, distill_seconds = 0;
  std::uint64_t member_version = 0;
};

struct EnsembleRoundReport {
  std::uint64_t round = 0;
  bool completed = false;
  std::string failure;
  std::vector<PartyId> contributors;
  std::vector<InstitutionRoundReport> institutions;
  std::vector<double> consensus;     // n_ref x C (empty if failed)
  double secagg_server_seconds = 0;  // the coordinator's SecAgg work
  double secagg_seconds = 0;         // server + every client's SecAgg work (sequential here)
  double round_seconds = 0;          // wall time of the whole round
};

class EnsembleSimulation {
 public:
  EnsembleSimulation(std::vector<InstitutionSpec> institutions, SimulationOptions opt, ledger::Ledger& ledger,
                     Rng& rng);
  ~EnsembleSimulation();

  /// The genesis record's participants: the institutions (parties 1..K, role hospital) and the
  /// coordinator, with their ledger identities (a launcher deploys an EVM contract for them before
  /// setup()). The ledger holds every party's key (Ledger::add_local_signer).
  std::vector<ledger::Participant> participants() const;
  /// Genesis setup, EnsembleSetup, version 1 of every member. The ledger must be empty.
  Status setup();
  /// Runs the next round to its end (completed or failed).
  Result<EnsembleRoundReport> run_round();
  /// `rounds` rounds; stops at the first error (a failed round is a report, not an error).
  Result<std::vector<EnsembleRoundReport>> run(std::size_t rounds);

  InProcessTransport& transport() { return net_; }
  /// The ledger keys the simulation holds for every party (tests).
  const ledger::Signer& institution_signer(std::size_t k) const;
  const ledger::Signer& coordinator_signer() const;
  PartyId institution_id(std::size_t k) const { return static_cast<PartyId>(k + 1); }

 private:
  struct Roles;
  TrafficCounters site_traffic(std::size_t k) const;
  std::vector<InstitutionSpec> specs_;
  SimulationOptions opt_;
  ledger::Ledger& ledger_;
  Rng& rng_;
  InProcessTransport net_;
  std::unique_ptr<Roles> roles_;
  std::vector<std::uint64_t> session_setup_up_;  // per institution: its upload in the current session's setup
};

}  // namespace heal::fl::ensemble
