// Several hospitals train one logistic-regression head on the union of their encrypted features,
// under the federation's collective threshold-CKKS key: nobody, the server included, holds a key
// that decrypts any hospital's rows (issue 19, "beyond the seed").
//
// Roles (each its own object with its own secrets; they exchange only serialized bytes through a
// PartyNetwork, so a deployment swaps the in-process network for a real one):
//   hospital i:  additive secret s_i (never leaves it), its own feature rows and labels. Answers
//                the key-generation rounds (Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, ePrint
//                2020/304: collective public, relinearization and Galois keys), deals Shamir shares
//                of s_i to the other hospitals directly (t-of-n threshold secrets), encrypts its
//                normalisation statistics and its rows under the collective public key, makes
//                flooded refresh shares (collective bootstrapping) and flooded decryption shares.
//   server:      public keys and ciphertexts only. Aggregates key shares, sums the hospitals'
//                encrypted statistics and rows (the rows of a hospital land at their global row
//                positions, so the union is packed exactly as one owner would pack it), trains
//                he_train::EncryptedNag with he_train::CollectiveRefresher, and sends the final
//                encrypted weights back.
//   decryption:  the quorum's decryption shares go from hospital to hospital; the server never
//                holds the shares, so it never learns the statistics or the weights. Each hospital
//                decrypts at most one statistics ciphertext and one weights ciphertext per job.
// No validation-loss early stopping here: the epochs are fixed by the job (each extra decryption
// costs flooding budget); pick them on validation with the single-owner tools.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "heal/apps/encrypted_training.h"
#include "heal/ckks/params.h"
#include "heal/core/bytes.h"
#include "heal/core/status.h"
#include "heal/he_train/encrypted_nag.h"

namespace heal::apps::he_train {

/// Party 0 is the server; hospitals are 1..n (also their Shamir points).
using Party = std::uint32_t;

/// Ring parameters for collective training (no bootstrapping circuit: the refresh is interactive,
/// so every level is the trainer's). Scale 2^60: the refresh and decryption flooding add a slot error
/// of standard deviation about 2^-7.5 at N = 2^16 (ckks/multiparty/flooding.h: lambda = 40,
/// D = 16 refreshes, B_ct = 2^14); at scale 2^40 it would swamp the weights.
struct CollectivePreset {
  std::string name;
  ckks::ParamsSpec params;
  std::size_t weight_slots = 0;         ///< slots of the weights ciphertext
  double ciphertext_noise_bound = 0;    ///< B_ct the parties vouch for (refresh and weights decryption)
  std::string description;
};
/// "collective" (128-bit: N = 2^16, 12 levels of 60 bits, two NAG iterations per refresh) or
/// "test-collective" (INSECURE, N = 2^12, unit tests). Throws std::invalid_argument otherwise.
CollectivePreset collective_preset(const std::string& name);
std::vector<std::string> collective_preset_names();

/// A party's end of the network: answers a request from `from` with a reply.
class PartyEndpoint {
 public:
  virtual ~PartyEndpoint() = default;
  virtual Result<Bytes> handle(Party from, std::span<const std::uint8_t> request) = 0;
};

/// What the roles see of the network: a request to `to`, its reply (synchronous RPC).
class PartyNetwork {
 public:
  virtual ~PartyNetwork() = default;
  virtual Result<Bytes> call(Party from, Party to, Bytes request) = 0;
};

/// Every party in one process; counts the bytes each party sends and receives, and lets a test
/// watch (or tamper with) every message.
class InProcessPartyNetwork final : public PartyNetwork {
 public:
  struct Traffic {
    std::uint64_t sent = 0, received = 0, messages_sent = 0;
  };
  void attach(Party id, PartyEndpoint* endpoint) { endpoints_[id] = endpoint; }
  Result<Bytes> call(Party from, Party to, Bytes request) override;
  /// Called on each request and each reply before delivery (is_reply false / true).
  void set_observer(std::function<void(Party from, Party to, bool is_reply, Bytes&)> fn) { observer_ = std::move(fn); }
  Traffic traffic(Party id) const;

 private:
  std::map<Party, PartyEndpoint*> endpoints_;
  std::map<Party, Traffic> traffic_;
  std::function<void(Party, Party, bool, Bytes&)> observer_;
};

/// The public job every party agrees on.
struct CollectiveJob {
  std::string preset = "collective";
  bool allow_insecure = false;  ///< required for "test-collective" (every party checks)
  std::size_t hospitals = 3, threshold = 2;
  std::vector<Party> quorum;    ///< hospitals that make refresh and decryption shares (empty: 1..threshold)
  std::size_t batch_rows = 1024, epochs = 5, degree = 3;
  double bound = 8, alpha = 1, norm_c = 1;
  bool inverse_time = false, nesterov = true;
  /// D of the refresh flooding (refreshes per key epoch); 0: the server sets epochs * batches / 2 + 1
  std::size_t max_refreshes = 0;
  double required_bits = 4;        ///< precision each flooded refresh / decryption must keep (8 sigma)
  Seed crs{};                      ///< common reference string (public; the server draws it)
};

/// A hospital: its secrets and its rows stay in this object; it talks only through the network.
class CollectiveHospital final : public PartyEndpoint {
 public:
  /// allow_insecure: this hospital's own opt-in to the insecure test preset (never taken from a
  /// message).
  CollectiveHospital(Party id, FeatureSplit train, PartyNetwork& net, bool allow_insecure = false);
  ~CollectiveHospital() override;
  Result<Bytes> handle(Party from, std::span<const std::uint8_t> request) override;
  Party id() const;
  /// After the job: the model this hospital decrypted (bias first) and the normaliser it computed
  /// from the decrypted union statistics. Empty before.
  const std::vector<double>& weights() const;
  const Normalizer& normalizer() const;
  /// TESTS ONLY (attack tests): this hospital's additive secret s_i and its Shamir share.
  const ckks::SecretKey& secret_for_attack_test() const;
  const ckks::SecretKey& threshold_share_for_attack_test() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

struct CollectiveProgress {
  std::string stage;  ///< "keys", "statistics", "encrypt", "train", "decrypt"
  double fraction = 0;
  const heal::he_train::IterationInfo* iteration = nullptr;  ///< set during "train"
};

struct CollectiveServerReport {
  std::size_t n_train = 0, d = 0, row_width = 0, rows_per_ct = 0, train_ciphertexts = 0, galois_keys = 0;
  std::size_t iterations = 0, refreshes = 0, max_refreshes = 0;
  std::vector<std::size_t> rows_per_hospital;
  double keygen_seconds = 0, statistics_seconds = 0, encrypt_seconds = 0, train_seconds = 0, refresh_seconds = 0,
         decrypt_seconds = 0, seconds_per_iteration = 0;
  double predicted_refresh_error_std = 0;  ///< slot error one flooded refresh adds (2^-bits)
};

/// The untrusted server: drives the protocol through the network and sees public keys and
/// ciphertexts only.
class CollectiveServer {
 public:
  CollectiveServer(CollectiveJob job, PartyNetwork& net, int threads = 1);
  Result<CollectiveServerReport> run(const std::function<void(const CollectiveProgress&)>& progress = {});

 private:
  CollectiveJob job_;
  PartyNetwork& net_;
  int threads_;
};

// ---------------------------------------------------------------------------------------------
// The whole run in one process (heal train-encrypted multi-hospital): splits a features archive's
// training split into contiguous parts, runs the protocol, evaluates the weights hospital 1
// decrypted on the test split beside the same algorithm in plaintext on the union.
struct MultiHospitalOptions {
  std::string features;  ///< .npz from `heal features`
  CollectiveJob job;     ///< crs is drawn here from the system CSPRNG
  std::size_t max_train = 0;  ///< use only the first rows of the training split (0: all)
  int threads = 1;
  bool compare_plain = true;
  std::function<void(const CollectiveProgress&)> progress;
};
struct MultiHospitalReport {
  CollectiveServerReport server;
  std::vector<InProcessPartyNetwork::Traffic> traffic;  ///< index 0 the server, then hospitals 1..n
  bool hospitals_agree = false;  ///< every hospital decrypted the same weights (within 1e-9)
  std::vector<double> weights;   ///< hospital 1's
  double max_weight_error = 0;   ///< vs plaintext NAG (same polynomial) on the union
  /// Securely aggregated vs. fitted in the clear on the union: max over features of |mean error| / sd
  /// and |inv_std ratio - 1|, over the features the clear fit does not call constant
  /// (near_constant_features counts those).
  double max_normalizer_error = 0;
  std::size_t near_constant_features = 0;
  std::vector<EvalRow> rows;     ///< "encrypted (3 hospitals)", plaintext rows
  std::size_t n_test = 0;
};
Result<MultiHospitalReport> run_multi_hospital(const MultiHospitalOptions& opt);

}  // namespace heal::apps::he_train
