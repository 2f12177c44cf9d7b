// Writes the seed corpus of fuzz_apps_ensemble: the real messages of one HE-mode secure ensemble
// diagnosis (apps_ensemble_world.h), each behind the selector of the reader it feeds.
//   build/fuzz/fuzz/fuzz_seed_gen_apps fuzz/corpus     (writes fuzz/corpus/apps_ensemble/seed_*)
#include <cstdio>
#include <filesystem>
#include <string>

#include "apps_ensemble_world.h"
#include "heal/core/bytes.h"

int main(int argc, char** argv) {
  using namespace heal;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = std::filesystem::path(argv[1]) / "apps_ensemble";
  std::filesystem::create_directories(dir);
  const fuzz::apps_ensemble::World w;  // checks every message with its reader
  auto put = [&](std::uint8_t sel, const std::string& name, const Bytes& b) {
    Bytes out{sel};
    out.insert(out.end(), b.begin(), b.end());
    const Status s = write_file((dir / name).string(), out);
    if (!s.ok()) {
      std::fprintf(stderr, "fuzz_seed_gen_apps: %s: %s\n", name.c_str(), s.message().c_str());
      std::exit(1);
    }
  };
  put(0, "seed_bundle_member", w.bundle);
  put(1, "seed_query", w.query);
  put(2, "seed_member_output", w.output);
  put(3, "seed_sum", w.sum);
  put(4, "seed_bundle_aggregator", w.bundle);
  std::printf("seeds written under %s\n", dir.string().c_str());
  return 0;
}
