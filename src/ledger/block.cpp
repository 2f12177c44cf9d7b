#include "heal/ledger/block.h"

#include <cstring>
#include <string_view>

#include "heal/core/check.h"
#include "record_codec_internal.h"

namespace heal::ledger {

using namespace internal;

namespace {
constexpr std::string_view kRecordDomain = "HEAL-ledger-record-v1";
constexpr std::string_view kBlockDomain = "HEAL-ledger-block-v1";
}  // namespace

Bytes signing_message(std::span<const std::uint8_t> record) {
  // One allocation and two copies (GCC 12 warns spuriously on vector::insert after construction).
  Bytes m(kRecordDomain.size() + record.size());
  std::memcpy(m.data(), kRecordDomain.data(), kRecordDomain.size());
  if (!record.empty()) std::memcpy(m.data() + kRecordDomain.size(), record.data(), record.size());
  return m;
}

SignedRecord sign_record(const Record& r, std::span<const Signer* const> signers) {
  HEAL_REQUIRE(!signers.empty(), "sign_record needs at least one signer");
  SignedRecord sr;
  sr.record = encode_record(r);
  for (const Signer* s : signers) {
    HEAL_REQUIRE(s != nullptr, "sign_record: null signer");
    add_signature(sr, *s);
  }
  return sr;
}

void add_signature(SignedRecord& sr, const Signer& signer) {
  sr.signatures.push_back({signer.identity(), signer.sign(signing_message(sr.record))});
}

Bytes encode_signatures(std::span<const RecordSignature> sigs) {
  ByteWriter w;
  w.put<std::uint32_t>(static_cast<std::uint32_t>(sigs.size()));
  for (const auto& s : sigs) {
    put_identity(w, s.signer);
    put_blob(w, s.signature);
  }
  return w.take();
}

Result<std::vector<RecordSignature>> decode_signatures(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(get_count(r, &n, kMaxSignatures, 1 + 4 + 4, "signature"));
  std::vector<RecordSignature> out(n);
  for (auto& s : out) {
    HEAL_RETURN_IF_ERROR(get_identity(r, &s.signer));
    HEAL_RETURN_IF_ERROR(get_blob(r, &s.signature, kMaxSignatureBytes, "signature"));
  }
  if (!r.at_end()) return Status::corruption(std::to_string(r.remaining()) + " trailing bytes after the signatures");
  return out;
}

Digest compute_block_hash(std::uint64_t height, const Digest& prev_hash, std::span<const std::uint8_t> record,
                          std::span<const std::uint8_t> signatures) {
  ByteWriter w;
  w.put<std::uint64_t>(height);
  w.put_bytes(prev_hash);
  w.put<std::uint64_t>(record.size());
  Blake2b h;
  h.update(kBlockDomain);
  h.update(w.bytes());
  h.update(record);
  h.update(signatures);
  return h.finish();
}

}  // namespace heal::ledger
