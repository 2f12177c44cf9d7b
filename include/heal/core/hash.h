// Cryptographic hashes (libsodium): BLAKE2b-256 for content addressing (updates, models,
// ledger blocks) and SHA-256 where an outside convention asks for it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace heal {

using Digest = std::array<std::uint8_t, 32>;

Digest blake2b_256(std::span<const std::uint8_t> data);
Digest blake2b_256(std::string_view data);
Digest sha256(std::span<const std::uint8_t> data);

/// Incremental BLAKE2b-256.
class Blake2b {
 public:
  Blake2b();
  void update(std::span<const std::uint8_t> data);
  void update(std::string_view s);
  Digest finish();

 private:
  alignas(64) std::array<std::uint8_t, 384> state_{};  // >= sizeof(crypto_generichash_state)
};

std::string digest_hex(const Digest& d);

}  // namespace heal
