#include "heal/ledger/ledger.h"

#include <chrono>
#include <map>

namespace heal::ledger {

std::string VerifyReport::summary() const {
  if (!ok) {
    return "FAILED at height " + (bad_height ? std::to_string(*bad_height) : std::string("?")) + ": " + reason +
           " (" + std::to_string(counts.blocks) + " blocks before it verified)";
  }
  return "OK: " + std::to_string(counts.blocks) + " blocks, " + std::to_string(counts.signatures) + " signatures, " +
         std::to_string(counts.setups) + " setups, " + std::to_string(counts.rounds_opened) + " rounds opened, " +
         std::to_string(counts.commitments) + " commitments, " + std::to_string(counts.contributor_sets) +
         " contributor sets, " + std::to_string(counts.rounds_completed) + " rounds completed, " +
         std::to_string(counts.rounds_failed) + " failed, " + std::to_string(counts.model_versions) + " model versions" +
         (counts.ensemble_records ? ", " + std::to_string(counts.ensemble_records) + " ensemble records" : std::string()) +
         "; head " + digest_hex(head_hash);
}

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Result<Block> Ledger::append(const SignedRecord& sr) {
  const auto t0 = std::chrono::steady_clock::now();
  Result<Block> r = append_block(sr);  // its catch-up counts as append time
  ++timing_.appends;
  timing_.append_seconds += seconds_since(t0);
  return r;
}

Result<Block> Ledger::append_block(const SignedRecord& sr) {
  // Several writers may share one ledger (node processes on one host share a SQLite file): when the
  // store refuses a block because another writer took its height meanwhile, catch up and check the
  // record again against the longer chain, a bounded number of times.
  constexpr int kMaxAttempts = 16;
  for (int attempt = 1;; ++attempt) {
    HEAL_RETURN_IF_ERROR(sync());
    HEAL_RETURN_IF_ERROR(validator_.check_candidate(sr));
    Block b;
    b.height = validator_.next_height();
    b.prev_hash = validator_.head_hash();
    b.record = sr.record;
    b.signatures = encode_signatures(sr.signatures);
    b.hash = compute_block_hash(b.height, b.prev_hash, b.record, b.signatures);
    Status stored = store(b);
    if (!stored.ok()) {
      Result<std::uint64_t> n = size();
      if (attempt < kMaxAttempts && n.ok() && *n > b.height) {  // another writer's block is there
        // A backend that assigns the height itself (EVM: the contract's order of transactions) may
        // have stored this very block at a later height than the one it was built for: then it is
        // appended, and appending it again would be refused as a duplicate. Found after catching up.
        if (assigns_heights()) {
          HEAL_RETURN_IF_ERROR(sync());
          for (std::uint64_t h = b.height; h < *n; ++h) {
            HEAL_ASSIGN_OR_RETURN(Block got, block(h));
            if (got.record == b.record && got.signatures == b.signatures) return got;
          }
        }
        continue;
      }
      return stored;
    }
    HEAL_RETURN_IF_ERROR(validator_.accept(b).with_context("appended block"));
    return b;
  }
}

Result<Block> Ledger::head() const {
  HEAL_ASSIGN_OR_RETURN(std::uint64_t n, size());
  if (n == 0) return Status::not_found("the ledger is empty");
  return block(n - 1);
}

Status Ledger::for_each(const std::function<Status(const Block&)>& fn) const {
  HEAL_ASSIGN_OR_RETURN(std::uint64_t n, size());
  for (std::uint64_t h = 0; h < n; ++h) {
    HEAL_ASSIGN_OR_RETURN(Block b, block(h));
    HEAL_RETURN_IF_ERROR(fn(b));
  }
  return {};
}

VerifyReport Ledger::verify(const std::optional<Digest>& expected_head) const {
  VerifyReport rep;
  ChainValidator v;
  Result<std::uint64_t> n = size();
  if (!n.ok()) {
    rep.ok = false;
    rep.reason = n.status().to_string();
    return rep;
  }
  for (std::uint64_t h = 0; h < *n; ++h) {
    Result<Block> b = block(h);
    Status s = b.ok() ? v.accept(*b) : b.status();
    if (!s.ok()) {
      rep.ok = false;
      rep.bad_height = h;
      rep.reason = s.message();
      break;
    }
  }
  rep.counts = v.counts();
  rep.head_hash = v.head_hash();
  if (rep.ok && *n == 0) {
    rep.ok = false;
    rep.reason = "the ledger is empty";
  }
  if (rep.ok && expected_head && *expected_head != v.head_hash()) {
    rep.ok = false;
    rep.bad_height = *n - 1;
    rep.reason = "head hash differs from the expected " + digest_hex(*expected_head) + " (blocks missing or replaced)";
  }
  return rep;
}

Status Ledger::catch_up() const {
  const auto t0 = std::chrono::steady_clock::now();
  Status s = sync();
  timing_.read_seconds += seconds_since(t0);
  return s;
}

Status Ledger::sync() const {
  HEAL_ASSIGN_OR_RETURN(std::uint64_t n, size());
  if (validator_.broken()) return Status::failed_precondition("the ledger failed verification");
  if (n < validator_.next_height()) {
    return Status::corruption("the ledger shrank from " + std::to_string(validator_.next_height()) + " to " +
                              std::to_string(n) + " blocks");
  }
  for (std::uint64_t h = validator_.next_height(); h < n; ++h) {
    Result<Block> b = block(h);
    Status s = b.ok() ? validator_.accept(*b) : b.status();
    if (!s.ok())
      return Status::failed_precondition("ledger block " + std::to_string(h) + " fails verification: " + s.message());
  }
  return {};
}

Status Ledger::check_model(std::uint64_t version, const Digest& model_hash) const {
  Status s = catch_up();
  if (!s.ok()) return Status::corruption("cannot check the model: " + s.message());
  std::optional<Digest> want = validator_.model_hash(version);
  if (!want) return Status::not_found("model v" + std::to_string(version) + " is not on the ledger");
  if (*want != model_hash) {
    return Status::corruption("model v" + std::to_string(version) + " has hash " + digest_hex(model_hash) +
                              " but the ledger records " + digest_hex(*want) + " (model-inconsistency attack?)");
  }
  return {};
}

Result<std::uint64_t> Ledger::latest_model_version() const {
  HEAL_RETURN_IF_ERROR(catch_up());
  auto v = validator_.latest_model_version();
  if (!v) return Status::not_found("no model version on the ledger");
  return *v;
}

Result<std::map<std::uint32_t, Digest>> Ledger::commitments(std::uint64_t round) const {
  HEAL_RETURN_IF_ERROR(catch_up());
  return validator_.commitments(round);
}

Result<UpdateCommitment> Ledger::commitment(std::uint64_t round, std::uint32_t party) const {
  HEAL_RETURN_IF_ERROR(catch_up());
  auto c = validator_.commitment(round, party);
  if (!c)
    return Status::not_found("no commitment of party " + std::to_string(party) + " in round " + std::to_string(round));
  return *c;
}

Result<ContributorSet> Ledger::contributor_set(std::uint64_t round) const {
  HEAL_RETURN_IF_ERROR(catch_up());
  auto cs = validator_.contributor_set(round);
  if (!cs) return Status::not_found("no contributor set for round " + std::to_string(round) + " on the ledger");
  return *cs;
}

Result<RoundOpen> Ledger::open_round() const {
  HEAL_RETURN_IF_ERROR(catch_up());
  if (!validator_.open_round()) return Status::not_found("no round is open on the ledger");
  return *validator_.open_round();
}

Result<RoundSetup> Ledger::current_setup() const {
  HEAL_RETURN_IF_ERROR(catch_up());
  if (!validator_.setup()) return Status::not_found("the ledger has no setup record");
  return *validator_.setup();
}

Result<std::vector<ModelHistoryEntry>> Ledger::model_history() const {
  HEAL_RETURN_IF_ERROR(catch_up());
  std::vector<ModelHistoryEntry> out;
  std::map<std::uint64_t, std::size_t> index;  // version -> position in out
  HEAL_RETURN_IF_ERROR(for_each([&](const Block& b) -> Status {
    HEAL_ASSIGN_OR_RETURN(Record r, decode_record(b.record));
    if (const auto* m = std::get_if<ModelVersion>(&r.body)) {
      index[m->version] = out.size();
      out.push_back({m->version, m->round, b.height, m->model_hash, {}, m->metrics_json, r.issued_at_ms});
    } else if (const auto* x = std::get_if<RoundResult>(&r.body)) {
      auto it = index.find(x->model_version_out);
      if (x->status == RoundStatus::kCompleted && it != index.end()) {
        auto& e = out[it->second];
        e.participants.clear();
        for (const auto& c : x->contributions) e.participants.push_back(c.party_id);
        if (e.metrics_json.empty()) e.metrics_json = x->metrics_json;
      }
    }
    return {};
  }));
  return out;
}

Result<EnsembleSetup> Ledger::ensemble_setup() const {
  HEAL_RETURN_IF_ERROR(catch_up());
  if (!validator_.ensemble_setup()) return Status::not_found("the ledger has no ensemble setup record");
  return *validator_.ensemble_setup();
}

Result<std::vector<MemberHistoryEntry>> Ledger::member_history(std::optional<std::uint32_t> institution) const {
  HEAL_RETURN_IF_ERROR(catch_up());
  std::vector<MemberHistoryEntry> out;
  HEAL_RETURN_IF_ERROR(for_each([&](const Block& b) -> Status {
    HEAL_ASSIGN_OR_RETURN(Record r, decode_record(b.record));
    if (const auto* m = std::get_if<MemberVersion>(&r.body)) {
      if (!institution || *institution == m->institution) out.push_back({*m, b.height, r.issued_at_ms});
    }
    return {};
  }));
  return out;
}

Result<EnsembleRound> Ledger::ensemble_round(std::uint64_t round) const {
  HEAL_RETURN_IF_ERROR(catch_up());
  auto r = validator_.ensemble_round(round);
  if (!r) return Status::not_found("no ensemble round " + std::to_string(round) + " on the ledger");
  return *r;
}

Result<std::vector<EnsembleRound>> Ledger::ensemble_rounds() const {
  HEAL_RETURN_IF_ERROR(catch_up());
  std::vector<EnsembleRound> out;
  HEAL_RETURN_IF_ERROR(for_each([&](const Block& b) -> Status {
    HEAL_ASSIGN_OR_RETURN(Record r, decode_record(b.record));
    if (const auto* x = std::get_if<EnsembleRound>(&r.body)) out.push_back(*x);
    return {};
  }));
  return out;
}

}  // namespace heal::ledger
