// Randomness. Everything random in HEAL comes from a CSPRNG behind this interface:
//  - SystemRng: libsodium's randombytes (OS entropy, ChaCha20-based) for keys and noise;
//  - SeededRng: a ChaCha20 keystream keyed by a 32-byte seed, for deterministic tests and for
//    seed expansion (the public `a` polynomials of keys and seeded ciphertexts).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

namespace heal {

using Seed = std::array<std::uint8_t, 32>;

class Rng {
 public:
  virtual ~Rng() = default;
  /// Fills `out` with uniformly random bytes.
  virtual void fill(std::span<std::uint8_t> out) = 0;

  std::uint64_t next_u64();
  std::uint32_t next_u32();
  /// Uniform in [0, bound) without modulo bias (rejection sampling). bound > 0.
  std::uint64_t uniform(std::uint64_t bound);
  /// Uniform double in [0, 1) with 53 random bits.
  double uniform_double();
};

/// Uniformly random permutation of `v` in place (Fisher-Yates, drawing rng.uniform(i) for
/// i = size .. 2): the one shuffle used for data order, folds, partitions and mixup pairs.
template <typename T>
void shuffle(std::span<T> v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.uniform(i)]);
}

/// OS-seeded CSPRNG (libsodium randombytes_buf). Thread-safe.
class SystemRng final : public Rng {
 public:
  void fill(std::span<std::uint8_t> out) override;
};

/// Deterministic ChaCha20 keystream (RFC 8439 block function via libsodium) keyed by `seed`;
/// `stream` separates independent streams derived from one seed (domain separation).
/// The seed is wiped on destruction.
class SeededRng final : public Rng {
 public:
  explicit SeededRng(const Seed& seed, std::uint64_t stream = 0);
  ~SeededRng() override;
  SeededRng(const SeededRng&) = delete;
  SeededRng& operator=(const SeededRng&) = delete;

  void fill(std::span<std::uint8_t> out) override;

 private:
  void refill();
  Seed key_;
  std::uint64_t stream_;
  std::uint32_t block_ = 0;  // ChaCha20 block counter within the current nonce
  std::uint32_t nonce_hi_ = 0;
  std::array<std::uint8_t, 4096> buf_{};
  std::size_t pos_ = sizeof(buf_);
};

/// A fresh uniformly random seed from the system CSPRNG.
Seed random_seed();
/// A seed from a small integer, for reproducible tests and simulations only.
Seed seed_from_u64(std::uint64_t x);

/// Overwrites memory in a way the compiler may not elide (sodium_memzero).
void secure_wipe(void* p, std::size_t n);

/// Initialises libsodium once; safe to call from anywhere, any number of times.
void ensure_crypto_init();

}  // namespace heal
