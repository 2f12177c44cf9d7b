// libFuzzer target: the readers of HE-mode secure ensemble diagnosis (apps/ensemble_diagnosis.h;
// SMPC mode is smpc SecAgg, fuzz_smpc). Byte 0 selects the reader, the rest is the message:
//   0 HeMember::load_keys (the querier's key bundle; a fresh member each time),
//   1 HeMember::evaluate (a query; the member holds the real keys),
//   2 HeAggregator::add (a member output; after the real output of member 1, so a decoded one is
//     also checked against it for level and scale), then result(),
//   3 HeQuerier::decrypt_result (the aggregator's sum, 2 images expected),
//   4 HeAggregator::load_keys (a key bundle; parameters only).
// The world (apps_ensemble_world.h) is built once. Nothing may crash or abort: bad bytes are a Status.
#include <cstdint>
#include <span>

#include "apps_ensemble_world.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ae = heal::apps::ensemble;
  static heal::fuzz::apps_ensemble::World world;
  if (size < 1) return 0;
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      ae::HeMember m(world.models[0], 0.6);
      if (m.load_keys(in, true).ok()) (void)m.evaluate(world.query);
      break;
    }
    case 1:
      (void)world.member->evaluate(in);
      break;
    case 2: {
      ae::HeAggregator agg;
      if (!agg.load_keys(world.bundle, true).ok() || !agg.add(world.output).ok()) std::abort();
      if (agg.add(in).ok()) {
        auto r = agg.result();
        if (!r.ok()) std::abort();
        (void)world.querier->decrypt_result(*r, heal::fuzz::apps_ensemble::World::kCount);
      }
      break;
    }
    case 3:
      (void)world.querier->decrypt_result(in, heal::fuzz::apps_ensemble::World::kCount);
      break;
    default: {
      ae::HeAggregator agg;
      if (agg.load_keys(in, true).ok()) (void)agg.add(world.output);
      break;
    }
  }
  return 0;
}
