// Encryption (public-key or symmetric/seeded) and decryption.
#pragma once

#include <memory>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/params.h"
#include "heal/ckks/plaintext.h"

namespace heal::ckks {

class Encryptor {
 public:
  /// Public-key encryptor.
  Encryptor(ContextPtr ctx, PublicKey pk);
  /// Symmetric encryptor (also allows seeded compact ciphertexts).
  Encryptor(ContextPtr ctx, const SecretKey& sk);
  /// Deterministic randomness for tests.
  void set_rng(std::unique_ptr<Rng> rng) {
    rng_ = std::move(rng);
    custom_rng_ = true;
  }

  /// Encrypts pt at pt.level(): public key (c0 = b u + e0 + m, c1 = a u + e1, u ternary) or
  /// symmetric (c1 = a uniform, c0 = -a s + e + m).
  Ciphertext encrypt(const Plaintext& pt);
  /// Symmetric encryption whose c1 is derived from a fresh seed (requires a secret key).
  SeededCiphertext encrypt_seeded(const Plaintext& pt);
  /// Symmetric encryption under a GIVEN public `a`: c1 = a expanded from `a_seed` (stream
  /// SeededCiphertext::kCiphertextStream over q_0..q_level), c0 = -a s + e + m with e Gaussian
  /// from `noise_rng` (sample_gaussian; this encryptor's own rng is not used). Protocols where
  /// several parties encrypt under one common `a` (e.g. the fl layer's additive aggregation:
  /// summing the c0 gives an encryption of the sum under the sum of the secrets) derive the seed
  /// from public data. The caller must never encrypt twice under the same seed with the same
  /// key: the difference of the two c0 is the difference of the messages plus small noise.
  SeededCiphertext encrypt_seeded(const Plaintext& pt, const Seed& a_seed, Rng& noise_rng);
  /// Encryption of zero at `level` with the given scale.
  Ciphertext encrypt_zero(std::size_t level, double scale);

 private:
  Rng& noise_rng(std::unique_ptr<Rng>& local);
  ContextPtr ctx_;
  std::unique_ptr<Rng> rng_;
  bool custom_rng_ = false;
  bool has_pk_ = false;
  PublicKey pk_;
  SecretKey sk_;
};

class Decryptor {
 public:
  Decryptor(ContextPtr ctx, const SecretKey& sk);
  /// m = c0 + c1 s (+ c2 s^2), NTT form at the ciphertext's level and scale.
  Plaintext decrypt(const Ciphertext& ct) const;

 private:
  ContextPtr ctx_;
  SecretKey sk_;
};

}  // namespace heal::ckks
