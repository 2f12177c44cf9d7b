// libFuzzer target for the secure aggregation message decoders (heal/smpc/secagg_wire.h, and the
// multi-round format of heal/smpc/secagg_multi_wire.h): they must
// never crash, and whatever they accept must re-encode to the same bytes (the encoding is canonical:
// strictly increasing ids, no trailing bytes). Accepted unmasking responses are also fed to the
// Shamir reconstruction, which must return a Status on any share values.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "heal/smpc/additive.h"
#include "heal/smpc/secagg_multi_wire.h"
#include "heal/smpc/secagg_wire.h"

namespace {

template <typename Decode>
void round_trip(std::span<const std::uint8_t> in, Decode decode) {
  auto m = decode(in);
  if (!m.ok()) return;
  const heal::Bytes again = heal::smpc::encode(*m);
  if (again.size() != in.size() || !std::equal(again.begin(), again.end(), in.begin())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal::smpc;
  std::span<const std::uint8_t> in(data, size);
  (void)peek_type(in);
  round_trip(in, [](auto s) { return decode_advertise(s); });
  round_trip(in, [](auto s) { return decode_key_list(s); });
  round_trip(in, [](auto s) { return decode_share_keys(s); });
  round_trip(in, [](auto s) { return decode_shares_for_client(s); });
  round_trip(in, [](auto s) { return decode_masked_input(s); });
  round_trip(in, [](auto s) { return decode_survivors(s); });
  round_trip(in, [](auto s) { return decode_survivor_sig(s); });
  round_trip(in, [](auto s) { return decode_unmask_request(s); });
  round_trip(in, [](auto s) { return decode_unmask_response(s); });
  if (auto m = decode_unmask_response(in); m.ok() && !m->shares.empty()) {
    // Treat every listed share as one party's share (x = owner) of a 32-byte secret.
    std::vector<ByteShare> shares;
    for (const auto& r : m->shares) shares.push_back(ByteShare{r.owner, {r.limbs.begin(), r.limbs.end()}});
    const std::size_t t = 1 + (m->id % shares.size());
    (void)shamir_reconstruct_bytes(shares, t, 32);
  }
  // Multi-round (version 2) messages.
  (void)peek_multi(in);
  round_trip(in, [](auto s) { return decode_m_advertise(s); });
  round_trip(in, [](auto s) { return decode_m_key_list(s); });
  round_trip(in, [](auto s) { return decode_m_share_keys(s); });
  round_trip(in, [](auto s) { return decode_m_shares_for_client(s); });
  round_trip(in, [](auto s) { return decode_m_masked_input(s); });
  round_trip(in, [](auto s) { return decode_m_survivors(s); });
  round_trip(in, [](auto s) { return decode_m_survivor_sig(s); });
  round_trip(in, [](auto s) { return decode_m_unmask_request(s); });
  round_trip(in, [](auto s) { return decode_m_unmask_response(s); });
  if (auto m = decode_m_unmask_response(in); m.ok() && !m->shares.empty()) {
    std::vector<ByteShare> shares;
    // Points 1..count (the response lists one share per member of U2, owners implied).
    for (std::size_t i = 0; i < m->shares.size(); ++i)
      shares.push_back(ByteShare{i + 1, {m->shares[i].begin(), m->shares[i].end()}});
    const std::size_t t = 1 + (m->id % shares.size());
    (void)shamir_reconstruct_bytes(shares, t, kMultiSecretBytes);
  }
  return 0;
}
