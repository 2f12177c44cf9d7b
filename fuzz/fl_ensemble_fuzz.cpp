// libFuzzer target: the readers of the SMPC ensemble's messages (fl/ensemble, kinds 20-26 of
// transport.h). Byte 0 selects what is fed:
//   0 the coordinator (a fresh one with round 1 open): kEnsembleSecAgg, kEnsembleContribution,
//     kEnsembleRefusal from institutions (and anything else from anyone);
//   1 institution 1 (one member) and 2 institution 3 (two sites, the sites' SecAgg server):
//     kEnsembleRoundStart, kEnsembleSecAgg, kEnsembleConsensus from the coordinator, kSiteSecAgg
//     from sites;
//   3 site 3000: kSiteRound, kSiteSecAgg from its institution;
//   4 internal::decode_doubles (the consensus payload): whatever decodes re-encodes to the same bytes;
//   5 internal::get_session (round start / site round header; trailing floats as kSiteRound):
//     whatever decodes re-encodes to the same bytes and satisfies the SecAgg bounds.
// For 0-3 the rest is a list of frames (fl_ensemble_world.h); each is delivered to a fresh role of
// the deterministic world (fuzz_seed_gen records a real round's frames per role), the role polls
// after each frame, and at the end it is told that nothing moves (on_idle). What the role sends is
// dropped. Nothing may crash or abort: a role answers bad bytes with a refusal, a dropped message or
// a Status.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fl_ensemble_world.h"

namespace {

using namespace heal;
namespace fz = heal::fuzz::ensemble;

void expect(bool ok) {
  if (!ok) std::abort();
}

void drain(fl::InProcessTransport& net) {
  for (fl::PartyId p : fz::parties()) {
    while (net.receive(p)) {
    }
  }
}

template <class Role>
void drive(Role& role, fl::PartyId id, std::span<const std::uint8_t> in, fl::InProcessTransport& net) {
  for (fl::Message& m : fz::frames(in, id)) {
    (void)net.send(std::move(m));
    (void)role.poll();
    for (fl::PartyId p : fz::parties()) {
      if (p == id) continue;
      while (net.receive(p)) {
      }
    }
  }
  if constexpr (requires { role.on_idle(); }) (void)role.on_idle();
  drain(net);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace in = heal::fl::ensemble::internal;
  static fz::World world;
  if (size < 1) return 0;
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 6) {
    case 4: {
      auto v = in::decode_doubles(rest, smpc::kSecAggMaxVectorLen);
      if (!v.ok()) break;
      for (double d : *v) expect(std::isfinite(d));
      const Bytes again = in::encode_doubles(*v);
      expect(again.size() == rest.size() && std::equal(again.begin(), again.end(), rest.begin()));
      break;
    }
    case 5: {
      ByteReader r(rest);
      smpc::SecAggConfig c;
      if (!in::get_session(r, &c).ok()) break;
      expect(c.num_clients >= 2 && 2 * std::uint64_t{c.threshold} > c.num_clients && c.threshold <= c.num_clients &&
             c.vector_len >= 1 && c.vector_len <= smpc::kSecAggMaxVectorLen);
      ByteWriter w;
      in::put_session(w, c);
      const Bytes again = w.take();
      expect(std::equal(again.begin(), again.end(), rest.begin()));
      std::vector<float> weights;
      (void)r.get_array(&weights, smpc::kSecAggMaxVectorLen);
      break;
    }
    default: {
      fl::InProcessTransport net;
      fz::Roles roles(world, net);
      switch (data[0] % 6) {
        case 0:
          expect(roles.coordinator->start_round(1).ok());
          drain(net);
          drive(*roles.coordinator, fl::kCoordinatorId, rest, net);
          break;
        case 1:
          drive(*roles.nodes[0], 1, rest, net);
          break;
        case 2:
          drive(*roles.nodes[2], 3, rest, net);
          break;
        default:
          drive(*roles.sites[0], 3000, rest, net);
          break;
      }
    }
  }
  return 0;
}
