// libFuzzer target: the readers of the dealer-free HE key setup (heal/fl/he_keygen.h) in a fixed
// 3-party setup (default, secure parameters: N = 4096, so each round 2 takes milliseconds).
// The first byte selects what the rest of the input is:
//   0  a sealed-share envelope, parsed only (he_parse_sealed_share);
//   1  the sealed share from party (bit 2) to party 2, which runs round 2;
//   2  the public share of party (byte % 3 of bits 2..7), for party 2's round 2 and he_public_setup;
//   3  the PLAINTEXT of a sealed share: sealed to party 2's box key in a valid envelope from party 0,
//      so the fuzzer reaches the checks behind the box (binding, ckks key-share loader).
// Nothing may crash; the honest messages must keep working afterwards.
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "heal/fl/he_keygen.h"

namespace {

using namespace heal;

struct World {
  fl::HeAggregatorConfig config;
  Bytes federation;
  std::vector<std::unique_ptr<fl::HeKeyGenParty>> parties;
  std::vector<Bytes> public_shares;
  std::vector<std::vector<Bytes>> sealed;  // [sender][recipient]

  World() {
    config.threshold = 2;
    const std::string_view id = "fuzz-federation";
    federation.assign(id.begin(), id.end());
    std::vector<fl::BoxPublicKey> keys;
    for (std::uint32_t i = 0; i < 3; ++i) {
      SeededRng rng(seed_from_u64(i + 1));
      parties.push_back(std::make_unique<fl::HeKeyGenParty>(config, 3, i, federation, rng));
      keys.push_back(parties.back()->box_public_key());
    }
    for (std::uint32_t i = 0; i < 3; ++i) {
      SeededRng rng(seed_from_u64(100 + i));
      auto r1 = parties[i]->round1(keys, rng);
      if (!r1.ok()) std::abort();
      public_shares.push_back(r1->public_share);
      sealed.push_back(r1->sealed);
    }
    if (!parties[2]->round2(public_shares, inbox()).ok()) std::abort();
  }
  std::vector<Bytes> inbox() const { return {sealed[0][2], sealed[1][2], Bytes{}}; }
};

World& world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  World& w = world();
  const std::uint8_t sel = data[0];
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  switch (sel & 3) {
    case 0:
      (void)fl::he_parse_sealed_share(rest);
      break;
    case 1: {
      auto in = w.inbox();
      in[(sel >> 2) & 1].assign(rest.begin(), rest.end());
      (void)w.parties[2]->round2(w.public_shares, in);
      break;
    }
    case 2: {
      auto pubs = w.public_shares;
      pubs[(sel >> 2) % 3].assign(rest.begin(), rest.end());
      (void)w.parties[2]->round2(pubs, w.inbox());
      (void)fl::he_public_setup(w.config, 3, w.federation, pubs);
      break;
    }
    default: {
      // Envelope of party 0's honest share to party 2, with a box holding the fuzzed plaintext.
      const Bytes& honest = w.sealed[0][2];
      auto env = fl::he_parse_sealed_share(honest);
      if (!env.ok()) std::abort();
      const std::size_t box_at = static_cast<std::size_t>(env->box.data() - honest.data());
      Bytes box(rest.size() + crypto_box_SEALBYTES);
      // Party 2's box key, as every party knows it.
      if (crypto_box_seal(box.data(), rest.data(), rest.size(), w.parties[2]->box_public_key().data()) != 0) {
        std::abort();
      }
      Bytes msg(honest.begin(), honest.begin() + static_cast<std::ptrdiff_t>(box_at));
      for (int b = 0; b < 8; ++b) msg[box_at - 8 + b] = static_cast<std::uint8_t>(std::uint64_t{box.size()} >> (8 * b));
      msg.insert(msg.end(), box.begin(), box.end());
      const std::uint64_t payload = msg.size() - 16;  // the HEAL header's payload length
      for (int b = 0; b < 8; ++b) msg[8 + b] = static_cast<std::uint8_t>(payload >> (8 * b));
      auto in = w.inbox();
      in[0] = std::move(msg);
      (void)w.parties[2]->round2(w.public_shares, in);
      break;
    }
  }
  return 0;
}
