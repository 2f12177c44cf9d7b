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
using smpc::MultiMsgType;

namespace {

// A client message: the phase it belongs to (0-4) and the sender id it carries, signed.
struct ClientMsg {
  int phase;
  std::uint32_t sender;
};

// The message `m` (or its decoding error) of phase `phase`, with its sender id field.
template <class M>
Result<ClientMsg> sent(int phase, Result<M> m, std::uint32_t M::*sender) {
  if (!m.ok()) return m.status();
  return ClientMsg{phase, (*m).*sender};
}

// The wire of each server kind: reads a client message, and says why one of the wrong kind is refused.
template <class Server>
struct Wire;

template <>
struct Wire<smpc::SecAggServer> {
  static Result<ClientMsg> read(std::span<const std::uint8_t> msg) {
    HEAL_ASSIGN_OR_RETURN(MsgType t, smpc::peek_type(msg));
    switch (t) {
      case MsgType::kAdvertise:
        return sent(0, smpc::decode_advertise(msg), &smpc::AdvertiseMsg::id);
      case MsgType::kShareKeys:
        return sent(1, smpc::decode_share_keys(msg), &smpc::ShareKeysMsg::sender);
      case MsgType::kMaskedInput:
      case MsgType::kMaskedInputPacked:
        return sent(2, smpc::decode_masked_input(msg), &smpc::MaskedInputMsg::id);
      case MsgType::kSurvivorSig:
        return sent(3, smpc::decode_survivor_sig(msg), &smpc::SurvivorSigMsg::id);
      case MsgType::kUnmaskResponse:
        return sent(4, smpc::decode_unmask_response(msg), &smpc::UnmaskResponseMsg::id);
      default:
        return Status::corruption("not a client message");
    }
  }
  static const char* wrong_kind(int phase) {
    static constexpr const char* kWant[] = {"not an advert", "not key shares", "not a masked input", "not a signature",
                                            "not an unmasking"};
    return kWant[phase];
  }
};

template <>
struct Wire<smpc::SecAggMultiServer> {
  static Result<ClientMsg> read(std::span<const std::uint8_t> msg) {
    HEAL_ASSIGN_OR_RETURN(auto head, smpc::peek_multi(msg));
    switch (head.first) {
      case MultiMsgType::kMAdvertise:
        return sent(0, smpc::decode_m_advertise(msg), &smpc::MAdvertiseMsg::id);
      case MultiMsgType::kMShareKeys:
        return sent(1, smpc::decode_m_share_keys(msg), &smpc::MShareKeysMsg::sender);
      case MultiMsgType::kMMaskedInput:
        return sent(2, smpc::decode_m_masked_input(msg), &smpc::MMaskedInputMsg::id);
      case MultiMsgType::kMSurvivorSig:
        return sent(3, smpc::decode_m_survivor_sig(msg), &smpc::MSurvivorSigMsg::id);
      case MultiMsgType::kMUnmaskResponse:
        return sent(4, smpc::decode_m_unmask_response(msg), &smpc::MUnmaskResponseMsg::id);
      default:
        return Status::corruption("not a client message");
    }
  }
  static const char* wrong_kind(int) { return "SecAgg message of the wrong kind for this phase"; }
};

}  // namespace

template <class Stored>
std::optional<std::uint32_t> PhaseDriver<Stored>::id_of(PartyId p) const {
  for (std::size_t i = 0; i < group_.parties.size(); ++i) {
    if (group_.parties[i] == p) return static_cast<std::uint32_t>(i + 1);
  }
  return std::nullopt;
}

template <class Stored>
std::vector<PartyId> PhaseDriver<Stored>::contributors() const {
  std::vector<PartyId> out;
  for (auto id : server_.aggregated_clients()) out.push_back(party_of(id));
  return out;
}

template <class Stored>
void PhaseDriver<Stored>::withdraw(PartyId party) {
  withdrawn_.insert(party);
  expected_.erase(party);
}

template <class Stored>
Status PhaseDriver<Stored>::receive(PartyId from, std::span<const std::uint8_t> msg) {
  Stopwatch sw(seconds_);
  auto id = id_of(from);
  if (!id) return Status::invalid_argument("party " + std::to_string(from) + " is not in the SecAgg group");
  if (!expected_.count(from) || got_.count(from))
    return Status::failed_precondition("party " + std::to_string(from) + " is not expected in this phase");
  // The SecAgg messages carry their sender id, signed: it must be the transport sender's (else one
  // party could replay another's message and be counted as having answered).
  HEAL_ASSIGN_OR_RETURN(ClientMsg m, Wire<Server>::read(msg));
  if (m.sender != *id)
    return Status::corruption("SecAgg message of client " + std::to_string(m.sender) + " sent by party " +
                              std::to_string(from));
  if (phase_ > 4) return Status::failed_precondition("the aggregation is finished");
  if (m.phase != phase_) return Status::corruption(Wire<Server>::wrong_kind(phase_));
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

template <class Stored>
Result<bool> PhaseDriver<Stored>::maybe_close(bool force, std::vector<std::pair<PartyId, Bytes>>* out) {
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
      HEAL_RETURN_IF_ERROR(setup_closed());
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

template class PhaseDriver<smpc::SecAggServer>;
template class PhaseDriver<smpc::SecAggMultiServer&>;

ServerDriver::ServerDriver(smpc::SecAggConfig cfg, const SecAggGroup& group)
    : PhaseDriver(group, 0, cfg, group.verify_keys) {
  HEAL_REQUIRE(group.parties.size() == cfg.num_clients && group.verify_keys.size() == cfg.num_clients,
               "SecAgg group size differs from the configuration");
  expected_.insert(group.parties.begin(), group.parties.end());
}

MultiServerDriver::MultiServerDriver(smpc::SecAggMultiServer& server, const SecAggGroup& group, std::uint32_t round,
                                     bool with_setup)
    : PhaseDriver(group, with_setup ? 0 : 2, server), round_(round) {
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

Status MultiServerDriver::setup_closed() { return server_.begin_round(round_); }

namespace {

// A client's answer (or its error) as a step result.
Result<std::optional<Bytes>> answer(Result<Bytes> reply) {
  if (!reply.ok()) return reply.status();
  return std::optional<Bytes>(std::move(*reply));
}

Status not_answered(int type) {
  return Status::corruption("a client does not answer SecAgg message type " + std::to_string(type));
}

}  // namespace

Result<std::optional<Bytes>> multi_client_step(smpc::SecAggMultiClient& c, std::span<const std::uint8_t> msg,
                                               std::uint32_t round, std::span<const std::uint64_t> x,
                                               MultiMsgType* type) {
  HEAL_ASSIGN_OR_RETURN(auto head, smpc::peek_multi(msg));
  *type = head.first;
  switch (*type) {
    case MultiMsgType::kMKeyList:
      return answer(c.share_keys(msg));
    case MultiMsgType::kMSharesForClient:
      HEAL_RETURN_IF_ERROR(c.receive_shares(msg));
      return answer(c.masked_input(round, x));
    case MultiMsgType::kMSurvivors:
      return answer(c.sign_survivors(msg));
    case MultiMsgType::kMUnmaskRequest:
      return answer(c.unmask(msg));
    default:
      return not_answered(static_cast<int>(*type));
  }
}

Result<std::optional<Bytes>> client_step(smpc::SecAggClient& c, std::span<const std::uint8_t> msg,
                                         std::span<const std::uint64_t> x, MsgType* type) {
  HEAL_ASSIGN_OR_RETURN(*type, smpc::peek_type(msg));
  switch (*type) {
    case MsgType::kKeyList:
      return answer(c.share_keys(msg));
    case MsgType::kSharesForClient:
      return answer(c.masked_input(msg, x));
    case MsgType::kSurvivors:
      return answer(c.sign_survivors(msg));
    case MsgType::kUnmaskRequest:
      return answer(c.unmask(msg));
    default:
      return not_answered(static_cast<int>(*type));
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
