// A small, deterministic SMPC ensemble (fl/ensemble, roles.h) for fuzz_fl_ensemble and its seeds:
// institutions 1 and 2 hold one member each, institution 3 has two sites (3000, 3001); SecAgg
// threshold 2 among the institutions and 2 among the sites; FakeMember models (logistic
// regression on Gaussian blobs, tests/fl/ensemble/fake_member.h). Identities, members, the ledger
// (genesis + EnsembleSetup, in memory) come from fixed seeds, and every role gets its own SeededRng
// with a fixed seed when it is (re)made, so a role made twice and fed the same messages sends the
// same bytes: fuzz_seed_gen records what each role receives in one real round, and the fuzz
// target replays (mutations of) it into a fresh role.
//
// Fuzz input frames (after the selector byte): u8 kind | u8 sender index (parties()) | u8 round |
// u32 length (little endian, clipped to what is left) | payload.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../tests/fl/ensemble/fake_member.h"
#include "fl/ensemble/internal.h"
#include "heal/fl/ensemble/roles.h"
#include "heal/ledger/backends/sqlite_ledger.h"

namespace heal::fuzz::ensemble {

namespace fe = heal::fl::ensemble;
using fe::testing::Dataset;
using fe::testing::FakeMember;

/// Sender indices of a frame.
inline const std::vector<fl::PartyId>& parties() {
  static const std::vector<fl::PartyId> p = {fl::kCoordinatorId, 1, 2, 3, 3000, 3001};
  return p;
}

inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fl_ensemble_world: %s\n", what);
    std::abort();
  }
}

struct World {
  std::vector<std::unique_ptr<FakeMember>> members;  // institution 1, 2, 3 (the model), sites 3000, 3001
  std::vector<std::vector<float>> initial;           // their initial weights
  std::vector<smpc::SecAggIdentity> inst_ids, site_ids;
  std::vector<std::unique_ptr<ledger::Signer>> signers;  // institutions 1..3, coordinator
  fe::EnsembleConfig cfg;
  fe::SecAggGroup sites;
  std::unique_ptr<ledger::SqliteLedger> ledger;

  World() {
    fe::testing::BlobSource src(7);
    const Dataset reference = src.draw({6, 6, 6});
    const std::vector<std::vector<std::size_t>> feats = {{0, 1, 2, 3}, {0, 1, 2}, {1, 2, 3}, {1, 2, 3}, {1, 2, 3}};
    for (std::size_t k = 0; k < feats.size(); ++k) {
      std::vector<std::size_t> per(fe::testing::kClasses, 2);
      per[k % fe::testing::kClasses] = 12;
      Dataset tr = src.draw(per), va = src.draw({3, 3, 3});
      members.push_back(std::make_unique<FakeMember>(feats[k], tr, va, reference));
      members.back()->local_steps = 2;
      members.back()->distill_steps = 2;
      initial.push_back(members.back()->get_weights());
    }
    SeededRng rng(seed_from_u64(11));
    cfg.federation_id = "fuzz-ensemble";
    cfg.institutions.threshold = 2;
    for (fl::PartyId p = 1; p <= 3; ++p) {
      cfg.institutions.parties.push_back(p);
      inst_ids.push_back(smpc::make_secagg_identity(rng));
      cfg.institutions.verify_keys.push_back(inst_ids.back().verify_key);
      signers.push_back(ledger::Ed25519Signer::from_rng(rng));
    }
    signers.push_back(ledger::Ed25519Signer::from_rng(rng));
    sites.threshold = 2;
    for (fl::PartyId p : {3000u, 3001u}) {
      sites.parties.push_back(p);
      site_ids.push_back(smpc::make_secagg_identity(rng));
      sites.verify_keys.push_back(site_ids.back().verify_key);
    }
    auto l = ledger::SqliteLedger::open(":memory:");
    require(l.ok(), "cannot open an in-memory ledger");
    ledger = std::move(*l);
    ledger::RoundSetup genesis;
    genesis.key_epoch = 1;
    genesis.secure_mode = "smpc-ensemble";
    genesis.min_contributors = cfg.institutions.threshold;
    genesis.strategy = std::string("ensemble-distillation(") + fe::kWeightRule + ")";
    std::vector<const ledger::Signer*> all;
    std::vector<ledger::EnsembleMemberInfo> infos;
    for (std::size_t k = 0; k < 3; ++k) {
      const auto p = static_cast<fl::PartyId>(k + 1);
      genesis.participants.push_back({p, ledger::Role::kHospital, "h" + std::to_string(p), signers[k]->identity()});
      all.push_back(signers[k].get());
      infos.push_back({p, members[k]->describe().architecture, k == 2 ? 2u : 1u});
    }
    genesis.participants.push_back(
        {fl::kCoordinatorId, ledger::Role::kCoordinator, "coordinator", signers[3]->identity()});
    all.push_back(signers[3].get());
    require(ledger->append(ledger::sign_record({cfg.federation_id, ledger::now_ms(), genesis}, all)).ok(), "genesis");
    fl::InProcessTransport unused;
    SeededRng r(seed_from_u64(1));
    fe::EnsembleCoordinator c(cfg, reference.size(), fe::testing::kClasses, unused, *ledger, *signers[3], r);
    require(c.write_setup(infos, members[0]->reference_hash()).ok(), "ensemble setup");
  }

  void reset_members() {
    for (std::size_t k = 0; k < members.size(); ++k) require(members[k]->set_weights(initial[k]).ok(), "reset");
  }

  std::size_t reference_size() const { return members[0]->num_reference(); }
};

/// The roles of one run (fresh ones per fuzz input), each with its own fixed-seed Rng.
struct Roles {
  SeededRng rc{seed_from_u64(100)}, r1{seed_from_u64(101)}, r2{seed_from_u64(102)}, r3{seed_from_u64(103)},
      rs0{seed_from_u64(104)}, rs1{seed_from_u64(105)};
  std::unique_ptr<fe::EnsembleCoordinator> coordinator;
  std::vector<std::unique_ptr<fe::EnsembleNode>> nodes;
  std::vector<std::unique_ptr<fe::EnsembleSite>> sites;

  Roles(World& w, fl::Transport& net) {
    w.reset_members();
    coordinator = std::make_unique<fe::EnsembleCoordinator>(w.cfg, w.reference_size(), fe::testing::kClasses, net,
                                                            *w.ledger, *w.signers[3], rc);
    SeededRng* rngs[] = {&r1, &r2, &r3};
    for (std::size_t k = 0; k < 3; ++k) {
      fe::NodeOptions o;
      o.id = static_cast<fl::PartyId>(k + 1);
      o.model = w.members[k].get();
      o.identity = fe::internal::copy_identity(w.inst_ids[k]);
      if (k == 2) o.sites = w.sites;
      nodes.push_back(std::make_unique<fe::EnsembleNode>(w.cfg, std::move(o), net, *w.ledger, *w.signers[k], *rngs[k]));
    }
    SeededRng* srngs[] = {&rs0, &rs1};
    for (std::size_t s = 0; s < 2; ++s) {
      sites.push_back(std::make_unique<fe::EnsembleSite>(w.sites.parties[s], 3, *w.members[3 + s],
                                                         fe::internal::copy_identity(w.site_ids[s]), w.sites,
                                                         fl::TrainConfig{}, net, *srngs[s]));
    }
  }
};

/// One frame of a fuzz input.
inline void put_frame(Bytes& out, const fl::Message& m) {
  std::uint8_t from = 0;
  for (std::size_t i = 0; i < parties().size(); ++i) {
    if (parties()[i] == m.from) from = static_cast<std::uint8_t>(i);
  }
  out.push_back(static_cast<std::uint8_t>(m.kind));
  out.push_back(from);
  out.push_back(static_cast<std::uint8_t>(m.round));
  const auto n = static_cast<std::uint32_t>(m.payload.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), m.payload.begin(), m.payload.end());
}

/// Splits `in` into frames addressed to `to` (a short tail is dropped).
inline std::vector<fl::Message> frames(std::span<const std::uint8_t> in, fl::PartyId to) {
  std::vector<fl::Message> out;
  std::size_t i = 0;
  while (in.size() - i >= 7) {
    fl::Message m;
    m.kind = static_cast<fl::MessageKind>(in[i]);
    m.from = parties()[in[i + 1] % parties().size()];
    m.to = to;
    m.round = in[i + 2];
    std::uint32_t n = 0;
    for (int b = 0; b < 4; ++b) n |= static_cast<std::uint32_t>(in[i + 3 + b]) << (8 * b);
    i += 7;
    n = static_cast<std::uint32_t>(std::min<std::size_t>(n, in.size() - i));
    m.payload.assign(in.begin() + static_cast<std::ptrdiff_t>(i), in.begin() + static_cast<std::ptrdiff_t>(i + n));
    i += n;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace heal::fuzz::ensemble
