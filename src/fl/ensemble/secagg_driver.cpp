// The SecAgg phase machine of an aggregator and the client step (roles.h).
#include <algorithm>
#include <cmath>

#include "heal/core/check.h"
#include "internal.h"

namespace heal::fl::ensemble {

double ensemble_weight(double accuracy, std::size_t num_classes) {
  HEAL_REQUIRE(num_classes >= 2, "an ensemble needs at least 2 classes");
  return std::max(accuracy - 1.0 / static_cast<double>(num_classes), kMinEnsembleWeight);
}

}  // namespace heal::fl::ensemble

namespace heal::fl::ensemble::internal {

using smpc::MsgType;

ServerDriver::ServerDriver(smpc::SecAggConfig cfg, const SecAggGroup& group)
    : cfg_(cfg), group_(group), server_(cfg, group.verify_keys) {
  HEAL_REQUIRE(group.parties.size() == cfg.num_clients && group.verify_keys.size() == cfg.num_clients,
               "SecAgg group size differs from the configuration");
  expected_.insert(group.parties.begin(), group.parties.end());
}

std::optional<std::uint32_t> ServerDriver::id_of(PartyId p) const {
  for (std::size_t i = 0; i < group_.parties.size(); ++i) {
    if (group_.parties[i] == p) return static_cast<std::uint32_t>(i + 1);
  }
  return std::nullopt;
}

std::vector<PartyId> ServerDriver::contributors() const {
  std::vector<PartyId> out;
  for (auto id : server_.aggregated_clients()) out.push_back(party_of(id));
  return out;
}

void ServerDriver::withdraw(PartyId party) {
  withdrawn_.insert(party);
  expected_.erase(party);
}

Status ServerDriver::receive(PartyId from, std::span<const std::uint8_t> msg) {
  Stopwatch sw(seconds_);
  auto id = id_of(from);
  if (!id) return Status::invalid_argument("party " + std::to_string(from) + " is not in the SecAgg group");
  if (!expected_.count(from) || got_.count(from))
    return Status::failed_precondition("party " + std::to_string(from) + " is not expected in this phase");
  HEAL_ASSIGN_OR_RETURN(MsgType t, smpc::peek_type(msg));
  // The SecAgg messages carry their sender id, signed: it must be the transport sender's (else one
  // party could replay another's message and be counted as having answered).
  Result<std::uint32_t> claimed = [&]() -> Result<std::uint32_t> {
    switch (t) {
      case MsgType::kAdvertise: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_advertise(msg));
        return m.id;
      }
      case MsgType::kShareKeys: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_share_keys(msg));
        return m.sender;
      }
      case MsgType::kMaskedInput:
      case MsgType::kMaskedInputPacked: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_masked_input(msg));
        return m.id;
      }
      case MsgType::kSurvivorSig: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_survivor_sig(msg));
        return m.id;
      }
      case MsgType::kUnmaskResponse: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_unmask_response(msg));
        return m.id;
      }
      default:
        return Status::corruption("not a client message");
    }
  }();
  if (!claimed.ok()) return claimed.status();
  if (*claimed != *id)
    return Status::corruption("SecAgg message of client " + std::to_string(*claimed) + " sent by party " +
                              std::to_string(from));
  Status s;
  switch (phase_) {
    case 0:
      s = t == MsgType::kAdvertise ? server_.receive_advertise(msg) : Status::corruption("not an advert");
      break;
    case 1:
      s = t == MsgType::kShareKeys ? server_.receive_shares(msg) : Status::corruption("not key shares");
      break;
    case 2:
      s = smpc::is_masked_input(t) ? server_.receive_masked_input(msg) : Status::corruption("not a masked input");
      break;
    case 3:
      s = t == MsgType::kSurvivorSig ? server_.receive_survivor_signature(msg) : Status::corruption("not a signature");
      break;
    case 4:
      s = t == MsgType::kUnmaskResponse ? server_.receive_unmask(msg) : Status::corruption("not an unmasking");
      break;
    default:
      s = Status::failed_precondition("the aggregation is finished");
  }
  if (s.ok()) got_.insert(from);
  return s;
}

Result<bool> ServerDriver::maybe_close(bool force, std::vector<std::pair<PartyId, Bytes>>* out) {
  if (finished()) return false;
  if (!force && got_ != expected_) return false;
  Stopwatch sw(seconds_);
  std::set<PartyId> next;
  switch (phase_) {
    case 0: {
      HEAL_ASSIGN_OR_RETURN(Bytes list, server_.key_list());
      for (PartyId p : got_) out->push_back({p, list});
      next = got_;
      break;
    }
    case 1: {
      HEAL_ASSIGN_OR_RETURN(auto routed, server_.route_shares());
      for (auto& [id, bytes] : routed) {
        next.insert(party_of(id));
        out->push_back({party_of(id), std::move(bytes)});
      }
      break;
    }
    case 2: {
      HEAL_ASSIGN_OR_RETURN(Bytes survivors, server_.survivors());
      for (auto id : server_.aggregated_clients()) {
        next.insert(party_of(id));
        out->push_back({party_of(id), survivors});
      }
      break;
    }
    case 3: {
      HEAL_ASSIGN_OR_RETURN(Bytes request, server_.unmask_request());
      for (PartyId p : got_) out->push_back({p, request});
      next = got_;
      break;
    }
    case 4: {
      HEAL_ASSIGN_OR_RETURN(sum_, server_.finish());
      break;
    }
  }
  ++phase_;
  for (PartyId p : withdrawn_) next.erase(p);
  expected_ = std::move(next);
  got_.clear();
  return true;
}

MultiServerDriver::MultiServerDriver(smpc::SecAggMultiServer& server, const SecAggGroup& group, std::uint32_t round,
                                     bool with_setup)
    : server_(server), group_(group), round_(round), phase_(with_setup ? 0 : 2) {
  if (with_setup) {
    expected_.insert(group.parties.begin(), group.parties.end());
  } else {
    for (auto id : server_.setup_clients()) expected_.insert(party_of(id));
  }
}

Status MultiServerDriver::start() {
  if (phase_ != 2) return {};
  Stopwatch sw(seconds_);
  return server_.begin_round(round_);
}

std::optional<std::uint32_t> MultiServerDriver::id_of(PartyId p) const {
  for (std::size_t i = 0; i < group_.parties.size(); ++i) {
    if (group_.parties[i] == p) return static_cast<std::uint32_t>(i + 1);
  }
  return std::nullopt;
}

std::vector<PartyId> MultiServerDriver::contributors() const {
  std::vector<PartyId> out;
  for (auto id : server_.aggregated_clients()) out.push_back(party_of(id));
  return out;
}

void MultiServerDriver::withdraw(PartyId party) {
  withdrawn_.insert(party);
  expected_.erase(party);
}

Status MultiServerDriver::receive(PartyId from, std::span<const std::uint8_t> msg) {
  using smpc::MultiMsgType;
  Stopwatch sw(seconds_);
  auto id = id_of(from);
  if (!id) return Status::invalid_argument("party " + std::to_string(from) + " is not in the SecAgg group");
  if (!expected_.count(from) || got_.count(from))
    return Status::failed_precondition("party " + std::to_string(from) + " is not expected in this phase");
  HEAL_ASSIGN_OR_RETURN(auto head, smpc::peek_multi(msg));
  const MultiMsgType t = head.first;
  // The sender id inside (signed) must be the transport sender's.
  Result<std::uint32_t> claimed = [&]() -> Result<std::uint32_t> {
    switch (t) {
      case MultiMsgType::kMAdvertise: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_m_advertise(msg));
        return m.id;
      }
      case MultiMsgType::kMShareKeys: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_m_share_keys(msg));
        return m.sender;
      }
      case MultiMsgType::kMMaskedInput: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_m_masked_input(msg));
        return m.id;
      }
      case MultiMsgType::kMSurvivorSig: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_m_survivor_sig(msg));
        return m.id;
      }
      case MultiMsgType::kMUnmaskResponse: {
        HEAL_ASSIGN_OR_RETURN(auto m, smpc::decode_m_unmask_response(msg));
        return m.id;
      }
      default:
        return Status::corruption("not a client message");
    }
  }();
  if (!claimed.ok()) return claimed.status();
  if (*claimed != *id)
    return Status::corruption("SecAgg message of client " + std::to_string(*claimed) + " sent by party " +
                              std::to_string(from));
  const MultiMsgType want[] = {MultiMsgType::kMAdvertise, MultiMsgType::kMShareKeys, MultiMsgType::kMMaskedInput,
                               MultiMsgType::kMSurvivorSig, MultiMsgType::kMUnmaskResponse};
  if (phase_ > 4) return Status::failed_precondition("the aggregation is finished");
  if (t != want[phase_]) return Status::corruption("SecAgg message of the wrong kind for this phase");
  Status s;
  switch (phase_) {
    case 0:
      s = server_.receive_advertise(msg);
      break;
    case 1:
      s = server_.receive_shares(msg);
      break;
    case 2:
      s = server_.receive_masked_input(msg);
      break;
    case 3:
      s = server_.receive_survivor_signature(msg);
      break;
    default:
      s = server_.receive_unmask(msg);
  }
  if (s.ok()) got_.insert(from);
  return s;
}

Result<bool> MultiServerDriver::maybe_close(bool force, std::vector<std::pair<PartyId, Bytes>>* out) {
  if (finished()) return false;
  if (!force && got_ != expected_) return false;
  Stopwatch sw(seconds_);
  std::set<PartyId> next;
  switch (phase_) {
    case 0: {
      HEAL_ASSIGN_OR_RETURN(Bytes list, server_.key_list());
      for (PartyId p : got_) out->push_back({p, list});
      next = got_;
      break;
    }
    case 1: {
      HEAL_ASSIGN_OR_RETURN(auto routed, server_.route_shares());
      HEAL_RETURN_IF_ERROR(server_.begin_round(round_));
      for (auto& [id, bytes] : routed) {
        next.insert(party_of(id));
        out->push_back({party_of(id), std::move(bytes)});
      }
      break;
    }
    case 2: {
      HEAL_ASSIGN_OR_RETURN(Bytes survivors, server_.survivors());
      for (auto id : server_.aggregated_clients()) {
        next.insert(party_of(id));
        out->push_back({party_of(id), survivors});
      }
      break;
    }
    case 3: {
      HEAL_ASSIGN_OR_RETURN(Bytes request, server_.unmask_request());
      for (PartyId p : got_) out->push_back({p, request});
      next = got_;
      break;
    }
    case 4: {
      HEAL_ASSIGN_OR_RETURN(sum_, server_.finish());
      break;
    }
  }
  ++phase_;
  for (PartyId p : withdrawn_) next.erase(p);
  expected_ = std::move(next);
  got_.clear();
  return true;
}

Result<std::optional<Bytes>> multi_client_step(smpc::SecAggMultiClient& c, std::span<const std::uint8_t> msg,
                                               std::uint32_t round, std::span<const std::uint64_t> x,
                                               smpc::MultiMsgType* type) {
  using smpc::MultiMsgType;
  HEAL_ASSIGN_OR_RETURN(auto head, smpc::peek_multi(msg));
  *type = head.first;
  switch (*type) {
    case MultiMsgType::kMKeyList: {
      HEAL_ASSIGN_OR_RETURN(Bytes b, c.share_keys(msg));
      return std::optional<Bytes>(std::move(b));
    }
    case MultiMsgType::kMSharesForClient: {
      HEAL_RETURN_IF_ERROR(c.receive_shares(msg));
      HEAL_ASSIGN_OR_RETURN(Bytes b, c.masked_input(round, x));
      return std::optional<Bytes>(std::move(b));
    }
    case MultiMsgType::kMSurvivors: {
      HEAL_ASSIGN_OR_RETURN(Bytes b, c.sign_survivors(msg));
      return std::optional<Bytes>(std::move(b));
    }
    case MultiMsgType::kMUnmaskRequest: {
      HEAL_ASSIGN_OR_RETURN(Bytes b, c.unmask(msg));
      return std::optional<Bytes>(std::move(b));
    }
    default:
      return Status::corruption("a client does not answer SecAgg message type " +
                                std::to_string(static_cast<int>(*type)));
  }
}

Result<std::optional<Bytes>> client_step(smpc::SecAggClient& c, std::span<const std::uint8_t> msg,
                                         std::span<const std::uint64_t> x, MsgType* type) {
  HEAL_ASSIGN_OR_RETURN(*type, smpc::peek_type(msg));
  switch (*type) {
    case MsgType::kKeyList: {
      HEAL_ASSIGN_OR_RETURN(Bytes b, c.share_keys(msg));
      return std::optional<Bytes>(std::move(b));
    }
    case MsgType::kSharesForClient: {
      HEAL_ASSIGN_OR_RETURN(Bytes b, c.masked_input(msg, x));
      return std::optional<Bytes>(std::move(b));
    }
    case MsgType::kSurvivors: {
      HEAL_ASSIGN_OR_RETURN(Bytes b, c.sign_survivors(msg));
      return std::optional<Bytes>(std::move(b));
    }
    case MsgType::kUnmaskRequest: {
      HEAL_ASSIGN_OR_RETURN(Bytes b, c.unmask(msg));
      return std::optional<Bytes>(std::move(b));
    }
    default:
      return Status::corruption("a client does not answer SecAgg message type " +
                                std::to_string(static_cast<int>(*type)));
  }
}

smpc::SecAggIdentity copy_identity(const smpc::SecAggIdentity& id) {
  smpc::SecAggIdentity out;
  out.verify_key = id.verify_key;
  out.sign_key = SecretBytes(Bytes(id.sign_key.span().begin(), id.sign_key.span().end()));
  return out;
}

void put_session(ByteWriter& w, const smpc::SecAggConfig& c) {
  w.put_bytes(c.session);
  w.put<std::uint32_t>(c.num_clients);
  w.put<std::uint32_t>(c.threshold);
  w.put<std::uint64_t>(c.vector_len);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(c.word_bytes));
}

std::uint32_t ensemble_word_bytes(std::size_t institutions, int frac_bits) {
  int bits = frac_bits + 1;  // the sign
  while ((std::uint64_t{1} << (bits - frac_bits - 1)) < institutions + 1) ++bits;
  return static_cast<std::uint32_t>(std::clamp((bits + 7) / 8, 2, 8));
}

Status get_session(ByteReader& r, smpc::SecAggConfig* c) {
  std::span<const std::uint8_t> s;
  HEAL_RETURN_IF_ERROR(r.get_bytes(c->session.size(), &s));
  std::copy(s.begin(), s.end(), c->session.begin());
  HEAL_RETURN_IF_ERROR(r.get(&c->num_clients));
  HEAL_RETURN_IF_ERROR(r.get(&c->threshold));
  HEAL_RETURN_IF_ERROR(r.get(&c->vector_len));
  std::uint8_t wb = 0;
  HEAL_RETURN_IF_ERROR(r.get(&wb));
  c->word_bytes = wb;
  if (c->word_bytes < 2 || c->word_bytes > 8) return Status::corruption("invalid SecAgg word size");
  if (c->num_clients < 2 || c->num_clients > smpc::kSecAggMaxClients ||
      2 * std::uint64_t{c->threshold} <= c->num_clients || c->threshold > c->num_clients || c->vector_len == 0 ||
      c->vector_len > smpc::kSecAggMaxVectorLen) {
    return Status::corruption("invalid SecAgg session parameters");
  }
  return {};
}

Bytes encode_doubles(std::span<const double> v) {
  ByteWriter w;
  w.put<std::uint64_t>(v.size());
  for (double d : v) w.put<double>(d);
  return w.take();
}

Result<std::vector<double>> decode_doubles(std::span<const std::uint8_t> in, std::uint64_t max_count) {
  ByteReader r(in);
  std::vector<double> v;
  HEAL_RETURN_IF_ERROR(r.get_array(&v, max_count));
  if (!r.at_end()) return Status::corruption("trailing bytes after a vector");
  for (double d : v) {
    if (!std::isfinite(d)) return Status::corruption("non-finite value");
  }
  return v;
}

}  // namespace heal::fl::ensemble::internal
