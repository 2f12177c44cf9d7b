// heal train-encrypted: a logistic-regression head trained on CKKS-encrypted features
// (apps/encrypted_training.h; he_train).
//   heal train-encrypted client-encrypt --features F.npz --owner OWNER --server SERVER [--preset train] ...
//   heal train-encrypted server-train --server SERVER --out MODEL [--threads 2]
//   heal train-encrypted client-decrypt --owner OWNER --model MODEL --features F.npz [--json]
//   heal train-encrypted multi-hospital --features F.npz [--hospitals 3 --threshold 2] ...
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "heal/apps/encrypted_training.h"
#include "heal/apps/multi_hospital_training.h"
#include "heal/core/progress.h"

namespace heal::cli {

namespace {

namespace et = apps::he_train;
using nlohmann::json;


std::string mib(std::uint64_t b) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << static_cast<double>(b) / (1024.0 * 1024.0) << " MiB";
  return s.str();
}

struct EncryptArgs {
  et::EncryptOptions o;
  bool json_out = false;
};
struct ServerArgs {
  et::ServerOptions o;
  bool json_out = false;
};
struct DecryptArgs {
  et::DecryptOptions o;
  bool json_out = false;
};
struct MultiArgs {
  et::MultiHospitalOptions o;
  bool json_out = false;
};

void run_encrypt(EncryptArgs& a) {
  std::unique_ptr<ProgressBar> bar;
  std::string stage;
  std::uint64_t done = 0;  // thousandths of the current stage
  a.o.progress = [&](const std::string& s, double f) {
    if (s != stage) {
      if (bar) bar->finish();
      stage = s;
      done = 0;
      bar = std::make_unique<ProgressBar>(s == "keys" ? "keys (public, relinearization, Galois)" : "encrypt features",
                                          1000, !globals().quiet);
    }
    const auto target = static_cast<std::uint64_t>(f * 1000);
    if (target > done) {
      bar->tick(target - done);
      done = target;
    }
  };
  const auto r = value_or_throw(et::client_encrypt(a.o));
  if (bar) bar->finish();
  if (a.json_out) {
    std::cout << json{{"n_train", r.n_train},
                      {"n_val", r.n_val},
                      {"d", r.d},
                      {"row_width", r.row_width},
                      {"rows_per_ciphertext", r.rows_per_ct},
                      {"train_ciphertexts", r.train_ciphertexts},
                      {"val_ciphertexts", r.val_ciphertexts},
                      {"galois_keys", r.galois_keys},
                      {"upload_bytes", r.upload_bytes},
                      {"key_bytes", r.key_bytes},
                      {"data_bytes", r.data_bytes},
                      {"keygen_seconds", r.keygen_seconds},
                      {"encrypt_seconds", r.encrypt_seconds}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "encrypted " << r.n_train << " training and " << r.n_val << " validation rows of " << r.d
            << " features (+ bias) into " << r.train_ciphertexts << " + " << r.val_ciphertexts << " ciphertexts ("
            << r.rows_per_ct << " rows of " << r.row_width << " slots each)\n"
            << "upload to the server: " << mib(r.upload_bytes) << " (keys " << mib(r.key_bytes) << ", "
            << r.galois_keys << " Galois keys; data " << mib(r.data_bytes) << ")\n"
            << "keys " << std::fixed << std::setprecision(1) << r.keygen_seconds << " s, encryption "
            << r.encrypt_seconds << " s\n"
            << "send " << a.o.server_dir << "/ to the server; keep " << a.o.owner_dir << "/ (secret key) private\n";
}

void run_server(ServerArgs& a) {
  std::unique_ptr<ProgressBar> bar;
  a.o.on_iteration = [&](const he_train::IterationInfo& i) {
    if (!bar) bar = std::make_unique<ProgressBar>("encrypted NAG", i.iterations, !globals().quiet);
    std::ostringstream s;
    s << "epoch " << i.epoch + 1 << " level " << i.level << (i.refreshed ? " (bootstrapped)" : "");
    bar->tick(1, s.str());
  };
  const auto r = value_or_throw(et::server_train(a.o));
  if (bar) bar->finish();
  if (a.json_out) {
    std::cout << json{{"iterations", r.iterations},
                      {"epochs", r.epochs},
                      {"bootstraps", r.refreshes},
                      {"seconds", r.seconds},
                      {"bootstrap_seconds", r.refresh_seconds},
                      {"load_seconds", r.load_seconds},
                      {"seconds_per_iteration", r.seconds_per_iteration},
                      {"seconds_per_epoch", r.seconds_per_epoch},
                      {"threads", a.o.threads}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << std::fixed << std::setprecision(2) << "trained " << r.iterations << " iterations (" << r.epochs
            << " epochs, " << r.refreshes << " bootstraps) in " << r.seconds << " s: " << r.seconds_per_iteration
            << " s per iteration, " << r.seconds_per_epoch << " s per epoch (bootstrapping " << r.refresh_seconds
            << " s; loading " << r.load_seconds << " s)\n"
            << "encrypted checkpoints in " << a.o.out_dir << "/ (return them to the data owner)\n";
}

void run_decrypt(DecryptArgs& a) {
  const auto r = value_or_throw(et::client_decrypt(a.o));
  if (a.json_out) {
    json rows = json::array();
    for (const auto& row : r.rows)
      rows.push_back({{"name", row.name}, {"epoch", row.epoch}, {"val_loss", row.val_loss}, {"test_accuracy", row.test_acc},
                      {"test_auc", row.test_auc}});
    std::cout << json{{"epochs", r.epochs},
                      {"chosen_epoch", r.chosen_epoch},
                      {"val_loss", r.val_loss},
                      {"plain_val_loss", r.plain_val_loss},
                      {"max_weight_error", r.max_weight_error},
                      {"plain_train_seconds", r.plain_train_seconds},
                      {"n_test", r.n_test},
                      {"rows", rows}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "validation loss per epoch (decrypted):";
  for (double l : r.val_loss) std::cout << " " << std::fixed << std::setprecision(4) << l;
  std::cout << "\nearly stopping (patience " << a.o.patience << ") chose epoch " << r.chosen_epoch << " of " << r.epochs
            << "\n\n";
  std::cout << std::left << std::setw(30) << "classifier" << std::right << std::setw(7) << "epoch" << std::setw(10)
            << "val loss" << std::setw(10) << "test ACC" << std::setw(10) << "test AUC" << "\n";
  for (const auto& row : r.rows)
    std::cout << std::left << std::setw(30) << row.name << std::right << std::setw(7) << row.epoch << std::setw(10)
              << std::setprecision(4) << row.val_loss << std::setw(10) << row.test_acc << std::setw(10) << row.test_auc
              << "\n";
  if (a.o.compare_plain) {
    std::cout << "\nmax |w_encrypted - w_plaintext| at epoch " << r.chosen_epoch << ": " << std::scientific
              << std::setprecision(2) << r.max_weight_error << " (" << r.n_test << " test images); plaintext training "
              << std::fixed << std::setprecision(3) << r.plain_train_seconds << " s\n";
  }
}


void run_multi(MultiArgs& a) {
  std::unique_ptr<ProgressBar> bar;
  std::string stage;
  std::uint64_t done = 0;
  a.o.progress = [&](const et::CollectiveProgress& p) {
    if (p.stage == "train" && !p.iteration) return;  // the bar starts with the first iteration (its count)
    if (p.stage != stage) {
      if (bar) bar->finish();
      stage = p.stage;
      done = 0;
      const char* title = p.stage == "keys"         ? "collective keys (public, relinearization, Galois, 2-of-n shares)"
                          : p.stage == "statistics" ? "normalisation statistics (encrypted sums)"
                          : p.stage == "encrypt"    ? "hospitals encrypt their rows"
                          : p.stage == "train"      ? "encrypted NAG (collective refresh)"
                                                    : "quorum decrypts the weights";
      bar = std::make_unique<ProgressBar>(title, p.stage == "train" && p.iteration ? p.iteration->iterations : 1000,
                                          !globals().quiet);
    }
    if (p.stage == "train" && p.iteration) {
      std::ostringstream s;
      s << "epoch " << p.iteration->epoch + 1 << " level " << p.iteration->level
        << (p.iteration->refreshed ? " (refreshed by the quorum)" : "");
      bar->tick(1, s.str());
      return;
    }
    const auto target = static_cast<std::uint64_t>(p.fraction * 1000);
    if (target > done) {
      bar->tick(target - done);
      done = target;
    }
  };
  const auto r = value_or_throw(et::run_multi_hospital(a.o));
  if (bar) bar->finish();
  const auto& s = r.server;
  if (a.json_out) {
    json rows = json::array();
    for (const auto& row : r.rows)
      rows.push_back({{"name", row.name}, {"epoch", row.epoch}, {"test_accuracy", row.test_acc}, {"test_auc", row.test_auc}});
    json traffic = json::array();
    for (std::size_t p = 0; p < r.traffic.size(); ++p)
      traffic.push_back({{"party", p == 0 ? std::string("server") : "hospital " + std::to_string(p)},
                         {"bytes_sent", r.traffic[p].sent},
                         {"bytes_received", r.traffic[p].received},
                         {"messages_sent", r.traffic[p].messages_sent}});
    std::cout << json{{"hospitals", a.o.job.hospitals},
                      {"threshold", a.o.job.threshold},
                      {"rows_per_hospital", s.rows_per_hospital},
                      {"n_train", s.n_train},
                      {"d", s.d},
                      {"rows_per_ciphertext", s.rows_per_ct},
                      {"train_ciphertexts", s.train_ciphertexts},
                      {"galois_keys", s.galois_keys},
                      {"iterations", s.iterations},
                      {"refreshes", s.refreshes},
                      {"max_refreshes", s.max_refreshes},
                      {"keygen_seconds", s.keygen_seconds},
                      {"statistics_seconds", s.statistics_seconds},
                      {"encrypt_seconds", s.encrypt_seconds},
                      {"train_seconds", s.train_seconds},
                      {"refresh_seconds", s.refresh_seconds},
                      {"seconds_per_iteration", s.seconds_per_iteration},
                      {"decrypt_seconds", s.decrypt_seconds},
                      {"predicted_refresh_error_std", s.predicted_refresh_error_std},
                      {"hospitals_agree", r.hospitals_agree},
                      {"max_weight_error", r.max_weight_error},
                      {"max_normalizer_error", r.max_normalizer_error},
                      {"near_constant_features", r.near_constant_features},
                      {"n_test", r.n_test},
                      {"traffic", traffic},
                      {"rows", rows}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << std::fixed << std::setprecision(1) << a.o.job.hospitals << " hospitals (";
  for (std::size_t i = 0; i < s.rows_per_hospital.size(); ++i) std::cout << (i ? " / " : "") << s.rows_per_hospital[i];
  std::cout << " rows), " << a.o.job.threshold << "-of-" << a.o.job.hospitals << " threshold key; " << s.iterations
            << " iterations, " << s.refreshes << " collective refreshes\n"
            << "keys " << s.keygen_seconds << " s, statistics " << s.statistics_seconds << " s, encryption "
            << s.encrypt_seconds << " s, training " << s.train_seconds << " s (" << std::setprecision(2)
            << s.seconds_per_iteration << " s per iteration; refreshes " << s.refresh_seconds << " s), decryption "
            << s.decrypt_seconds << " s\n";
  for (std::size_t p = 1; p < r.traffic.size(); ++p)
    std::cout << "hospital " << p << " sent " << mib(r.traffic[p].sent) << ", received " << mib(r.traffic[p].received)
              << "\n";
  std::cout << "\n"
            << std::left << std::setw(30) << "classifier" << std::right << std::setw(10) << "test ACC" << std::setw(10)
            << "test AUC" << "\n";
  for (const auto& row : r.rows)
    std::cout << std::left << std::setw(30) << row.name << std::right << std::setw(10) << std::setprecision(4)
              << row.test_acc << std::setw(10) << row.test_auc << "\n";
  std::cout << "\nhospitals decrypted the same weights: " << (r.hospitals_agree ? "yes" : "NO") << "\n";
  if (a.o.compare_plain) {
    std::cout << "max |w_encrypted - w_plaintext|: " << std::scientific << std::setprecision(2) << r.max_weight_error
              << " (predicted flooding error per refresh " << s.predicted_refresh_error_std
              << "); normaliser from encrypted sums vs clear: " << r.max_normalizer_error << "\n";
  }
}

}  // namespace

void add_train_encrypted_commands(CLI::App& app) {
  auto* te = app.add_subcommand("train-encrypted",
                                "Train a logistic-regression head on CKKS-encrypted features (data owner / untrusted server)");
  te->require_subcommand(1);

  auto ea = std::make_shared<EncryptArgs>();
  auto* enc = te->add_subcommand("client-encrypt",
                                 "Data owner: make keys, encrypt the features and labels of `heal features` for the server");
  enc->add_option("--features", ea->o.features, ".npz from `heal features` (train_x/y, val_x/y, test_x/y)")->required();
  enc->add_option("--owner", ea->o.owner_dir, "directory for the owner's secret key and settings (keep private)")->required();
  enc->add_option("--server", ea->o.server_dir, "directory to send to the server (public keys, ciphertexts)")->required();
  enc->add_option("--preset", ea->o.job.preset, "CKKS bootstrapping preset: train (secure), test-train (insecure)")
      ->capture_default_str();
  enc->add_option("--epochs", ea->o.job.epochs, "epochs (the owner picks the best one afterwards)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  enc->add_option("--batch", ea->o.job.batch_rows, "rows per mini-batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  enc->add_option("--lr", ea->o.job.alpha, "learning rate alpha")->capture_default_str()->check(CLI::Range(1e-6, 100.0));
  enc->add_option("--degree", ea->o.job.degree, "sigmoid polynomial degree (3: 5 levels per iteration; 5, 7: 6)")
      ->capture_default_str()
      ->check(CLI::IsMember({3, 5, 7}));
  enc->add_option("--bound", ea->o.job.bound, "the polynomial's domain [-B, B]")->capture_default_str()->check(CLI::Range(1.0, 64.0));
  enc->add_option("--norm-c", ea->o.norm_c, "row scaling: standardised rows are divided by c sqrt(d + 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 100.0));
  enc->add_option("--max-train", ea->o.max_train, "use only the first N training rows (0: all)")->capture_default_str();
  enc->add_flag("--allow-insecure", ea->o.allow_insecure, "accept the insecure test presets (tests only)");
  enc->add_flag("--json", ea->json_out, "JSON output");
  ea->o.job.epochs = 5;
  ea->o.job.batch_rows = 1024;
  enc->callback([ea] { run_encrypt(*ea); });

  auto sa = std::make_shared<ServerArgs>();
  auto* srv = te->add_subcommand("server-train",
                                 "Untrusted server: train on the ciphertexts of a server directory (no secret key needed)");
  srv->add_option("--server", sa->o.server_dir, "directory from client-encrypt")->required();
  srv->add_option("--out", sa->o.out_dir, "directory for the encrypted per-epoch checkpoints")->required();
  srv->add_option("--threads", sa->o.threads, "threads (bootstrapping; 2: the batch's data ciphertexts in two halves)")->capture_default_str()->check(CLI::Range(1, 64));
  srv->add_flag("--allow-insecure", sa->o.allow_insecure, "accept insecure parameters (test presets only)");
  srv->add_flag("--json", sa->json_out, "JSON output");
  sa->o.threads = 2;
  srv->callback([sa] { run_server(*sa); });

  auto da = std::make_shared<DecryptArgs>();
  auto* dec = te->add_subcommand("client-decrypt",
                                 "Data owner: decrypt the checkpoints, early-stop on the validation loss, evaluate on test");
  dec->add_option("--owner", da->o.owner_dir, "the owner directory of client-encrypt")->required();
  dec->add_option("--model", da->o.model_dir, "the server's output directory")->required();
  dec->add_option("--features", da->o.features, "the same .npz (its test split is evaluated)")->required();
  dec->add_option("--patience", da->o.patience, "epochs without a better validation loss before stopping")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  dec->add_flag("!--no-plain", da->o.compare_plain, "skip the plaintext reference runs");
  dec->add_flag("--allow-insecure", da->o.allow_insecure, "accept the insecure test presets (tests only)");
  dec->add_flag("--json", da->json_out, "JSON output");
  dec->callback([da] { run_decrypt(*da); });

  auto ma = std::make_shared<MultiArgs>();
  auto* mh = te->add_subcommand(
      "multi-hospital",
      "Several hospitals train one head on the union of their encrypted features under a collective t-of-n key "
      "(simulated in one process; the server never holds a key)");
  mh->add_option("--features", ma->o.features, ".npz from `heal features`; its training split is divided among the hospitals")
      ->required();
  mh->add_option("--hospitals", ma->o.job.hospitals, "number of hospitals")->capture_default_str()->check(CLI::Range(2, 16));
  mh->add_option("--threshold", ma->o.job.threshold, "hospitals needed to refresh or decrypt (> hospitals / 2)")
      ->capture_default_str()
      ->check(CLI::Range(2, 16));
  mh->add_option("--preset", ma->o.job.preset, "collective (secure), test-collective (insecure)")->capture_default_str();
  mh->add_option("--epochs", ma->o.job.epochs, "epochs (fixed: choose them on validation with the single-owner roles)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  mh->add_option("--batch", ma->o.job.batch_rows, "rows per mini-batch")->capture_default_str()->check(CLI::Range(1, 1 << 24));
  mh->add_option("--lr", ma->o.job.alpha, "learning rate alpha")->capture_default_str()->check(CLI::Range(1e-6, 100.0));
  mh->add_option("--degree", ma->o.job.degree, "sigmoid polynomial degree")->capture_default_str()->check(CLI::IsMember({3}));
  mh->add_option("--bound", ma->o.job.bound, "the polynomial's domain [-B, B]")->capture_default_str()->check(CLI::Range(1.0, 64.0));
  mh->add_option("--norm-c", ma->o.job.norm_c, "row scaling c")->capture_default_str()->check(CLI::Range(0.01, 100.0));
  mh->add_option("--max-train", ma->o.max_train, "use only the first N training rows (0: all)")->capture_default_str();
  mh->add_option("--threads", ma->o.threads, "server threads")->capture_default_str()->check(CLI::Range(1, 64));
  mh->add_flag("!--no-plain", ma->o.compare_plain, "skip the plaintext reference runs");
  mh->add_flag("--allow-insecure", ma->o.job.allow_insecure, "accept the insecure test preset (every hospital and the server)");
  mh->add_flag("--json", ma->json_out, "JSON output");
  ma->o.threads = 2;
  mh->callback([ma] { run_multi(*ma); });
}

}  // namespace heal::cli
