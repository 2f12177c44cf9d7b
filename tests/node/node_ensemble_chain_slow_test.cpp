// An ensemble institution on an EVM ledger co-signs the genesis record only for the contract of that
// record's consortium, read back from the chain (internal::check_ensemble_contract). The attack: a
// coordinator names a contract deployed for another consortium -- with an account of its own in an
// institution's place (it could then record that institution's member versions), with its own key as
// an extra member, or of another federation -- and the institution refuses to co-sign. On a private
// anvil chain (tests/ledger/evm/anvil_fixture.h); without the EVM backend this file compiles to nothing.
#ifdef HEAL_HAVE_EVM
#include <gtest/gtest.h>

#include "heal/ledger/backends/evm_ledger.h"
#include "heal/ledger/block.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/record.h"
#include "heal/ledger/uri.h"
#include "ledger/evm/anvil_fixture.h"
#include "node/runtime_internal.h"

namespace heal::node {
namespace {

class NodeEnsembleChain : public ledger::evm::testing::AnvilFixture {
 protected:
  void SetUp() override {
    AnvilFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    config.role = NodeRole::kHospital;
    config.party_id = 1;
    config.hospitals = 3;
    config.federation_id = "fed-ensemble-chain";
    for (std::uint64_t i = 0; i < 5; ++i) keys.push_back(ledger::Secp256k1Signer::from_seed(seed_from_u64(70 + i)));
  }
  // The genesis record as an honest coordinator writes it: institutions 0..2 and the coordinator (key 3).
  ledger::RoundSetup genesis() const {
    ledger::RoundSetup s;
    s.key_epoch = 1;
    s.secure_mode = "smpc-ensemble";
    s.min_contributors = 2;
    for (std::uint32_t i = 0; i < 3; ++i) {
      s.participants.push_back({i, ledger::Role::kHospital, "institution-" + std::to_string(i), keys[i]->identity()});
    }
    s.participants.push_back({fl::kCoordinatorId, ledger::Role::kCoordinator, "coordinator", keys[3]->identity()});
    return s;
  }
  Bytes message() const {
    return ledger::signing_message(ledger::encode_record({config.federation_id, 1700000000000ull, genesis()}));
  }
  // A handle on a fresh contract for `participants` with threshold t and quorum q.
  std::unique_ptr<ledger::evm::EvmLedger> deployed(const std::vector<ledger::Participant>& participants,
                                                   std::uint32_t t, std::uint32_t q, std::string federation = "") {
    const std::string uri = evm_uri_with_dev_key();
    auto chain = ledger::evm::EvmLedger::open(*ledger::parse_ledger_uri(uri), /*read_only=*/false);
    EXPECT_TRUE(chain.ok()) << chain.status().to_string();
    auto cons = ledger::evm::consortium_of(federation.empty() ? config.federation_id : federation, participants, t, q);
    EXPECT_TRUE(cons.ok()) << cons.status().to_string();
    auto addr = (*chain)->deploy(*cons);
    EXPECT_TRUE(addr.ok()) << addr.status().to_string();
    return std::move(*chain);
  }
  NodeConfig config;
  EnsembleNodeOptions options;
  std::vector<std::unique_ptr<ledger::Signer>> keys;  // institutions 0..2, the coordinator, a sybil
};

TEST_F(NodeEnsembleChain, AnInstitutionCoSignsOnlyForTheContractOfItsConsortium) {
  const Bytes m = message();
  // The honest contract: the record's participants, t = 2 (the SecAgg threshold), quorum max(3, t + 1).
  auto honest = deployed(genesis().participants, 2, 3);
  EXPECT_TRUE(internal::check_ensemble_contract(config, options, *honest, m).ok());
  auto want = internal::ensemble_consortium(config, options, genesis().participants);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(want->threshold, 2u);
  EXPECT_EQ(want->min_contributors, 3u);

  // Institution 2's account replaced by the coordinator's sybil.
  auto parts = genesis().participants;
  parts[2].identity = keys[4]->identity();
  auto sybil = deployed(parts, 2, 3);
  const Status s1 = internal::check_ensemble_contract(config, options, *sybil, m);
  EXPECT_FALSE(s1.ok());
  // The sybil as an extra hospital (4 hospitals, t = 3, quorum 4: otherwise valid for the contract).
  parts = genesis().participants;
  parts.insert(parts.begin() + 3, {3, ledger::Role::kHospital, "institution-3", keys[4]->identity()});
  auto extra = deployed(parts, 3, 4);
  EXPECT_FALSE(internal::check_ensemble_contract(config, options, *extra, m).ok());
  // The right members and threshold, but another federation's contract (with 3 institutions the
  // contract's rules leave no other threshold and quorum: t = 2, quorum 3).
  auto other = deployed(genesis().participants, 2, 3, "another-federation");
  const Status s3 = internal::check_ensemble_contract(config, options, *other, m);
  EXPECT_FALSE(s3.ok());
  // The refusals say what differs.
  EXPECT_NE(s1.message().find("member"), std::string::npos) << s1.to_string();
  EXPECT_NE(s3.message().find("federation"), std::string::npos) << s3.to_string();
  // And a message that is not this federation's genesis record is refused before the chain is read.
  EXPECT_FALSE(internal::check_ensemble_contract(config, options, *honest, Bytes{1, 2, 3}).ok());
}

}  // namespace
}  // namespace heal::node
#endif  // HEAL_HAVE_EVM
