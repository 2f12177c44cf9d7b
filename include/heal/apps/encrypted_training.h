// Training a classifier on encrypted features over files: the three roles of
// `heal train-encrypted` (MedBlindTuner, Panzade-Takabi-Cai, arXiv 2401.09604, on the HETAL-style
// trainer of heal/he_train).
//
//   client_encrypt (data owner):  features .npz -> owner dir (secret key 0600, normaliser, job) and
//                                 server dir (parameters, public evaluation keys, encrypted Z of the
//                                 training and validation splits, encrypted initial weights, job).
//   server_train   (untrusted):   server dir -> out dir: the encrypted weights and the encrypted
//                                 validation margins after every epoch. It reads no secret key and
//                                 sees no feature, label or weight in the clear.
//   client_decrypt (data owner):  decrypts the per-epoch validation margins, computes the validation
//                                 loss, picks the epoch (early stopping with patience), decrypts
//                                 that epoch's weights and evaluates them on the test split, next to
//                                 the same algorithm run in plaintext (he_train::PlainNag).
//
// Nothing decrypted goes back to the server (IND-CPA^D, Li-Micciancio ePrint 2020/1533): early
// stopping happens on the owner's side after the run, from the encrypted per-epoch checkpoints.
// Every file read is validated and errors come back as a Status (fuzz/he_train_files_fuzz.cpp).
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/he_train/encrypted_nag.h"

namespace heal::apps::he_train {

/// One split of a features archive (`heal features`): `<split>_x` (n x d) and `<split>_y` (n).
struct FeatureSplit {
  std::size_t n = 0, d = 0;
  std::vector<double> x;  ///< row-major n x d
  std::vector<int> y;     ///< 0 or 1
};
/// Reads one split; InvalidArgument if the labels are not binary or the shapes disagree.
Result<FeatureSplit> load_features(const std::string& npz_path, const std::string& split);

/// Standardisation fitted on the training split (mean and standard deviation per feature), then one
/// factor 1 / (c sqrt(d + 1)) for the whole row, so that a row z_i has norm about 1/c and the
/// margins z_i . w stay inside the sigmoid polynomial's domain [-B, B] for |w| up to about B c.
struct Normalizer {
  std::vector<double> mean, inv_std;
  double row_scale = 1;
  static Normalizer fit(const FeatureSplit& train, double c = 1.0);
  /// From the union's per-feature mean and mean of squares (the multi-hospital pipeline decrypts
  /// them from encrypted sums): standard deviation sqrt(E[x^2] - mean^2); a feature whose standard
  /// deviation is below min_std (the decryption's precision, about 1e-7 for moments up to 100) counts as
  /// constant (inv_std 0).
  static Normalizer from_moments(std::vector<double> mean, std::span<const double> mean_sq, std::size_t d,
                                 double c = 1.0, double min_std = 1e-6);
  void apply(FeatureSplit& s) const;
};

/// The training job both sides agree on (job.json in both directories).
struct Job {
  std::string preset = "train";  ///< a ckks bootstrap preset ("train", or "test-train" for tests)
  std::size_t d = 0;             ///< features (d + 1 values per row with the bias)
  std::size_t n_train = 0, n_val = 0;
  std::size_t batch_rows = 0;    ///< rows per mini-batch
  std::size_t epochs = 0;
  std::size_t degree = 3;        ///< sigmoid polynomial degree (3, 5 or 7)
  double bound = 8;              ///< its domain [-B, B]
  double alpha = 1;              ///< learning rate
  bool inverse_time = false;     ///< alpha_t = alpha / (t + 1)
  bool nesterov = true;
  std::size_t batches() const { return (n_train + batch_rows - 1) / batch_rows; }
  std::size_t iterations() const { return epochs * batches(); }
};
std::string job_to_json(const Job& job);
/// Validates every field (preset known, sizes in range, degree odd in 3..7, finite positive rates).
Result<Job> job_from_json(std::string_view text);

struct EncryptOptions {
  std::string features;    ///< .npz from `heal features`
  std::string owner_dir;   ///< created; keep it private
  std::string server_dir;  ///< created; everything in it is for the server
  Job job;                 ///< d, n_train and n_val are filled in from the features
  double norm_c = 1.0;     ///< Normalizer's c
  bool allow_insecure = false;  ///< required for the insecure test presets
  std::size_t max_train = 0;    ///< use only the first rows of the training split (0: all)
  std::function<void(const std::string& stage, double fraction)> progress;
};
struct EncryptReport {
  std::size_t n_train = 0, n_val = 0, d = 0, row_width = 0, rows_per_ct = 0;
  std::size_t train_ciphertexts = 0, val_ciphertexts = 0, galois_keys = 0;
  std::uint64_t upload_bytes = 0, key_bytes = 0, data_bytes = 0;  ///< what the server dir holds
  double keygen_seconds = 0, encrypt_seconds = 0;
};
Result<EncryptReport> client_encrypt(const EncryptOptions& opt);

struct ServerOptions {
  std::string server_dir;
  std::string out_dir;           ///< created: epoch_NNN.weights, epoch_NNN.margins, train_log.json
  bool allow_insecure = false;   ///< accept parameters below 128 bits (only for the test presets)
  int threads = 1;               ///< bootstrapping threads; >= 2 also splits each batch in two halves
  std::function<void(const heal::he_train::IterationInfo&)> on_iteration;
};
struct ServerReport {
  std::size_t iterations = 0, epochs = 0, refreshes = 0;
  double seconds = 0, refresh_seconds = 0, load_seconds = 0;
  double seconds_per_iteration = 0, seconds_per_epoch = 0;
};
Result<ServerReport> server_train(const ServerOptions& opt);

struct DecryptOptions {
  std::string owner_dir, model_dir;  ///< model_dir: server_train's out_dir
  std::string features;              ///< the same .npz (test split and the plaintext reference)
  std::size_t patience = 2;          ///< stop after this many epochs without a better validation loss
  bool compare_plain = true;         ///< also run PlainNag (polynomial and exact sigmoid) on the same data
  bool allow_insecure = false;       ///< required for the insecure test presets
};
struct EvalRow {
  std::string name;  ///< "encrypted", "plaintext (same polynomial)", "plaintext (exact sigmoid)"
  std::size_t epoch = 0;
  double val_loss = 0, test_acc = 0, test_auc = 0;
};
struct DecryptReport {
  std::size_t epochs = 0, chosen_epoch = 0;  ///< chosen_epoch: 1-based
  std::vector<double> val_loss;              ///< per epoch, from the decrypted margins
  std::vector<double> plain_val_loss;        ///< per epoch, PlainNag (same polynomial)
  double max_weight_error = 0;               ///< max |w_encrypted - w_plain| at the chosen epoch
  double plain_train_seconds = 0;            ///< PlainNag (same polynomial), every epoch, one thread
  std::vector<EvalRow> rows;
  std::size_t n_test = 0;
};
Result<DecryptReport> client_decrypt(const DecryptOptions& opt);

}  // namespace heal::apps::he_train
