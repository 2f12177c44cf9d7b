// What a hospital co-signs: only its federation's setup record, listing it with its identity and
// holding the collective key, quorum and threshold it expects.
#include <gtest/gtest.h>

#include "heal/core/rng.h"
#include "heal/ledger/block.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/record.h"
#include "node/runtime_internal.h"

namespace heal::node {
namespace {

struct CosignCase {
  NodeConfig config;
  std::vector<std::unique_ptr<ledger::Signer>> keys;  // hospitals 0..2, then the coordinator
  Digest cpk = blake2b_256("cpk");

  CosignCase() {
    config.role = NodeRole::kHospital;
    config.party_id = 1;
    config.hospitals = 3;
    config.federation_id = "fed-cosign";
    for (std::uint64_t i = 0; i < 4; ++i) keys.push_back(ledger::Ed25519Signer::from_seed(seed_from_u64(40 + i)));
  }
  ledger::RoundSetup record() const {
    ledger::RoundSetup s;
    s.key_epoch = 1;
    s.secure_mode = "he";
    s.collective_public_key_hash = cpk;
    s.min_contributors = 3;
    s.decryption_threshold = 2;
    for (std::uint32_t i = 0; i < 3; ++i) {
      s.participants.push_back({i, ledger::Role::kHospital, "hospital-" + std::to_string(i), keys[i]->identity()});
    }
    s.participants.push_back({fl::kCoordinatorId, ledger::Role::kCoordinator, "coordinator", keys[3]->identity()});
    return s;
  }
  Bytes message(ledger::RecordBody body, const std::string& federation = "fed-cosign") const {
    return ledger::signing_message(ledger::encode_record({federation, 1700000000000ull, std::move(body)}));
  }
  Status check(const Bytes& m) const { return internal::check_setup_record(config, keys[1]->identity(), cpk, m); }
};

TEST(NodeCosign, TheHospitalSignsItsOwnFederationsSetup) {
  CosignCase s;
  EXPECT_TRUE(s.check(s.message(s.record())).ok()) << s.check(s.message(s.record())).to_string();
}

TEST(NodeCosign, AnythingElseIsRefused) {
  CosignCase s;
  EXPECT_FALSE(s.check(s.message(s.record(), "another-federation")).ok());
  auto r = s.record();
  r.collective_public_key_hash = blake2b_256("someone else's key");
  EXPECT_FALSE(s.check(s.message(r)).ok());
  r = s.record();
  r.participants[1].identity = s.keys[0]->identity();  // lists hospital 1 with another key
  EXPECT_FALSE(s.check(s.message(r)).ok());
  r = s.record();
  r.participants[1].role = ledger::Role::kCoordinator;
  EXPECT_FALSE(s.check(s.message(r)).ok());
  r = s.record();
  r.participants.erase(r.participants.begin() + 1);  // not listed
  EXPECT_FALSE(s.check(s.message(r)).ok());
  r = s.record();
  r.decryption_threshold = 3;
  EXPECT_FALSE(s.check(s.message(r)).ok());
  r = s.record();
  r.min_contributors = 2;
  EXPECT_FALSE(s.check(s.message(r)).ok());
  // Not a setup record, not a signing message, garbage.
  EXPECT_FALSE(s.check(s.message(ledger::ModelVersion{0, 0, 0, blake2b_256("m"), 4, ""})).ok());
  EXPECT_FALSE(s.check(ledger::encode_record({"fed-cosign", 1, s.record()})).ok());
  EXPECT_FALSE(s.check(Bytes{1, 2, 3}).ok());
  const Bytes good = s.message(s.record());
  EXPECT_FALSE(s.check(Bytes(good.begin(), good.end() - 1)).ok());
}

}  // namespace
}  // namespace heal::node
