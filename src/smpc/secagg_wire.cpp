#include "heal/smpc/secagg_wire.h"

#include <string>

#include "heal/core/check.h"
#include "secagg_wire_internal.h"

namespace heal::smpc {

namespace {

using namespace wire;  // secagg_wire_internal.h: the pieces shared with the multi-round wire

void put_header(ByteWriter& w, MsgType type, const Seed& session) {
  put_prefix(w, kSecAggVersion, static_cast<std::uint8_t>(type));
  w.put_bytes(session);
}

Status read_header(ByteReader& r, MsgType expected, Seed* session) {
  HEAL_RETURN_IF_ERROR(read_prefix(r, kSecAggVersion, static_cast<std::uint8_t>(expected)));
  return get_fixed(r, session);
}

void put_advert_body(ByteWriter& w, const AdvertiseMsg& m) {
  w.put<std::uint32_t>(m.id);
  w.put_bytes(m.enc_pk);
  w.put_bytes(m.mask_pk);
  w.put_bytes(m.sig);
}

Status get_advert_body(ByteReader& r, AdvertiseMsg* m) {
  HEAL_RETURN_IF_ERROR(get_id(r, &m->id));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m->enc_pk));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m->mask_pk));
  return get_fixed(r, &m->sig);
}

void put_shares(ByteWriter& w, const std::vector<EncryptedShare>& shares) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(shares.size()));
  for (const auto& s : shares) {
    w.put<std::uint32_t>(s.peer);
    w.put_bytes(s.ct);
  }
}

Status get_shares(ByteReader& r, std::vector<EncryptedShare>* shares) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 4 + kShareCiphertextBytes, &n));
  shares->resize(n);
  std::uint32_t prev = 0;
  for (auto& s : *shares) {
    HEAL_RETURN_IF_ERROR(get_increasing_id(r, &prev, &s.peer));
    HEAL_RETURN_IF_ERROR(get_fixed(r, &s.ct));
  }
  return {};
}

}  // namespace

Result<MsgType> peek_type(std::span<const std::uint8_t> in) {
  HEAL_ASSIGN_OR_RETURN(std::uint8_t type, peek_prefix(in, kSecAggHeaderSize, kSecAggVersion, 10));
  return static_cast<MsgType>(type);
}

std::span<const std::uint8_t> signed_prefix(std::span<const std::uint8_t> message) {
  return message.first(message.size() >= 64 ? message.size() - 64 : 0);
}

Bytes encode(const AdvertiseMsg& m) {
  ByteWriter w;
  put_header(w, MsgType::kAdvertise, m.session);
  put_advert_body(w, m);
  return w.take();
}

Bytes encode(const KeyListMsg& m) {
  ByteWriter w;
  put_header(w, MsgType::kKeyList, m.session);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.entries.size()));
  for (const auto& e : m.entries) put_advert_body(w, e);
  return w.take();
}

Bytes encode(const ShareKeysMsg& m) {
  ByteWriter w;
  put_header(w, MsgType::kShareKeys, m.session);
  w.put<std::uint32_t>(m.sender);
  w.put_bytes(m.seed_commitment);
  put_shares(w, m.shares);
  w.put_bytes(m.sig);
  return w.take();
}

Bytes encode(const SharesForClientMsg& m) {
  ByteWriter w;
  put_header(w, MsgType::kSharesForClient, m.session);
  w.put<std::uint32_t>(m.recipient);
  put_shares(w, m.shares);
  return w.take();
}

Bytes encode(const MaskedInputMsg& m) {
  HEAL_REQUIRE(m.word_bytes >= 2 && m.word_bytes <= 8, "secagg: word_bytes " << int{m.word_bytes} << " not in [2, 8]");
  ByteWriter w;
  if (m.word_bytes == 8) {
    put_header(w, MsgType::kMaskedInput, m.session);
    w.put<std::uint32_t>(m.id);
    w.put_array<std::uint64_t>(m.y);
  } else {
    put_header(w, MsgType::kMaskedInputPacked, m.session);
    w.put<std::uint32_t>(m.id);
    w.put<std::uint8_t>(m.word_bytes);
    w.put<std::uint64_t>(m.y.size());
    std::uint8_t le[8];
    for (std::uint64_t v : m.y) {
      HEAL_REQUIRE((v >> (8 * m.word_bytes)) == 0, "secagg: packed word out of range");
      for (int b = 0; b < 8; ++b) le[b] = static_cast<std::uint8_t>(v >> (8 * b));
      w.put_bytes(std::span<const std::uint8_t>(le, m.word_bytes));
    }
  }
  w.put_bytes(m.sig);
  return w.take();
}

Bytes encode(const SurvivorsMsg& m) {
  ByteWriter w;
  put_header(w, MsgType::kSurvivors, m.session);
  put_ids(w, m.ids);
  return w.take();
}

Bytes encode(const SurvivorSigMsg& m) {
  ByteWriter w;
  put_header(w, MsgType::kSurvivorSig, m.session);
  w.put<std::uint32_t>(m.id);
  w.put_bytes(m.sig);
  return w.take();
}

Bytes encode(const UnmaskRequestMsg& m) {
  ByteWriter w;
  put_header(w, MsgType::kUnmaskRequest, m.session);
  put_ids(w, m.survivors);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.sigs.size()));
  for (const auto& s : m.sigs) {
    w.put<std::uint32_t>(s.id);
    w.put_bytes(s.sig);
  }
  return w.take();
}

Bytes encode(const UnmaskResponseMsg& m) {
  ByteWriter w;
  put_header(w, MsgType::kUnmaskResponse, m.session);
  w.put<std::uint32_t>(m.id);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.shares.size()));
  for (const auto& s : m.shares) {
    w.put<std::uint32_t>(s.owner);
    w.put<std::uint8_t>(static_cast<std::uint8_t>(s.kind));
    for (auto v : s.limbs) w.put<std::uint64_t>(v);
  }
  w.put_bytes(m.sig);
  return w.take();
}

Result<AdvertiseMsg> decode_advertise(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  AdvertiseMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MsgType::kAdvertise, &m.session));
  HEAL_RETURN_IF_ERROR(get_advert_body(r, &m));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Result<KeyListMsg> decode_key_list(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  KeyListMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MsgType::kKeyList, &m.session));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 4 + 32 + 32 + 64, &n));
  m.entries.resize(n);
  std::uint32_t prev = 0;
  for (auto& e : m.entries) {
    e.session = m.session;
    HEAL_RETURN_IF_ERROR(get_advert_body(r, &e));
    HEAL_RETURN_IF_ERROR(check_increasing(prev, e.id));
    prev = e.id;
  }
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Result<ShareKeysMsg> decode_share_keys(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  ShareKeysMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MsgType::kShareKeys, &m.session));
  HEAL_RETURN_IF_ERROR(get_id(r, &m.sender));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.seed_commitment));
  HEAL_RETURN_IF_ERROR(get_shares(r, &m.shares));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.sig));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Result<SharesForClientMsg> decode_shares_for_client(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  SharesForClientMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MsgType::kSharesForClient, &m.session));
  HEAL_RETURN_IF_ERROR(get_id(r, &m.recipient));
  HEAL_RETURN_IF_ERROR(get_shares(r, &m.shares));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Result<MaskedInputMsg> decode_masked_input(std::span<const std::uint8_t> in) {
  // The type byte (offset 5) tells the two layouts apart; read_header checks it again.
  const bool packed = in.size() > 5 && in[5] == static_cast<std::uint8_t>(MsgType::kMaskedInputPacked);
  ByteReader r(in);
  MaskedInputMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, packed ? MsgType::kMaskedInputPacked : MsgType::kMaskedInput, &m.session));
  HEAL_RETURN_IF_ERROR(get_id(r, &m.id));
  if (!packed) {
    HEAL_RETURN_IF_ERROR(r.get_array(&m.y, kSecAggMaxVectorLen));
  } else {
    std::uint8_t wb = 0;
    std::uint64_t len = 0;
    HEAL_RETURN_IF_ERROR(r.get(&wb));
    if (wb < 2 || wb > 7)
      return Status::corruption("secagg: packed word size " + std::to_string(wb) + " not in [2, 7]");
    HEAL_RETURN_IF_ERROR(r.get(&len));
    // Checked against what is left before allocating: never more than the input holds.
    if (len > kSecAggMaxVectorLen || len > r.remaining() / wb) {
      return Status::corruption("secagg: packed masked input longer than the message");
    }
    m.word_bytes = wb;
    m.y.resize(len);
    std::span<const std::uint8_t> words;
    HEAL_RETURN_IF_ERROR(r.get_bytes(static_cast<std::size_t>(len) * wb, &words));
    for (std::size_t i = 0; i < m.y.size(); ++i) {
      std::uint64_t v = 0;
      for (int b = wb - 1; b >= 0; --b) v = (v << 8) | words[i * wb + static_cast<std::size_t>(b)];
      m.y[i] = v;
    }
  }
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.sig));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Result<SurvivorsMsg> decode_survivors(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  SurvivorsMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MsgType::kSurvivors, &m.session));
  HEAL_RETURN_IF_ERROR(get_ids(r, &m.ids));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Result<SurvivorSigMsg> decode_survivor_sig(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  SurvivorSigMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MsgType::kSurvivorSig, &m.session));
  HEAL_RETURN_IF_ERROR(get_id(r, &m.id));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.sig));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Result<UnmaskRequestMsg> decode_unmask_request(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  UnmaskRequestMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MsgType::kUnmaskRequest, &m.session));
  HEAL_RETURN_IF_ERROR(get_ids(r, &m.survivors));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 4 + 64, &n));
  m.sigs.resize(n);
  std::uint32_t prev = 0;
  for (auto& s : m.sigs) {
    s.session = m.session;
    HEAL_RETURN_IF_ERROR(get_increasing_id(r, &prev, &s.id));
    HEAL_RETURN_IF_ERROR(get_fixed(r, &s.sig));
  }
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Result<UnmaskResponseMsg> decode_unmask_response(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  UnmaskResponseMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MsgType::kUnmaskResponse, &m.session));
  HEAL_RETURN_IF_ERROR(get_id(r, &m.id));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 4 + 1 + 8 * kSeedLimbs, &n));
  m.shares.resize(n);
  std::uint32_t prev = 0;
  for (auto& s : m.shares) {
    HEAL_RETURN_IF_ERROR(get_increasing_id(r, &prev, &s.owner));
    std::uint8_t kind = 0;
    HEAL_RETURN_IF_ERROR(r.get(&kind));
    if (kind > 1) return Status::corruption("secagg: unknown share kind");
    s.kind = static_cast<ShareKind>(kind);
    for (auto& v : s.limbs) HEAL_RETURN_IF_ERROR(r.get(&v));
  }
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.sig));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

}  // namespace heal::smpc
