// A node's key material and safeguards at rest (heal/fl/node_store.h; src/fl/README.md, "Node
// state at rest").
#include "heal/fl/node_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <variant>

#include "heal/core/serialization.h"
#include "heal/ledger/ledger.h"
#include "heal/ledger/record.h"

namespace heal::fl {

namespace {
constexpr std::uint8_t kContributedFlag = 1;
constexpr std::uint8_t kDecryptedFlag = 2;
constexpr std::uint64_t kMaxMaterial = std::uint64_t{1} << 30;

// The process lock: an exclusive flock on `<path>.lock`, a file of its own because the store file
// is replaced on every write (rename) and a lock on it would stay with the old inode. flock locks
// belong to the open file description, so a second NodeStore in the same process conflicts too,
// and the kernel drops the lock when the holder exits or is killed. The lock file is never removed
// (removing it would let a waiter and a newcomer lock two different files).
class LockFd {
 public:
  explicit LockFd(int fd = -1) : fd_(fd) {}
  ~LockFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  LockFd(const LockFd&) = delete;
  LockFd& operator=(const LockFd&) = delete;
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Result<int> lock_store(const std::string& path) {
  const std::string lock_path = path + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::io_error("cannot open the node store lock " + lock_path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) {
      return Status::failed_precondition("node store " + path + " is in use by another process (" + lock_path +
                                         " is locked); two parties acting on one store could repeat an action");
    }
    return Status::io_error("cannot lock " + lock_path + ": " + std::strerror(e));
  }
  return fd;
}

std::string round_text(const std::optional<std::uint64_t>& r) { return r ? "round " + std::to_string(*r) : "none"; }
}  // namespace

Result<LedgerActivity> ledger_activity(const ledger::Ledger& ledger, PartyId party, const Digest& key_epoch) {
  LedgerActivity out;
  // Only verified blocks are read: the height is taken first, then current_setup() verifies up to
  // the head (at least that height).
  HEAL_ASSIGN_OR_RETURN(std::uint64_t height, ledger.size());
  if (auto setup = ledger.current_setup(); !setup.ok()) {
    if (setup.status().code() == StatusCode::kNotFound) return out;  // no setup yet: nothing done under it
    return setup.status().with_context("reading the ledger for this party's rounds");
  }
  bool in_epoch = false;  // the records since the last setup belong to its key epoch
  auto raise = [](std::optional<std::uint64_t>& r, std::uint64_t round) {
    if (!r || round > *r) r = round;
  };
  for (std::uint64_t h = 0; h < height; ++h) {
    HEAL_ASSIGN_OR_RETURN(ledger::Block b, ledger.block(h));
    HEAL_ASSIGN_OR_RETURN(ledger::Record rec, ledger::decode_record(b.record));
    if (const auto* setup = std::get_if<ledger::RoundSetup>(&rec.body)) {
      in_epoch = setup->collective_public_key_hash == key_epoch;
    } else if (!in_epoch) {
      continue;
    } else if (const auto* c = std::get_if<ledger::UpdateCommitment>(&rec.body)) {
      if (c->party_id == party) raise(out.contributed_round, c->round);
    } else if (const auto* r = std::get_if<ledger::RoundResult>(&rec.body)) {
      if (std::find(r->decryptors.begin(), r->decryptors.end(), party) != r->decryptors.end()) {
        raise(out.decrypted_round, r->round);
      }
    }
  }
  return out;
}

SecretBytes encode_node_state(const NodeState& state) {
  const PartySafeguards& s = state.safeguards;
  Bytes out;
  out.reserve(kHeaderSize + 160 + state.material.size());  // one allocation: no stray copies of the secret
  ByteWriter w(&out);
  const std::size_t start = begin_object(w, ObjectType::kFlNodeState, kNodeStateVersion);
  w.put<std::uint32_t>(s.party);
  w.put_bytes(s.key_epoch);
  w.put<std::uint64_t>(s.decryption_budget);
  w.put<std::uint64_t>(s.decryptions_used);
  w.put<std::uint8_t>(static_cast<std::uint8_t>((s.contributed_round ? kContributedFlag : 0) |
                                                (s.decrypted_round ? kDecryptedFlag : 0)));
  w.put<std::uint64_t>(s.contributed_round.value_or(0));
  w.put<std::uint64_t>(s.decrypted_round.value_or(0));
  w.put_bytes(s.decrypted_aggregate);
  w.put<std::uint32_t>(s.shares_in_round);
  w.put<std::uint64_t>(s.writes);
  w.put<std::uint64_t>(state.material.size());
  w.put_bytes(state.material.span());
  end_object(w, start);
  return SecretBytes(std::move(out));
}

Result<NodeState> decode_node_state(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  auto h = read_header(r, ObjectType::kFlNodeState, kNodeStateVersion);
  if (!h.ok()) return h.status().with_context("node state");
  if (h->payload_size != r.remaining()) return Status::corruption("node state: bytes after the payload");
  NodeState st;
  PartySafeguards& s = st.safeguards;
  std::span<const std::uint8_t> epoch, agg, material;
  std::uint8_t flags = 0;
  std::uint64_t contributed = 0, decrypted = 0, material_len = 0;
  HEAL_RETURN_IF_ERROR(r.get(&s.party));
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &epoch));
  HEAL_RETURN_IF_ERROR(r.get(&s.decryption_budget));
  HEAL_RETURN_IF_ERROR(r.get(&s.decryptions_used));
  HEAL_RETURN_IF_ERROR(r.get(&flags));
  HEAL_RETURN_IF_ERROR(r.get(&contributed));
  HEAL_RETURN_IF_ERROR(r.get(&decrypted));
  HEAL_RETURN_IF_ERROR(r.get_bytes(32, &agg));
  HEAL_RETURN_IF_ERROR(r.get(&s.shares_in_round));
  HEAL_RETURN_IF_ERROR(r.get(&s.writes));
  HEAL_RETURN_IF_ERROR(r.get(&material_len));
  if (flags & ~(kContributedFlag | kDecryptedFlag)) return Status::corruption("node state: unknown flags");
  if (material_len > kMaxMaterial || material_len != r.remaining()) {
    return Status::corruption("node state: material length " + std::to_string(material_len) + " does not match the " +
                              std::to_string(r.remaining()) + " bytes present");
  }
  HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(material_len), &material));
  if (s.decryption_budget > 0 && s.decryptions_used > s.decryption_budget) {
    return Status::corruption("node state: more decryptions used than the budget allows");
  }
  // Canonical: the fields of an absent round are zero (one state, one encoding).
  const bool zero_agg = std::all_of(agg.begin(), agg.end(), [](std::uint8_t x) { return x == 0; });
  if ((!(flags & kContributedFlag) && contributed != 0) ||
      (!(flags & kDecryptedFlag) && (decrypted != 0 || !zero_agg || s.shares_in_round != 0))) {
    return Status::corruption("node state: fields of an absent round are not zero");
  }
  std::memcpy(s.key_epoch.data(), epoch.data(), 32);
  std::memcpy(s.decrypted_aggregate.data(), agg.data(), 32);
  if (flags & kContributedFlag) s.contributed_round = contributed;
  if (flags & kDecryptedFlag) s.decrypted_round = decrypted;
  st.material = SecretBytes(Bytes(material.begin(), material.end()));
  return st;
}

NodeStore::NodeStore(std::string path, VaultKey key, NodeState state, int lock_fd)
    : path_(std::move(path)), key_(std::move(key)), state_(std::move(state)), lock_fd_(lock_fd) {}

NodeStore::~NodeStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<NodeStore>> NodeStore::create(const std::string& path, std::string_view passphrase,
                                                     PartyId party, const Digest& key_epoch,
                                                     std::uint64_t decryption_budget, SecretBytes material,
                                                     const VaultKdf& kdf) {
  HEAL_ASSIGN_OR_RETURN(int fd, lock_store(path));
  LockFd lock(fd);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    return Status::failed_precondition(path +
                                       " already exists; refusing to replace a node store (its safeguards "
                                       "would be lost)");
  }
  if (errno != ENOENT) return Status::io_error("cannot stat " + path + ": " + std::strerror(errno));
  auto key = VaultKey::derive(passphrase, kdf);
  if (!key.ok()) return key.status();
  NodeState state;
  state.safeguards.party = party;
  state.safeguards.key_epoch = key_epoch;
  state.safeguards.decryption_budget = decryption_budget;
  state.material = std::move(material);
  std::unique_ptr<NodeStore> store(new NodeStore(path, std::move(*key), std::move(state), lock.release()));
  HEAL_RETURN_IF_ERROR(store->persist());
  return store;
}

Result<std::unique_ptr<NodeStore>> NodeStore::open(const std::string& path, std::string_view passphrase,
                                                   const VaultOpenOptions& options) {
  HEAL_ASSIGN_OR_RETURN(int fd, lock_store(path));  // before reading: the state read is the one this object owns
  LockFd lock(fd);
  VaultKey key;
  auto plain = read_vault_file(path, passphrase, options, &key);
  if (!plain.ok()) return plain.status();
  auto state = decode_node_state(plain->span());
  if (!state.ok()) return state.status().with_context(path);
  return std::unique_ptr<NodeStore>(new NodeStore(path, std::move(key), std::move(*state), lock.release()));
}

Status NodeStore::persist() {
  ++state_.safeguards.writes;
  const SecretBytes plain = encode_node_state(state_);
  if (Status st = write_vault_file(path_, key_, plain.span()); !st.ok()) {
    return st.with_context("node store: could not record the safeguard state; refusing to act");
  }
  return {};
}

Status NodeStore::check_contribution(std::uint64_t round) const {
  const auto& s = state_.safeguards;
  if (s.contributed_round && round <= *s.contributed_round) {
    return Status::invalid_argument("node store: this party already contributed in round " +
                                    std::to_string(*s.contributed_round) +
                                    "; refusing to encrypt again under a used round's public polynomials");
  }
  return {};
}

Status NodeStore::check_ledger(const ledger::Ledger& ledger) const {
  const auto& s = state_.safeguards;
  HEAL_ASSIGN_OR_RETURN(LedgerActivity seen, ledger_activity(ledger, s.party, s.key_epoch));
  auto later = [](const std::optional<std::uint64_t>& ledger_round, const std::optional<std::uint64_t>& store_round) {
    return ledger_round && (!store_round || *ledger_round > *store_round);
  };
  std::string what;
  if (later(seen.contributed_round, s.contributed_round)) {
    what = "the ledger holds this party's update commitment for round " + std::to_string(*seen.contributed_round) +
           ", the store's last contribution is " + round_text(s.contributed_round);
  } else if (later(seen.decrypted_round, s.decrypted_round)) {
    what = "the ledger lists this party as a decryptor in round " + std::to_string(*seen.decrypted_round) +
           ", the store's last decryption is " + round_text(s.decrypted_round);
  } else {
    return {};
  }
  return Status::failed_precondition(
      "node store is older than the ledger: possible rollback; " + what + " (party " + std::to_string(s.party) + ", " +
      path_ + "). Refusing to act: put back the newest copy of the store, or start a new key epoch");
}

Status NodeStore::bind_ledger(const ledger::Ledger& ledger) {
  ledger_ = &ledger;
  return check_ledger(ledger);
}

Status NodeStore::check_bound_ledger() const { return ledger_ ? check_ledger(*ledger_) : Status{}; }

Status NodeStore::record_contribution(std::uint64_t round) {
  HEAL_RETURN_IF_ERROR(check_contribution(round));
  HEAL_RETURN_IF_ERROR(check_bound_ledger());
  state_.safeguards.contributed_round = round;  // kept even if the write fails: stricter, never looser
  return persist();
}

Status NodeStore::check_decryption(std::uint64_t round, const Digest& aggregate, std::uint64_t ciphertexts,
                                   std::uint32_t max_shares_in_round) const {
  const auto& s = state_.safeguards;
  if (s.decrypted_round) {
    if (round < *s.decrypted_round) {
      return Status::invalid_argument("node store: decryption request for round " + std::to_string(round) +
                                      ", earlier than round " + std::to_string(*s.decrypted_round) +
                                      " already decrypted");
    }
    if (round == *s.decrypted_round && aggregate != s.decrypted_aggregate) {
      return Status::invalid_argument("node store: a different aggregate was already decrypted in round " +
                                      std::to_string(round));
    }
    if (round == *s.decrypted_round && max_shares_in_round > 0 && s.shares_in_round >= max_shares_in_round) {
      return Status::out_of_range("node store: already shared round " + std::to_string(round) + "'s aggregate " +
                                  std::to_string(s.shares_in_round) + " times");
    }
  }
  if (s.decryption_budget > 0 &&
      (ciphertexts > s.decryption_budget || s.decryptions_used > s.decryption_budget - ciphertexts)) {
    return Status::out_of_range("node store: flooding budget of this key epoch exhausted (" +
                                std::to_string(s.decryptions_used) + " of " + std::to_string(s.decryption_budget) +
                                " decryptions used); rotate keys");
  }
  return {};
}

Status NodeStore::record_decryption(std::uint64_t round, const Digest& aggregate, std::uint64_t ciphertexts,
                                    std::uint32_t max_shares_in_round) {
  HEAL_RETURN_IF_ERROR(check_decryption(round, aggregate, ciphertexts, max_shares_in_round));
  HEAL_RETURN_IF_ERROR(check_bound_ledger());
  auto& s = state_.safeguards;
  if (!s.decrypted_round || *s.decrypted_round != round) s.shares_in_round = 0;
  s.decrypted_round = round;
  s.decrypted_aggregate = aggregate;
  ++s.shares_in_round;
  s.decryptions_used += ciphertexts;
  return persist();
}

}  // namespace heal::fl
