// NodeConfig from JSON: outside bytes, every field checked.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "heal/core/rng.h"
#include "heal/node/config.h"

namespace heal::node {
namespace {

nlohmann::json hospital() {
  return nlohmann::json::parse(R"({
    "role": "hospital", "party_id": 1, "hospitals": 3, "listen": "127.0.0.1:7001",
    "peers": {"coordinator": "127.0.0.1:7000", "0": "127.0.0.1:7002", "2": "10.0.0.3:7003"},
    "tls": {"ca_cert": "ca.crt", "cert": "h1.crt", "key": "/etc/heal/h1.key"},
    "ledger": "ledger.sqlite", "federation_id": "fed-1", "rounds": 3,
    "he": {"threshold": 2, "max_decryptions": 100, "log_n": 12, "q_bits": [43, 43]},
    "node_store": {"path": "h1.store", "passphrase_env": "HEAL_H1_PASSPHRASE"},
    "response_timeout_ms": 5000
  })");
}

// The configuration is refused, and the message names `says` (the field, or the reason).
void refused(const nlohmann::json& j, const std::string& says) {
  auto c = parse_node_config(j.dump());
  EXPECT_FALSE(c.ok()) << "accepted: " << j.dump() << " (expected a refusal naming " << says << ")";
  if (!c.ok()) {
    EXPECT_NE(c.status().message().find(says), std::string::npos) << c.status().to_string();
  }
}

TEST(NodeConfig, ParsesAHospital) {
  auto c = parse_node_config(hospital().dump(), "/srv/heal");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->role, NodeRole::kHospital);
  EXPECT_EQ(c->party_id, 1u);
  EXPECT_EQ(c->hospitals, 3u);
  EXPECT_EQ(c->peers.at(fl::kCoordinatorId), "127.0.0.1:7000");
  EXPECT_EQ(c->peers.at(2), "10.0.0.3:7003");
  EXPECT_EQ(c->ca_cert_path, "/srv/heal/ca.crt");  // relative to the file's directory
  EXPECT_EQ(c->key_path, "/etc/heal/h1.key");
  EXPECT_EQ(c->node_store_path, "/srv/heal/h1.store");
  EXPECT_EQ(c->passphrase_env, "HEAL_H1_PASSPHRASE");
  EXPECT_EQ(c->he.threshold, 2u);
  EXPECT_EQ(c->he.max_decryptions, 100u);
  EXPECT_EQ(c->rounds, 3u);
  EXPECT_EQ(c->response_timeout, std::chrono::milliseconds(5000));
}

TEST(NodeConfig, ParsesACoordinator) {
  auto j = hospital();
  j["role"] = "coordinator";
  j.erase("party_id");
  j.erase("node_store");
  j["peers"] = {{"0", "127.0.0.1:7001"}, {"1", "127.0.0.1:7002"}, {"2", "127.0.0.1:7003"}};
  auto c = parse_node_config(j.dump());
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->party_id, fl::kCoordinatorId);
  EXPECT_EQ(c->peers.size(), 3u);
}

TEST(NodeConfig, ALedgerIsAFileRelativeToTheConfigurationOrAUriTakenAsItIs) {
  auto j = hospital();
  EXPECT_EQ(parse_node_config(j.dump(), "/srv/heal").value().ledger_path, "/srv/heal/ledger.sqlite");
  j["ledger"] = "evm://10.0.0.9:8545?confirmations=1";
  EXPECT_EQ(parse_node_config(j.dump(), "/srv/heal").value().ledger_path, "evm://10.0.0.9:8545?confirmations=1");
  // The coordinator deploys the contract: a node naming one is refused, as is a malformed URI.
  j["ledger"] = "evm://10.0.0.9:8545?contract=0x" + std::string(40, '1');
  auto c = parse_node_config(j.dump());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("drop contract="), std::string::npos) << c.status().to_string();
  j["ledger"] = "evm://10.0.0.9:notaport";
  c = parse_node_config(j.dump());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("ledger"), std::string::npos) << c.status().to_string();
}

TEST(NodeConfig, RefusesBadFields) {
  EXPECT_FALSE(parse_node_config("{not json").ok());
  EXPECT_FALSE(parse_node_config("[1]").ok());
  auto j = hospital();
  j["role"] = "dealer";
  refused(j, "role");
  j = hospital();
  j["party_id"] = 3;  // only 3 hospitals: 0..2
  refused(j, "party_id");
  j = hospital();
  j["party_id"] = -1;
  refused(j, "party_id");
  j = hospital();
  j["listen"] = "127.0.0.1";
  refused(j, "listen");
  j = hospital();
  j["peers"]["0"] = "127.0.0.1:99999";
  refused(j, "peers.0");
  j = hospital();
  j["peers"].erase("2");
  refused(j, "hospital 2");
  j = hospital();
  j["peers"].erase("coordinator");
  refused(j, "coordinator");
  j = hospital();
  j["peers"]["1"] = "127.0.0.1:7009";
  refused(j, "peers.1");  // itself
  j = hospital();
  j["peers"]["07"] = "127.0.0.1:7009";
  refused(j, "peers.07");
  j = hospital();
  j["node_store"]["passphrase"] = "hunter2";  // never the passphrase itself
  refused(j, "node_store.passphrase");
  j = hospital();
  j["node_store"]["passphrase_env"] = "A B";
  refused(j, "passphrase_env");
  j = hospital();
  j.erase("node_store");
  refused(j, "node_store");
  j = hospital();
  j["tls"].erase("key");
  refused(j, "tls.key");
  j = hospital();
  j["he"]["threshold"] = 4;
  refused(j, "he.threshold");
  j = hospital();
  j["he"]["q_bits"] = {43, 99};
  refused(j, "he.q_bits");
  j = hospital();
  j["he"]["threshold"] = 1;
  refused(j, "he.threshold");
  j = hospital();
  j["hospitals"] = 5;  // t = 2 of 5 is not a majority
  j["peers"]["3"] = "127.0.0.1:7004";
  j["peers"]["4"] = "127.0.0.1:7005";
  refused(j, "he.threshold");
  j = hospital();
  j["min_contributors"] = 2;  // below the floor of 3 contributions per decrypted sum
  refused(j, "min_contributors");
  j = hospital();
  j["rounds"] = 0;
  refused(j, "rounds");
  j = hospital();
  j["colour"] = "blue";
  refused(j, "colour");
  j = hospital();
  j["federation_id"] = "";
  refused(j, "federation_id");
}

TEST(NodeConfig, TrainingSectionIsParsedAndChecked) {
  auto j = hospital();
  j["training"] = {{"data", "data/pneumoniamnist.npz"}, {"task", "segment"}, {"model", "unet"}, {"lr", 0.001},
                   {"lr_schedule", "cosine"},           {"local_epochs", 2}};
  auto c = parse_node_config(j.dump(), "/srv/heal");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ASSERT_TRUE(c->training.has_value());
  EXPECT_EQ(c->training->data_path, "/srv/heal/data/pneumoniamnist.npz");
  EXPECT_EQ(c->training->task, "segment");
  EXPECT_EQ(c->training->lr_schedule, "cosine");
  EXPECT_EQ(c->training->local_epochs, 2u);
  j["training"].erase("lr_schedule");
  c = parse_node_config(j.dump(), "/srv/heal");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->training->lr_schedule, "constant");  // the default
  for (const char* bad : {"linear", "", "COSINE"}) {
    j["training"]["lr_schedule"] = bad;
    c = parse_node_config(j.dump(), "/srv/heal");
    EXPECT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("lr_schedule"), std::string::npos) << c.status().message();
  }
  j["training"]["lr_schedule"] = 3;
  EXPECT_FALSE(parse_node_config(j.dump(), "/srv/heal").ok());
  // Segmentation's loss and multi-class masks, as heal fl simulate --loss / --multiclass.
  j["training"].erase("lr_schedule");
  c = parse_node_config(j.dump(), "/srv/heal");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->training->seg_loss, "bce-dice");
  EXPECT_FALSE(c->training->multiclass);
  j["training"]["loss"] = "structure";
  j["training"]["multiclass"] = true;
  c = parse_node_config(j.dump(), "/srv/heal");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->training->seg_loss, "structure");
  EXPECT_TRUE(c->training->multiclass);
  j["training"]["loss"] = "dice";
  c = parse_node_config(j.dump(), "/srv/heal");
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("training.loss"), std::string::npos) << c.status().message();
  j["training"]["loss"] = "bce-dice";
  j["training"]["multiclass"] = "yes";
  c = parse_node_config(j.dump(), "/srv/heal");
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("training.multiclass"), std::string::npos) << c.status().message();
}

// training.federation = "ensemble": the institutions' architectures and the distillation settings.
TEST(NodeConfig, EnsembleTrainingIsParsedAndChecked) {
  auto j = hospital();
  j["training"] = {{"data", "breastmnist.npz"},
                   {"federation", "ensemble"},
                   {"archs", {"hecnn:4", "resnet"}},
                   {"reference_fraction", 0.25},
                   {"distill_epochs", 2},
                   {"distill_lr", 0.0005},
                   {"sharpen", 0.5}};
  auto c = parse_node_config(j.dump(), "/srv/heal");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->training->federation, "ensemble");
  EXPECT_EQ(c->training->archs, (std::vector<std::string>{"hecnn:4", "resnet"}));
  EXPECT_DOUBLE_EQ(c->training->reference_fraction, 0.25);
  EXPECT_EQ(c->training->distill_epochs, 2u);
  EXPECT_DOUBLE_EQ(c->training->distill_lr, 0.0005);
  EXPECT_DOUBLE_EQ(c->training->sharpen, 0.5);
  j["training"].erase("federation");
  c = parse_node_config(j.dump(), "/srv/heal");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->training->federation, "fedavg");  // the default
  const auto refused = [&](const char* key, const nlohmann::json& value) {
    auto k = j;
    k["training"]["federation"] = "ensemble";
    k["training"][key] = value;
    auto r = parse_node_config(k.dump(), "/srv/heal");
    EXPECT_FALSE(r.ok()) << key << " = " << value.dump();
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(std::string("training.")), std::string::npos);
    }
  };
  refused("federation", "gossip");
  refused("archs", nlohmann::json::array());
  refused("archs", "hecnn");
  refused("archs", {"hecnn", 3});
  refused("archs", {"hecnn; rm -rf /"});
  refused("archs", {std::string("model\n.heal")});
  {
    // A model file an institution starts from: a path relative to the configuration's directory.
    auto k = j;
    k["training"]["federation"] = "ensemble";
    k["training"]["archs"] = {"hecnn:16x2", "models/pneu.heal", "/abs/b.heal"};
    auto r = parse_node_config(k.dump(), "/srv/heal");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->training->archs,
              (std::vector<std::string>{"hecnn:16x2", "/srv/heal/models/pneu.heal", "/abs/b.heal"}));
  }
  refused("reference_fraction", 0.95);
  refused("reference_fraction", 0);
  refused("distill_epochs", 0);
  refused("sharpen", -1);
  refused("task", "segment");  // an ensemble classifies
  {
    // The ensemble's floor is its own (fl::ensemble::kEnsembleMinInputs), not FedAvg's HE floor:
    // he.threshold 3 of 3 (HE decrypts only sums of >= t + 1 = 4 updates) does not bind an ensemble ...
    auto k = j;
    k["training"]["federation"] = "ensemble";
    k["he"]["threshold"] = 3;
    EXPECT_TRUE(parse_node_config(k.dump(), "/srv/heal").ok());
    k["training"]["federation"] = "fedavg";
    ::heal::node::refused(k, "at least that many hospitals");
    // ... but two institutions are refused: the consensus and one's own predictions give the other's.
    k = j;
    k["training"]["federation"] = "ensemble";
    k["hospitals"] = 2;
    k["peers"].erase("2");
    k["he"]["threshold"] = 2;
    ::heal::node::refused(k, "an ensemble needs at least 3 institutions");
  }
}

// Institution 1 of 3 with two sites (2000, 2001), and its site 2001: the ensemble hierarchy over processes.
nlohmann::json multi_site_institution() {
  auto j = hospital();
  j["peers"]["2000"] = "127.0.0.1:7100";
  j["peers"]["2001"] = "127.0.0.1:7101";
  j["training"] = {{"data", "breastmnist.npz"}, {"federation", "ensemble"}, {"sites", {1, 2, 1}}};
  return j;
}
nlohmann::json site_2001() {
  auto j = hospital();
  j["role"] = "site";
  j["party_id"] = 2001;
  j["peers"] = {{"1", "127.0.0.1:7001"}, {"2000", "127.0.0.1:7100"}};
  j.erase("ledger");
  j.erase("node_store");
  j["training"] = {{"data", "breastmnist.npz"}, {"federation", "ensemble"}, {"sites", {1, 2, 1}}};
  return j;
}

TEST(NodeConfig, ParsesAMultiSiteInstitutionAndItsSites) {
  auto c = parse_node_config(multi_site_institution().dump());
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->sites, (std::vector<fl::PartyId>{2000, 2001}));
  EXPECT_EQ(c->training->sites, (std::vector<std::uint32_t>{1, 2, 1}));
  auto s = parse_node_config(site_2001().dump());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->role, NodeRole::kSite);
  EXPECT_EQ(s->institution, 1u);
  EXPECT_EQ(s->sites, (std::vector<fl::PartyId>{2000, 2001}));  // itself and its sibling
  EXPECT_TRUE(s->ledger_path.empty());
  EXPECT_EQ(site_party_id(1, 1), 2001u);
  EXPECT_EQ(site_institution(2001), 1u);
  EXPECT_FALSE(site_institution(999).has_value());
  EXPECT_FALSE(site_institution(fl::kCoordinatorId).has_value());

  auto j = multi_site_institution();
  j["peers"].erase("2001");
  refused(j, "no site or at least 2");  // one site is the institution itself
  j = multi_site_institution();
  j["peers"]["3000"] = "127.0.0.1:7102";  // institution 2's site
  refused(j, "belongs to another institution");
  j = multi_site_institution();
  j["peers"]["5000"] = "127.0.0.1:7102";  // institution 4 of 3
  refused(j, "no site of this federation");
  j = multi_site_institution();
  j["peers"]["2064"] = "127.0.0.1:7102";  // site index 64
  refused(j, "no site of this federation");
  j = multi_site_institution();
  j["training"]["sites"] = {1, 3, 1};  // the peers name 2
  refused(j, "training.sites");
  j["training"]["sites"] = {2, 2};  // not one count per institution
  refused(j, "training.sites");
  j["training"]["sites"] = {1, 0, 1};
  refused(j, "training.sites");
  j = multi_site_institution();
  j["training"]["federation"] = "fedavg";  // FedAvg has no sites
  refused(j, "training.sites");
  j = hospital();
  j["training"] = {{"data", "breastmnist.npz"}, {"federation", "ensemble"}, {"sites", {1, 2, 1}}};
  refused(j, "name them among the peers");
  j = hospital();
  j["role"] = "coordinator";
  j.erase("party_id");
  j.erase("node_store");
  j["peers"] = {{"0", "127.0.0.1:7001"}, {"1", "127.0.0.1:7002"}, {"2", "127.0.0.1:7003"}, {"2000", "127.0.0.1:7100"}};
  refused(j, "not to their sites");

  j = site_2001();
  j["peers"]["coordinator"] = "127.0.0.1:7000";
  refused(j, "its institution and its sibling sites only");
  j = site_2001();
  j["peers"]["0"] = "127.0.0.1:7002";
  refused(j, "its institution and its sibling sites only");
  j = site_2001();
  j["peers"].erase("1");
  refused(j, "institution 1 is missing");
  j = site_2001();
  j["peers"].erase("2000");
  refused(j, "at least one sibling");
  j = site_2001();
  j["peers"]["3000"] = "127.0.0.1:7102";
  refused(j, "its institution and its sibling sites only");
  j = site_2001();
  j["ledger"] = "ledger.sqlite";
  refused(j, "writes nothing to the ledger");
  j = site_2001();
  j["node_store"] = {{"path", "s.store"}, {"passphrase_env", "X"}};
  refused(j, "no stored key material");
  j = site_2001();
  j["party_id"] = 1;
  refused(j, "party_id");
  j = site_2001();
  j["party_id"] = 4001;  // institution 3 of 3
  refused(j, "no site of this federation");
}

TEST(NodeConfig, MutatedFilesAreRefusedOrConsistent) {
  // Byte flips, truncations and insertions of a valid file: a Status or a configuration that keeps
  // the parser's promises, never a crash (fuzz/node_config_fuzz.cpp does this at scale).
  const std::string good = hospital().dump();
  SeededRng rng(seed_from_u64(5));
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    const int edits = 1 + static_cast<int>(rng.uniform(3));
    for (int e = 0; e < edits && !t.empty(); ++e) {
      const std::size_t at = rng.uniform(t.size());
      switch (rng.uniform(3)) {
        case 0:
          t[at] = static_cast<char>(rng.uniform(256));
          break;
        case 1:
          t.erase(at, 1 + rng.uniform(8));
          break;
        default:
          t.insert(at, 1, "0123456789:,{}[]\"-"[rng.uniform(17)]);
      }
    }
    auto c = parse_node_config(t);
    if (!c.ok()) continue;
    ++accepted;
    EXPECT_LT(c->party_id, c->hospitals) << t;
    EXPECT_TRUE(c->peers.count(fl::kCoordinatorId)) << t;
    for (fl::PartyId h = 0; h < c->hospitals; ++h) {
      if (h != c->party_id) {
        EXPECT_TRUE(c->peers.count(h)) << t;
      }
    }
  }
  EXPECT_GT(accepted, 0);  // some edits (inside strings, digits) keep a valid file
}

TEST(NodeConfig, PassphraseComesFromTheNamedVariable) {
  auto c = parse_node_config(hospital().dump()).value();
  ::unsetenv("HEAL_H1_PASSPHRASE");
  EXPECT_EQ(node_passphrase(c).status().code(), StatusCode::kFailedPrecondition);
  ::setenv("HEAL_H1_PASSPHRASE", "correct horse", 1);
  EXPECT_EQ(node_passphrase(c).value(), "correct horse");
  ::unsetenv("HEAL_H1_PASSPHRASE");
}

}  // namespace
}  // namespace heal::node
