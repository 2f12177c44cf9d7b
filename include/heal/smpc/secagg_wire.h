// Wire format of the secure aggregation messages (heal/smpc/secagg.h). The roles exchange only
// these byte strings; the decoders here are the single entry point for outside bytes and return
// Corruption (never crash, never allocate beyond the input) on anything malformed.
//
// Every message is
//   offset size field
//   0      4    magic "HSAG"
//   4      1    version (1)
//   5      1    message type (MsgType)
//   6      32   session id (fresh per aggregation; roles refuse messages of another session)
//   38     ...  body (below), then nothing: trailing bytes are Corruption.
// Integers are little-endian; lists of parties are strictly increasing in id (canonical, no
// duplicates); ids are nonzero. Messages a client sends end with an Ed25519 signature (64 bytes) by
// its long-term identity key over every byte before it (header included, so the type byte
// separates the signed statements of different rounds).
//   kAdvertise       u32 id | 32 enc_pk (X25519) | 32 mask_pk (X25519) | 64 sig
//   kKeyList         u32 count | count x (u32 id | 32 enc_pk | 32 mask_pk | 64 sig of that advertisement)
//   kShareKeys       u32 sender | 32 seed commitment | u32 count | count x (u32 recipient | 128 ciphertext)
//                    | 64 sig   (commitment: BLAKE2b-256("heal-secagg-v1-commit" | session | u32 sender | b))
//   kSharesForClient u32 recipient | u32 count | count x (u32 sender | 128 ciphertext)
//   kMaskedInput     u32 id | u64 len | len x u64 | 64 sig
//   kMaskedInputPacked  u32 id | u8 w | u64 len | len x w-byte words | 64 sig   (2 <= w <= 7: the
//                    low 8w bits of each masked word; the sum is then computed mod 2^(8w))
//   kSurvivors       u32 count | count x u32 id                    (the set U3, what clients sign)
//   kSurvivorSig     u32 id | 64 sig over the kSurvivors message
//   kUnmaskRequest   u32 count | count x u32 (U3) | u32 nsig | nsig x (u32 id | 64 sig)
//   kUnmaskResponse  u32 id | u32 count | count x (u32 owner | u8 kind | 5 x u64 limbs) | 64 sig
// A share ciphertext is a 24-byte XChaCha20-Poly1305 nonce and the AEAD encryption (88 + 16 bytes)
// of u32 from | u32 to | 5 x u64 share of the masking key | 5 x u64 share of the self-mask seed,
// with associated data session id | u32 from | u32 to.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"

namespace heal::smpc {

using PublicKey = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;

inline constexpr std::uint8_t kSecAggVersion = 1;
inline constexpr std::size_t kSecAggHeaderSize = 38;
inline constexpr std::uint32_t kSecAggMaxClients = 1u << 16;
inline constexpr std::uint64_t kSecAggMaxVectorLen = std::uint64_t{1} << 28;
inline constexpr std::size_t kSeedLimbs = 5;  // shamir_limbs(32)
inline constexpr std::size_t kSharePlaintextBytes = 8 + 2 * 8 * kSeedLimbs;
inline constexpr std::size_t kShareCiphertextBytes = 24 + kSharePlaintextBytes + 16;

enum class MsgType : std::uint8_t {
  kAdvertise = 1,
  kKeyList = 2,
  kShareKeys = 3,
  kSharesForClient = 4,
  kMaskedInput = 5,
  kSurvivors = 6,
  kSurvivorSig = 7,
  kUnmaskRequest = 8,
  kUnmaskResponse = 9,
  kMaskedInputPacked = 10,
};

/// A masked input in either layout (8-byte words, or packed words).
inline bool is_masked_input(MsgType t) { return t == MsgType::kMaskedInput || t == MsgType::kMaskedInputPacked; }

struct AdvertiseMsg {
  Seed session{};
  std::uint32_t id = 0;
  PublicKey enc_pk{};
  PublicKey mask_pk{};
  Signature sig{};
};
struct KeyListMsg {
  Seed session{};
  std::vector<AdvertiseMsg> entries;  // their session is the list's
};
struct EncryptedShare {
  std::uint32_t peer = 0;  // recipient in kShareKeys, sender in kSharesForClient
  std::array<std::uint8_t, kShareCiphertextBytes> ct{};
};
struct ShareKeysMsg {
  Seed session{};
  std::uint32_t sender = 0;
  std::array<std::uint8_t, 32> seed_commitment{};  // hash of the self-mask seed b_sender
  std::vector<EncryptedShare> shares;
  Signature sig{};
};
struct SharesForClientMsg {
  Seed session{};
  std::uint32_t recipient = 0;
  std::vector<EncryptedShare> shares;
};
struct MaskedInputMsg {
  Seed session{};
  std::uint32_t id = 0;
  std::vector<std::uint64_t> y;  // each < 2^(8 word_bytes)
  Signature sig{};
  std::uint8_t word_bytes = 8;  // 8: kMaskedInput; 2..7: kMaskedInputPacked
};
struct SurvivorsMsg {
  Seed session{};
  std::vector<std::uint32_t> ids;
};
struct SurvivorSigMsg {
  Seed session{};
  std::uint32_t id = 0;
  Signature sig{};
};
struct UnmaskRequestMsg {
  Seed session{};
  std::vector<std::uint32_t> survivors;
  std::vector<SurvivorSigMsg> sigs;  // session of each is the request's
};
enum class ShareKind : std::uint8_t { kSelfMaskSeed = 0, kMaskingKey = 1 };
struct RevealedShare {
  std::uint32_t owner = 0;
  ShareKind kind = ShareKind::kSelfMaskSeed;
  std::array<std::uint64_t, kSeedLimbs> limbs{};
};
struct UnmaskResponseMsg {
  Seed session{};
  std::uint32_t id = 0;
  std::vector<RevealedShare> shares;
  Signature sig{};
};

/// The type byte of a message, or Corruption if the header is malformed.
Result<MsgType> peek_type(std::span<const std::uint8_t> in);

// Encoders write the whole message, signature field included (as stored in the struct).
// signed_prefix(bytes) is what the signature of a client message covers: all but its last 64 bytes.
Bytes encode(const AdvertiseMsg& m);
Bytes encode(const KeyListMsg& m);
Bytes encode(const ShareKeysMsg& m);
Bytes encode(const SharesForClientMsg& m);
Bytes encode(const MaskedInputMsg& m);
Bytes encode(const SurvivorsMsg& m);
Bytes encode(const SurvivorSigMsg& m);
Bytes encode(const UnmaskRequestMsg& m);
Bytes encode(const UnmaskResponseMsg& m);
std::span<const std::uint8_t> signed_prefix(std::span<const std::uint8_t> message);

Result<AdvertiseMsg> decode_advertise(std::span<const std::uint8_t> in);
Result<KeyListMsg> decode_key_list(std::span<const std::uint8_t> in);
Result<ShareKeysMsg> decode_share_keys(std::span<const std::uint8_t> in);
Result<SharesForClientMsg> decode_shares_for_client(std::span<const std::uint8_t> in);
Result<MaskedInputMsg> decode_masked_input(std::span<const std::uint8_t> in);
Result<SurvivorsMsg> decode_survivors(std::span<const std::uint8_t> in);
Result<SurvivorSigMsg> decode_survivor_sig(std::span<const std::uint8_t> in);
Result<UnmaskRequestMsg> decode_unmask_request(std::span<const std::uint8_t> in);
Result<UnmaskResponseMsg> decode_unmask_response(std::span<const std::uint8_t> in);

}  // namespace heal::smpc
