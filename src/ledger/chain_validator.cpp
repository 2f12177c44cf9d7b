// Federation rules every block must satisfy (docs/formats/ledger.md, "Validation").
#include "heal/ledger/chain_validator.h"

#include <algorithm>
#include <optional>

namespace heal::ledger {

namespace {

const Participant* find_by_identity(const RoundSetup& s, const Identity& id) {
  for (const auto& p : s.participants) {
    if (p.identity == id) return &p;
  }
  return nullptr;
}

const Participant* find_by_id(const RoundSetup& s, std::uint32_t party) {
  for (const auto& p : s.participants) {
    if (p.party_id == party) return &p;
  }
  return nullptr;
}

Status fail(const std::string& why) { return Status::corruption(why); }

std::string str(std::uint64_t v) { return std::to_string(v); }

// The first id listed twice, if any.
std::optional<std::uint32_t> first_repeat(const std::vector<std::uint32_t>& ids) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (ids[j] == ids[i]) return ids[i];
    }
  }
  return std::nullopt;
}

Status check_setup_shape(const RoundSetup& s) {
  if (s.participants.empty()) return fail("setup lists no participants");
  std::size_t hospitals = 0;
  for (std::size_t i = 0; i < s.participants.size(); ++i) {
    const auto& p = s.participants[i];
    if (p.role == Role::kHospital) ++hospitals;
    for (std::size_t j = 0; j < i; ++j) {
      if (s.participants[j].party_id == p.party_id)
        return fail("setup lists party " + std::to_string(p.party_id) + " twice");
      if (s.participants[j].identity == p.identity)
        return fail("setup lists key " + p.identity.short_name() + " twice");
    }
  }
  if (hospitals == 0) return fail("setup lists no hospital");
  if (s.min_contributors == 0 || s.min_contributors > hospitals) {
    return fail("setup min_contributors " + std::to_string(s.min_contributors) + " not in [1, " +
                std::to_string(hospitals) + "]");
  }
  if (s.decryption_threshold == 1) {
    return fail("setup decryption threshold 1 refused: a 1-of-n key gives every key holder every secret");
  }
  if (s.decryption_threshold > hospitals) {
    return fail("setup decryption threshold " + std::to_string(s.decryption_threshold) + " exceeds " +
                std::to_string(hospitals) + " hospitals");
  }
  return {};
}

}  // namespace

std::optional<Digest> ChainValidator::model_hash(std::uint64_t version) const {
  auto it = models_.find(version);
  if (it == models_.end()) return std::nullopt;
  return it->second;
}

std::map<std::uint32_t, Digest> ChainValidator::commitments(std::uint64_t round) const {
  std::map<std::uint32_t, Digest> out;
  for (auto it = commitments_.lower_bound({round, 0}); it != commitments_.end() && it->first.first == round; ++it) {
    out[it->first.second] = it->second.contribution_hash;
  }
  return out;
}

std::optional<UpdateCommitment> ChainValidator::commitment(std::uint64_t round, std::uint32_t party) const {
  auto it = commitments_.find({round, party});
  if (it == commitments_.end()) return std::nullopt;
  return it->second;
}

std::optional<ContributorSet> ChainValidator::contributor_set(std::uint64_t round) const {
  auto it = contributor_sets_.find(round);
  if (it == contributor_sets_.end()) return std::nullopt;
  return it->second;
}

std::optional<EnsembleRound> ChainValidator::ensemble_round(std::uint64_t round) const {
  auto it = ensemble_rounds_.find(round);
  if (it == ensemble_rounds_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint64_t> ChainValidator::latest_model_version() const {
  if (models_.empty()) return std::nullopt;
  return models_.rbegin()->first;
}

Status ChainValidator::check_candidate(const SignedRecord& sr) const {
  if (broken_) return Status::failed_precondition("the chain failed verification; nothing can be appended");
  HEAL_ASSIGN_OR_RETURN(Record rec, decode_record(sr.record));
  for (std::size_t i = 0; i < sr.signatures.size(); ++i) {
    Status s = verify_signature(sr.signatures[i].signer, signing_message(sr.record), sr.signatures[i].signature);
    if (!s.ok()) return fail("signature " + std::to_string(i) + ": " + s.message());
  }
  return check_record(rec, sr.signatures);
}

Status ChainValidator::accept(const Block& b) {
  if (broken_) return Status::failed_precondition("the chain already failed verification");
  Status s = [&]() -> Status {
    if (b.height != next_height_) {
      return fail("height " + std::to_string(b.height) + " where " + std::to_string(next_height_) + " was expected");
    }
    if (b.prev_hash != head_) return fail("prev_hash does not match the hash of the previous block");
    if (b.hash != compute_block_hash(b.height, b.prev_hash, b.record, b.signatures)) {
      return fail("block hash does not match the block's contents");
    }
    Result<Record> rec = decode_record(b.record);
    if (!rec.ok()) return fail("record does not decode: " + rec.status().message());
    Result<std::vector<RecordSignature>> sigs = decode_signatures(b.signatures);
    if (!sigs.ok()) return fail("signature list does not decode: " + sigs.status().message());
    const Bytes msg = signing_message(b.record);
    for (std::size_t i = 0; i < sigs->size(); ++i) {
      Status v = verify_signature((*sigs)[i].signer, msg, (*sigs)[i].signature);
      if (!v.ok()) return fail("signature " + std::to_string(i) + ": " + v.message());
    }
    HEAL_RETURN_IF_ERROR(check_record(*rec, *sigs));
    apply(*rec, sigs->size());
    return {};
  }();
  if (!s.ok()) {
    broken_ = true;
    return s;
  }
  head_ = b.hash;
  ++next_height_;
  ++counts_.blocks;
  return {};
}

Status ChainValidator::check_record(const Record& r, const std::vector<RecordSignature>& sigs) const {
  if (sigs.empty()) return fail("record carries no signature");
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (sigs[i].signer == sigs[j].signer) return fail("signer " + sigs[i].signer.short_name() + " signed twice");
    }
  }
  if (!setup_) {
    if (r.type() != RecordType::kRoundSetup) return fail("the genesis block must hold a setup record");
    if (r.federation_id.empty()) return fail("federation id is empty");
  } else if (r.federation_id != federation_id_) {
    return fail("federation id '" + r.federation_id + "' differs from the ledger's '" + federation_id_ + "'");
  }
  // Signers of a setup must belong to it, and (after genesis) one must belong to the previous one.
  const RoundSetup* members = setup_ ? &*setup_ : nullptr;
  if (const auto* s = std::get_if<RoundSetup>(&r.body)) {
    HEAL_RETURN_IF_ERROR(check_setup_shape(*s));
    if (setup_ && s->key_epoch <= setup_->key_epoch) {
      return fail("setup key epoch " + std::to_string(s->key_epoch) + " does not increase");
    }
    for (const auto& sig : sigs) {
      if (!find_by_identity(*s, sig.signer))
        return fail("setup signer " + sig.signer.short_name() + " is not a participant");
    }
    if (!setup_) {
      // Genesis: every participant consents to the federation it joins.
      for (const auto& p : s->participants) {
        if (std::none_of(sigs.begin(), sigs.end(), [&](const RecordSignature& g) { return g.signer == p.identity; })) {
          return fail("genesis setup is not signed by participant " + std::to_string(p.party_id));
        }
      }
      return {};
    }
    // A new key epoch (re-keying, membership, quorum rules) needs more than half of the current
    // hospitals: no coordinator or single hospital can change them alone.
    if (open_) return fail("setup while round " + str(open_->round) + " is open");
    std::size_t hospitals = 0, signed_by = 0;
    for (const auto& p : setup_->participants) {
      if (p.role != Role::kHospital) continue;
      ++hospitals;
      if (std::any_of(sigs.begin(), sigs.end(), [&](const RecordSignature& g) { return g.signer == p.identity; })) {
        ++signed_by;
      }
    }
    if (2 * signed_by <= hospitals) {
      return fail("new setup signed by " + str(signed_by) + " of the " + str(hospitals) +
                  " current hospitals; more than half must sign");
    }
    return {};
  }
  std::vector<const Participant*> signers;
  for (const auto& sig : sigs) {
    const Participant* p = find_by_identity(*members, sig.signer);
    if (!p) return fail("signer " + sig.signer.short_name() + " is not a participant of the current setup");
    signers.push_back(p);
  }
  auto signed_by_coordinator =
      std::any_of(signers.begin(), signers.end(), [](const Participant* p) { return p->role == Role::kCoordinator; });
  auto model_matches = [&](std::uint64_t v, const Digest& h, const char* what) -> Status {
    auto it = models_.find(v);
    if (it == models_.end()) return fail(std::string(what) + " model v" + std::to_string(v) + " is not on the ledger");
    if (it->second != h) return fail(std::string(what) + " model hash differs from the ledger's v" + std::to_string(v));
    return {};
  };
  if (const auto* c = std::get_if<UpdateCommitment>(&r.body)) {
    const Participant* p = find_by_id(*members, c->party_id);
    if (!p || p->role != Role::kHospital)
      return fail("commitment names party " + std::to_string(c->party_id) + ", not a hospital");
    if (std::none_of(signers.begin(), signers.end(), [&](const Participant* s) { return s == p; })) {
      return fail("commitment of party " + std::to_string(c->party_id) + " is not signed by that party");
    }
    if (!open_ || open_->round != c->round)
      return fail("commitment for round " + str(c->round) + ", which is not open");
    if (commitments_.count({c->round, c->party_id}))
      return fail("second commitment of party " + str(c->party_id) + " in round " + str(c->round));
    if (contributor_sets_.count(c->round))
      return fail("commitment for round " + str(c->round) + " after its contributor set");
    if (std::find(open_->selected.begin(), open_->selected.end(), c->party_id) == open_->selected.end()) {
      return fail("commitment of party " + str(c->party_id) + ", which round " + str(c->round) + " did not select");
    }
    if (c->model_version != open_->model_version || c->model_hash != open_->model_hash) {
      return fail("commitment trained on another model than round " + str(c->round) + " broadcast");
    }
    return model_matches(c->model_version, c->model_hash, "committed");
  }
  if (const auto* o = std::get_if<RoundOpen>(&r.body)) {
    if (!signed_by_coordinator) return fail("round opening not signed by a coordinator");
    if (open_) return fail("round " + str(o->round) + " opened while round " + str(open_->round) + " is still open");
    const std::uint64_t expected = last_round_ ? *last_round_ + 1 : 1;
    if (o->round != expected)
      return fail("round " + str(o->round) + " opened where round " + str(expected) + " is next");
    if (o->key_epoch != members->key_epoch) return fail("round key epoch differs from the setup's");
    if (o->params_hash != members->params_hash) return fail("round parameters hash differs from the setup's");
    HEAL_RETURN_IF_ERROR(model_matches(o->model_version, o->model_hash, "broadcast"));
    if (o->model_version != *latest_model_version())
      return fail("round " + str(o->round) + " does not train the latest model");
    if (o->selected.empty()) return fail("round " + str(o->round) + " selects no hospital");
    if (auto d = first_repeat(o->selected)) return fail("hospital " + str(*d) + " selected twice");
    for (auto id : o->selected) {
      const Participant* p = find_by_id(*members, id);
      if (!p || p->role != Role::kHospital) return fail("round selects party " + str(id) + ", not a hospital");
    }
    return {};
  }
  if (const auto* cs = std::get_if<ContributorSet>(&r.body)) {
    if (!signed_by_coordinator) return fail("contributor set not signed by a coordinator");
    if (!open_ || open_->round != cs->round)
      return fail("contributor set for round " + str(cs->round) + ", which is not open");
    if (contributor_sets_.count(cs->round)) return fail("second contributor set for round " + str(cs->round));
    for (std::size_t i = 0; i < cs->contributions.size(); ++i) {
      const auto& c = cs->contributions[i];
      if (i > 0 && cs->contributions[i - 1].party_id >= c.party_id) {
        return fail("contributor set is not sorted by party id or lists party " + str(c.party_id) + " twice");
      }
      auto it = commitments_.find({cs->round, c.party_id});
      if (it == commitments_.end())
        return fail("contributor " + str(c.party_id) + " never committed in round " + str(cs->round));
      if (it->second.contribution_hash != c.contribution_hash)
        return fail("contribution of party " + str(c.party_id) + " differs from its commitment");
    }
    if (cs->contributions.size() < members->min_contributors) {
      return fail("contributor set of " + str(cs->contributions.size()) + " below the quorum of " +
                  str(members->min_contributors));
    }
    return {};
  }
  if (const auto* x = std::get_if<RoundResult>(&r.body)) {
    if (!signed_by_coordinator) return fail("round result not signed by a coordinator");
    if (!open_ || open_->round != x->round) return fail("result for round " + str(x->round) + ", which is not open");
    if (x->key_epoch != members->key_epoch) return fail("round key epoch differs from the setup's");
    HEAL_RETURN_IF_ERROR(model_matches(x->model_version_in, x->model_hash_in, "input"));
    for (std::size_t i = 0; i < x->contributions.size(); ++i) {
      const auto& c = x->contributions[i];
      auto it = commitments_.find({x->round, c.party_id});
      if (it == commitments_.end())
        return fail("contribution of party " + std::to_string(c.party_id) + " was never committed");
      if (it->second.contribution_hash != c.contribution_hash)
        return fail("contribution of party " + std::to_string(c.party_id) + " differs from its commitment");
      for (std::size_t j = 0; j < i; ++j) {
        if (x->contributions[j].party_id == c.party_id)
          return fail("party " + std::to_string(c.party_id) + " contributes twice");
      }
    }
    // Each decryptor counts once towards the threshold: a repeated id would let fewer than t key
    // holders pass for a quorum. A hospital is selected at most once.
    if (auto d = first_repeat(x->decryptors)) return fail("decryptor " + std::to_string(*d) + " listed twice");
    if (auto s = first_repeat(x->selected)) return fail("hospital " + std::to_string(*s) + " selected twice");
    if (x->selected != open_->selected) return fail("round result selects other hospitals than the round's opening");
    if (x->model_version_in != open_->model_version || x->model_hash_in != open_->model_hash) {
      return fail("round result names another input model than the round's opening");
    }
    if (x->status == RoundStatus::kFailed) {
      if (x->model_version_out != x->model_version_in || x->model_hash_out != x->model_hash_in) {
        return fail("failed round changes the model");
      }
      return {};
    }
    // Completed: exactly the contributor set posted before decryption, and its aggregate.
    auto set = contributor_sets_.find(x->round);
    if (set == contributor_sets_.end()) return fail("completed round " + str(x->round) + " has no contributor set");
    if (set->second.aggregate_hash != x->aggregate_hash)
      return fail("round result names another aggregate than its contributor set");
    std::vector<Contribution> sorted = x->contributions;
    std::sort(sorted.begin(), sorted.end(),
              [](const Contribution& a, const Contribution& b) { return a.party_id < b.party_id; });
    if (sorted != set->second.contributions)
      return fail("round result lists other contributions than its contributor set");
    if (x->contributions.size() < members->min_contributors)
      return fail("completed round below the contributor quorum");
    if (x->decryptors.size() < members->decryption_threshold)
      return fail("completed round below the decryption threshold");
    for (auto d : x->decryptors) {
      if (!find_by_id(*members, d)) return fail("decryptor " + std::to_string(d) + " is not a participant");
    }
    return model_matches(x->model_version_out, x->model_hash_out, "output");
  }
  if (const auto* e = std::get_if<EnsembleSetup>(&r.body)) {
    if (!signed_by_coordinator) return fail("ensemble setup not signed by a coordinator");
    if (ensemble_) return fail("second ensemble setup");
    if (e->members.size() < 2) return fail("ensemble setup lists fewer than 2 members");
    for (std::size_t i = 0; i < e->members.size(); ++i) {
      const auto& m = e->members[i];
      if (i > 0 && e->members[i - 1].institution >= m.institution)
        return fail("ensemble members not sorted by institution or listed twice");
      const Participant* p = find_by_id(*members, m.institution);
      if (!p || p->role != Role::kHospital) return fail("ensemble member " + str(m.institution) + " is not a hospital");
      if (m.num_sites == 0) return fail("ensemble member " + str(m.institution) + " has no site");
    }
    const std::size_t n = e->members.size();
    if (2 * std::size_t{e->secagg_threshold} <= n || e->secagg_threshold > n)
      return fail("ensemble threshold " + str(e->secagg_threshold) + " not in (n/2, n] for n = " + str(n));
    if (e->num_classes < 2 || e->reference_size == 0) return fail("ensemble setup with an empty reference task");
    return {};
  }
  auto ensemble_member = [&](std::uint32_t inst) -> const EnsembleMemberInfo* {
    if (!ensemble_) return nullptr;
    for (const auto& m : ensemble_->members) {
      if (m.institution == inst) return &m;
    }
    return nullptr;
  };
  if (const auto* mv = std::get_if<MemberVersion>(&r.body)) {
    const EnsembleMemberInfo* info = ensemble_member(mv->institution);
    if (!info) return fail("member version of " + str(mv->institution) + ", not an ensemble member");
    const Participant* p = find_by_id(*members, mv->institution);
    if (std::none_of(signers.begin(), signers.end(), [&](const Participant* s) { return s == p; }))
      return fail("member version of " + str(mv->institution) + " not signed by that institution");
    if (mv->architecture != info->architecture)
      return fail("member version architecture differs from the ensemble setup's");
    auto it = member_versions_.find(mv->institution);
    const std::uint64_t expected = it == member_versions_.end() ? 1 : it->second.version + 1;
    if (mv->version != expected)
      return fail("member " + str(mv->institution) + " version " + str(mv->version) + " where " + str(expected) +
                  " is next");
    if (it != member_versions_.end() && mv->round < it->second.round) return fail("member version round goes back");
    if (mv->round > 0) {
      // A distilled version comes from a recorded round the institution contributed to.
      auto er = ensemble_rounds_.find(mv->round);
      if (er == ensemble_rounds_.end())
        return fail("member version for ensemble round " + str(mv->round) + ", which is not on the ledger");
      const auto& cs = er->second.contributors;
      if (std::none_of(cs.begin(), cs.end(),
                       [&](const EnsembleContribution& c) { return c.institution == mv->institution; }))
        return fail("member version of " + str(mv->institution) + " for a round it did not contribute to");
    }
    return {};
  }
  if (const auto* er = std::get_if<EnsembleRound>(&r.body)) {
    if (!signed_by_coordinator) return fail("ensemble round not signed by a coordinator");
    if (!ensemble_) return fail("ensemble round before the ensemble setup");
    const std::uint64_t expected = last_ensemble_round_.value_or(0) + 1;
    if (er->round != expected) return fail("ensemble round " + str(er->round) + " where " + str(expected) + " is next");
    if (er->contributors.size() < ensemble_->secagg_threshold)
      return fail("ensemble round with fewer contributors than the threshold");
    for (std::size_t i = 0; i < er->contributors.size(); ++i) {
      const auto& c = er->contributors[i];
      if (i > 0 && er->contributors[i - 1].institution >= c.institution)
        return fail("ensemble contributors not sorted by institution or listed twice");
      if (!ensemble_member(c.institution)) return fail("ensemble contributor " + str(c.institution) + " not a member");
      if (!(c.weight > 0)) return fail("ensemble weight of " + str(c.institution) + " is not positive");
    }
    return {};
  }
  const auto& m = std::get<ModelVersion>(r.body);
  if (!signed_by_coordinator) return fail("model version not signed by a coordinator");
  if (models_.count(m.version)) return fail("model v" + std::to_string(m.version) + " recorded twice");
  if (!models_.empty()) {
    if (!open_ || open_->round != m.round)
      return fail("model v" + str(m.version) + " for round " + str(m.round) + ", which is not open");
    if (!contributor_sets_.count(m.round))
      return fail("model v" + str(m.version) + " before round " + str(m.round) + "'s contributor set");
    if (m.version < models_.rbegin()->first)
      return fail("model version " + std::to_string(m.version) + " goes backwards");
    if (!models_.count(m.parent_version))
      return fail("parent model v" + std::to_string(m.parent_version) + " is not on the ledger");
  } else if (m.parent_version != m.version) {
    return fail("the first model version must be its own parent");
  }
  return {};
}

void ChainValidator::apply(const Record& r, std::size_t num_signatures) {
  counts_.signatures += num_signatures;
  if (const auto* s = std::get_if<RoundSetup>(&r.body)) {
    if (!setup_) federation_id_ = r.federation_id;
    setup_ = *s;
    ++counts_.setups;
  } else if (const auto* c = std::get_if<UpdateCommitment>(&r.body)) {
    commitments_[{c->round, c->party_id}] = *c;
    ++counts_.commitments;
  } else if (const auto* x = std::get_if<RoundResult>(&r.body)) {
    last_round_ = x->round;
    open_.reset();
    ++(x->status == RoundStatus::kCompleted ? counts_.rounds_completed : counts_.rounds_failed);
  } else if (const auto* m = std::get_if<ModelVersion>(&r.body)) {
    models_[m->version] = m->model_hash;
    ++counts_.model_versions;
  } else if (const auto* o = std::get_if<RoundOpen>(&r.body)) {
    open_ = *o;
    ++counts_.rounds_opened;
  } else if (const auto* cs = std::get_if<ContributorSet>(&r.body)) {
    contributor_sets_[cs->round] = *cs;
    ++counts_.contributor_sets;
  } else if (const auto* e = std::get_if<EnsembleSetup>(&r.body)) {
    ensemble_ = *e;
    ++counts_.ensemble_records;
  } else if (const auto* mv = std::get_if<MemberVersion>(&r.body)) {
    member_versions_[mv->institution] = *mv;
    ++counts_.ensemble_records;
  } else if (const auto* er = std::get_if<EnsembleRound>(&r.body)) {
    last_ensemble_round_ = er->round;
    ensemble_rounds_[er->round] = *er;
    ++counts_.ensemble_records;
  }
}

}  // namespace heal::ledger
