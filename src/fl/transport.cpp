#include "heal/fl/transport.h"

namespace heal::fl {

Status InProcessTransport::send(Message m) {
  if (interceptor_) interceptor_(m);
  if (offline_.count(m.from) || offline_.count(m.to)) {
    ++lost_;
    return Status::unavailable("party " + std::to_string(offline_.count(m.from) ? m.from : m.to) + " is offline");
  }
  const std::uint64_t bytes = m.payload.size() + kEnvelopeBytes;
  // Traffic is accounted to the hospital end: up = hospital -> coordinator, down = the reverse.
  if (m.to == kCoordinatorId) {
    counters_[m.from].bytes_up += bytes;
    ++counters_[m.from].messages_up;
  } else {
    counters_[m.to].bytes_down += bytes;
    ++counters_[m.to].messages_down;
  }
  auto& link = links_[{m.from, m.to}];
  link.bytes_up += bytes;
  ++link.messages_up;
  queues_[m.to].push_back(std::move(m));
  return {};
}

std::optional<Message> InProcessTransport::receive(PartyId party) {
  auto it = queues_.find(party);
  if (it == queues_.end() || it->second.empty()) return std::nullopt;
  Message m = std::move(it->second.front());
  it->second.pop_front();
  return m;
}

void InProcessTransport::wait(PartyId, std::chrono::milliseconds) {
  if (delivery_) delivery_();
}

void InProcessTransport::set_connected(PartyId party, bool connected) {
  if (connected) {
    offline_.erase(party);
    return;
  }
  offline_.insert(party);
  // A crashed party loses what was waiting for it.
  if (auto it = queues_.find(party); it != queues_.end()) {
    lost_ += it->second.size();
    it->second.clear();
  }
}

TrafficCounters InProcessTransport::link_counters(PartyId party, PartyId peer) const {
  TrafficCounters c;
  if (auto it = links_.find({party, peer}); it != links_.end()) {
    c.bytes_up = it->second.bytes_up;
    c.messages_up = it->second.messages_up;
  }
  if (auto it = links_.find({peer, party}); it != links_.end()) {
    c.bytes_down = it->second.bytes_up;
    c.messages_down = it->second.messages_up;
  }
  return c;
}

TrafficCounters InProcessTransport::counters(PartyId party) const {
  auto it = counters_.find(party);
  return it == counters_.end() ? TrafficCounters{} : it->second;
}

std::string message_kind_name(MessageKind kind) {
  switch (kind) {
    case MessageKind::kModel:
      return "model";
    case MessageKind::kUpdate:
      return "update";
    case MessageKind::kRefusal:
      return "refusal";
    case MessageKind::kAggregate:
      return "aggregate";
    case MessageKind::kDecryptionShare:
      return "decryption share";
    case MessageKind::kEvaluate:
      return "evaluation request";
    case MessageKind::kEvaluation:
      return "evaluation";
    default:
      return "kind " + std::to_string(static_cast<int>(kind));
  }
}

}  // namespace heal::fl
