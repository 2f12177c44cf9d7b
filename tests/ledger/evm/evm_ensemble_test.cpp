// Ensemble federated learning of heterogeneous models (issue 17) on the HealFederation contract, on a
// private anvil chain: the torch-free ensemble simulation (fake members, real SecAgg) writes exactly
// the ensemble rounds and member versions on the chain that it writes on SQLite, the chain verifies and
// is re-read by a fresh read-only handle; and the contract, not only the readers, refuses what the
// library would never send: a version of another institution's model (from that institution's peer or
// from the coordinator) and a second record of a finished round.
#include <gtest/gtest.h>

#include "fl/ensemble/fake_member.h"
#include "heal/fl/ensemble/simulation.h"
#include "heal/ledger/backends/evm_ledger.h"
#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/ledger/open.h"
#include "ledger/backends/evm/abi.h"
#include "ledger/backends/evm/rpc_client.h"
#include "ledger/backends/evm/transaction.h"
#include "ledger/evm/anvil_fixture.h"

namespace heal::ledger::evm {
namespace {

namespace fe = fl::ensemble;
using fe::testing::BlobSource;
using fe::testing::Dataset;
using fe::testing::FakeMember;

constexpr std::size_t kInstitutions = 3;

Hash32 to_hash32(const Digest& d) {
  Hash32 h{};
  std::copy(d.begin(), d.end(), h.begin());
  return h;
}

abi::Value u32_array(const std::vector<std::uint32_t>& v) {
  std::vector<abi::Value> out;
  for (auto x : v) out.push_back(abi::Value::uint(x));
  return abi::Value::array(std::move(out));
}
constexpr std::size_t kRounds = 3;

struct World {
  explicit World(std::uint64_t seed) : src(seed) {
    reference = src.draw({30, 30, 30});
    members = fe::testing::skewed_members(src, kInstitutions, reference);
  }
  std::vector<fe::InstitutionSpec> specs() {
    std::vector<fe::InstitutionSpec> s;
    for (std::size_t k = 0; k < members.size(); ++k) {
      fe::InstitutionSpec spec;
      spec.name = "hospital-" + std::to_string(k);
      spec.model = members[k].get();
      s.push_back(spec);
    }
    return s;
  }
  fe::SimulationOptions options() const {
    fe::SimulationOptions o;
    o.federation_id = "evm-ensemble";
    o.reference_hash = members[0]->reference_hash();
    o.signature_scheme = SignatureScheme::kSecp256k1;  // each key is its party's account
    return o;
  }
  BlobSource src;
  Dataset reference;
  std::vector<std::unique_ptr<FakeMember>> members;
};

class EvmEnsembleTest : public testing::AnvilFixture {
 protected:
  // A fresh contract for the simulation's consortium (t = 2 of 3, as the ensemble's SecAgg threshold;
  // quorum 3), as `heal fl ensemble simulate` deploys it.
  void deploy_for(const fe::EnsembleSimulation& sim, EvmLedger& chain) {
    auto cons = ensemble_consortium_of("evm-ensemble", sim.participants(), 2);
    ASSERT_TRUE(cons.ok()) << cons.status().to_string();
    ASSERT_EQ(cons->min_contributors, 3u);
    auto addr = chain.fund_and_deploy(*cons);
    ASSERT_TRUE(addr.ok()) << addr.status().to_string();
  }
  // Sends `signature(args..., record, sigs)` to the contract as a raw transaction from `from`'s account,
  // bypassing the library's own checks. Returns the custom error eth_call names ("" if none) and
  // whether the mined transaction succeeded.
  std::pair<std::string, bool> raw_call(const EvmLedger& chain, const Signer& from, const std::string& signature,
                                        std::vector<abi::Value> args, const SignedRecord& sr,
                                        const std::vector<std::string>& errors) {
    args.push_back(abi::Value::bytes(sr.record));
    args.push_back(abi::Value::bytes(encode_signatures(sr.signatures)));
    auto data = abi::encode_call(signature, args);
    EXPECT_TRUE(data.ok());
    RpcClient rpc(url());
    const auto& key = dynamic_cast<const Secp256k1Signer&>(from);
    const Address sender = *address_of(key.identity());
    CallRequest req;
    req.from = sender;
    req.to = *Address::from_hex(chain.contract_address());
    req.data = *data;
    RpcError err;
    std::string reason;
    if (!rpc.eth_call(req, "latest", &err).ok() && err.selector()) {
      for (const auto& e : errors) {
        if (abi::selector(e + "()") == *err.selector()) reason = e;
      }
      if (reason.empty()) reason = "unknown revert " + err.data;
    }
    Eip1559Tx tx;
    tx.chain_id = kChainId;
    tx.nonce = *rpc.get_transaction_count(sender, "pending");
    const auto fees = rpc.suggest_eip1559_fees().value();
    tx.max_priority_fee_per_gas = fees.first;
    tx.max_fee_per_gas = fees.second;
    tx.gas_limit = 500'000;
    tx.to = *req.to;
    tx.data = *data;
    auto sent = rpc.send_raw_transaction(sign(tx, key).raw);
    EXPECT_TRUE(sent.ok()) << sent.status().to_string();
    auto receipt = rpc.wait_for_receipt(*sent);
    EXPECT_TRUE(receipt.ok());
    return {reason, receipt.ok() && receipt->status};
  }
};

std::vector<MemberVersion> versions(const Ledger& l) {
  std::vector<MemberVersion> out;
  auto h = l.member_history();
  EXPECT_TRUE(h.ok()) << h.status().to_string();
  if (h.ok()) {
    for (const auto& e : *h) out.push_back(e.version);
  }
  return out;
}

TEST_F(EvmEnsembleTest, EnsembleOnChainMatchesSqliteAndVerifiesAfterRestart) {
  World a(5), b(5);
  auto sqlite = SqliteLedger::open(":memory:").value();
  SeededRng rng_a(seed_from_u64(1)), rng_b(seed_from_u64(1));
  fe::EnsembleSimulation on_sqlite(a.specs(), a.options(), *sqlite, rng_a);
  ASSERT_TRUE(on_sqlite.setup().ok());
  auto rep_sqlite = on_sqlite.run(kRounds);
  ASSERT_TRUE(rep_sqlite.ok()) << rep_sqlite.status().to_string();

  auto chain = EvmLedger::open(*parse_ledger_uri(evm_uri_with_dev_key()), /*read_only=*/false);
  ASSERT_TRUE(chain.ok()) << chain.status().to_string();
  fe::EnsembleSimulation on_chain(b.specs(), b.options(), **chain, rng_b);
  deploy_for(on_chain, **chain);
  ASSERT_TRUE(on_chain.setup().ok());
  auto rep_chain = on_chain.run(kRounds);
  ASSERT_TRUE(rep_chain.ok()) << rep_chain.status().to_string();

  // Same rounds (contributors, weights, masked-input hashes, consensus hash) and member versions.
  for (std::size_t r = 0; r < kRounds; ++r) {
    ASSERT_TRUE((*rep_chain)[r].completed) << (*rep_chain)[r].failure;
    EXPECT_EQ((*rep_chain)[r].consensus, (*rep_sqlite)[r].consensus);
  }
  const auto rounds_chain = (*chain)->ensemble_rounds();
  ASSERT_TRUE(rounds_chain.ok());
  EXPECT_EQ(*rounds_chain, *sqlite->ensemble_rounds());
  ASSERT_EQ(rounds_chain->size(), kRounds);
  const auto v_chain = versions(**chain);
  EXPECT_EQ(v_chain, versions(*sqlite));
  ASSERT_EQ(v_chain.size(), kInstitutions * (kRounds + 1));
  const VerifyReport v = (*chain)->verify();
  ASSERT_TRUE(v.ok) << v.summary();
  // Genesis, the ensemble setup, then per institution version 1 and per round the round and 3 versions.
  EXPECT_EQ(v.counts.blocks, 2 + kInstitutions + kRounds * (1 + kInstitutions));
  EXPECT_EQ(v.counts.ensemble_records, 1 + kInstitutions + kRounds * (1 + kInstitutions));
  EXPECT_GT((*chain)->stats().gas_used, 0u);

  // The contract's own state agrees: institution 2's head is version kRounds + 1, after round kRounds.
  RpcClient rpc(url());
  CallRequest req;
  req.to = *Address::from_hex((*chain)->contract_address());
  req.data = *abi::encode_call("memberVersionOf(uint32)", {abi::Value::uint(2)});
  auto out = rpc.eth_call(req);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  auto head = abi::decode(*abi::parse_types("uint64,uint64,bytes32"), *out);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*(*head)[0].as_u64(), kRounds + 1);
  EXPECT_EQ(*(*head)[1].as_u64(), kRounds);

  // A restarted node (fresh read-only handle, no key) catches up from the events and verifies.
  auto reader = ledger::open((*chain)->audit_uri(), OpenMode::kReadOnly);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  const VerifyReport rv = (*reader)->verify(v.head_hash);
  EXPECT_TRUE(rv.ok) << rv.summary();
  EXPECT_EQ(versions(**reader), v_chain);
}

TEST_F(EvmEnsembleTest, TheContractRefusesForeignMemberVersionsAndARewrittenRound) {
  World w(6);
  auto chain = EvmLedger::open(*parse_ledger_uri(evm_uri_with_dev_key()), /*read_only=*/false).value();
  SeededRng rng(seed_from_u64(2));
  fe::EnsembleSimulation sim(w.specs(), w.options(), *chain, rng);
  deploy_for(sim, *chain);
  ASSERT_TRUE(sim.setup().ok());
  auto r1 = sim.run_round();
  ASSERT_TRUE(r1.ok() && r1->completed);
  const std::uint64_t height = *chain->size();
  const std::vector<std::string> errors = {"NotOwnMember",           "NotHospital",      "BadRound",
                                           "NotEnsembleContributor", "BadMemberVersion", "NotMember"};
  const std::string mv_fn = "postMemberVersion(uint32,uint64,uint64,bytes32,bytes,bytes)";
  const auto& inst1 = sim.institution_signer(0);  // party 1
  const auto& inst2 = sim.institution_signer(1);  // party 2
  const Digest forged = blake2b_256(std::string("a model institution 1 never had"));
  auto mv_args = [&](std::uint32_t party, std::uint64_t version) {
    return std::vector<abi::Value>{abi::Value::uint(party), abi::Value::uint(version), abi::Value::uint(1),
                                   abi::Value::bytes32(to_hash32(forged))};
  };
  const MemberVersion fake{1,      3, w.members[0]->describe().architecture,
                           forged, 1, w.members[0]->describe().num_parameters};

  // Institution 2, from its own (member) account, records a version of institution 1's model.
  const Signer* by2[] = {&inst2};
  auto [why, mined] =
      raw_call(*chain, inst2, mv_fn, mv_args(1, 3), sign_record({"evm-ensemble", now_ms(), fake}, by2), errors);
  EXPECT_EQ(why, "NotOwnMember");
  EXPECT_FALSE(mined);
  // The coordinator does the same.
  const Signer* byc[] = {&sim.coordinator_signer()};
  std::tie(why, mined) = raw_call(*chain, sim.coordinator_signer(), mv_fn, mv_args(1, 3),
                                  sign_record({"evm-ensemble", now_ms(), fake}, byc), errors);
  EXPECT_EQ(why, "NotHospital");
  EXPECT_FALSE(mined);
  // The coordinator records round 1 again, with other weights.
  EnsembleRound rewritten = *chain->ensemble_round(1);
  rewritten.contributors[0].weight *= 2;
  std::vector<std::uint32_t> ids;
  for (const auto& c : rewritten.contributors) ids.push_back(c.institution);
  std::tie(why, mined) =
      raw_call(*chain, sim.coordinator_signer(), "postEnsembleRound(uint64,uint32[],bytes32,bytes,bytes)",
               {abi::Value::uint(1), u32_array(ids), abi::Value::bytes32(to_hash32(rewritten.consensus_hash))},
               sign_record({"evm-ensemble", now_ms(), rewritten}, byc), errors);
  EXPECT_EQ(why, "BadRound");
  EXPECT_FALSE(mined);
  // Control: institution 1 itself can record its next version (the refusals above were about who).
  const Signer* by1[] = {&inst1};
  std::tie(why, mined) =
      raw_call(*chain, inst1, mv_fn, mv_args(1, 3), sign_record({"evm-ensemble", now_ms(), fake}, by1), errors);
  EXPECT_EQ(why, "");
  EXPECT_TRUE(mined);
  EXPECT_EQ(*chain->size(), height + 1);
  EXPECT_TRUE(chain->verify().ok);
}

// The contract enforces its rules on a call's arguments, readers check the record: a sender whose
// arguments differ from its record (here within the contract's rules) leaves a block every reader
// refuses, naming it, so the chain's view and the ledger cannot silently disagree.
TEST_F(EvmEnsembleTest, ReadersRefuseABlockWhoseContractArgumentsDifferFromItsRecord) {
  World w(7);
  auto chain = EvmLedger::open(*parse_ledger_uri(evm_uri_with_dev_key()), /*read_only=*/false).value();
  SeededRng rng(seed_from_u64(3));
  fe::EnsembleSimulation sim(w.specs(), w.options(), *chain, rng);
  deploy_for(sim, *chain);
  ASSERT_TRUE(sim.setup().ok());
  auto r1 = sim.run_round();
  ASSERT_TRUE(r1.ok() && r1->completed);
  ASSERT_TRUE(chain->verify().ok);
  const std::uint64_t height = *chain->size();
  const std::vector<std::string> errors = {"BadRound", "NotEnsembleMember", "TooFewContributors"};

  // Round 2 as the coordinator records it: institutions 1 and 2 contributed (t = 2) ...
  EnsembleRound r2 = *chain->ensemble_round(1);
  r2.round = 2;
  r2.contributors.resize(2);
  r2.consensus_hash = blake2b_256(std::string("consensus of round 2"));
  const Signer* byc[] = {&sim.coordinator_signer()};
  // ... and as it tells the contract: all three contributed (so institution 3 could record a version for it).
  auto [why, mined] =
      raw_call(*chain, sim.coordinator_signer(), "postEnsembleRound(uint64,uint32[],bytes32,bytes,bytes)",
               {abi::Value::uint(2), u32_array({1, 2, 3}), abi::Value::bytes32(to_hash32(r2.consensus_hash))},
               sign_record({"evm-ensemble", now_ms(), r2}, byc), errors);
  EXPECT_EQ(why, "");
  ASSERT_TRUE(mined) << "the contract sees only the arguments, which keep its rules";
  auto reader = ledger::open(chain->audit_uri(), OpenMode::kReadOnly).value();
  const VerifyReport v = reader->verify();
  EXPECT_FALSE(v.ok);
  ASSERT_TRUE(v.bad_height.has_value());
  EXPECT_EQ(*v.bad_height, height);
  EXPECT_NE(v.reason.find("arguments differ from its ensemble-round record"), std::string::npos) << v.reason;
}

}  // namespace
}  // namespace heal::ledger::evm
