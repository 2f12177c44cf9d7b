// The EVM ledger backend on a private anvil chain: a whole federation (threshold CKKS, 3 hospitals)
// runs on the HealFederation contract and produces exactly the model versions and hashes of the same
// run on SQLite; the chain is re-read from its events by a fresh read-only handle (catch-up after a
// restart) and verifies; a block whose sender is not one of its signers is refused by every reader;
// the contract's refusal of a rule-breaking transaction reaches the caller with the error's name.
#include "heal/ledger/backends/evm_ledger.h"

#include <gtest/gtest.h>

#include "fl/fl_fixture.h"
#include "heal/fl/he_aggregator.h"
#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/ledger/open.h"
#include "heal_federation_artifact.h"
#include "ledger/backends/evm/abi.h"
#include "ledger/backends/evm/rpc_client.h"
#include "ledger/backends/evm/transaction.h"
#include "ledger/evm/anvil_fixture.h"

namespace heal::ledger::evm {
namespace {

using fl::testing::LinearRegressionTrainer;

constexpr std::size_t kHospitals = 3;
constexpr std::uint64_t kRounds = 3;

std::vector<std::unique_ptr<fl::LocalTrainer>> trainers() {
  std::vector<std::unique_ptr<fl::LocalTrainer>> out;
  const std::vector<float> w_star = {0.5f, -1.0f, 2.0f, 0.25f};
  for (std::size_t i = 0; i < kHospitals; ++i) {
    out.push_back(std::make_unique<LinearRegressionTrainer>(w_star, 40, 10 + i, 0.1f * static_cast<float>(i)));
  }
  return out;
}

std::unique_ptr<fl::HeAggregator> aggregator() {
  fl::HeAggregatorConfig c;
  c.threshold = 2;
  c.max_total_weight = 4096;
  c.seed = 7;
  return std::make_unique<fl::HeAggregator>(c, kHospitals);
}

fl::FederationConfig config() {
  fl::FederationConfig cfg;
  cfg.federation_id = "evm-test";
  cfg.rounds = kRounds;
  cfg.min_contributors = 3;  // HE decrypts sums over >= 3 contributions
  cfg.seed = 3;
  cfg.signature_scheme = SignatureScheme::kSecp256k1;
  return cfg;
}

std::vector<std::pair<std::uint64_t, Digest>> history(const Ledger& l) {
  std::vector<std::pair<std::uint64_t, Digest>> out;
  auto h = l.model_history();
  EXPECT_TRUE(h.ok()) << h.status().to_string();
  if (h.ok()) {
    for (const auto& e : *h) out.emplace_back(e.version, e.model_hash);
  }
  return out;
}

class EvmLedgerTest : public testing::AnvilFixture {
 protected:
  // evm://127.0.0.1:<port>?key=<dev key 0>
  std::string chain_uri() const { return evm_uri_with_dev_key(); }

  // A federation on a fresh contract deployed for its participants (as `heal fl simulate` does).
  void deployed(fl::Federation& fed, EvmLedger& l) {
    auto cons = consortium_of("evm-test", fed.participants(), 2, 3);
    EXPECT_TRUE(cons.ok()) << cons.status().to_string();
    std::vector<std::string> accounts;
    for (const auto& m : cons->members) accounts.push_back(m.address);
    EXPECT_TRUE(l.fund(accounts, 1'000'000'000'000'000'000ull).ok());
    auto addr = l.deploy(*cons);
    ASSERT_TRUE(addr.ok()) << addr.status().to_string();
  }
};

TEST_F(EvmLedgerTest, FederationOnChainMatchesSqliteAndVerifiesAfterRestart) {
  // The same federation on SQLite ...
  auto sqlite = SqliteLedger::open(":memory:").value();
  fl::Federation on_sqlite(config(), trainers(), aggregator(), *sqlite, {0, 0, 0, 0});
  auto rep_sqlite = on_sqlite.run();
  ASSERT_TRUE(rep_sqlite.ok()) << rep_sqlite.status().to_string();

  // ... and on the chain.
  auto uri = parse_ledger_uri(chain_uri());
  ASSERT_TRUE(uri.ok());
  auto chain = EvmLedger::open(*uri, /*read_only=*/false);
  ASSERT_TRUE(chain.ok()) << chain.status().to_string();
  fl::Federation on_chain(config(), trainers(), aggregator(), **chain, {0, 0, 0, 0});
  deployed(on_chain, **chain);
  auto rep_chain = on_chain.run();
  ASSERT_TRUE(rep_chain.ok()) << rep_chain.status().to_string();
  ASSERT_TRUE(rep_chain->ledger_verified);

  // Same model versions and hashes, every round completed on both.
  const auto h_sqlite = history(*sqlite), h_chain = history(**chain);
  ASSERT_EQ(h_sqlite.size(), kRounds + 1);
  EXPECT_EQ(h_sqlite, h_chain);
  EXPECT_EQ(on_sqlite.global_model(), on_chain.global_model());
  const VerifyReport v = (*chain)->verify();
  EXPECT_TRUE(v.ok) << v.summary();
  EXPECT_EQ(v.counts.rounds_completed, kRounds);
  EXPECT_EQ(v.counts.contributor_sets, kRounds);
  // Each completed round: open, 3 commitments, contributor set, model, result = 7 transactions.
  EXPECT_EQ(v.counts.blocks, 2 + 7 * kRounds);
  EXPECT_GT((*chain)->stats().gas_used, 0u);

  // A restarted node (fresh handle, read-only, no key) catches up from the contract's events.
  auto reader = ledger::open((*chain)->audit_uri(), OpenMode::kReadOnly);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  const VerifyReport rv = (*reader)->verify(v.head_hash);
  EXPECT_TRUE(rv.ok) << rv.summary();
  EXPECT_EQ(history(**reader), h_chain);
  // An audit needs no key, and refuses one.
  EXPECT_FALSE(ledger::open(chain_uri() + "&contract=" + (*chain)->contract_address(), OpenMode::kReadOnly).ok());
}

// What a node checks before co-signing: the contract it is told, read back from the chain, against
// the consortium it expects; any difference in federation, threshold, quorum or members is named.
TEST_F(EvmLedgerTest, CheckConsortiumReadsTheContractBackAndNamesADifference) {
  auto chain = EvmLedger::open(*parse_ledger_uri(chain_uri()), /*read_only=*/false);
  ASSERT_TRUE(chain.ok()) << chain.status().to_string();
  fl::Federation fed(config(), trainers(), aggregator(), **chain, {0, 0, 0, 0});
  deployed(fed, **chain);
  const Consortium want = consortium_of("evm-test", fed.participants(), 2, 3).value();
  auto reader = EvmLedger::open(*parse_ledger_uri((*chain)->audit_uri()), /*read_only=*/true).value();
  EXPECT_TRUE(reader->check_deployed_consortium(want).ok()) << reader->check_deployed_consortium(want).to_string();
  auto refused = [&](Consortium c, const std::string& says) {
    const Status s = reader->check_deployed_consortium(c);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << says;
    EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
  };
  Consortium c = want;
  c.federation_id = "another";
  refused(c, "another federation");
  c = want;
  c.threshold = 3;
  refused(c, "decryption threshold 2, not 3");
  c = want;
  c.min_contributors = 4;
  refused(c, "quorum 3, not 4");
  c = want;
  c.members.pop_back();
  refused(c, "members, not");
  c = want;
  std::swap(c.members[0].address, c.members[1].address);
  refused(c, "is not in the expected consortium");
  c = want;
  c.members[0].role = Role::kCoordinator;
  refused(c, "is not in the expected consortium");
}

TEST_F(EvmLedgerTest, BlockSentByANonSignerIsRefusedByReaders) {
  auto uri = parse_ledger_uri(chain_uri());
  auto chain = EvmLedger::open(*uri, false).value();
  fl::FederationConfig cfg = config();
  cfg.rounds = 1;
  fl::Federation fed(cfg, trainers(), aggregator(), *chain, {0, 0, 0, 0});
  deployed(fed, *chain);
  ASSERT_TRUE(fed.setup().ok());
  // Open round 1 honestly, so commitments are accepted on chain.
  ASSERT_TRUE(chain->verify().ok);

  // Hospital 0 sends (from its own account, which the contract accepts as a member) a commitment
  // record signed by hospital 1: the chain cannot read HEAL signatures, the readers can.
  RoundOpen o{1, 1, chain->current_setup()->params_hash, 0, chain->model_history()->at(0).model_hash, {0, 1, 2}};
  const Signer* coord[] = {&fed.coordinator_signer()};
  ASSERT_TRUE(chain->append(sign_record({"evm-test", now_ms(), o}, coord)).ok());
  UpdateCommitment c{1, 1, 0, o.model_hash, blake2b_256(std::string("forged")), 10, 0};
  const Signer* h1[] = {&fed.hospital(1).signer()};
  SignedRecord sr = sign_record({"evm-test", now_ms(), c}, h1);
  const auto& h0 = dynamic_cast<const Secp256k1Signer&>(fed.hospital(0).signer());
  auto data = abi::encode_call("commit(uint64,bytes32,bytes,bytes)",
                               {abi::Value::uint(1), abi::Value::bytes32(keccak256(std::string("x"))),
                                abi::Value::bytes(sr.record), abi::Value::bytes(encode_signatures(sr.signatures))});
  ASSERT_TRUE(data.ok());
  RpcClient rpc(url());
  Eip1559Tx tx;
  tx.chain_id = kChainId;
  tx.nonce = *rpc.get_transaction_count(*address_of(h0.identity()), "pending");
  auto fees = rpc.suggest_eip1559_fees().value();
  tx.max_priority_fee_per_gas = fees.first;
  tx.max_fee_per_gas = fees.second;
  tx.gas_limit = 500'000;
  tx.to = *Address::from_hex(chain->contract_address());
  tx.data = *data;
  const SignedTx s = sign(tx, h0);
  auto sent = rpc.send_raw_transaction(s.raw);
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  auto receipt = rpc.wait_for_receipt(*sent);
  ASSERT_TRUE(receipt.ok() && receipt->status) << "the contract accepts a member's commit whatever its record says";

  auto reader = ledger::open(chain->audit_uri(), OpenMode::kReadOnly).value();
  const VerifyReport v = reader->verify();
  EXPECT_FALSE(v.ok);
  ASSERT_TRUE(v.bad_height.has_value());
  EXPECT_EQ(*v.bad_height, 3u);  // setup, model v0, round opening, then the forged block
  EXPECT_NE(v.reason.find("not one of its signers"), std::string::npos) << v.reason;
}

TEST_F(EvmLedgerTest, ContractRefusalsReachTheCallerByName) {
  auto uri = parse_ledger_uri(chain_uri());
  auto chain = EvmLedger::open(*uri, false).value();
  fl::Federation fed(config(), trainers(), aggregator(), *chain, {0, 0, 0, 0});
  // Before deployment nothing can be appended.
  EXPECT_FALSE(fed.setup().ok());
  deployed(fed, *chain);
  // The setup alone (the federation's own setup() would also write model v0).
  RoundSetup s;
  s.key_epoch = 1;
  s.secure_mode = "threshold-ckks";
  s.min_contributors = 3;
  s.decryption_threshold = 2;
  s.participants = fed.participants();
  std::vector<const Signer*> all;
  for (fl::PartyId i = 0; i < kHospitals; ++i) all.push_back(&fed.hospital(i).signer());
  all.push_back(&fed.coordinator_signer());
  ASSERT_TRUE(chain->append(sign_record({"evm-test", now_ms(), s}, all)).ok());
  // A zero model hash passes the off-chain rules but not the contract: its custom error is named.
  const Signer* coord[] = {&fed.coordinator_signer()};
  auto r = chain->append(sign_record({"evm-test", now_ms(), ModelVersion{0, 0, 0, Digest{}, 4, ""}}, coord));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ZeroHash()"), std::string::npos) << r.status().to_string();
  // Nothing was mined for it, and the ledger still verifies.
  EXPECT_EQ(*chain->size(), 1u);
  EXPECT_TRUE(chain->verify().ok);
}

// n hospitals (parties 0..n-1) and a coordinator (party 100), with distinct made-up addresses.
Consortium consortium(std::uint32_t n, std::uint32_t t, std::uint32_t min_contributors) {
  Consortium c;
  c.federation_id = "rules";
  c.threshold = t;
  c.min_contributors = min_contributors;
  auto addr = [](unsigned i) {  // i < 256
    const char* hex = "0123456789abcdef";
    std::string a = "0x" + std::string(38, '0');
    a.push_back(hex[(i >> 4) & 15]);
    a.push_back(hex[i & 15]);
    return a;
  };
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string name = "h";
    name += std::to_string(i);  // appended, not "h" + ...: GCC 12 warns -Wrestrict on that (a false positive)
    c.members.push_back({i, Role::kHospital, name, addr(i + 1)});
  }
  c.members.push_back({100, Role::kCoordinator, "c", addr(0xff)});
  return c;
}

// The refusal names the contract's custom error (InvalidArgument), or "" when accepted.
std::string refusal(const Consortium& c) {
  const Status s = check_consortium(c);
  if (s.ok()) return "";
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  for (const char* e :
       {"ThresholdBelowTwo", "BadThreshold", "ThresholdNotMajority", "BadMinContributors", "MinContributorsBelowFloor",
        "NoHospital", "DuplicateParty", "DuplicateAddress", "BadAddress"}) {
    if (s.message().find(std::string("revert ") + e + ")") != std::string::npos) return e;
  }
  return s.message();
}

TEST(ConsortiumRules, TheContractsThresholdRulesAreCheckedOffChain) {
  // Accepted: t = n/2 + 1 with the floor max(3, t + 1), and the largest t = n - 1 with min_contributors = n.
  for (auto [n, t, m] :
       {std::array<std::uint32_t, 3>{3, 2, 3}, {4, 3, 4}, {5, 3, 4}, {6, 4, 5}, {5, 4, 5}, {6, 5, 6}, {10, 6, 7}}) {
    EXPECT_EQ(refusal(consortium(n, t, m)), "") << n << " " << t << " " << m;
  }
  // t >= 2 always; t <= n.
  EXPECT_EQ(refusal(consortium(3, 1, 3)), "ThresholdBelowTwo");
  EXPECT_EQ(refusal(consortium(3, 0, 3)), "ThresholdBelowTwo");
  EXPECT_EQ(refusal(consortium(5, 1, 5)), "ThresholdBelowTwo");
  EXPECT_EQ(refusal(consortium(3, 4, 3)), "BadThreshold");
  // t > n/2: t = n/2 and below are refused.
  EXPECT_EQ(refusal(consortium(4, 2, 3)), "ThresholdNotMajority");
  EXPECT_EQ(refusal(consortium(6, 3, 4)), "ThresholdNotMajority");
  EXPECT_EQ(refusal(consortium(5, 2, 3)), "ThresholdNotMajority");
  // min_contributors >= max(3, t + 1), <= n (so t = n and two hospitals never pass).
  EXPECT_EQ(refusal(consortium(3, 2, 2)), "MinContributorsBelowFloor");
  EXPECT_EQ(refusal(consortium(3, 2, 0)), "MinContributorsBelowFloor");
  EXPECT_EQ(refusal(consortium(5, 3, 3)), "MinContributorsBelowFloor");
  EXPECT_EQ(refusal(consortium(3, 3, 3)), "MinContributorsBelowFloor");
  EXPECT_EQ(refusal(consortium(2, 2, 2)), "MinContributorsBelowFloor");
  EXPECT_EQ(refusal(consortium(3, 2, 4)), "BadMinContributors");
  // The membership itself.
  EXPECT_EQ(refusal(consortium(0, 2, 3)), "NoHospital");
  Consortium dup_party = consortium(3, 2, 3);
  dup_party.members[1].party_id = 0;
  EXPECT_EQ(refusal(dup_party), "DuplicateParty");
  Consortium dup_addr = consortium(3, 2, 3);
  dup_addr.members[3].address = dup_addr.members[0].address;
  EXPECT_EQ(refusal(dup_addr), "DuplicateAddress");
  Consortium zero = consortium(3, 2, 3);
  zero.members[2].address = "0x" + std::string(40, '0');
  EXPECT_EQ(refusal(zero), "BadAddress");

  // A consortium file passes the same check.
  const std::string file = R"({"federation_id": "f", "threshold": T, "min_contributors": 3, "members": [
    {"party_id": 0, "role": "hospital", "address": "0x0000000000000000000000000000000000000001"},
    {"party_id": 1, "role": "hospital", "address": "0x0000000000000000000000000000000000000002"},
    {"party_id": 2, "role": "hospital", "address": "0x0000000000000000000000000000000000000003"},
    {"party_id": 9, "role": "coordinator", "address": "0x0000000000000000000000000000000000000009"}]})";
  auto with_t = [&](const char* t) { return std::string(file).replace(file.find('T'), 1, t); };
  EXPECT_TRUE(parse_consortium(with_t("2")).ok()) << parse_consortium(with_t("2")).status().to_string();
  const auto t1 = parse_consortium(with_t("1"));
  ASSERT_FALSE(t1.ok());
  EXPECT_EQ(t1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t1.status().message().find("ThresholdBelowTwo"), std::string::npos) << t1.status().to_string();
  const auto t3 = parse_consortium(with_t("3"));
  ASSERT_FALSE(t3.ok());
  EXPECT_NE(t3.status().message().find("MinContributorsBelowFloor"), std::string::npos) << t3.status().to_string();
}

TEST_F(EvmLedgerTest, InvalidConsortiumIsRefusedBeforeAnyTransaction) {
  auto chain = EvmLedger::open(*parse_ledger_uri(chain_uri()), false).value();
  fl::Federation fed(config(), trainers(), aggregator(), *chain, {0, 0, 0, 0});
  // consortium_of refuses what the contract would revert (3 hospitals: only t = 2, min_contributors = 3 pass).
  for (auto [t, m] : {std::pair<std::uint32_t, std::uint32_t>{1, 3}, {2, 2}, {3, 3}, {0, 3}, {2, 4}}) {
    auto c = consortium_of("evm-test", fed.participants(), t, m);
    EXPECT_FALSE(c.ok()) << "t = " << t << ", min_contributors = " << m;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << c.status().to_string();
  }
  const auto t1 = consortium_of("evm-test", fed.participants(), 1, 3);
  EXPECT_NE(t1.status().message().find("ThresholdBelowTwo"), std::string::npos) << t1.status().to_string();
  ASSERT_TRUE(consortium_of("evm-test", fed.participants(), 2, 3).ok());

  // deploy() sends nothing for an invalid consortium: the deployer's nonce does not move.
  RpcClient rpc(url());
  const Address deployer = *address_of(dev_signer(0)->identity());
  const std::uint64_t nonce = *rpc.get_transaction_count(deployer, "pending");
  Consortium bad = consortium_of("evm-test", fed.participants(), 2, 3).value();
  bad.threshold = 1;
  auto r = chain->deploy(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("ThresholdBelowTwo"), std::string::npos) << r.status().to_string();
  bad.threshold = 2;
  bad.min_contributors = 2;
  EXPECT_NE(chain->deploy(bad).status().message().find("MinContributorsBelowFloor"), std::string::npos);
  EXPECT_EQ(*rpc.get_transaction_count(deployer, "pending"), nonce);
  EXPECT_EQ(chain->stats().transactions, 0u);
  EXPECT_EQ(chain->contract_address(), "");
  // The valid one deploys.
  bad.min_contributors = 3;
  ASSERT_TRUE(chain->deploy(bad).ok());
  EXPECT_EQ(*rpc.get_transaction_count(deployer, "pending"), nonce + 1);
}

TEST_F(EvmLedgerTest, OffChainConsortiumCheckAgreesWithTheContractsConstructor) {
  // Every n <= 6 hospitals, t <= 7, min_contributors <= 7: the constructor (simulated with eth_call, nothing
  // mined) reverts exactly when check_consortium refuses, with the custom error the refusal names.
  RpcClient rpc(url());
  const Address from = *address_of(dev_signer(0)->identity());
  const Bytes code = *parse_data_hex("0x" + std::string(artifact::kBytecodeHex));
  const auto types = *abi::parse_types("bytes32,uint32[],address[],uint8[],uint32,uint32");
  int accepted = 0, refused = 0;
  for (std::uint32_t n = 1; n <= 6; ++n) {
    for (std::uint32_t t = 0; t <= 7; ++t) {
      for (std::uint32_t m = 0; m <= 7; ++m) {
        const Consortium c = consortium(n, t, m);
        std::vector<abi::Value> ids, addrs, roles;
        for (const auto& mem : c.members) {
          ids.push_back(abi::Value::uint(mem.party_id));
          addrs.push_back(abi::Value::address(*Address::from_hex(mem.address)));
          roles.push_back(abi::Value::uint(static_cast<std::uint64_t>(mem.role)));
        }
        Bytes data = code;
        const Bytes args = *abi::encode(
            types, {abi::Value::bytes32(keccak256(c.federation_id)), abi::Value::array(ids), abi::Value::array(addrs),
                    abi::Value::array(roles), abi::Value::uint(t), abi::Value::uint(m)});
        data.insert(data.end(), args.begin(), args.end());
        CallRequest req;
        req.from = from;
        req.data = std::move(data);
        RpcError err;
        const bool on_chain = rpc.eth_call(req, "latest", &err).ok();
        const std::string off_chain = refusal(c);
        SCOPED_TRACE("n = " + std::to_string(n) + ", t = " + std::to_string(t) + ", m = " + std::to_string(m));
        EXPECT_EQ(on_chain, off_chain.empty()) << off_chain;
        if (!on_chain) {
          ASSERT_TRUE(err.selector().has_value()) << err.message;
          EXPECT_EQ(*err.selector(), abi::selector(off_chain + "()"));
        }
        ++(on_chain ? accepted : refused);
      }
    }
  }
  EXPECT_EQ(accepted, 8);  // n = 3: (2, 3); 4: (3, 4); 5: (3, 4), (3, 5), (4, 5); 6: (4, 5), (4, 6), (5, 6)
  EXPECT_EQ(accepted + refused, 6 * 8 * 8);
}

TEST_F(EvmLedgerTest, UrisAreCheckedBeforeAnyTransaction) {
  const std::string hostport = url().substr(std::string("http://").size());
  EXPECT_EQ(EvmLedger::open(*parse_ledger_uri("evm://" + hostport + "?nonsense=1"), false).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EvmLedger::open(*parse_ledger_uri("evm://" + hostport + "?key=0x1234"), false).status().code(),
            StatusCode::kInvalidArgument);
  // A contract address with nothing deployed there.
  EXPECT_EQ(EvmLedger::open(*parse_ledger_uri("evm://" + hostport + "?contract=0x" + std::string(40, '1')), true)
                .status()
                .code(),
            StatusCode::kNotFound);
  // A port nobody listens on.
  EXPECT_EQ(
      EvmLedger::open(*parse_ledger_uri("evm://127.0.0.1:1?contract=0x" + std::string(40, '1')), true).status().code(),
      StatusCode::kUnavailable);
}

}  // namespace
}  // namespace heal::ledger::evm
