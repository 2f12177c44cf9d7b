// libFuzzer target: a hospital of multi-hospital encrypted training (src/apps) reading messages
// from the server and from other hospitals. A federation of three hospitals runs once (INSECURE
// test preset) so that hospital 1 holds every piece of state; then each input is one message:
// byte 0 picks the sender (0 the server, 1..3 hospitals), the rest is the message. Nothing may
// crash; refusals are Status errors.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "heal/apps/multi_hospital_training.h"
#include "heal/core/rng.h"

namespace {

namespace et = heal::apps::he_train;

struct Federation {
  et::InProcessPartyNetwork net;
  std::vector<std::unique_ptr<et::CollectiveHospital>> hospitals;
  Federation() {
    for (et::Party p = 1; p <= 3; ++p) {
      et::FeatureSplit f;
      f.n = 8;
      f.d = 3;
      for (std::size_t i = 0; i < f.n * f.d; ++i) f.x.push_back(static_cast<double>((i * 7 + p) % 5) - 2.0);
      for (std::size_t i = 0; i < f.n; ++i) f.y.push_back(static_cast<int>((i + p) % 2));
      hospitals.push_back(std::make_unique<et::CollectiveHospital>(p, std::move(f), net, true));
      net.attach(p, hospitals.back().get());
    }
    et::CollectiveJob job;
    job.preset = "test-collective";
    job.allow_insecure = true;
    job.epochs = 1;
    job.batch_rows = 24;
    job.crs = heal::seed_from_u64(5);
    if (!et::CollectiveServer(job, net).run().ok()) std::abort();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Federation fed;
  if (size == 0) return 0;
  const et::Party from = data[0] % 4;
  (void)fed.hospitals[0]->handle(from, std::span<const std::uint8_t>(data + 1, size - 1));
  return 0;
}
