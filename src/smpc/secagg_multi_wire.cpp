#include "heal/smpc/secagg_multi_wire.h"

#include <string>

#include "heal/core/check.h"
#include "secagg_wire_internal.h"

namespace heal::smpc {

namespace {

using namespace wire;  // secagg_wire_internal.h: the pieces shared with the one-shot wire

void put_header(ByteWriter& w, MultiMsgType type, std::uint32_t round) {
  put_prefix(w, kSecAggMultiVersion, static_cast<std::uint8_t>(type));
  w.put<std::uint32_t>(round);
}

// Setup messages must carry round 0, round messages a round in [1, kSecAggMaxRounds].
Status read_header(ByteReader& r, MultiMsgType expected, bool setup, std::uint32_t* round) {
  HEAL_RETURN_IF_ERROR(read_prefix(r, kSecAggMultiVersion, static_cast<std::uint8_t>(expected)));
  HEAL_RETURN_IF_ERROR(r.get(round));
  if (setup ? *round != 0 : (*round == 0 || *round > kSecAggMaxRounds)) {
    return Status::corruption("secagg: round " + std::to_string(*round) + " not valid for this message type");
  }
  return {};
}

Status get_rounds(ByteReader& r, std::uint32_t* rounds) {
  HEAL_RETURN_IF_ERROR(r.get(rounds));
  if (*rounds == 0 || *rounds > kSecAggMaxRounds) return Status::corruption("secagg: round count out of range");
  return {};
}

void put_advert_body(ByteWriter& w, const MAdvertiseMsg& m, bool with_count) {
  w.put<std::uint32_t>(m.id);
  if (with_count) w.put<std::uint32_t>(static_cast<std::uint32_t>(m.mask_pks.size()));
  w.put_bytes(m.enc_pk);
  for (const auto& pk : m.mask_pks) w.put_bytes(pk);
  w.put_bytes(m.sig);
}

Status get_advert_rest(ByteReader& r, std::uint32_t rounds, MAdvertiseMsg* m) {
  if (r.remaining() / 32 < rounds) return Status::corruption("secagg: more mask keys than the message holds");
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m->enc_pk));
  m->mask_pks.resize(rounds);
  for (auto& pk : m->mask_pks) HEAL_RETURN_IF_ERROR(get_fixed(r, &pk));
  return get_fixed(r, &m->sig);
}

void put_shares(ByteWriter& w, const std::vector<MEncryptedShares>& shares, std::uint32_t rounds) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(shares.size()));
  for (const auto& s : shares) {
    HEAL_REQUIRE(s.ct.size() == multi_share_ct_bytes(rounds), "secagg: share ciphertext of the wrong size");
    w.put<std::uint32_t>(s.peer);
    w.put_bytes(s.ct);
  }
}

Status get_shares(ByteReader& r, std::uint32_t rounds, std::vector<MEncryptedShares>* shares) {
  const std::size_t ct = multi_share_ct_bytes(rounds);
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 4 + ct, &n));
  shares->resize(n);
  std::uint32_t prev = 0;
  for (auto& s : *shares) {
    HEAL_RETURN_IF_ERROR(get_increasing_id(r, &prev, &s.peer));
    std::span<const std::uint8_t> b;
    HEAL_RETURN_IF_ERROR(r.get_bytes(ct, &b));
    s.ct.assign(b.begin(), b.end());
  }
  return {};
}

}  // namespace

Result<std::pair<MultiMsgType, std::uint32_t>> peek_multi(std::span<const std::uint8_t> in) {
  HEAL_ASSIGN_OR_RETURN(std::uint8_t type, peek_prefix(in, kSecAggMultiHeaderSize, kSecAggMultiVersion, 9));
  std::uint32_t round;
  std::memcpy(&round, in.data() + 6, 4);
  return std::make_pair(static_cast<MultiMsgType>(type), round);
}

Bytes encode(const MAdvertiseMsg& m) {
  ByteWriter w;
  put_header(w, MultiMsgType::kMAdvertise, 0);
  put_advert_body(w, m, true);
  return w.take();
}

Result<MAdvertiseMsg> decode_m_advertise(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  std::uint32_t round = 0, rounds = 0;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMAdvertise, true, &round));
  MAdvertiseMsg m;
  HEAL_RETURN_IF_ERROR(get_id(r, &m.id));
  HEAL_RETURN_IF_ERROR(get_rounds(r, &rounds));
  HEAL_RETURN_IF_ERROR(get_advert_rest(r, rounds, &m));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Bytes encode(const MKeyListMsg& m) {
  ByteWriter w;
  put_header(w, MultiMsgType::kMKeyList, 0);
  w.put<std::uint32_t>(m.rounds);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.entries.size()));
  for (const auto& e : m.entries) {
    HEAL_REQUIRE(e.mask_pks.size() == m.rounds, "secagg: advertisement with the wrong number of keys");
    put_advert_body(w, e, false);
  }
  return w.take();
}

Result<MKeyListMsg> decode_m_key_list(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  std::uint32_t round = 0;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMKeyList, true, &round));
  MKeyListMsg m;
  HEAL_RETURN_IF_ERROR(get_rounds(r, &m.rounds));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 4 + 32 + 32 * std::size_t{m.rounds} + 64, &n));
  m.entries.resize(n);
  std::uint32_t prev = 0;
  for (auto& e : m.entries) {
    HEAL_RETURN_IF_ERROR(get_increasing_id(r, &prev, &e.id));
    HEAL_RETURN_IF_ERROR(get_advert_rest(r, m.rounds, &e));
  }
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Bytes encode(const MShareKeysMsg& m) {
  ByteWriter w;
  put_header(w, MultiMsgType::kMShareKeys, 0);
  w.put<std::uint32_t>(m.sender);
  const auto rounds = static_cast<std::uint32_t>(m.commitments.size());
  w.put<std::uint32_t>(rounds);
  for (const auto& c : m.commitments) w.put_bytes(c);
  put_shares(w, m.shares, rounds);
  w.put_bytes(m.sig);
  return w.take();
}

Result<MShareKeysMsg> decode_m_share_keys(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  std::uint32_t round = 0, rounds = 0;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMShareKeys, true, &round));
  MShareKeysMsg m;
  HEAL_RETURN_IF_ERROR(get_id(r, &m.sender));
  HEAL_RETURN_IF_ERROR(get_rounds(r, &rounds));
  if (r.remaining() / kMultiCommitmentBytes < rounds) {
    return Status::corruption("secagg: more commitments than the message holds");
  }
  m.commitments.resize(rounds);
  for (auto& c : m.commitments) HEAL_RETURN_IF_ERROR(get_fixed(r, &c));
  HEAL_RETURN_IF_ERROR(get_shares(r, rounds, &m.shares));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.sig));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Bytes encode(const MSharesForClientMsg& m) {
  ByteWriter w;
  put_header(w, MultiMsgType::kMSharesForClient, 0);
  w.put<std::uint32_t>(m.recipient);
  w.put<std::uint32_t>(m.rounds);
  put_shares(w, m.shares, m.rounds);
  return w.take();
}

Result<MSharesForClientMsg> decode_m_shares_for_client(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  std::uint32_t round = 0;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMSharesForClient, true, &round));
  MSharesForClientMsg m;
  HEAL_RETURN_IF_ERROR(get_id(r, &m.recipient));
  HEAL_RETURN_IF_ERROR(get_rounds(r, &m.rounds));
  HEAL_RETURN_IF_ERROR(get_shares(r, m.rounds, &m.shares));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Bytes encode(const MMaskedInputMsg& m) {
  HEAL_REQUIRE(m.word_bytes >= 2 && m.word_bytes <= 8, "secagg: word_bytes " << int{m.word_bytes} << " not in [2, 8]");
  ByteWriter w;
  put_header(w, MultiMsgType::kMMaskedInput, m.round);
  w.put<std::uint32_t>(m.id);
  w.put<std::uint8_t>(m.word_bytes);
  HEAL_REQUIRE(!m.y.empty(), "secagg: empty masked input");
  for (std::uint64_t v : m.y) {
    HEAL_REQUIRE(m.word_bytes == 8 || (v >> (8 * m.word_bytes)) == 0, "secagg: packed word out of range");
    std::uint8_t le[8];
    std::memcpy(le, &v, 8);
    w.put_bytes(std::span<const std::uint8_t>(le, m.word_bytes));
  }
  w.put_bytes(m.sig);
  return w.take();
}

Result<MMaskedInputMsg> decode_m_masked_input(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  MMaskedInputMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMMaskedInput, false, &m.round));
  HEAL_RETURN_IF_ERROR(get_id(r, &m.id));
  HEAL_RETURN_IF_ERROR(r.get(&m.word_bytes));
  if (m.word_bytes < 2 || m.word_bytes > 8) return Status::corruption("secagg: word size out of range");
  if (r.remaining() < 64 + std::size_t{m.word_bytes} || (r.remaining() - 64) % m.word_bytes != 0) {
    return Status::corruption("secagg: masked input is not a whole number of words and a signature");
  }
  const std::size_t len = (r.remaining() - 64) / m.word_bytes;
  if (len > kSecAggMaxVectorLen) return Status::corruption("secagg: vector length out of range");
  m.y.resize(len);
  for (auto& v : m.y) {
    std::span<const std::uint8_t> b;
    HEAL_RETURN_IF_ERROR(r.get_bytes(m.word_bytes, &b));
    v = 0;
    std::memcpy(&v, b.data(), b.size());
  }
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.sig));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Bytes encode(const MSurvivorsMsg& m) {
  ByteWriter w;
  put_header(w, MultiMsgType::kMSurvivors, m.round);
  put_ids(w, m.ids);
  return w.take();
}

Result<MSurvivorsMsg> decode_m_survivors(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  MSurvivorsMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMSurvivors, false, &m.round));
  HEAL_RETURN_IF_ERROR(get_ids(r, &m.ids));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Bytes encode(const MSurvivorSigMsg& m) {
  ByteWriter w;
  put_header(w, MultiMsgType::kMSurvivorSig, m.round);
  w.put<std::uint32_t>(m.id);
  w.put_bytes(m.sig);
  return w.take();
}

Result<MSurvivorSigMsg> decode_m_survivor_sig(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  MSurvivorSigMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMSurvivorSig, false, &m.round));
  HEAL_RETURN_IF_ERROR(get_id(r, &m.id));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.sig));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Bytes encode(const MUnmaskRequestMsg& m) {
  ByteWriter w;
  put_header(w, MultiMsgType::kMUnmaskRequest, m.round);
  put_ids(w, m.survivors);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.sigs.size()));
  for (const auto& [id, sig] : m.sigs) {
    w.put<std::uint32_t>(id);
    w.put_bytes(sig);
  }
  return w.take();
}

Result<MUnmaskRequestMsg> decode_m_unmask_request(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  MUnmaskRequestMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMUnmaskRequest, false, &m.round));
  HEAL_RETURN_IF_ERROR(get_ids(r, &m.survivors));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 4 + 64, &n));
  m.sigs.resize(n);
  std::uint32_t prev = 0;
  for (auto& [id, sig] : m.sigs) {
    HEAL_RETURN_IF_ERROR(get_increasing_id(r, &prev, &id));
    HEAL_RETURN_IF_ERROR(get_fixed(r, &sig));
  }
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

Bytes encode(const MUnmaskResponseMsg& m) {
  ByteWriter w;
  put_header(w, MultiMsgType::kMUnmaskResponse, m.round);
  w.put<std::uint32_t>(m.id);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.shares.size()));
  for (const auto& s : m.shares)
    for (auto l : s) w.put<std::uint64_t>(l);
  w.put_bytes(m.sig);
  return w.take();
}

Result<MUnmaskResponseMsg> decode_m_unmask_response(std::span<const std::uint8_t> in) {
  ByteReader r(in);
  MUnmaskResponseMsg m;
  HEAL_RETURN_IF_ERROR(read_header(r, MultiMsgType::kMUnmaskResponse, false, &m.round));
  HEAL_RETURN_IF_ERROR(get_id(r, &m.id));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, 8 * kMultiLimbs, &n));
  m.shares.resize(n);
  for (auto& s : m.shares)
    for (auto& l : s) HEAL_RETURN_IF_ERROR(r.get(&l));
  HEAL_RETURN_IF_ERROR(get_fixed(r, &m.sig));
  HEAL_RETURN_IF_ERROR(finish(r));
  return m;
}

}  // namespace heal::smpc
