// A list of ciphertexts in one file (train-encrypted's train.cts, val.cts, weights and margins):
// u32 magic "HETC", u16 version 1, u32 count, then per ciphertext u64 length + a ckks ciphertext
// object (heal/ckks/serialization.h). The bytes come from the other party: decode_ciphertexts
// validates everything and returns a Status (fuzz/he_train_files_fuzz.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/params.h"
#include "heal/core/bytes.h"
#include "heal/core/status.h"

namespace heal::apps::he_train::internal {

inline constexpr std::uint32_t kCiphertextsMagic = 0x43544548;  // "HETC"
inline constexpr std::uint16_t kCiphertextsVersion = 1;
inline constexpr std::uint32_t kMaxCiphertexts = 1u << 20;

Bytes encode_ciphertexts(const ckks::Context& ctx, const std::vector<ckks::Ciphertext>& cts);
Result<std::vector<ckks::Ciphertext>> decode_ciphertexts(const ckks::Context& ctx, std::span<const std::uint8_t> bytes);

}  // namespace heal::apps::he_train::internal
