// Canonical encoding of ledger records (docs/formats/ledger.md).
#include "heal/ledger/record.h"

#include <chrono>

#include "heal/core/serialization.h"
#include "record_codec_internal.h"

namespace heal::ledger {

using namespace internal;

namespace {

constexpr std::uint32_t kMaxParticipants = 4096;
constexpr std::uint32_t kMaxMetricsBytes = 64 * 1024;
constexpr std::size_t kMinParticipantBytes = 4 + 1 + 4 + 1 + 4;
constexpr std::size_t kContributionBytes = 4 + 32 + 8;

void put_u32_list(ByteWriter& w, const std::vector<std::uint32_t>& v) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(v.size()));
  for (auto x : v) w.put<std::uint32_t>(x);
}

Status get_u32_list(ByteReader& r, std::vector<std::uint32_t>* v, const char* what) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, &n, kMaxParticipants, 4, what));
  v->resize(n);
  for (auto& x : *v) HEAL_RETURN_IF_ERROR(r.get(&x));
  return {};
}

void put_contributions(ByteWriter& w, const std::vector<Contribution>& v);
Status get_contributions(ByteReader& r, std::vector<Contribution>* v);

void encode_body(ByteWriter& w, const RoundSetup& s) {
  w.put<std::uint32_t>(s.key_epoch);
  w.put_string(s.secure_mode);
  w.put_string(s.params_id);
  put_digest(w, s.params_hash);
  put_digest(w, s.collective_public_key_hash);
  w.put<std::uint32_t>(s.min_contributors);
  w.put<std::uint32_t>(s.decryption_threshold);
  w.put_string(s.strategy);
  w.put<double>(s.clip_norm);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(s.participants.size()));
  for (const auto& p : s.participants) {
    w.put<std::uint32_t>(p.party_id);
    w.put<std::uint8_t>(static_cast<std::uint8_t>(p.role));
    w.put_string(p.name);
    put_identity(w, p.identity);
  }
}

Status decode_body(ByteReader& r, RoundSetup* s) {
  HEAL_RETURN_IF_ERROR(r.get(&s->key_epoch));
  HEAL_RETURN_IF_ERROR(r.get_string(&s->secure_mode, kMaxNameBytes));
  HEAL_RETURN_IF_ERROR(r.get_string(&s->params_id, kMaxNameBytes));
  HEAL_RETURN_IF_ERROR(get_digest(r, &s->params_hash));
  HEAL_RETURN_IF_ERROR(get_digest(r, &s->collective_public_key_hash));
  HEAL_RETURN_IF_ERROR(r.get(&s->min_contributors));
  HEAL_RETURN_IF_ERROR(r.get(&s->decryption_threshold));
  HEAL_RETURN_IF_ERROR(r.get_string(&s->strategy, kMaxNameBytes));
  HEAL_RETURN_IF_ERROR(get_nonneg_double(r, &s->clip_norm, "clip norm"));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, &n, kMaxParticipants, kMinParticipantBytes, "participant"));
  s->participants.resize(n);
  for (auto& p : s->participants) {
    std::uint8_t role = 0;
    HEAL_RETURN_IF_ERROR(r.get(&p.party_id));
    HEAL_RETURN_IF_ERROR(r.get(&role));
    if (role != static_cast<std::uint8_t>(Role::kHospital) && role != static_cast<std::uint8_t>(Role::kCoordinator)) {
      return Status::corruption("unknown participant role " + std::to_string(role));
    }
    p.role = static_cast<Role>(role);
    HEAL_RETURN_IF_ERROR(r.get_string(&p.name, kMaxNameBytes));
    HEAL_RETURN_IF_ERROR(get_identity(r, &p.identity));
  }
  return {};
}

void encode_body(ByteWriter& w, const UpdateCommitment& c) {
  w.put<std::uint64_t>(c.round);
  w.put<std::uint32_t>(c.party_id);
  w.put<std::uint64_t>(c.model_version);
  put_digest(w, c.model_hash);
  put_digest(w, c.contribution_hash);
  w.put<std::uint64_t>(c.num_samples);
  w.put<double>(c.clip_norm);
}

Status decode_body(ByteReader& r, UpdateCommitment* c) {
  HEAL_RETURN_IF_ERROR(r.get(&c->round));
  HEAL_RETURN_IF_ERROR(r.get(&c->party_id));
  HEAL_RETURN_IF_ERROR(r.get(&c->model_version));
  HEAL_RETURN_IF_ERROR(get_digest(r, &c->model_hash));
  HEAL_RETURN_IF_ERROR(get_digest(r, &c->contribution_hash));
  HEAL_RETURN_IF_ERROR(r.get(&c->num_samples));
  return get_nonneg_double(r, &c->clip_norm, "clip norm");
}

void encode_body(ByteWriter& w, const RoundResult& x) {
  w.put<std::uint64_t>(x.round);
  w.put<std::uint32_t>(x.key_epoch);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(x.status));
  w.put_string(x.failure_reason);
  put_u32_list(w, x.selected);
  put_contributions(w, x.contributions);
  put_u32_list(w, x.decryptors);
  put_digest(w, x.aggregate_hash);
  w.put<std::uint64_t>(x.model_version_in);
  put_digest(w, x.model_hash_in);
  w.put<std::uint64_t>(x.model_version_out);
  put_digest(w, x.model_hash_out);
  w.put_string(x.strategy);
  w.put<double>(x.clip_norm);
  w.put_string(x.metrics_json);
}

Status decode_body(ByteReader& r, RoundResult* x) {
  std::uint8_t status = 0;
  HEAL_RETURN_IF_ERROR(r.get(&x->round));
  HEAL_RETURN_IF_ERROR(r.get(&x->key_epoch));
  HEAL_RETURN_IF_ERROR(r.get(&status));
  if (status != 1 && status != 2) return Status::corruption("unknown round status " + std::to_string(status));
  x->status = static_cast<RoundStatus>(status);
  HEAL_RETURN_IF_ERROR(r.get_string(&x->failure_reason, kMaxMetricsBytes));
  HEAL_RETURN_IF_ERROR(get_u32_list(r, &x->selected, "selected party"));
  HEAL_RETURN_IF_ERROR(get_contributions(r, &x->contributions));
  HEAL_RETURN_IF_ERROR(get_u32_list(r, &x->decryptors, "decryptor"));
  HEAL_RETURN_IF_ERROR(get_digest(r, &x->aggregate_hash));
  HEAL_RETURN_IF_ERROR(r.get(&x->model_version_in));
  HEAL_RETURN_IF_ERROR(get_digest(r, &x->model_hash_in));
  HEAL_RETURN_IF_ERROR(r.get(&x->model_version_out));
  HEAL_RETURN_IF_ERROR(get_digest(r, &x->model_hash_out));
  HEAL_RETURN_IF_ERROR(r.get_string(&x->strategy, kMaxNameBytes));
  HEAL_RETURN_IF_ERROR(get_nonneg_double(r, &x->clip_norm, "clip norm"));
  return r.get_string(&x->metrics_json, kMaxMetricsBytes);
}

void encode_body(ByteWriter& w, const ModelVersion& m) {
  w.put<std::uint64_t>(m.version);
  w.put<std::uint64_t>(m.round);
  w.put<std::uint64_t>(m.parent_version);
  put_digest(w, m.model_hash);
  w.put<std::uint64_t>(m.num_parameters);
  w.put_string(m.metrics_json);
}

Status decode_body(ByteReader& r, ModelVersion* m) {
  HEAL_RETURN_IF_ERROR(r.get(&m->version));
  HEAL_RETURN_IF_ERROR(r.get(&m->round));
  HEAL_RETURN_IF_ERROR(r.get(&m->parent_version));
  HEAL_RETURN_IF_ERROR(get_digest(r, &m->model_hash));
  HEAL_RETURN_IF_ERROR(r.get(&m->num_parameters));
  return r.get_string(&m->metrics_json, kMaxMetricsBytes);
}

void put_contributions(ByteWriter& w, const std::vector<Contribution>& v) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(v.size()));
  for (const auto& c : v) {
    w.put<std::uint32_t>(c.party_id);
    put_digest(w, c.contribution_hash);
    w.put<std::uint64_t>(c.num_samples);
  }
}

Status get_contributions(ByteReader& r, std::vector<Contribution>* v) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, &n, kMaxParticipants, kContributionBytes, "contribution"));
  v->resize(n);
  for (auto& c : *v) {
    HEAL_RETURN_IF_ERROR(r.get(&c.party_id));
    HEAL_RETURN_IF_ERROR(get_digest(r, &c.contribution_hash));
    HEAL_RETURN_IF_ERROR(r.get(&c.num_samples));
  }
  return {};
}

void encode_body(ByteWriter& w, const RoundOpen& o) {
  w.put<std::uint64_t>(o.round);
  w.put<std::uint32_t>(o.key_epoch);
  put_digest(w, o.params_hash);
  w.put<std::uint64_t>(o.model_version);
  put_digest(w, o.model_hash);
  put_u32_list(w, o.selected);
}

Status decode_body(ByteReader& r, RoundOpen* o) {
  HEAL_RETURN_IF_ERROR(r.get(&o->round));
  HEAL_RETURN_IF_ERROR(r.get(&o->key_epoch));
  HEAL_RETURN_IF_ERROR(get_digest(r, &o->params_hash));
  HEAL_RETURN_IF_ERROR(r.get(&o->model_version));
  HEAL_RETURN_IF_ERROR(get_digest(r, &o->model_hash));
  return get_u32_list(r, &o->selected, "selected party");
}

void encode_body(ByteWriter& w, const ContributorSet& c) {
  w.put<std::uint64_t>(c.round);
  put_contributions(w, c.contributions);
  put_digest(w, c.aggregate_hash);
}

Status decode_body(ByteReader& r, ContributorSet* c) {
  HEAL_RETURN_IF_ERROR(r.get(&c->round));
  HEAL_RETURN_IF_ERROR(get_contributions(r, &c->contributions));
  return get_digest(r, &c->aggregate_hash);
}

void encode_body(ByteWriter& w, const EnsembleSetup& e) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(e.members.size()));
  for (const auto& m : e.members) {
    w.put<std::uint32_t>(m.institution);
    w.put_string(m.architecture);
    w.put<std::uint32_t>(m.num_sites);
  }
  put_digest(w, e.reference_hash);
  w.put<std::uint64_t>(e.reference_size);
  w.put<std::uint32_t>(e.num_classes);
  w.put<std::uint32_t>(e.secagg_threshold);
  w.put<std::int32_t>(e.frac_bits);
  w.put_string(e.weight_rule);
}

Status decode_body(ByteReader& r, EnsembleSetup* e) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, &n, kMaxParticipants, 12, "ensemble member"));
  e->members.resize(n);
  for (auto& m : e->members) {
    HEAL_RETURN_IF_ERROR(r.get(&m.institution));
    HEAL_RETURN_IF_ERROR(r.get_string(&m.architecture, kMaxNameBytes));
    HEAL_RETURN_IF_ERROR(r.get(&m.num_sites));
  }
  HEAL_RETURN_IF_ERROR(get_digest(r, &e->reference_hash));
  HEAL_RETURN_IF_ERROR(r.get(&e->reference_size));
  HEAL_RETURN_IF_ERROR(r.get(&e->num_classes));
  HEAL_RETURN_IF_ERROR(r.get(&e->secagg_threshold));
  HEAL_RETURN_IF_ERROR(r.get(&e->frac_bits));
  if (e->frac_bits < 0 || e->frac_bits > 52) return Status::corruption("fixed-point fraction bits out of [0, 52]");
  return r.get_string(&e->weight_rule, kMaxNameBytes);
}

void encode_body(ByteWriter& w, const MemberVersion& m) {
  w.put<std::uint32_t>(m.institution);
  w.put<std::uint64_t>(m.version);
  w.put_string(m.architecture);
  put_digest(w, m.model_hash);
  w.put<std::uint64_t>(m.round);
  w.put<std::uint64_t>(m.num_parameters);
}

Status decode_body(ByteReader& r, MemberVersion* m) {
  HEAL_RETURN_IF_ERROR(r.get(&m->institution));
  HEAL_RETURN_IF_ERROR(r.get(&m->version));
  HEAL_RETURN_IF_ERROR(r.get_string(&m->architecture, kMaxNameBytes));
  HEAL_RETURN_IF_ERROR(get_digest(r, &m->model_hash));
  HEAL_RETURN_IF_ERROR(r.get(&m->round));
  return r.get(&m->num_parameters);
}

void encode_body(ByteWriter& w, const EnsembleRound& x) {
  w.put<std::uint64_t>(x.round);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(x.contributors.size()));
  for (const auto& c : x.contributors) {
    w.put<std::uint32_t>(c.institution);
    w.put<double>(c.weight);
    w.put<double>(c.val_accuracy);
    put_digest(w, c.masked_input_hash);
  }
  put_digest(w, x.consensus_hash);
}

Status decode_body(ByteReader& r, EnsembleRound* x) {
  HEAL_RETURN_IF_ERROR(r.get(&x->round));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, &n, kMaxParticipants, 4 + 8 + 8 + 32, "ensemble contributor"));
  x->contributors.resize(n);
  for (auto& c : x->contributors) {
    HEAL_RETURN_IF_ERROR(r.get(&c.institution));
    HEAL_RETURN_IF_ERROR(get_nonneg_double(r, &c.weight, "ensemble weight"));
    HEAL_RETURN_IF_ERROR(get_nonneg_double(r, &c.val_accuracy, "validation accuracy"));
    if (c.val_accuracy > 1) return Status::corruption("validation accuracy above 1");
    HEAL_RETURN_IF_ERROR(get_digest(r, &c.masked_input_hash));
  }
  return get_digest(r, &x->consensus_hash);
}

template <typename T>
Status decode_into(ByteReader& r, Record* rec) {
  T body;
  HEAL_RETURN_IF_ERROR(decode_body(r, &body));
  rec->body = std::move(body);
  return {};
}

}  // namespace

std::string_view record_type_name(RecordType t) {
  switch (t) {
    case RecordType::kRoundSetup: return "setup";
    case RecordType::kUpdateCommitment: return "commitment";
    case RecordType::kRoundResult: return "round";
    case RecordType::kModelVersion: return "model";
    case RecordType::kRoundOpen: return "open";
    case RecordType::kContributorSet: return "contributors";
    case RecordType::kEnsembleSetup: return "ensemble-setup";
    case RecordType::kMemberVersion: return "member-version";
    case RecordType::kEnsembleRound: return "ensemble-round";
  }
  return "unknown";
}

std::string_view role_name(Role r) {
  switch (r) {
    case Role::kHospital: return "hospital";
    case Role::kCoordinator: return "coordinator";
  }
  return "unknown";
}

RecordType Record::type() const { return static_cast<RecordType>(body.index() + 1); }

Bytes encode_record(const Record& r) {
  ByteWriter w;
  const std::size_t start = begin_object(w, ObjectType::kLedgerRecord, kRecordFormatVersion);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(r.type()));
  w.put_string(r.federation_id);
  w.put<std::uint64_t>(r.issued_at_ms);
  std::visit([&](const auto& b) { encode_body(w, b); }, r.body);
  end_object(w, start);
  return w.take();
}

Result<Record> decode_record(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kMaxRecordBytes) {
    return Status::corruption("record of " + std::to_string(bytes.size()) + " bytes exceeds the limit");
  }
  ByteReader r(bytes);
  HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, ObjectType::kLedgerRecord, kRecordFormatVersion));
  if (h.payload_size != r.remaining()) {
    return Status::corruption("record payload length " + std::to_string(h.payload_size) + " does not match the " +
                              std::to_string(r.remaining()) + " bytes present");
  }
  Record rec;
  std::uint8_t type = 0;
  HEAL_RETURN_IF_ERROR(r.get(&type));
  HEAL_RETURN_IF_ERROR(r.get_string(&rec.federation_id, kMaxNameBytes));
  HEAL_RETURN_IF_ERROR(r.get(&rec.issued_at_ms));
  switch (static_cast<RecordType>(type)) {
    case RecordType::kRoundSetup: HEAL_RETURN_IF_ERROR(decode_into<RoundSetup>(r, &rec)); break;
    case RecordType::kUpdateCommitment: HEAL_RETURN_IF_ERROR(decode_into<UpdateCommitment>(r, &rec)); break;
    case RecordType::kRoundResult: HEAL_RETURN_IF_ERROR(decode_into<RoundResult>(r, &rec)); break;
    case RecordType::kModelVersion: HEAL_RETURN_IF_ERROR(decode_into<ModelVersion>(r, &rec)); break;
    case RecordType::kRoundOpen: HEAL_RETURN_IF_ERROR(decode_into<RoundOpen>(r, &rec)); break;
    case RecordType::kContributorSet: HEAL_RETURN_IF_ERROR(decode_into<ContributorSet>(r, &rec)); break;
    case RecordType::kEnsembleSetup: HEAL_RETURN_IF_ERROR(decode_into<EnsembleSetup>(r, &rec)); break;
    case RecordType::kMemberVersion: HEAL_RETURN_IF_ERROR(decode_into<MemberVersion>(r, &rec)); break;
    case RecordType::kEnsembleRound: HEAL_RETURN_IF_ERROR(decode_into<EnsembleRound>(r, &rec)); break;
    default: return Status::corruption("unknown record type " + std::to_string(type));
  }
  if (!r.at_end()) return Status::corruption(std::to_string(r.remaining()) + " trailing bytes after the record");
  return rec;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string describe(const Record& r) {
  struct V {
    std::string operator()(const RoundSetup& s) const {
      return "setup epoch " + std::to_string(s.key_epoch) + ": " + std::to_string(s.participants.size()) +
             " participants, secure=" + s.secure_mode + ", t=" + std::to_string(s.decryption_threshold) +
             ", strategy " + s.strategy;
    }
    std::string operator()(const UpdateCommitment& c) const {
      return "commitment round " + std::to_string(c.round) + " party " + std::to_string(c.party_id) + ": " +
             std::to_string(c.num_samples) + " samples, update " + digest_hex(c.contribution_hash).substr(0, 16);
    }
    std::string operator()(const RoundResult& x) const {
      std::string s = "round " + std::to_string(x.round) +
                      (x.status == RoundStatus::kCompleted ? " completed: " : " FAILED: ") +
                      std::to_string(x.contributions.size()) + " contributions";
      if (x.status == RoundStatus::kFailed) return s + " (" + x.failure_reason + ")";
      return s + ", model v" + std::to_string(x.model_version_out) + " " + digest_hex(x.model_hash_out).substr(0, 16);
    }
    std::string operator()(const ModelVersion& m) const {
      return "model v" + std::to_string(m.version) + " (round " + std::to_string(m.round) + ") " +
             digest_hex(m.model_hash).substr(0, 16);
    }
    std::string operator()(const RoundOpen& o) const {
      return "round " + std::to_string(o.round) + " opened: model v" + std::to_string(o.model_version) + ", " +
             std::to_string(o.selected.size()) + " hospitals selected";
    }
    std::string operator()(const ContributorSet& c) const {
      return "round " + std::to_string(c.round) + " contributor set: " + std::to_string(c.contributions.size()) +
             " contributions, aggregate " + digest_hex(c.aggregate_hash).substr(0, 16);
    }
    std::string operator()(const EnsembleSetup& e) const {
      return "ensemble setup: " + std::to_string(e.members.size()) + " members, t=" +
             std::to_string(e.secagg_threshold) + ", reference " + digest_hex(e.reference_hash).substr(0, 16);
    }
    std::string operator()(const MemberVersion& m) const {
      return "member " + std::to_string(m.institution) + " v" + std::to_string(m.version) + " (" + m.architecture +
             ", round " + std::to_string(m.round) + ") " + digest_hex(m.model_hash).substr(0, 16);
    }
    std::string operator()(const EnsembleRound& x) const {
      return "ensemble round " + std::to_string(x.round) + ": " + std::to_string(x.contributors.size()) +
             " contributors, consensus " + digest_hex(x.consensus_hash).substr(0, 16);
    }
  };
  return std::visit(V{}, r.body);
}

}  // namespace heal::ledger
