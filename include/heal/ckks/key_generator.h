// Key generation: secret, public, relinearization and Galois (rotation/conjugation) keys.
#pragma once

#include <memory>
#include <vector>

#include "heal/ckks/keys.h"
#include "heal/ckks/params.h"

namespace heal::ckks {

class KeyGenerator {
 public:
  /// Generates a fresh secret key with system randomness.
  explicit KeyGenerator(ContextPtr ctx);
  /// Uses an existing secret key.
  KeyGenerator(ContextPtr ctx, SecretKey sk);
  /// Deterministic key generation (tests only): all randomness from `rng`.
  KeyGenerator(ContextPtr ctx, std::unique_ptr<Rng> rng);

  const SecretKey& secret_key() const { return sk_; }
  /// Public key (b = -a s + e, a from a fresh seed) over Q.
  PublicKey create_public_key();
  /// Relinearization key (s^2 -> s).
  RelinKey create_relin_key();
  /// Galois keys for the given slot-rotation steps (negative = right) and, optionally, conjugation.
  GaloisKeys create_galois_keys(const std::vector<long>& steps, bool conjugation = false);
  /// Adds the key of one Galois element to `keys`.
  void add_galois_key(GaloisKeys& keys, std::uint64_t galois_elt);
  /// Steps 1, 2, 4, ..., slots/2 (what rotate_and_sum needs), plus their negatives if asked.
  static std::vector<long> power_of_two_steps(std::size_t slots, bool with_negative = false);

 private:
  Seed fresh_seed();
  ContextPtr ctx_;
  std::unique_ptr<Rng> rng_;
  SecretKey sk_;
};

/// Samples a secret with the context's distribution, in NTT form over the key basis.
SecretKey sample_secret_key(const Context& ctx, Rng& rng);

}  // namespace heal::ckks
