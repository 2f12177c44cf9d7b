// Embedded SQLite ledger backend. Append-only by construction: triggers abort UPDATE and DELETE,
// and an INSERT anywhere but the next height. Someone with write access to the file can still drop
// the triggers; the hash chain and signatures are what detect that (Ledger::verify).
#include "heal/ledger/backends/sqlite_ledger.h"

#include <sqlite3.h>

#include <filesystem>

namespace heal::ledger {

namespace {

constexpr const char* kSchemaVersion = "1";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 'heal-ledger'), ('schema_version', '1');
CREATE TABLE IF NOT EXISTS blocks(
  height INTEGER PRIMARY KEY CHECK (height >= 0),
  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
  record BLOB NOT NULL,
  signatures BLOB NOT NULL,
  hash BLOB NOT NULL CHECK (length(hash) = 32));
CREATE TRIGGER IF NOT EXISTS blocks_no_update BEFORE UPDATE ON blocks
BEGIN SELECT RAISE(ABORT, 'heal ledger is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS blocks_no_delete BEFORE DELETE ON blocks
BEGIN SELECT RAISE(ABORT, 'heal ledger is append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS blocks_next_height BEFORE INSERT ON blocks
WHEN NEW.height IS NOT (SELECT COALESCE(MAX(height) + 1, 0) FROM blocks)
BEGIN SELECT RAISE(ABORT, 'heal ledger: a block must be appended at the next height'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON meta
BEGIN SELECT RAISE(ABORT, 'heal ledger metadata is read-only'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_delete BEFORE DELETE ON meta
BEGIN SELECT RAISE(ABORT, 'heal ledger metadata is read-only'); END;
)sql";

/// Finalizes a prepared statement on scope exit.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

Status db_error(sqlite3* db, const std::string& what) {
  return Status::io_error("sqlite " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

Status get_blob(sqlite3_stmt* s, int col, std::size_t exact, Bytes* out, const char* name) {
  if (sqlite3_column_type(s, col) != SQLITE_BLOB) {
    // An empty blob reads back as NULL type in some paths; treat only a real BLOB as valid.
    return Status::corruption(std::string("column ") + name + " is not a BLOB");
  }
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, col));
  const int n = sqlite3_column_bytes(s, col);
  if (n < 0 || (exact != 0 && static_cast<std::size_t>(n) != exact)) {
    return Status::corruption(std::string("column ") + name + " has " + std::to_string(n) + " bytes, expected " +
                              std::to_string(exact));
  }
  if (static_cast<std::size_t>(n) > kMaxRecordBytes) return Status::corruption(std::string("column ") + name + " is too large");
  out->assign(p, p + n);
  return {};
}

}  // namespace

struct SqliteLedger::Impl {
  sqlite3* db = nullptr;
  ~Impl() { sqlite3_close(db); }
};

SqliteLedger::SqliteLedger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteLedger::~SqliteLedger() = default;

static Result<std::unique_ptr<SqliteLedger::Impl>> open_db(const std::string& path, int flags) {
  auto impl = std::make_unique<SqliteLedger::Impl>();
  if (sqlite3_open_v2(path.c_str(), &impl->db, flags, nullptr) != SQLITE_OK) {
    return db_error(impl->db, "cannot open '" + path + "'");
  }
  sqlite3_busy_timeout(impl->db, 5000);
  return impl;
}

static Status check_schema(sqlite3* db, const std::string& path) {
  Stmt st;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st.s, nullptr) != SQLITE_OK) {
    return Status::corruption("'" + path + "' is not a HEAL ledger (" + sqlite3_errmsg(db) + ")");
  }
  if (sqlite3_step(st.s) != SQLITE_ROW) return Status::corruption("'" + path + "' has no ledger schema version");
  const auto* v = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
  if (!v || std::string(v) != kSchemaVersion) {
    return Status::unsupported("ledger schema version '" + std::string(v ? v : "") + "' is not supported");
  }
  Stmt t;
  if (sqlite3_prepare_v2(db, "SELECT height, prev_hash, record, signatures, hash FROM blocks LIMIT 0", -1, &t.s,
                         nullptr) != SQLITE_OK) {
    return Status::corruption("'" + path + "' has no valid blocks table (" + sqlite3_errmsg(db) + ")");
  }
  return {};
}

Result<std::unique_ptr<SqliteLedger>> SqliteLedger::open(const std::string& path) {
  HEAL_ASSIGN_OR_RETURN(auto impl, open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  char* err = nullptr;
  if (sqlite3_exec(impl->db, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::corruption("'" + path + "' cannot hold a HEAL ledger: " + msg);
  }
  HEAL_RETURN_IF_ERROR(check_schema(impl->db, path));
  // WAL + synchronous=NORMAL: an application crash never loses a committed block; a power loss may
  // lose the last few, which verify() then sees as a shorter (still valid) chain.
  sqlite3_exec(impl->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr, nullptr);
  return std::unique_ptr<SqliteLedger>(new SqliteLedger(std::move(impl)));
}

Result<std::unique_ptr<SqliteLedger>> SqliteLedger::open_read_only(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::not_found("ledger file '" + path + "' does not exist");
  HEAL_ASSIGN_OR_RETURN(auto impl, open_db(path, SQLITE_OPEN_READONLY));
  HEAL_RETURN_IF_ERROR(check_schema(impl->db, path));
  return std::unique_ptr<SqliteLedger>(new SqliteLedger(std::move(impl)));
}

Result<std::uint64_t> SqliteLedger::size() const {
  // MAX + 1 rather than COUNT: a deleted row then shows up as a missing height, not a shorter chain.
  Stmt st;
  if (sqlite3_prepare_v2(impl_->db, "SELECT COALESCE(MAX(height) + 1, 0) FROM blocks", -1, &st.s, nullptr) != SQLITE_OK ||
      sqlite3_step(st.s) != SQLITE_ROW) {
    return db_error(impl_->db, "counting blocks");
  }
  const sqlite3_int64 n = sqlite3_column_int64(st.s, 0);
  if (n < 0) return Status::corruption("negative block count");
  return static_cast<std::uint64_t>(n);
}

Result<Block> SqliteLedger::block(std::uint64_t height) const {
  if (height > static_cast<std::uint64_t>(INT64_MAX)) return Status::out_of_range("height too large");
  Stmt st;
  if (sqlite3_prepare_v2(impl_->db, "SELECT height, prev_hash, record, signatures, hash FROM blocks WHERE height = ?",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return db_error(impl_->db, "reading block");
  }
  sqlite3_bind_int64(st.s, 1, static_cast<sqlite3_int64>(height));
  const int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return Status::not_found("block " + std::to_string(height) + " is missing");
  if (rc != SQLITE_ROW) return db_error(impl_->db, "reading block " + std::to_string(height));
  Block b;
  b.height = static_cast<std::uint64_t>(sqlite3_column_int64(st.s, 0));
  Bytes prev, hash;
  HEAL_RETURN_IF_ERROR(get_blob(st.s, 1, 32, &prev, "prev_hash"));
  HEAL_RETURN_IF_ERROR(get_blob(st.s, 2, 0, &b.record, "record"));
  HEAL_RETURN_IF_ERROR(get_blob(st.s, 3, 0, &b.signatures, "signatures"));
  HEAL_RETURN_IF_ERROR(get_blob(st.s, 4, 32, &hash, "hash"));
  std::copy(prev.begin(), prev.end(), b.prev_hash.begin());
  std::copy(hash.begin(), hash.end(), b.hash.begin());
  return b;
}

Status SqliteLedger::store(const Block& b) {
  Stmt st;
  if (sqlite3_prepare_v2(impl_->db,
                         "INSERT INTO blocks(height, prev_hash, record, signatures, hash) VALUES (?, ?, ?, ?, ?)", -1,
                         &st.s, nullptr) != SQLITE_OK) {
    return db_error(impl_->db, "preparing append");
  }
  sqlite3_bind_int64(st.s, 1, static_cast<sqlite3_int64>(b.height));
  sqlite3_bind_blob(st.s, 2, b.prev_hash.data(), 32, SQLITE_STATIC);
  sqlite3_bind_blob(st.s, 3, b.record.data(), static_cast<int>(b.record.size()), SQLITE_STATIC);
  sqlite3_bind_blob(st.s, 4, b.signatures.data(), static_cast<int>(b.signatures.size()), SQLITE_STATIC);
  sqlite3_bind_blob(st.s, 5, b.hash.data(), 32, SQLITE_STATIC);
  if (sqlite3_step(st.s) != SQLITE_DONE) return db_error(impl_->db, "appending block " + std::to_string(b.height));
  return {};
}

}  // namespace heal::ledger
