// The SMPC ensemble (issue 17) with one process per party: a coordinator and three institutions,
// each fork()ed before any gRPC state exists, each with its own certificate, ledger key, SecAgg
// identity and model (the fake logistic-regression members of the fl/ensemble tests, one feature
// subset each), talking only over GrpcTransport (mutual TLS on 127.0.0.1) and the shared SQLite
// ledger. The consensus of every round equals the in-process simulation's (the same members, the
// same secure aggregation); an institution killed with SIGKILL mid-run leaves rounds that complete
// with the other two (t = 2 of 3); a coordinator that swaps an institution's SecAgg key is refused.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fl/ensemble/fake_member.h"
#include "heal/fl/ensemble/simulation.h"
#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/net/grpc_transport.h"
#include "heal/node/config.h"
#include "heal/node/ensemble.h"
#include "node/node_cluster.h"

namespace heal::node {
namespace {

using fl::ensemble::testing::BlobSource;
using fl::ensemble::testing::Dataset;
using fl::ensemble::testing::FakeMember;
using fl::ensemble::testing::kClasses;
using testing_cluster::Cluster;
using testing_cluster::make_cluster;
using testing_cluster::wait_exit;

constexpr int kInstitutions = 3;
constexpr int kRounds = 3;

// The members of the fl/ensemble tests' World; every process draws the same data from the same seed.
std::vector<std::unique_ptr<FakeMember>> make_members(int institutions = kInstitutions) {
  BlobSource src(7);
  const Dataset reference = src.draw({40, 40, 40});
  (void)src.draw({200, 200, 200});  // the World's test set (keeps the draws aligned)
  return fl::ensemble::testing::skewed_members(src, static_cast<std::size_t>(institutions), reference);
}

// A member that kills its own process when it starts training in round `round`.
class DiesInRound final : public fl::ensemble::EnsembleMember {
 public:
  DiesInRound(FakeMember& inner, std::uint64_t round) : in_(inner), round_(round) {}
  fl::ensemble::MemberDescription describe() const override { return in_.describe(); }
  std::size_t num_classes() const override { return in_.num_classes(); }
  std::size_t num_reference() const override { return in_.num_reference(); }
  Digest reference_hash() const override { return in_.reference_hash(); }
  std::uint64_t num_train_samples() const override { return in_.num_train_samples(); }
  Result<fl::Metrics> train_local(const fl::TrainConfig& c) override {
    if (++calls_ == round_) ::kill(::getpid(), SIGKILL);
    return in_.train_local(c);
  }
  Result<fl::Metrics> validate() override { return in_.validate(); }
  Result<std::vector<double>> predict_reference() override { return in_.predict_reference(); }
  Result<fl::Metrics> distill(std::span<const double> c, const fl::TrainConfig& t) override {
    return in_.distill(c, t);
  }
  std::vector<float> get_weights() const override { return in_.get_weights(); }
  Status set_weights(std::span<const float> w) override { return in_.set_weights(w); }
  Bytes model_bytes() const override { return in_.model_bytes(); }

 private:
  FakeMember& in_;
  std::uint64_t round_;
  std::uint64_t calls_ = 0;
};

EnsembleNodeOptions test_options() {
  EnsembleNodeOptions o;
  o.kdf = VaultKdf::interactive();
  return o;
}

// Child: institution i; exit code 0 on a clean stop. die_in_round > 0: killed when it starts
// training in that round.
[[noreturn]] void institution_child(const std::string& config, int i, std::uint64_t die_in_round = 0) {
  ::setenv("HEAL_TEST_NODE_PASSPHRASE", ("passphrase of institution " + std::to_string(i)).c_str(), 1);
  auto c = load_node_config(config);
  if (!c.ok()) ::_exit(2);
  auto members = make_members(static_cast<int>(c->hospitals));
  FakeMember& m = *members[static_cast<std::size_t>(i)];
  DiesInRound dying(m, die_in_round);
  fl::ensemble::EnsembleMember& member = die_in_round > 0 ? static_cast<fl::ensemble::EnsembleMember&>(dying) : m;
  auto r = run_ensemble_institution_node(*c, member, test_options());
  const Status s = r.status();
  // Every peer announced itself directly to this institution, at least once.
  if (s.ok() && r->bytes_from_peers < 2 * 100) {
    std::fprintf(stderr, "institution %d: %llu B of announcements from its peers\n", i,
                 static_cast<unsigned long long>(r->bytes_from_peers));
    ::_exit(4);
  }
  if (!s.ok()) std::fprintf(stderr, "institution %d: %s\n", i, s.to_string().c_str());
  ::_exit(s.ok() ? 0 : 1);
}

// Child: the coordinator; writes every round's outcome to <dir>/result.json.
[[noreturn]] void coordinator_child(const Cluster& cl) {
  auto c = load_node_config(cl.configs.back());
  if (!c.ok()) ::_exit(2);
  const auto members = make_members();
  auto rep = run_ensemble_coordinator_node(*c, members[0]->reference_hash(), members[0]->num_reference(), kClasses,
                                           test_options());
  if (!rep.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", rep.status().to_string().c_str());
    ::_exit(1);
  }
  nlohmann::json out;
  out["rounds"] = nlohmann::json::array();
  for (const auto& r : rep->rounds) {
    nlohmann::json acc = nlohmann::json::object();
    for (const auto& [p, a] : r.accuracy) acc[std::to_string(p)] = a;
    out["rounds"].push_back(
        {{"completed", r.completed}, {"contributors", r.contributors}, {"consensus", r.consensus}, {"accuracy", acc}});
  }
  out["architectures"] = nlohmann::json::array();
  for (const auto& inst : rep->institutions) out["architectures"].push_back(inst.architecture);
  out["bytes_up"] = rep->bytes_up;
  out["verified"] = rep->ledger_verified;
  std::ofstream(cl.dir + "/result.json") << out.dump();
  ::_exit(0);
}

nlohmann::json run_cluster(const Cluster& cl, int dying = -1, std::uint64_t die_in_round = 0,
                           int institutions = kInstitutions) {
  std::vector<pid_t> pids;
  for (int i = 0; i < institutions; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) institution_child(cl.configs[i], i, i == dying ? die_in_round : 0);
    pids.push_back(pid);
  }
  const pid_t coordinator = ::fork();
  if (coordinator == 0) coordinator_child(cl);
  EXPECT_EQ(wait_exit(coordinator), 0);
  for (int i = 0; i < institutions; ++i) {
    EXPECT_EQ(wait_exit(pids[i]), i == dying ? 128 + SIGKILL : 0) << "institution " << i;
  }
  std::ifstream in(cl.dir + "/result.json");
  if (!in.good()) return {};
  return nlohmann::json::parse(in);
}

// The same institutions (and sites) in one process: fl::ensemble::EnsembleSimulation's first `rounds`
// rounds, on its own ledger in the cluster's directory.
std::vector<fl::ensemble::EnsembleRoundReport> simulate(const Cluster& cl,
                                                        std::vector<fl::ensemble::InstitutionSpec> specs,
                                                        const Digest& reference_hash, int rounds) {
  fl::ensemble::SimulationOptions so;
  so.reference_hash = reference_hash;
  auto sim_ledger = ledger::SqliteLedger::open(cl.dir + "/simulation.sqlite").value();
  SeededRng rng(seed_from_u64(1));
  fl::ensemble::EnsembleSimulation sim(std::move(specs), so, *sim_ledger, rng);
  std::vector<fl::ensemble::EnsembleRoundReport> out;
  if (!sim.setup().ok()) return out;
  for (int r = 0; r < rounds; ++r) {
    auto rep = sim.run_round();
    if (!rep.ok() || !rep->completed) break;
    out.push_back(std::move(*rep));
  }
  return out;
}

// A round over processes (the coordinator's result.json) against the simulation's: completed by
// institutions 0-2 with the same consensus.
void expect_same_round(const nlohmann::json& net_round, const fl::ensemble::EnsembleRoundReport& rep, int r) {
  EXPECT_TRUE(net_round["completed"].get<bool>()) << "round " << r;
  EXPECT_EQ(net_round["contributors"].get<std::vector<fl::PartyId>>(), (std::vector<fl::PartyId>{0, 1, 2}));
  const auto consensus = net_round["consensus"].get<std::vector<double>>();
  ASSERT_EQ(consensus.size(), rep.consensus.size());
  double worst = 0;
  for (std::size_t j = 0; j < consensus.size(); ++j) worst = std::max(worst, std::abs(consensus[j] - rep.consensus[j]));
  EXPECT_LT(worst, 1e-12) << "round " << r;
}

TEST(NodeEnsemble, ThreeInstitutionProcessesComputeTheSimulationsConsensus) {
  const auto t0 = std::chrono::steady_clock::now();
  Cluster cl = make_cluster("ensemble", 20000, kInstitutions);
  const nlohmann::json out = run_cluster(cl);
  std::printf("[ timing ] 4 processes, setup + %d ensemble rounds: %.1f s\n", kRounds,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  ASSERT_FALSE(out.is_null());
  EXPECT_TRUE(out["verified"].get<bool>());
  ASSERT_EQ(out["rounds"].size(), std::size_t{kRounds});

  // The same members in one process (fl::ensemble::EnsembleSimulation, parties 1..3).
  auto members = make_members();
  std::vector<fl::ensemble::InstitutionSpec> specs;
  for (std::size_t k = 0; k < members.size(); ++k) {
    fl::ensemble::InstitutionSpec spec;
    spec.name = "institution-" + std::to_string(k);
    spec.model = members[k].get();
    specs.push_back(spec);
  }
  const auto sim = simulate(cl, specs, members[0]->reference_hash(), kRounds);
  ASSERT_EQ(sim.size(), std::size_t{kRounds});
  for (int r = 0; r < kRounds; ++r) expect_same_round(out["rounds"][static_cast<std::size_t>(r)], sim[r], r + 1);
  EXPECT_EQ(out["architectures"][1].get<std::string>(), "logreg(features=0,1,2)");

  // The shared ledger: the co-signed setup, the ensemble setup, every institution's version history
  // (version 1, then one per round) and the rounds.
  auto ledger = ledger::SqliteLedger::open(cl.dir + "/ledger.sqlite").value();
  EXPECT_TRUE(ledger->verify().ok);
  EXPECT_TRUE(ledger->ensemble_setup().ok());
  for (std::uint32_t i = 0; i < kInstitutions; ++i) {
    auto h = ledger->member_history(i);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->size(), std::size_t{kRounds + 1}) << "institution " << i;
  }
  auto rounds = ledger->ensemble_rounds();
  ASSERT_TRUE(rounds.ok());
  EXPECT_EQ(rounds->size(), std::size_t{kRounds});
  std::filesystem::remove_all(cl.dir);
}

// Four institutions, so that the rounds after the kill keep a consensus of >= 3 inputs
// (fl::ensemble::kEnsembleMinInputs; with three, those rounds fail: test
// Ensemble.AConsensusOfTwoInstitutionsIsNeverPublished).
TEST(NodeEnsemble, AnInstitutionKilledMidRunLeavesRoundsThatCompleteWithTheOthers) {
  Cluster cl = make_cluster("ensemble_dropout", 3000, 4);
  const nlohmann::json out = run_cluster(cl, /*dying=*/1, /*die_in_round=*/2, /*institutions=*/4);
  ASSERT_FALSE(out.is_null());
  EXPECT_TRUE(out["verified"].get<bool>());
  ASSERT_EQ(out["rounds"].size(), std::size_t{kRounds});
  EXPECT_EQ(out["rounds"][0]["contributors"].get<std::vector<fl::PartyId>>(), (std::vector<fl::PartyId>{0, 1, 2, 3}));
  for (std::size_t r = 1; r < kRounds; ++r) {
    EXPECT_TRUE(out["rounds"][r]["completed"].get<bool>()) << "round " << r + 1;
    EXPECT_EQ(out["rounds"][r]["contributors"].get<std::vector<fl::PartyId>>(), (std::vector<fl::PartyId>{0, 2, 3}));
  }
  std::filesystem::remove_all(cl.dir);
}

// --- The hierarchy over processes: institution 0 has three sites, each a process of its own. ---

// Institution 0's model has its sites' architecture (features 0-3) and no data; each site holds its
// own label-skewed share. The other institutions are those of make_members().
struct SiteWorld {
  std::vector<std::unique_ptr<FakeMember>> members;  // institutions; 0 is the institution model
  std::vector<std::unique_ptr<FakeMember>> sites;    // institution 0's sites 1000, 1001, 1002
};

SiteWorld make_site_world() {
  BlobSource src(7);
  const Dataset reference = src.draw({40, 40, 40});
  (void)src.draw({200, 200, 200});
  SiteWorld w;
  w.members = fl::ensemble::testing::skewed_members(src, kInstitutions, reference);
  w.members[0] = std::make_unique<FakeMember>(std::vector<std::size_t>{0, 1, 2, 3}, Dataset{}, Dataset{}, reference);
  BlobSource site_src(21);
  const std::vector<std::vector<std::size_t>> shares = {{50, 10, 5}, {5, 40, 20}, {10, 10, 45}};
  for (const auto& share : shares) {
    Dataset train = site_src.draw(share), val = site_src.draw({10, 10, 10});
    w.sites.push_back(std::make_unique<FakeMember>(std::vector<std::size_t>{0, 1, 2, 3}, train, val, reference));
  }
  return w;
}

[[noreturn]] void site_institution_child(const std::string& config, int i) {
  ::setenv("HEAL_TEST_NODE_PASSPHRASE", ("passphrase of institution " + std::to_string(i)).c_str(), 1);
  auto c = load_node_config(config);
  if (!c.ok()) ::_exit(2);
  SiteWorld w = make_site_world();
  auto r = run_ensemble_institution_node(*c, *w.members[static_cast<std::size_t>(i)], test_options());
  if (!r.ok()) std::fprintf(stderr, "institution %d: %s\n", i, r.status().to_string().c_str());
  // A multi-site institution exchanged its sites' FedAvg with them; the others have no sites.
  if (r.ok() && (i == 0) != (r->bytes_from_sites > 0)) ::_exit(4);
  ::_exit(r.ok() ? 0 : 1);
}

[[noreturn]] void site_child(const std::string& config, std::size_t s, std::uint64_t die_in_round) {
  auto c = load_node_config(config);
  if (!c.ok()) ::_exit(2);
  SiteWorld w = make_site_world();
  FakeMember& m = *w.sites[s];
  DiesInRound dying(m, die_in_round);
  fl::ensemble::EnsembleMember& member = die_in_round > 0 ? static_cast<fl::ensemble::EnsembleMember&>(dying) : m;
  EnsembleNodeOptions o = test_options();
  std::vector<std::uint64_t> trained;  // the rounds the site reported training in, each contributing
  o.on_site_round = [&](const fl::ensemble::SiteRound& sr) {
    if (sr.contributed && sr.train_samples == m.num_train_samples()) trained.push_back(sr.round);
  };
  auto r = run_ensemble_site_node(*c, member, o);
  if (!r.ok()) std::fprintf(stderr, "site %zu: %s\n", s, r.status().to_string().c_str());
  // Both siblings announced themselves directly (a 32-byte key and the architecture, at least once).
  if (r.ok() && r->bytes_from_siblings < 2 * 40) ::_exit(4);
  if (r.ok() && trained != std::vector<std::uint64_t>{1, 2, 3}) ::_exit(5);
  ::_exit(r.ok() ? 0 : 1);
}

std::vector<fl::ensemble::InstitutionSpec> site_world_specs(SiteWorld& w) {
  std::vector<fl::ensemble::InstitutionSpec> specs;
  for (std::size_t k = 0; k < w.members.size(); ++k) {
    fl::ensemble::InstitutionSpec spec;
    spec.name = "institution-" + std::to_string(k);
    spec.model = w.members[k].get();
    if (k == 0) spec.sites = {w.sites[0].get(), w.sites[1].get(), w.sites[2].get()};
    specs.push_back(spec);
  }
  return specs;
}

// `late_site` (>= 0): that site process starts `late` after the others.
nlohmann::json run_site_cluster(const Cluster& cl, int dying_site = -1, std::uint64_t die_in_round = 0,
                                int late_site = -1, std::chrono::milliseconds late = std::chrono::milliseconds(0)) {
  std::vector<pid_t> sites(cl.site_configs.size()), institutions;
  const auto start_site = [&](std::size_t s) {
    const pid_t pid = ::fork();
    if (pid == 0) site_child(cl.site_configs[s], s, static_cast<int>(s) == dying_site ? die_in_round : 0);
    sites[s] = pid;
  };
  for (std::size_t s = 0; s < cl.site_configs.size(); ++s) {
    if (static_cast<int>(s) != late_site) start_site(s);
  }
  for (int i = 0; i < kInstitutions; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) site_institution_child(cl.configs[static_cast<std::size_t>(i)], i);
    institutions.push_back(pid);
  }
  const pid_t coordinator = ::fork();
  if (coordinator == 0) coordinator_child(cl);
  if (late_site >= 0) {
    std::this_thread::sleep_for(late);
    start_site(static_cast<std::size_t>(late_site));
  }
  EXPECT_EQ(wait_exit(coordinator), 0);
  for (int i = 0; i < kInstitutions; ++i) EXPECT_EQ(wait_exit(institutions[static_cast<std::size_t>(i)]), 0) << i;
  for (std::size_t s = 0; s < sites.size(); ++s) {
    EXPECT_EQ(wait_exit(sites[s]), static_cast<int>(s) == dying_site ? 128 + SIGKILL : 0) << "site " << s;
  }
  std::ifstream in(cl.dir + "/result.json");
  if (!in.good()) return {};
  return nlohmann::json::parse(in);
}

TEST(NodeEnsemble, SiteProcessesOfAnInstitutionComputeTheSimulationsHierarchy) {
  const auto t0 = std::chrono::steady_clock::now();
  Cluster cl = make_cluster("ensemble_sites", 20000, kInstitutions, nlohmann::json::object(), kRounds, {3, 1, 1});
  ASSERT_EQ(cl.site_ids, (std::vector<fl::PartyId>{1000, 1001, 1002}));
  const nlohmann::json out = run_site_cluster(cl);
  std::printf("[ timing ] 7 processes (3 of them sites), setup + %d ensemble rounds: %.1f s\n", kRounds,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  ASSERT_FALSE(out.is_null());
  EXPECT_TRUE(out["verified"].get<bool>());
  ASSERT_EQ(out["rounds"].size(), std::size_t{kRounds});

  // The same institutions and sites in one process: institution 0's FedAvg of its sites, then the ensemble.
  SiteWorld w = make_site_world();
  const auto sim = simulate(cl, site_world_specs(w), w.members[0]->reference_hash(), kRounds);
  ASSERT_EQ(sim.size(), std::size_t{kRounds});
  for (int r = 0; r < kRounds; ++r) {
    const auto& net_round = out["rounds"][static_cast<std::size_t>(r)];
    expect_same_round(net_round, sim[r], r + 1);
    // Institution 0's public weight comes from its sites' pooled validation accuracy.
    EXPECT_NEAR(net_round["accuracy"]["0"].get<double>(), sim[r].institutions[0].val_accuracy, 1e-12) << r + 1;
  }
  // Without its sites the institution model has no data: a consensus equal to the simulation's shows
  // that the sites' FedAvg reached it. Every institution's history is on the ledger.
  auto ledger = ledger::SqliteLedger::open(cl.dir + "/ledger.sqlite").value();
  EXPECT_TRUE(ledger->verify().ok);
  for (std::uint32_t i = 0; i < kInstitutions; ++i) {
    auto h = ledger->member_history(i);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->size(), std::size_t{kRounds + 1}) << "institution " << i;
  }
  std::filesystem::remove_all(cl.dir);
}

// A site that starts after its siblings have announced themselves to no one: their announcements
// to it were lost, and once the late site's own announcement completes their groups they stop
// announcing. They answer its announcements instead, so it joins and the setup completes (before
// that answer, the late site waited for its siblings until the coordinator's setup deadline, and
// CI saw the same race among sites started a few milliseconds apart).
TEST(NodeEnsemble, ASiteThatStartsLateStillHearsItsSiblings) {
  Cluster cl =
      make_cluster("ensemble_site_late", 20000, kInstitutions, {{"setup_timeout_ms", 20000}}, kRounds, {3, 1, 1});
  const nlohmann::json out = run_site_cluster(cl, -1, 0, /*late_site=*/1, std::chrono::milliseconds(2500));
  ASSERT_FALSE(out.is_null());
  EXPECT_TRUE(out["verified"].get<bool>());
  ASSERT_EQ(out["rounds"].size(), std::size_t{kRounds});
  for (std::size_t r = 0; r < kRounds; ++r) {
    EXPECT_EQ(out["rounds"][r]["contributors"].get<std::vector<fl::PartyId>>(), (std::vector<fl::PartyId>{0, 1, 2}))
        << "round " << r + 1;
  }
  std::filesystem::remove_all(cl.dir);
}

TEST(NodeEnsemble, ASiteKilledMidRunLeavesItsInstitutionContributingWithTheOtherSites) {
  Cluster cl = make_cluster("ensemble_site_dropout", 4000, kInstitutions, nlohmann::json::object(), kRounds, {3, 1, 1});
  const nlohmann::json out = run_site_cluster(cl, /*dying_site=*/1, /*die_in_round=*/2);
  ASSERT_FALSE(out.is_null());
  EXPECT_TRUE(out["verified"].get<bool>());
  ASSERT_EQ(out["rounds"].size(), std::size_t{kRounds});
  for (std::size_t r = 0; r < kRounds; ++r) {
    EXPECT_TRUE(out["rounds"][r]["completed"].get<bool>()) << "round " << r + 1;
    EXPECT_EQ(out["rounds"][r]["contributors"].get<std::vector<fl::PartyId>>(), (std::vector<fl::PartyId>{0, 1, 2}))
        << "round " << r + 1;
  }
  // Round 1, before the kill, is the simulation's round 1 (all three sites pooled); from round 2 the
  // institution closes its sites' aggregation with sites 1000 and 1002 (t = 2 of 3) and still contributes.
  SiteWorld w = make_site_world();
  const auto sim = simulate(cl, site_world_specs(w), w.members[0]->reference_hash(), 1);
  ASSERT_EQ(sim.size(), 1u);
  EXPECT_NEAR(out["rounds"][0]["accuracy"]["0"].get<double>(), sim[0].institutions[0].val_accuracy, 1e-12);
  std::filesystem::remove_all(cl.dir);
}

}  // namespace
}  // namespace heal::node
