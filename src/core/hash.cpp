#include "heal/core/hash.h"

#include <sodium.h>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"

namespace heal {

static_assert(sizeof(crypto_generichash_state) <= 384, "Blake2b state buffer too small");

Digest blake2b_256(std::span<const std::uint8_t> data) {
  ensure_crypto_init();
  Digest d;
  crypto_generichash(d.data(), d.size(), data.data(), data.size(), nullptr, 0);
  return d;
}

Digest blake2b_256(std::string_view s) {
  return blake2b_256({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

Digest sha256(std::span<const std::uint8_t> data) {
  ensure_crypto_init();
  Digest d;
  crypto_hash_sha256(d.data(), data.data(), data.size());
  return d;
}

Blake2b::Blake2b() {
  ensure_crypto_init();
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_.data()), nullptr, 0, 32);
}

void Blake2b::update(std::span<const std::uint8_t> data) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_.data()), data.data(), data.size());
}

void Blake2b::update(std::string_view s) { update({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}); }

Digest Blake2b::finish() {
  Digest d;
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_.data()), d.data(), d.size());
  return d;
}

std::string digest_hex(const Digest& d) { return to_hex(d); }

}  // namespace heal
