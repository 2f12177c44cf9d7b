#include "heal/core/rng.h"

#include <sodium.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

namespace heal {

void ensure_crypto_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  });
}

std::uint64_t Rng::next_u64() {
  std::uint64_t v;
  fill({reinterpret_cast<std::uint8_t*>(&v), sizeof v});
  return v;
}

std::uint32_t Rng::next_u32() {
  std::uint32_t v;
  fill({reinterpret_cast<std::uint8_t*>(&v), sizeof v});
  return v;
}

std::uint64_t Rng::uniform(std::uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("Rng::uniform: bound must be positive");
  // Lemire-free rejection: accept values below the largest multiple of bound.
  const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % bound + 1) % bound;
  for (;;) {
    std::uint64_t v = next_u64();
    if (v <= limit) return v % bound;
  }
}

double Rng::uniform_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

void SystemRng::fill(std::span<std::uint8_t> out) {
  ensure_crypto_init();
  randombytes_buf(out.data(), out.size());
}

SeededRng::SeededRng(const Seed& seed, std::uint64_t stream) : key_(seed), stream_(stream) {
  ensure_crypto_init();
  static_assert(crypto_stream_chacha20_ietf_KEYBYTES == 32);
}

SeededRng::~SeededRng() {
  sodium_memzero(key_.data(), key_.size());
  sodium_memzero(buf_.data(), buf_.size());
}

void SeededRng::refill() {
  // 96-bit IETF nonce = stream (64 bits) || nonce_hi (32 bits); 32-bit block counter.
  std::uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
  std::memcpy(nonce, &stream_, 8);
  std::memcpy(nonce + 8, &nonce_hi_, 4);
  std::memset(buf_.data(), 0, buf_.size());
  crypto_stream_chacha20_ietf_xor_ic(buf_.data(), buf_.data(), buf_.size(), nonce, block_, key_.data());
  const std::uint32_t blocks = static_cast<std::uint32_t>(buf_.size() / 64);
  if (block_ > UINT32_MAX - blocks) {
    block_ = 0;
    ++nonce_hi_;
  } else {
    block_ += blocks;
  }
  pos_ = 0;
}

void SeededRng::fill(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    if (pos_ == buf_.size()) refill();
    const std::size_t n = std::min(out.size() - done, buf_.size() - pos_);
    std::memcpy(out.data() + done, buf_.data() + pos_, n);
    pos_ += n;
    done += n;
  }
}

Seed random_seed() {
  Seed s;
  SystemRng().fill(s);
  return s;
}

Seed seed_from_u64(std::uint64_t x) {
  Seed s{};
  ensure_crypto_init();
  std::uint8_t in[8];
  std::memcpy(in, &x, 8);
  crypto_generichash(s.data(), s.size(), in, sizeof in, nullptr, 0);
  return s;
}

void secure_wipe(void* p, std::size_t n) {
  ensure_crypto_init();
  sodium_memzero(p, n);
}

}  // namespace heal
