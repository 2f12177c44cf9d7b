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
