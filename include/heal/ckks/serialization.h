// Serialization of CKKS objects (format: docs/formats/ckks.md). Every object starts with the
// core header (heal/core/serialization.h) and, except parameters, the 32-byte hash of the
// parameter set it belongs to. Residues are bit-packed in ceil(log2 q_i) bits; public `a`
// polynomials derived from a seed (public key, Galois keys, symmetric seeded ciphertexts) are
// stored as the 32-byte seed. Loaders take the whole buffer, validate it against a Context
// (parameter hash, level and limb counts, every residue < q_i, sizes checked before allocating)
// and return a Status on any problem: outside bytes never crash the process.
#pragma once

#include <span>
#include <string>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/multiparty/shares.h"
#include "heal/ckks/params.h"
#include "heal/ckks/plaintext.h"
#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/serialization.h"

namespace heal::ckks {

/// Format version written by this code (readers accept 1..kCkksFormatVersion).
inline constexpr std::uint16_t kCkksFormatVersion = 1;

/// BLAKE2b-256 of the canonical parameter description (N, Q and P primes, dnum, secret
/// distribution): equal hashes mean keys and ciphertexts are interchangeable.
Digest params_hash(const Context& ctx);
/// Short human-readable id, e.g. "ckks-n14-q8-p1-3f2a9c1e" (last part: hash prefix).
std::string params_id(const Context& ctx);

/// Parameter set (ParamsSpec plus the generated primes and the hash, for verification). The
/// stored "insecure" marker byte is 1 when the parameters miss 128-bit security
/// (!ctx.meets_security_bound()); it is informational: readers never honour it.
Bytes save_params(const Context& ctx);

/// What the *calling code* allows when loading a parameter set. Nothing here is read from the
/// bytes: a file can never switch off the security check.
struct ParamsLoadOptions {
  /// Accept parameters below 128-bit security (unit tests, examples). Without it, a file that is
  /// marked insecure or whose parameters fail the security validation is refused.
  bool allow_insecure = false;
};

/// Parses the ParamsSpec without building a context. The returned spec's allow_insecure is
/// always false; `marked_insecure`, if given, receives the stored marker byte.
Result<ParamsSpec> load_params_spec(std::span<const std::uint8_t> bytes, bool* marked_insecure = nullptr);
/// Parses, builds the Context (which re-validates security unless `options` allow insecure
/// parameters) and checks that its primes and hash match the stored ones. A file marked insecure
/// is refused (FailedPrecondition) unless options.allow_insecure.
Result<ContextPtr> load_params(std::span<const std::uint8_t> bytes, const ParamsLoadOptions& options = {});

/// Object writers (the context supplies the parameter hash and bit widths).
/// The secret key, in wiped-on-destruction memory (write it with write_secret_file).
SecretBytes save(const Context& ctx, const SecretKey& sk);
Bytes save(const Context& ctx, const PublicKey& pk);
Bytes save(const Context& ctx, const RelinKey& rk);
Bytes save(const Context& ctx, const GaloisKeys& gk);
Bytes save(const Context& ctx, const Plaintext& pt);
Bytes save(const Context& ctx, const Ciphertext& ct);
Bytes save(const Context& ctx, const SeededCiphertext& ct);
Bytes save(const Context& ctx, const multiparty::KeyShare& share);
Bytes save(const Context& ctx, const multiparty::DecryptionShare& share);
Bytes save(const Context& ctx, const multiparty::RefreshShare& share);

/// Object readers: the whole buffer must be exactly one object of that type for `ctx`.
Result<SecretKey> load_secret_key(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<PublicKey> load_public_key(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<RelinKey> load_relin_key(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<GaloisKeys> load_galois_keys(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<Plaintext> load_plaintext(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<Ciphertext> load_ciphertext(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<SeededCiphertext> load_seeded_ciphertext(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<multiparty::KeyShare> load_key_share(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<multiparty::DecryptionShare> load_decryption_share(const Context& ctx, std::span<const std::uint8_t> bytes);
Result<multiparty::RefreshShare> load_refresh_share(const Context& ctx, std::span<const std::uint8_t> bytes);

/// LOSSY compact forms of a seeded ciphertext's c0 and of a decryption share (ObjectType
/// kCkksCompactSeededCiphertext / kCkksCompactDecryptionShare): each coefficient's CRT integer
/// mod Q_l is rounded to a multiple of 2^drop_bits and only the high bits are stored (Kyber-style
/// compression, ePrint 2017/634; src/ckks/serialization_compact.cpp). The loaded polynomial
/// differs from the saved one by an integer error |e| <= 2^(drop_bits-1) per coefficient (none
/// for drop_bits = 0): choose drop_bits so that this stays far below the noise the value already
/// carries. Needs Q_l < 2^126 and 0 <= drop_bits < log2 Q_l (writers: HEAL_REQUIRE; readers:
/// Status). The stored drop_bits is returned through `drop_bits` if given; callers that agreed
/// on a value must compare it.
Bytes save_compact(const Context& ctx, const SeededCiphertext& ct, int drop_bits);
Bytes save_compact(const Context& ctx, const multiparty::DecryptionShare& share, int drop_bits);
Result<SeededCiphertext> load_compact_seeded_ciphertext(const Context& ctx, std::span<const std::uint8_t> bytes,
                                                        int* drop_bits = nullptr);
Result<multiparty::DecryptionShare> load_compact_decryption_share(const Context& ctx,
                                                                  std::span<const std::uint8_t> bytes,
                                                                  int* drop_bits = nullptr);
/// Bits per coefficient of a compact polynomial at `level` (InvalidArgument when unsupported).
Result<int> compact_coefficient_bits(const Context& ctx, std::size_t level, int drop_bits);

/// What `heal ckks info` prints: the header and the leading fields, without a context.
struct ObjectInfo {
  ObjectType type{};
  std::uint16_t version = 0;
  std::uint64_t payload_size = 0;
  Digest params_hash{};     ///< zero for parameter objects that failed to parse
  std::string description;  ///< one line, e.g. "ciphertext: 2 polys, level 3, scale 2^40, 8192 slots"
};
Result<ObjectInfo> inspect(std::span<const std::uint8_t> bytes);

}  // namespace heal::ckks
