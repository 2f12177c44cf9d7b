// Primitives shared by the one-shot (secagg.cpp) and multi-round (secagg_multi.cpp) secure
// aggregation. Internal to heal_smpc.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <span>

#include "heal/core/status.h"
#include "heal/smpc/secagg_wire.h"

namespace heal::smpc::detail {

using Key32 = std::array<std::uint8_t, 32>;

// X25519(sk, pk); libsodium refuses (returns -1) a low-order pk, whose shared secret is all zeros.
inline Status x25519(const Key32& sk, const PublicKey& pk, Key32* out) {
  if (crypto_scalarmult(out->data(), sk.data(), pk.data()) != 0) {
    return Status::corruption("secagg: public key of low order");
  }
  return {};
}

// acc += sign * PRG(key), PRG = ChaCha20 keystream (libsodium crypto_stream_chacha20, zero nonce;
// every key is used for one stream only) read as little-endian u64 words.
inline void add_prg(std::span<std::uint64_t> acc, const Key32& key, bool subtract) {
  constexpr std::size_t kChunk = 4096;  // words; 512 ChaCha20 blocks
  std::array<std::uint64_t, kChunk> buf;
  const std::uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {};
  for (std::size_t off = 0; off < acc.size(); off += kChunk) {
    const std::size_t n = std::min(kChunk, acc.size() - off);
    std::memset(buf.data(), 0, n * 8);
    auto* p = reinterpret_cast<std::uint8_t*>(buf.data());
    crypto_stream_chacha20_xor_ic(p, p, n * 8, nonce, off / 8, key.data());
    if (subtract) {
      for (std::size_t i = 0; i < n; ++i) acc[off + i] -= buf[i];
    } else {
      for (std::size_t i = 0; i < n; ++i) acc[off + i] += buf[i];
    }
  }
  sodium_memzero(buf.data(), sizeof buf);
}

inline bool verify_sig(const PublicKey& vk, const Signature& sig, std::span<const std::uint8_t> msg) {
  return crypto_sign_verify_detached(sig.data(), msg.data(), msg.size(), vk.data()) == 0;
}

}  // namespace heal::smpc::detail
