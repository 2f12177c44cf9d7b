// One HE party's secret material as the bytes its node store keeps (he_internal.h, save_material).
#include <algorithm>

#include "he_internal.h"
#include "heal/ckks/serialization.h"

namespace heal::fl::he {

namespace {
constexpr std::uint16_t kMaterialVersion = 1;
}

SecretBytes save_material(const Shared& sh, PartyId id, const Material& material) {
  const auto& ctx = *sh.ctx;
  SecretBytes sk = ckks::save(ctx, material.secret);
  std::vector<SecretBytes> shares;  // Shamir shares are secret too: wiped when done
  std::size_t total = 2 + 4 + 8 + sk.size() + 4;
  for (const auto& s : material.received) {
    shares.emplace_back(ckks::save(ctx, s));
    total += 8 + shares.back().size();
  }
  Bytes out;
  out.reserve(total);  // one allocation: no stray copies of the secret
  ByteWriter w(&out);
  w.put<std::uint16_t>(kMaterialVersion);
  w.put<std::uint32_t>(id);
  w.put<std::uint64_t>(sk.size());
  w.put_bytes(sk.span());
  w.put<std::uint32_t>(static_cast<std::uint32_t>(shares.size()));
  for (const auto& s : shares) {
    w.put<std::uint64_t>(s.size());
    w.put_bytes(s.span());
  }
  return SecretBytes(std::move(out));
}

Result<Material> load_material(const Shared& sh, PartyId id, std::span<const std::uint8_t> bytes) {
  const auto& ctx = *sh.ctx;
  ByteReader r(bytes);
  std::uint16_t version = 0;
  std::uint32_t party = 0, count = 0;
  std::uint64_t len = 0;
  std::span<const std::uint8_t> obj;
  HEAL_RETURN_IF_ERROR(r.get(&version));
  if (version != kMaterialVersion) {
    return Status::unsupported("he material: version " + std::to_string(version) + " is not supported");
  }
  HEAL_RETURN_IF_ERROR(r.get(&party));
  if (party != id) {
    return Status::invalid_argument("he material: the store holds party " + std::to_string(party) +
                                    "'s keys, not party " + std::to_string(id) + "'s");
  }
  HEAL_RETURN_IF_ERROR(r.get(&len));
  HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(std::min<std::uint64_t>(len, r.remaining() + 1)), &obj));
  Material m;
  HEAL_ASSIGN_OR_RETURN(m.secret, ckks::load_secret_key(ctx, obj));
  HEAL_RETURN_IF_ERROR(r.get(&count));
  if (count != sh.parties) {
    return Status::invalid_argument("he material: " + std::to_string(count) + " Shamir shares for " +
                                    std::to_string(sh.parties) + " parties");
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    HEAL_RETURN_IF_ERROR(r.get(&len));
    HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(std::min<std::uint64_t>(len, r.remaining() + 1)), &obj));
    HEAL_ASSIGN_OR_RETURN(auto share, ckks::load_key_share(ctx, obj));
    if (share.kind != ckks::multiparty::ShareKind::kShamirSecret || share.polys.size() != 1 ||
        share.recipient != id + 1) {
      return Status::invalid_argument("he material: share " + std::to_string(i) + " is not a Shamir share for party " +
                                      std::to_string(id));
    }
    m.received.push_back(std::move(share));
  }
  if (!r.at_end()) return Status::corruption("he material: trailing bytes");
  return m;
}

}  // namespace heal::fl::he
