// Signed records and hash-chained blocks.
//
//   block_hash = BLAKE2b-256("HEAL-ledger-block-v1" || height u64 || prev_hash[32] ||
//                             u64 len || record bytes || signature list bytes)
//
// Every signature is an Ed25519 (or later secp256k1) signature over
//   "HEAL-ledger-record-v1" || record bytes,
// i.e. it binds the record (which names the federation and the round) but not the height,
// so a party can sign before the ledger assigns a position.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/ledger/identity.h"
#include "heal/ledger/record.h"

namespace heal::ledger {

/// Most signatures one block may carry.
inline constexpr std::size_t kMaxSignatures = 256;

/// One signer's signature over a record.
struct RecordSignature {
  Identity signer;
  Bytes signature;
  friend bool operator==(const RecordSignature&, const RecordSignature&) = default;
};

/// Canonical record bytes plus the signatures over them, ready to append.
struct SignedRecord {
  Bytes record;  // encode_record() output
  std::vector<RecordSignature> signatures;
};

/// Encodes `r` and signs it with every signer (at least one).
SignedRecord sign_record(const Record& r, std::span<const Signer* const> signers);
/// Adds one more signature (co-signing) to an already signed record.
void add_signature(SignedRecord& sr, const Signer& signer);

/// The bytes a signature covers: domain tag || record bytes.
Bytes signing_message(std::span<const std::uint8_t> record);

/// Canonical encoding of a signature list (u32 count, then per entry: u8 scheme, u32 key length,
/// key, u32 signature length, signature).
Bytes encode_signatures(std::span<const RecordSignature> sigs);
/// Strict decoder of encode_signatures() output.
Result<std::vector<RecordSignature>> decode_signatures(std::span<const std::uint8_t> bytes);

/// A block as stored: position, link, record, signatures and its own hash.
struct Block {
  std::uint64_t height = 0;
  Digest prev_hash{};  // zeros for the genesis block (height 0)
  Bytes record;
  Bytes signatures;    // encode_signatures() output
  Digest hash{};
};

/// Recomputes a block's hash from its other fields.
Digest compute_block_hash(std::uint64_t height, const Digest& prev_hash, std::span<const std::uint8_t> record,
                          std::span<const std::uint8_t> signatures);

}  // namespace heal::ledger
