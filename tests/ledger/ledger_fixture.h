// A small federation for ledger tests: 3 hospitals + 1 coordinator with deterministic keys, and
// helpers that write a realistic chain (setup, model v0, commitments, round, model v1, ...).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "heal/core/rng.h"
#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/ledger/ledger.h"

namespace heal::ledger::testing {

inline Digest digest_of(const std::string& s) { return blake2b_256(s); }

struct Federation {
  std::vector<std::unique_ptr<Signer>> hospitals;
  std::unique_ptr<Signer> coordinator;
  std::string id = "fed-test";

  explicit Federation(SignatureScheme scheme = SignatureScheme::kEd25519) {
    auto make = [scheme](std::uint64_t i) -> std::unique_ptr<Signer> {
      if (scheme == SignatureScheme::kSecp256k1) return Secp256k1Signer::from_seed(seed_from_u64(i));
      return Ed25519Signer::from_seed(seed_from_u64(i));
    };
    for (std::uint64_t i = 0; i < 3; ++i) hospitals.push_back(make(100 + i));
    coordinator = make(999);
  }

  Record wrap(RecordBody body) const { return Record{id, 1700000000000ull, std::move(body)}; }

  RoundSetup setup(std::uint32_t epoch = 1) const {
    RoundSetup s;
    s.key_epoch = epoch;
    s.secure_mode = "threshold-ckks";
    s.params_id = "ckks-test";
    s.params_hash = digest_of("params");
    s.collective_public_key_hash = digest_of("cpk");
    s.min_contributors = 2;
    s.decryption_threshold = 2;
    s.strategy = "fedavg";
    s.clip_norm = 1.5;
    for (std::uint32_t i = 0; i < hospitals.size(); ++i) {
      s.participants.push_back({i, Role::kHospital, "hospital-" + std::to_string(i), hospitals[i]->identity()});
    }
    s.participants.push_back({100, Role::kCoordinator, "coordinator", coordinator->identity()});
    return s;
  }

  SignedRecord by(const Signer& s, RecordBody body) const {
    const Signer* signers[] = {&s};
    return sign_record(wrap(std::move(body)), signers);
  }

  SignedRecord signed_setup() const {
    std::vector<const Signer*> all;
    for (const auto& h : hospitals) all.push_back(h.get());
    all.push_back(coordinator.get());
    return sign_record(wrap(setup()), all);
  }

  static Digest model_hash(std::uint64_t v) { return digest_of("model-" + std::to_string(v)); }

  ModelVersion model(std::uint64_t v) const {
    return ModelVersion{v, v, v == 0 ? 0 : v - 1, model_hash(v), 1234, v == 0 ? "" : R"({"val_acc":0.9})"};
  }

  UpdateCommitment commitment(std::uint64_t round, std::uint32_t party) const {
    return UpdateCommitment{round, party, round - 1, model_hash(round - 1),
                            digest_of("update-" + std::to_string(round) + "-" + std::to_string(party)), 10 + party, 1.5};
  }

  RoundOpen open(std::uint64_t round) const {
    return RoundOpen{round, 1, digest_of("params"), round - 1, model_hash(round - 1), {0, 1, 2}};
  }

  ContributorSet contributors(std::uint64_t round, const std::vector<std::uint32_t>& parties) const {
    ContributorSet cs;
    cs.round = round;
    for (auto p : parties) {
      auto c = commitment(round, p);
      cs.contributions.push_back({p, c.contribution_hash, c.num_samples});
    }
    cs.aggregate_hash = digest_of("aggregate-" + std::to_string(round));
    return cs;
  }

  RoundResult round_result(std::uint64_t round, const std::vector<std::uint32_t>& contributors) const {
    RoundResult r;
    r.round = round;
    r.key_epoch = 1;
    r.selected = {0, 1, 2};
    for (auto p : contributors) {
      auto c = commitment(round, p);
      r.contributions.push_back({p, c.contribution_hash, c.num_samples});
    }
    r.decryptors = contributors;
    r.aggregate_hash = digest_of("aggregate-" + std::to_string(round));
    r.model_version_in = round - 1;
    r.model_hash_in = model_hash(round - 1);
    r.model_version_out = round;
    r.model_hash_out = model_hash(round);
    r.strategy = "fedavg";
    r.clip_norm = 1.5;
    r.metrics_json = R"({"train_loss":0.5})";
    return r;
  }

  /// setup, model v0, then `rounds` rounds of (opening, 3 commitments, contributor set, model v_r,
  /// round result r).
  void write_chain(Ledger& l, int rounds) const {
    ASSERT_TRUE(l.append(signed_setup()).ok());
    ASSERT_TRUE(l.append(by(*coordinator, model(0))).ok());
    for (std::uint64_t r = 1; r <= static_cast<std::uint64_t>(rounds); ++r) {
      ASSERT_TRUE(l.append(by(*coordinator, open(r))).ok());
      for (std::uint32_t p = 0; p < 3; ++p) {
        auto res = l.append(by(*hospitals[p], commitment(r, p)));
        ASSERT_TRUE(res.ok()) << res.status().to_string();
      }
      ASSERT_TRUE(l.append(by(*coordinator, contributors(r, {0, 1, 2}))).ok());
      ASSERT_TRUE(l.append(by(*coordinator, model(r))).ok());
      auto res = l.append(by(*coordinator, round_result(r, {0, 1, 2})));
      ASSERT_TRUE(res.ok()) << res.status().to_string();
    }
  }
};

/// A temporary ledger file removed at scope exit.
struct TempLedgerFile {
  std::string path;
  explicit TempLedgerFile(const std::string& name) {
    path = (std::filesystem::temp_directory_path() /
            ("heal_ledger_" + name + "_" + std::to_string(::getpid()) + ".db")).string();
    std::filesystem::remove(path);
  }
  ~TempLedgerFile() { std::filesystem::remove(path); }
};

/// Raw SQLite access, as an attacker with the file would have.
struct RawDb {
  sqlite3* db = nullptr;
  explicit RawDb(const std::string& path) { EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK); }
  ~RawDb() { sqlite3_close(db); }
  int exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }
  Bytes get(const std::string& column, std::uint64_t height) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, ("SELECT " + column + " FROM blocks WHERE height = ?").c_str(), -1, &st, nullptr);
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(height));
    Bytes out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, 0));
      out.assign(p, p + sqlite3_column_bytes(st, 0));
    }
    sqlite3_finalize(st);
    return out;
  }
  int set(const std::string& column, std::uint64_t height, const Bytes& v) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, ("UPDATE blocks SET " + column + " = ? WHERE height = ?").c_str(), -1, &st, nullptr);
    sqlite3_bind_blob(st, 1, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(height));
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc;
  }
  void drop_triggers() {
    for (const char* t : {"blocks_no_update", "blocks_no_delete", "blocks_next_height"}) {
      ASSERT_EQ(exec(std::string("DROP TRIGGER ") + t), SQLITE_OK);
    }
  }
};

}  // namespace heal::ledger::testing
