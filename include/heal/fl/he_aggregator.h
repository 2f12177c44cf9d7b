// Secure mode "he": threshold-CKKS secure aggregation (design, parameters and noise budget in
// src/fl/README.md, "HE aggregation").
//
//   setup   each hospital i draws an additive CKKS secret s_i (never leaves it), Shamir-shares it
//           t-of-n to the others (ePrint 2022/780) and contributes to the collective public key
//           (ePrint 2020/304, protocol CKG).
//   round r each hospital encrypts weight * update, coefficient-packed (N weights per ciphertext),
//           as c0 = -a_{r,k} s_i + Delta m + e with a_{r,k} expanded from a public per-round,
//           per-chunk seed: only c0 travels (bit-packed), a is never sent.
//   anyone  sums the c0 of the contributors C: (sum c0, a) encrypts sum m under s_C = sum_{i in C} s_i.
//   t of n  any t key holders jointly decrypt with flooded shares a * lambda_j S_C(x_j) + e_flood,
//           where S_C(x_j) = sum_{i in C} f_i(x_j) (their Shamir shares of the contributors' secrets).
//
// A single hospital's material (s_j and its Shamir shares) decrypts no one else's update; a quorum
// decrypts only sums over at least `min_aggregate_parties` contributors, one set per round.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "heal/ckks/params.h"
#include "heal/core/hash.h"
#include "heal/core/rng.h"
#include "heal/core/vault.h"
#include "heal/fl/node_store.h"
#include "heal/fl/secure_aggregator.h"

namespace heal::fl {

/// Parameters of the HE aggregator (defaults: N = 2^12, Q = 43 + 43 bits, P = 20 bits: log QP < 106,
/// 128-bit secure under ePrint 2024/463 Table 5.2; the 2018 table's 109 allowed Q = 44 + 44).
struct HeAggregatorConfig {
  int log_n = 12;                     ///< ring degree N = 2^log_n = weights per ciphertext
  std::vector<int> q_bits{43, 43};    ///< Q primes: bits per encrypted weight = their sum
  std::vector<int> p_bits{20};        ///< special prime (only the collective public key uses it)
  /// t of t-of-n decryption (0: a majority, n / 2 + 1). Rules (src/fl/README.md "Threshold rules"):
  /// t >= 2 always (t = 1 is Shamir degree 0: every hospital would hold every secret), and
  /// t > n / 2 unless allow_non_majority_threshold: two quorums then always share a member, and a
  /// member shares for one contributor set per round, so no two sets are decrypted in one round.
  std::uint32_t threshold = 0;
  /// EXPLICIT OPT-IN, for experiments and legacy configurations only: accept 2 <= t <= n / 2. Two
  /// disjoint quorums can then each decrypt a different contributor set in the same round, and the
  /// difference of the two sums is one hospital's update. Never set from outside bytes.
  bool allow_non_majority_threshold = false;
  /// Colluding hospitals the contributor floor tolerates (unset: t - 1, the most that cannot
  /// decrypt alone; at most t - 1). c colluders inside a sum subtract their own updates from it,
  /// so the sum must hold at least c + 2 contributions for the rest to stay a sum of >= 2.
  std::optional<std::uint32_t> colluders_tolerated;
  double flooding_bits = 40;          ///< lambda, statistical security of flooded shares (>= 40)
  std::uint64_t max_decryptions = 4096;  ///< flooded ciphertext decryptions per party and key epoch
  double max_abs_update = 64;         ///< bound on |update_k| (larger updates are refused)
  double max_total_weight = 1 << 20;  ///< bound on the sum of contribution weights (samples)
  /// A quorum never decrypts a sum over fewer parties (0: max(3, colluders tolerated + 2); an
  /// explicit value below that, or above the number of parties, is refused).
  std::uint32_t min_aggregate_parties = 0;
  /// Every party refuses to share unless 8 predicted standard deviations of the flooding error on
  /// each decrypted weighted sum stay below 2^-min_precision_bits (checked at setup too).
  double min_precision_bits = 8;
  std::uint64_t seed = 1;             ///< simulation only: derives every party's key material
};

/// The static parameter / noise budget of a configuration (printed by the CLI, in the README).
struct HeBudget {
  std::size_t n = 0;                   ///< weights per ciphertext
  double log_q = 0;                    ///< bits per encrypted weight
  double log_delta = 0;                ///< encoding scale 2^log_delta
  double fresh_noise_bound = 0;        ///< B_ct, derived: ||sum of contributors' e||_inf <= parties * 6 sigma
  double log_flood_sigma = 0;          ///< per share
  double log_noise_std = 0;            ///< combined noise std per coefficient (t flooded shares), before rounding
  int drop_bits = 0;                   ///< k: low bits dropped from each c0 and each share (ckks::save_compact)
  double rounding_std = 0;             ///< std of the rounding error on each sum (n contributions + t shares) / delta
  double abs_error_std_unrounded = 0;  ///< what abs_error_std would be without the compression
  double abs_error_std = 0;            ///< predicted std of the error on each sum_i w_i u_i[k] (rounding included)
  double upload_ratio = 0;             ///< contribution bits per weight / 32 (whole ciphertexts, compact c0)
  double share_ratio = 0;              ///< decryption share bits per weight / 32 (compact)
};

/// The public outcome of a dealer-free setup (heal/fl/he_keygen.h): all the aggregator needs, no secret.
struct HePublicSetup {
  HeAggregatorConfig config;  ///< `seed` unused
  std::size_t num_parties = 0;
  Seed crs{};                 ///< he_crs_from_federation(federation id)
  Digest cpk_hash{};          ///< BLAKE2b-256 of the serialized collective public key
};

class HeAggregator final : public SecureAggregator {
 public:
  /// Runs the simulated setup for parties 0..num_parties-1 (ckks ids 1..num_parties): additive
  /// secrets, Shamir re-sharing and the collective public key. Throws std::invalid_argument on a
  /// bad configuration (insecure parameters, threshold out of range, scale without headroom).
  HeAggregator(HeAggregatorConfig config, std::size_t num_parties);
  /// The public side of a dealer-free setup: holds no secret, so party() refuses (each hospital
  /// builds its own party from its HeKeyMaterial); aggregate/finalize are byte-compatible with it.
  explicit HeAggregator(const HePublicSetup& setup);
  ~HeAggregator() override;

  AggregatorSetupInfo setup_info() const override;
  Result<std::unique_ptr<AggregationParty>> party(PartyId party) override;
  /// Writes party `p`'s key material and fresh safeguards (epoch: the collective public key hash,
  /// budget: max_decryptions) to a new node store at `path` (simulation: in a deployment each
  /// hospital writes its own store when it generates its keys). Fails if `path` exists.
  Result<std::unique_ptr<NodeStore>> create_party_store(PartyId p, const std::string& path,
                                                        std::string_view passphrase,
                                                        const VaultKdf& kdf = VaultKdf::moderate()) const;
  /// The party object of the store's party, built from the store's material (not the
  /// aggregator's), that consults and records the store's safeguards before it contributes or
  /// shares. FailedPrecondition if the store belongs to another key epoch or budget.
  Result<std::unique_ptr<AggregationParty>> party_from_store(std::shared_ptr<NodeStore> store);
  Result<Bytes> aggregate(std::span<const Bytes> contributions, std::size_t length, std::uint64_t round) override;
  Result<std::vector<double>> finalize(std::span<const std::uint8_t> aggregate, std::span<const DecryptionShare> shares,
                                       std::size_t length, std::uint64_t round) override;
  Status check_share(std::span<const std::uint8_t> share, PartyId party, std::size_t length,
                     std::uint64_t round) const override;
  Result<std::optional<PartyId>> contributor(std::span<const std::uint8_t> contribution, std::size_t length,
                                             std::uint64_t round) const override;
  /// W * max_abs_update + 8 predicted standard deviations of the decryption error (at least
  /// 2^-min_precision_bits, the precision every key holder checks before sharing).
  double sum_bound(double total_weight) const override;
  /// The threshold t, colluders tolerated and the contributor floor after the rules above.
  std::uint32_t threshold() const;
  std::uint32_t colluders_tolerated() const;
  std::uint32_t min_aggregate_parties() const;

  /// The configuration (for a dealer-free setup: the same for every party).
  const HeAggregatorConfig& config() const;
  /// The budget of this configuration.
  const HeBudget& budget() const { return budget_; }
  const ckks::ContextPtr& context() const;
  /// Number of ciphertexts for `length` weights.
  std::size_t chunks(std::size_t length) const;
  /// Exact size in bytes of one party's contribution for `length` weights (encrypts zeros with a
  /// throwaway party object).
  std::size_t contribution_bytes(std::size_t length) const;

  /// TESTING ONLY: decrypts chunk `chunk` of a contribution or aggregate of round `round` with an
  /// arbitrary secret (NTT form over Q, flattened limbs) and decodes the coefficients: what a
  /// holder of that secret alone would see.
  Result<std::vector<double>> decrypt_with_for_testing(std::span<const std::uint8_t> bytes, std::uint64_t round,
                                                       std::size_t length, std::size_t chunk,
                                                       const std::vector<std::uint64_t>& secret_ntt) const;
  /// TESTING ONLY: the additive secret of `p` (NTT form over Q, flattened limbs).
  std::vector<std::uint64_t> secret_for_testing(PartyId p) const;
  /// TESTING ONLY: p's Shamir share sum_i f_i(x_p) (NTT form over Q, flattened limbs).
  std::vector<std::uint64_t> shamir_share_for_testing(PartyId p) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HeBudget budget_;
};

/// The budget of `config` with `num_parties` parties (throws like the constructor).
HeBudget he_budget(const HeAggregatorConfig& config, std::size_t num_parties);

}  // namespace heal::fl
