// Wire format of multi-round secure aggregation (heal/smpc/secagg_multi.h): one setup dealt for R
// aggregation rounds. The decoders here are the only readers of outside bytes for that protocol and
// return Corruption (never crash, never allocate beyond the input) on anything malformed.
//
// Every message is
//   offset size field
//   0      4    magic "HSAG"
//   4      1    version (2)
//   5      1    message type (MultiMsgType)
//   6      4    u32 round: 0 for the setup messages, 1..R for an aggregation round
//   10     ...  body (below), then nothing: trailing bytes are Corruption.
// The 32-byte session id is NOT on the wire (v1 carried it in every header): both sides know it,
// and every signature is over session | message bytes before the signature, every AEAD binds it
// in its associated data, so a message of another session fails authentication instead.
// Integers are little-endian; lists of parties are strictly increasing in id; ids are nonzero.
//   kMAdvertise       u32 id | u32 R | 32 enc_pk | R x 32 mask_pk | 64 sig
//   kMKeyList         u32 R | u32 count | count x (u32 id | 32 enc_pk | R x 32 mask_pk | 64 sig)
//   kMShareKeys       u32 sender | u32 R | R x 16 seed commitments | u32 count
//                     | count x (u32 recipient | ct) | 64 sig
//   kMSharesForClient u32 recipient | u32 R | u32 count | count x (u32 sender | ct)
//   kMMaskedInput     u32 id | u8 w | len x w-byte words | 64 sig  (2 <= w <= 8; len = the rest / w,
//                     at least 1: the caller checks it against the session's vector length)
//   kMSurvivors       u32 count | count x u32 id                 (U3 of the round; what clients sign)
//   kMSurvivorSig     u32 id | 64 sig over session | the kMSurvivors message
//   kMUnmaskRequest   u32 count | count x u32 (U3) | u32 nsig | nsig x (u32 id | 64 sig)
//   kMUnmaskResponse  u32 id | u32 count | count x (3 x u64 limbs) | 64 sig
//                     (one share per member v of U2 in increasing id order: of b_{v,r} if v is in the
//                     round's signed U3, else of m_{v,r}; owner and kind are implied, not sent)
// ct (per recipient) is the ChaCha20-Poly1305 (IETF) encryption, zero nonce, of R x (3 x u64 share
// of the masking-key seed m_{u,r} | 3 x u64 share of the self-mask seed b_{u,r}), i.e. 48 R + 16
// bytes; its key is used for that one message only (see secagg_multi.h). Seed commitments are
// BLAKE2b truncated to 16 bytes: only second-preimage resistance matters (a party other than the
// dealer must not find another seed matching an honest dealer's commitment; the dealer itself can
// change the sum through its input anyway), and 128 bits give that at the 128-bit level.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/smpc/secagg_wire.h"

namespace heal::smpc {

inline constexpr std::uint8_t kSecAggMultiVersion = 2;
inline constexpr std::size_t kSecAggMultiHeaderSize = 10;
inline constexpr std::uint32_t kSecAggMaxRounds = 1024;
inline constexpr std::size_t kMultiSecretBytes = 16;  // m_{u,r} and b_{u,r}: 128-bit seeds
inline constexpr std::size_t kMultiLimbs = 3;         // shamir_limbs(16)
inline constexpr std::size_t kMultiRoundShareBytes = 2 * 8 * kMultiLimbs;
inline constexpr std::size_t kMultiCommitmentBytes = 16;
using MultiCommitment = std::array<std::uint8_t, kMultiCommitmentBytes>;
/// Ciphertext bytes of one recipient's shares of R rounds.
constexpr std::size_t multi_share_ct_bytes(std::uint32_t rounds) { return kMultiRoundShareBytes * rounds + 16; }

enum class MultiMsgType : std::uint8_t {
  kMAdvertise = 1,
  kMKeyList = 2,
  kMShareKeys = 3,
  kMSharesForClient = 4,
  kMMaskedInput = 5,
  kMSurvivors = 6,
  kMSurvivorSig = 7,
  kMUnmaskRequest = 8,
  kMUnmaskResponse = 9,
};

struct MAdvertiseMsg {
  std::uint32_t id = 0;
  PublicKey enc_pk{};
  std::vector<PublicKey> mask_pks;  // one per round 1..R
  Signature sig{};
};
struct MKeyListMsg {
  std::uint32_t rounds = 0;
  std::vector<MAdvertiseMsg> entries;  // each with `rounds` mask keys
};
struct MEncryptedShares {
  std::uint32_t peer = 0;  // recipient in kMShareKeys, sender in kMSharesForClient
  Bytes ct;                // multi_share_ct_bytes(R)
};
struct MShareKeysMsg {
  std::uint32_t sender = 0;
  std::vector<MultiCommitment> commitments;  // one per round: of b_{sender,r}
  std::vector<MEncryptedShares> shares;
  Signature sig{};
};
struct MSharesForClientMsg {
  std::uint32_t recipient = 0;
  std::uint32_t rounds = 0;
  std::vector<MEncryptedShares> shares;
};
struct MMaskedInputMsg {
  std::uint32_t round = 0;
  std::uint32_t id = 0;
  std::uint8_t word_bytes = 8;
  std::vector<std::uint64_t> y;  // each < 2^(8 word_bytes)
  Signature sig{};
};
struct MSurvivorsMsg {
  std::uint32_t round = 0;
  std::vector<std::uint32_t> ids;
};
struct MSurvivorSigMsg {
  std::uint32_t round = 0;
  std::uint32_t id = 0;
  Signature sig{};
};
struct MUnmaskRequestMsg {
  std::uint32_t round = 0;
  std::vector<std::uint32_t> survivors;
  std::vector<std::pair<std::uint32_t, Signature>> sigs;
};
struct MUnmaskResponseMsg {
  std::uint32_t round = 0;
  std::uint32_t id = 0;
  std::vector<std::array<std::uint64_t, kMultiLimbs>> shares;  // in U2 order (owner and kind implied)
  Signature sig{};
};

/// (type, round) of a multi-round message, or Corruption / Unsupported if its header is malformed.
Result<std::pair<MultiMsgType, std::uint32_t>> peek_multi(std::span<const std::uint8_t> in);

// Encoders write the whole message, signature field included (as stored in the struct). A client
// message's signature covers session | signed_prefix(bytes) (signed_prefix of secagg_wire.h).
Bytes encode(const MAdvertiseMsg& m);
Bytes encode(const MKeyListMsg& m);
Bytes encode(const MShareKeysMsg& m);
Bytes encode(const MSharesForClientMsg& m);
Bytes encode(const MMaskedInputMsg& m);
Bytes encode(const MSurvivorsMsg& m);
Bytes encode(const MSurvivorSigMsg& m);
Bytes encode(const MUnmaskRequestMsg& m);
Bytes encode(const MUnmaskResponseMsg& m);

Result<MAdvertiseMsg> decode_m_advertise(std::span<const std::uint8_t> in);
Result<MKeyListMsg> decode_m_key_list(std::span<const std::uint8_t> in);
Result<MShareKeysMsg> decode_m_share_keys(std::span<const std::uint8_t> in);
Result<MSharesForClientMsg> decode_m_shares_for_client(std::span<const std::uint8_t> in);
Result<MMaskedInputMsg> decode_m_masked_input(std::span<const std::uint8_t> in);
Result<MSurvivorsMsg> decode_m_survivors(std::span<const std::uint8_t> in);
Result<MSurvivorSigMsg> decode_m_survivor_sig(std::span<const std::uint8_t> in);
Result<MUnmaskRequestMsg> decode_m_unmask_request(std::span<const std::uint8_t> in);
Result<MUnmaskResponseMsg> decode_m_unmask_response(std::span<const std::uint8_t> in);

}  // namespace heal::smpc
