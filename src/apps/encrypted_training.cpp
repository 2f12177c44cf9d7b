// The three roles of `heal train-encrypted` on files (see heal/apps/encrypted_training.h).
#include "heal/apps/encrypted_training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "ciphertext_file.h"
#include "he_train_internal.h"
#include "heal/ckks/bootstrap.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/serialization.h"
#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/he_train/nag.h"
#include "heal/he_train/packing.h"
#include "heal/he_train/refresher.h"
#include "heal/io/npy.h"
#include "heal/nn/metrics.h"

namespace heal::apps::he_train {

namespace ht = heal::he_train;
namespace fs = std::filesystem;

namespace {

using internal::Clock;
using internal::seconds_since;

std::string in_dir(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }
std::string epoch_name(std::size_t e, const char* kind) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "epoch_%03zu.%s", e, kind);
  return buf;
}

constexpr std::size_t kMaxRows = std::size_t{1} << 24;
constexpr std::size_t kMaxFeatures = 4096;
constexpr std::size_t kMaxEpochs = 10000;

Status make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create directory " + dir + ": " + ec.message());
  return {};
}

Status write_text(const std::string& path, const std::string& text) {
  return write_file(path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

Result<std::string> read_text(const std::string& path, std::size_t max = 1u << 20) {
  HEAL_ASSIGN_OR_RETURN(Bytes b, read_file(path, max));
  return std::string(b.begin(), b.end());
}

// Parameters of a preset, and the loaded params.heal must be exactly these (so the server's
// bootstrapper matches what the owner's keys were made for).
Result<ckks::ContextPtr> load_context(const std::string& dir, const Job& job, bool allow_insecure) {
  HEAL_ASSIGN_OR_RETURN(Bytes b, read_file(in_dir(dir, "params.heal")));
  ckks::ParamsLoadOptions o;
  o.allow_insecure = allow_insecure;
  auto ctx = ckks::load_params(b, o);
  if (!ctx.ok()) {
    return ctx.status().with_context(in_dir(dir, "params.heal") +
                                     (allow_insecure ? "" : " (test presets need --allow-insecure)"));
  }
  const auto preset = ckks::bootstrap_preset(job.preset);
  auto expect = preset.params;
  expect.allow_insecure = allow_insecure;
  const auto want = ckks::Context::create(expect);
  if (ckks::params_hash(**ctx) != ckks::params_hash(*want)) {
    return Status::invalid_argument("params.heal does not hold the parameters of preset '" + job.preset + "'");
  }
  return ctx;
}

template <typename T>
Result<T> load_key(const std::string& path, const ckks::Context& ctx,
                   Result<T> (*fn)(const ckks::Context&, std::span<const std::uint8_t>)) {
  HEAL_ASSIGN_OR_RETURN(Bytes b, read_file(path));
  auto k = fn(ctx, b);
  if (!k.ok()) return k.status().with_context(path);
  return k;
}

std::uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto s = fs::file_size(path, ec);
  return ec ? 0 : s;
}

ht::Schedule schedule_of(const Job& job) { return internal::schedule(job.alpha, job.inverse_time, job.nesterov); }

using internal::evaluate;

// Epoch chosen by early stopping: the first epoch after which `patience` epochs brought no lower
// validation loss (else the best of all). 1-based.
std::size_t choose_epoch(const std::vector<double>& loss, std::size_t patience) {
  std::size_t best = 0, since = 0;
  for (std::size_t e = 1; e < loss.size(); ++e) {
    if (loss[e] < loss[best]) {
      best = e;
      since = 0;
    } else if (++since >= patience) {
      break;
    }
  }
  return best + 1;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Shared with the multi-hospital pipeline (he_train_internal.h).

ht::Schedule internal::schedule(double alpha, bool inverse_time, bool nesterov) {
  return ht::Schedule{alpha, inverse_time ? ht::Schedule::Rate::kInverseTime : ht::Schedule::Rate::kConstant, nesterov};
}

internal::Metrics internal::evaluate(const FeatureSplit& s, std::span<const double> w) {
  std::vector<double> probs(2 * s.n);
  for (std::size_t i = 0; i < s.n; ++i) {
    double m = w[0];
    for (std::size_t j = 0; j < s.d; ++j) m += w[j + 1] * s.x[i * s.d + j];
    const double p = ht::sigmoid(m);
    probs[2 * i] = 1 - p;
    probs[2 * i + 1] = p;
  }
  const auto cm = nn::compute_metrics(probs, s.y, 2, 1);
  return {cm.accuracy, cm.auc};
}


// ---------------------------------------------------------------------------------------------
// Features and normalisation.

Result<FeatureSplit> load_features(const std::string& npz_path, const std::string& split) {
  HEAL_ASSIGN_OR_RETURN(auto npz, io::NpzArchive::from_file(npz_path));
  const std::string xn = split + "_x.npy", yn = split + "_y.npy";
  if (!npz.has(xn) || !npz.has(yn)) {
    return Status::not_found(npz_path + ": no arrays " + split + "_x / " + split + "_y (write it with `heal features`)");
  }
  HEAL_ASSIGN_OR_RETURN(Bytes xb, npz.read(xn));
  HEAL_ASSIGN_OR_RETURN(Bytes yb, npz.read(yn));
  HEAL_ASSIGN_OR_RETURN(auto xa, io::parse_npy(xb));
  HEAL_ASSIGN_OR_RETURN(auto ya, io::parse_npy(yb));
  const auto& xs = xa.header.shape;
  const auto& ys = ya.header.shape;
  if (xs.size() != 2 || ys.size() != 1 || xs[0] != ys[0] || xs[0] == 0 || xs[1] == 0) {
    return Status::invalid_argument(npz_path + ": " + split + "_x must be n x d and " + split + "_y of length n");
  }
  if (xs[0] > kMaxRows || xs[1] > kMaxFeatures) {
    return Status::out_of_range(npz_path + ": " + split + " has more than " + std::to_string(kMaxRows) + " rows or " +
                                std::to_string(kMaxFeatures) + " features");
  }
  FeatureSplit s;
  s.n = xs[0];
  s.d = xs[1];
  s.x = io::npy_to_doubles(xa);
  for (double v : s.x) {
    if (!std::isfinite(v)) return Status::invalid_argument(npz_path + ": " + split + "_x holds a non-finite value");
  }
  const auto yd = io::npy_to_doubles(ya);
  s.y.resize(s.n);
  for (std::size_t i = 0; i < s.n; ++i) {
    if (yd[i] != 0.0 && yd[i] != 1.0) {
      return Status::invalid_argument(npz_path + ": " + split + "_y must be binary (0/1); found " +
                                      std::to_string(yd[i]) + " (encrypted training is binary logistic regression)");
    }
    s.y[i] = static_cast<int>(yd[i]);
  }
  return s;
}

Normalizer Normalizer::fit(const FeatureSplit& train, double c) {
  HEAL_REQUIRE(train.n > 0 && train.d > 0 && c > 0, "Normalizer::fit: empty split or c <= 0");
  Normalizer z;
  z.mean.assign(train.d, 0.0);
  z.inv_std.assign(train.d, 1.0);
  for (std::size_t i = 0; i < train.n; ++i)
    for (std::size_t j = 0; j < train.d; ++j) z.mean[j] += train.x[i * train.d + j];
  for (double& m : z.mean) m /= static_cast<double>(train.n);
  std::vector<double> var(train.d, 0.0);
  for (std::size_t i = 0; i < train.n; ++i)
    for (std::size_t j = 0; j < train.d; ++j) {
      const double u = train.x[i * train.d + j] - z.mean[j];
      var[j] += u * u;
    }
  for (std::size_t j = 0; j < train.d; ++j) {
    const double sd = std::sqrt(var[j] / static_cast<double>(train.n));
    z.inv_std[j] = sd > 1e-12 ? 1.0 / sd : 0.0;  // a constant feature carries nothing
  }
  z.row_scale = 1.0 / (c * std::sqrt(static_cast<double>(train.d + 1)));
  return z;
}

Normalizer Normalizer::from_moments(std::vector<double> mean, std::span<const double> mean_sq, std::size_t d, double c,
                                    double min_std) {
  HEAL_REQUIRE(d > 0 && mean.size() == d && mean_sq.size() == d && c > 0,
               "Normalizer::from_moments: " << mean.size() << " means and " << mean_sq.size() << " second moments for d = "
                                            << d);
  Normalizer z;
  z.mean = std::move(mean);
  z.inv_std.assign(d, 0.0);
  for (std::size_t j = 0; j < d; ++j) {
    const double var = mean_sq[j] - z.mean[j] * z.mean[j];
    const double sd = var > 0 ? std::sqrt(var) : 0.0;
    z.inv_std[j] = sd > min_std ? 1.0 / sd : 0.0;
  }
  z.row_scale = 1.0 / (c * std::sqrt(static_cast<double>(d + 1)));
  return z;
}

void Normalizer::apply(FeatureSplit& s) const {
  HEAL_REQUIRE(s.d == mean.size(), "Normalizer::apply: " << s.d << " features, fitted on " << mean.size());
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t j = 0; j < s.d; ++j) {
      double& v = s.x[i * s.d + j];
      v = (v - mean[j]) * inv_std[j] * row_scale;
    }
}

// ---------------------------------------------------------------------------------------------
// The job file.

std::string job_to_json(const Job& j) {
  nlohmann::json o;
  o["format"] = "heal-train-encrypted-job";
  o["version"] = 1;
  o["preset"] = j.preset;
  o["d"] = j.d;
  o["n_train"] = j.n_train;
  o["n_val"] = j.n_val;
  o["batch_rows"] = j.batch_rows;
  o["epochs"] = j.epochs;
  o["degree"] = j.degree;
  o["bound"] = j.bound;
  o["alpha"] = j.alpha;
  o["inverse_time"] = j.inverse_time;
  o["nesterov"] = j.nesterov;
  return o.dump(2) + "\n";
}

Result<Job> job_from_json(std::string_view text) {
  const auto o = nlohmann::json::parse(text, nullptr, false);
  if (o.is_discarded() || !o.is_object()) return Status::corruption("job.json: not a JSON object");
  auto str = [&](const char* k, std::string* out) -> Status {
    if (!o.contains(k) || !o[k].is_string()) return Status::corruption(std::string("job.json: '") + k + "' must be a string");
    *out = o[k].get<std::string>();
    return {};
  };
  auto uint = [&](const char* k, std::size_t lo, std::size_t hi, std::size_t* out) -> Status {
    if (!o.contains(k) || !o[k].is_number_unsigned()) {
      return Status::corruption(std::string("job.json: '") + k + "' must be a non-negative integer");
    }
    const auto v = o[k].get<std::uint64_t>();
    if (v < lo || v > hi) {
      return Status::out_of_range(std::string("job.json: '") + k + "' = " + std::to_string(v) + " outside [" +
                                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    *out = static_cast<std::size_t>(v);
    return {};
  };
  auto real = [&](const char* k, double lo, double hi, double* out) -> Status {
    if (!o.contains(k) || !o[k].is_number()) return Status::corruption(std::string("job.json: '") + k + "' must be a number");
    const double v = o[k].get<double>();
    if (!std::isfinite(v) || v < lo || v > hi) {
      return Status::out_of_range(std::string("job.json: '") + k + "' outside [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "]");
    }
    *out = v;
    return {};
  };
  auto flag = [&](const char* k, bool* out) -> Status {
    if (!o.contains(k) || !o[k].is_boolean()) return Status::corruption(std::string("job.json: '") + k + "' must be a boolean");
    *out = o[k].get<bool>();
    return {};
  };
  std::string format;
  HEAL_RETURN_IF_ERROR(str("format", &format));
  if (format != "heal-train-encrypted-job") return Status::corruption("job.json: not a train-encrypted job");
  std::size_t version = 0;
  HEAL_RETURN_IF_ERROR(uint("version", 1, 1, &version));
  Job j;
  HEAL_RETURN_IF_ERROR(str("preset", &j.preset));
  const auto names = ckks::bootstrap_preset_names();
  if (std::find(names.begin(), names.end(), j.preset) == names.end()) {
    return Status::invalid_argument("job.json: unknown preset '" + j.preset + "'");
  }
  HEAL_RETURN_IF_ERROR(uint("d", 1, kMaxFeatures, &j.d));
  HEAL_RETURN_IF_ERROR(uint("n_train", 1, kMaxRows, &j.n_train));
  HEAL_RETURN_IF_ERROR(uint("n_val", 0, kMaxRows, &j.n_val));
  HEAL_RETURN_IF_ERROR(uint("batch_rows", 1, kMaxRows, &j.batch_rows));
  HEAL_RETURN_IF_ERROR(uint("epochs", 1, kMaxEpochs, &j.epochs));
  HEAL_RETURN_IF_ERROR(uint("degree", 3, 7, &j.degree));
  if (j.degree % 2 == 0) return Status::out_of_range("job.json: 'degree' must be 3, 5 or 7");
  HEAL_RETURN_IF_ERROR(real("bound", 1e-3, 1e3, &j.bound));
  HEAL_RETURN_IF_ERROR(real("alpha", 1e-9, 1e3, &j.alpha));
  HEAL_RETURN_IF_ERROR(flag("inverse_time", &j.inverse_time));
  HEAL_RETURN_IF_ERROR(flag("nesterov", &j.nesterov));
  if (j.iterations() > 10'000'000) return Status::out_of_range("job.json: too many iterations");
  return j;
}

// ---------------------------------------------------------------------------------------------
// Data owner: keys and encryption.

Result<EncryptReport> client_encrypt(const EncryptOptions& opt) {
  auto progress = [&](const char* stage, double f) {
    if (opt.progress) opt.progress(stage, f);
  };
  HEAL_ASSIGN_OR_RETURN(FeatureSplit train, load_features(opt.features, "train"));
  HEAL_ASSIGN_OR_RETURN(FeatureSplit val, load_features(opt.features, "val"));
  if (val.d != train.d) return Status::invalid_argument(opt.features + ": train and val have different feature counts");
  if (opt.max_train > 0 && opt.max_train < train.n) {
    train.n = opt.max_train;
    train.x.resize(train.n * train.d);
    train.y.resize(train.n);
  }
  const auto names = ckks::bootstrap_preset_names();
  if (std::find(names.begin(), names.end(), opt.job.preset) == names.end()) {
    return Status::invalid_argument("unknown preset '" + opt.job.preset + "'");
  }
  const auto preset = ckks::bootstrap_preset(opt.job.preset);
  if (preset.params.allow_insecure && !opt.allow_insecure) {
    return Status::invalid_argument("preset '" + opt.job.preset +
                                    "' is below 128-bit security; pass --allow-insecure to use it (tests only)");
  }
  Job job = opt.job;
  job.d = train.d;
  job.n_train = train.n;
  job.n_val = val.n;
  const Normalizer norm = Normalizer::fit(train, opt.norm_c);
  norm.apply(train);
  norm.apply(val);

  const auto t_keys = Clock::now();
  progress("keys", 0);
  const auto ctx = ckks::Context::create(preset.params);
  ckks::KeyGenerator keygen(ctx, std::make_unique<SystemRng>());
  const ckks::Bootstrapper bs(ctx, preset.config);
  const ht::Packing packing(job.d, ctx->slots(), bs.config().slots);
  if (job.batch_rows == 0) job.batch_rows = 1024;
  job.batch_rows = std::min(job.batch_rows, train.n);
  HEAL_RETURN_IF_ERROR(job_from_json(job_to_json(job)).status());  // the server will validate the same way

  HEAL_RETURN_IF_ERROR(make_dir(opt.owner_dir));
  HEAL_RETURN_IF_ERROR(make_dir(opt.server_dir));
  const auto pk = keygen.create_public_key();
  {
    const SecretBytes sk = ckks::save(*ctx, keygen.secret_key());
    HEAL_RETURN_IF_ERROR(write_secret_file(in_dir(opt.owner_dir, "secret.key"), sk.span()));
  }
  HEAL_RETURN_IF_ERROR(write_file(in_dir(opt.server_dir, "params.heal"), ckks::save_params(*ctx)));
  HEAL_RETURN_IF_ERROR(write_file(in_dir(opt.owner_dir, "params.heal"), ckks::save_params(*ctx)));
  progress("keys", 0.1);
  HEAL_RETURN_IF_ERROR(write_file(in_dir(opt.server_dir, "relin.key"), ckks::save(*ctx, keygen.create_relin_key())));
  progress("keys", 0.2);
  EncryptReport rep;
  {
    ckks::GaloisKeys gk = keygen.create_galois_keys(ht::EncryptedNag::rotation_steps(packing), true);
    const auto& elts = bs.galois_elements();
    for (std::size_t i = 0; i < elts.size(); ++i) {
      if (!gk.has(elts[i])) keygen.add_galois_key(gk, elts[i]);
      progress("keys", 0.2 + 0.8 * static_cast<double>(i + 1) / static_cast<double>(elts.size()));
    }
    rep.galois_keys = gk.size();
    HEAL_RETURN_IF_ERROR(write_file(in_dir(opt.server_dir, "galois.key"), ckks::save(*ctx, gk)));
  }
  rep.keygen_seconds = seconds_since(t_keys);

  const auto t_enc = Clock::now();
  ckks::Encryptor enc(ctx, pk);
  const ht::DataPacker packer(ctx, packing);
  const std::size_t level = bs.output_level();
  const auto zt = ht::make_z(train.x, train.y, train.d);
  progress("encrypt", 0);
  const auto ct_train = packer.encrypt_z(enc, zt, train.n, level);
  progress("encrypt", 0.8);
  const auto zv = ht::make_z(val.x, val.y, val.d);
  const auto ct_val = packer.encrypt_z(enc, zv, val.n, level);
  const std::vector<double> zero(job.d + 1, 0.0);
  const auto w0 = packer.encrypt_weights(enc, zero, zero, level);
  HEAL_RETURN_IF_ERROR(write_file(in_dir(opt.server_dir, "train.cts"), internal::encode_ciphertexts(*ctx, ct_train)));
  HEAL_RETURN_IF_ERROR(write_file(in_dir(opt.server_dir, "val.cts"), internal::encode_ciphertexts(*ctx, ct_val)));
  HEAL_RETURN_IF_ERROR(write_file(in_dir(opt.server_dir, "weights0.cts"), internal::encode_ciphertexts(*ctx, {w0})));
  progress("encrypt", 1);
  rep.encrypt_seconds = seconds_since(t_enc);

  const std::string job_json = job_to_json(job);
  HEAL_RETURN_IF_ERROR(write_text(in_dir(opt.server_dir, "job.json"), job_json));
  HEAL_RETURN_IF_ERROR(write_text(in_dir(opt.owner_dir, "job.json"), job_json));
  nlohmann::json nj;
  nj["mean"] = norm.mean;
  nj["inv_std"] = norm.inv_std;
  nj["row_scale"] = norm.row_scale;
  nj["features"] = fs::absolute(opt.features).string();
  HEAL_RETURN_IF_ERROR(write_text(in_dir(opt.owner_dir, "normalizer.json"), nj.dump() + "\n"));

  rep.n_train = train.n;
  rep.n_val = val.n;
  rep.d = job.d;
  rep.row_width = packing.row_width();
  rep.rows_per_ct = packing.rows_per_ct();
  rep.train_ciphertexts = ct_train.size();
  rep.val_ciphertexts = ct_val.size();
  for (const char* f : {"params.heal", "relin.key", "galois.key", "job.json"})
    rep.key_bytes += file_size_or_zero(in_dir(opt.server_dir, f));
  for (const char* f : {"train.cts", "val.cts", "weights0.cts"})
    rep.data_bytes += file_size_or_zero(in_dir(opt.server_dir, f));
  rep.upload_bytes = rep.key_bytes + rep.data_bytes;
  return rep;
}

// ---------------------------------------------------------------------------------------------
// Untrusted server: training on ciphertexts.

Result<ServerReport> server_train(const ServerOptions& opt) {
  const auto t_load = Clock::now();
  HEAL_ASSIGN_OR_RETURN(std::string job_text, read_text(in_dir(opt.server_dir, "job.json")));
  auto job_r = job_from_json(job_text);
  if (!job_r.ok()) return job_r.status().with_context(in_dir(opt.server_dir, "job.json"));
  const Job job = *job_r;
  HEAL_ASSIGN_OR_RETURN(auto ctx, load_context(opt.server_dir, job, opt.allow_insecure));
  const auto preset = ckks::bootstrap_preset(job.preset);
  HEAL_ASSIGN_OR_RETURN(auto rk, load_key(in_dir(opt.server_dir, "relin.key"), *ctx, &ckks::load_relin_key));
  HEAL_ASSIGN_OR_RETURN(auto gk, load_key(in_dir(opt.server_dir, "galois.key"), *ctx, &ckks::load_galois_keys));
  ckks::Bootstrapper bs(ctx, preset.config);
  bs.set_threads(std::max(1, opt.threads));
  const ht::Packing packing(job.d, ctx->slots(), bs.config().slots);
  for (auto s : ht::EncryptedNag::rotation_steps(packing)) {
    if (!gk.has(ctx->galois_elt_for_step(s))) return Status::invalid_argument("galois.key lacks the rotation by " + std::to_string(s));
  }
  if (!gk.has(ctx->galois_elt_conjugate())) return Status::invalid_argument("galois.key lacks the conjugation key");
  for (auto g : bs.galois_elements()) {
    if (!gk.has(g)) return Status::invalid_argument("galois.key lacks a bootstrapping key (Galois element " + std::to_string(g) + ")");
  }
  auto read_cts = [&](const char* name, std::size_t expect,
                      std::size_t slots) -> Result<std::vector<ckks::Ciphertext>> {
    const std::string path = in_dir(opt.server_dir, name);
    HEAL_ASSIGN_OR_RETURN(Bytes b, read_file(path));
    auto cts = internal::decode_ciphertexts(*ctx, b);
    if (!cts.ok()) return cts.status().with_context(path);
    if (cts->size() != expect) {
      return Status::invalid_argument(path + ": " + std::to_string(cts->size()) + " ciphertexts, the job needs " +
                                      std::to_string(expect));
    }
    for (const auto& c : *cts) {
      if (c.size() != 2 || c.slots() != slots || c.level() < bs.output_level()) {
        return Status::invalid_argument(path + ": a ciphertext is not a fresh " + std::to_string(slots) +
                                        "-slot ciphertext at level >= " + std::to_string(bs.output_level()));
      }
    }
    return cts;
  };
  HEAL_ASSIGN_OR_RETURN(auto z, read_cts("train.cts", packing.ciphertexts(job.n_train), packing.data_slots()));
  HEAL_ASSIGN_OR_RETURN(auto zv, read_cts("val.cts", job.n_val == 0 ? 0 : packing.ciphertexts(job.n_val),
                                          packing.data_slots()));
  HEAL_ASSIGN_OR_RETURN(auto w0v, read_cts("weights0.cts", 1, packing.weight_slots()));
  const ckks::Evaluator ev(ctx);
  const ht::BootstrapRefresher refresher(ev, bs, rk, gk, job.bound);
  ht::EncryptedNag nag(ctx, ev, rk, gk, refresher, packing, ht::SigmoidPoly::fit(job.degree, job.bound),
                             schedule_of(job), job.n_train, job.batch_rows);
  nag.set_threads(opt.threads >= 2 ? 2 : 1);
  HEAL_RETURN_IF_ERROR(make_dir(opt.out_dir));
  ServerReport rep;
  rep.load_seconds = seconds_since(t_load);

  // One loop for every caller (EncryptedNag::train): the callbacks write the per-epoch checkpoints.
  Status io;
  ht::TrainOptions topt;
  topt.iterations = job.iterations();
  topt.on_iteration = opt.on_iteration;
  topt.on_checkpoint = [&](std::size_t epoch, const ckks::Ciphertext& state) {
    io = write_file(in_dir(opt.out_dir, epoch_name(epoch + 1, "weights")), internal::encode_ciphertexts(*ctx, {state}));
    if (io.ok()) rep.epochs = epoch + 1;
    return !io.ok();
  };
  if (!zv.empty()) {
    topt.validation = &zv;
    topt.on_epoch = [&](std::size_t epoch, const std::vector<ckks::Ciphertext>& margins) {
      io = write_file(in_dir(opt.out_dir, epoch_name(epoch + 1, "margins")),
                      internal::encode_ciphertexts(*ctx, margins));
      return !io.ok();
    };
  }
  const auto res = nag.train(z, std::move(w0v[0]), topt);
  HEAL_RETURN_IF_ERROR(io);
  rep.iterations = res.iterations;
  rep.refreshes = res.refreshes;
  rep.refresh_seconds = res.refresh_seconds;
  rep.seconds = res.seconds;
  rep.seconds_per_iteration = rep.iterations ? rep.seconds / static_cast<double>(rep.iterations) : 0;
  rep.seconds_per_epoch = rep.epochs ? rep.seconds / static_cast<double>(rep.epochs) : 0;
  nlohmann::json log;
  log["iterations"] = rep.iterations;
  log["epochs"] = rep.epochs;
  log["refreshes"] = rep.refreshes;
  log["seconds"] = rep.seconds;
  log["refresh_seconds"] = rep.refresh_seconds;
  log["load_seconds"] = rep.load_seconds;
  log["threads"] = opt.threads;
  HEAL_RETURN_IF_ERROR(write_text(in_dir(opt.out_dir, "train_log.json"), log.dump(2) + "\n"));
  return rep;
}

// ---------------------------------------------------------------------------------------------
// Data owner: decryption, early stopping, evaluation.

Result<DecryptReport> client_decrypt(const DecryptOptions& opt) {
  HEAL_ASSIGN_OR_RETURN(std::string job_text, read_text(in_dir(opt.owner_dir, "job.json")));
  HEAL_ASSIGN_OR_RETURN(Job job, job_from_json(job_text));
  const auto preset = ckks::bootstrap_preset(job.preset);
  if (preset.params.allow_insecure && !opt.allow_insecure) {
    return Status::invalid_argument("job.json: preset '" + job.preset + "' is insecure; pass --allow-insecure (tests only)");
  }
  HEAL_ASSIGN_OR_RETURN(auto ctx, load_context(opt.owner_dir, job, opt.allow_insecure));
  HEAL_ASSIGN_OR_RETURN(SecretBytes skb, read_secret_file(in_dir(opt.owner_dir, "secret.key")));
  HEAL_ASSIGN_OR_RETURN(auto sk, ckks::load_secret_key(*ctx, skb.span()));
  const ckks::Decryptor dec(ctx, sk);
  HEAL_ASSIGN_OR_RETURN(std::string norm_text, read_text(in_dir(opt.owner_dir, "normalizer.json")));
  const auto nj = nlohmann::json::parse(norm_text, nullptr, false);
  Normalizer norm;
  if (nj.is_discarded() || !nj.contains("mean") || !nj.contains("inv_std") || !nj.contains("row_scale") ||
      !nj["mean"].is_array() || !nj["inv_std"].is_array() || !nj["row_scale"].is_number()) {
    return Status::corruption(in_dir(opt.owner_dir, "normalizer.json") + ": malformed");
  }
  try {
    norm.mean = nj["mean"].get<std::vector<double>>();
    norm.inv_std = nj["inv_std"].get<std::vector<double>>();
    norm.row_scale = nj["row_scale"].get<double>();
  } catch (const nlohmann::json::exception&) {
    return Status::corruption(in_dir(opt.owner_dir, "normalizer.json") + ": malformed");
  }
  if (norm.mean.size() != job.d || norm.inv_std.size() != job.d) {
    return Status::corruption(in_dir(opt.owner_dir, "normalizer.json") + ": feature count differs from the job");
  }
  HEAL_ASSIGN_OR_RETURN(FeatureSplit train, load_features(opt.features, "train"));
  HEAL_ASSIGN_OR_RETURN(FeatureSplit val, load_features(opt.features, "val"));
  HEAL_ASSIGN_OR_RETURN(FeatureSplit test, load_features(opt.features, "test"));
  if (train.d != job.d || val.d != job.d || test.d != job.d || train.n < job.n_train || val.n != job.n_val) {
    return Status::invalid_argument(opt.features + ": not the features this job was encrypted from");
  }
  train.n = job.n_train;
  train.x.resize(train.n * train.d);
  train.y.resize(train.n);
  norm.apply(train);
  norm.apply(val);
  norm.apply(test);

  const ht::Packing packing(job.d, ctx->slots(), preset.config.slots);
  const ht::DataPacker packer(ctx, packing);
  DecryptReport rep;
  rep.n_test = test.n;
  const auto zv = ht::make_z(val.x, val.y, val.d);
  std::vector<std::vector<double>> weights;
  for (std::size_t e = 1; e <= job.epochs; ++e) {
    const std::string wpath = in_dir(opt.model_dir, epoch_name(e, "weights"));
    if (!fs::exists(wpath)) break;
    HEAL_ASSIGN_OR_RETURN(Bytes wb, read_file(wpath));
    auto wc = internal::decode_ciphertexts(*ctx, wb);
    if (!wc.ok()) return wc.status().with_context(wpath);
    if (wc->size() != 1 || (*wc)[0].slots() != packing.weight_slots()) {
      return Status::invalid_argument(wpath + ": not a weights ciphertext of this job");
    }
    std::vector<double> v, w;
    packer.decrypt_weights(dec, (*wc)[0], v, w);
    weights.push_back(std::move(w));
    if (job.n_val > 0) {
      const std::string mpath = in_dir(opt.model_dir, epoch_name(e, "margins"));
      HEAL_ASSIGN_OR_RETURN(Bytes mb, read_file(mpath));
      auto mc = internal::decode_ciphertexts(*ctx, mb);
      if (!mc.ok()) return mc.status().with_context(mpath);
      if (mc->size() != packing.ciphertexts(job.n_val)) return Status::invalid_argument(mpath + ": wrong ciphertext count");
      for (const auto& c : *mc) {
        if (c.slots() != packing.data_slots()) return Status::invalid_argument(mpath + ": wrong slot count");
      }
      rep.val_loss.push_back(ht::mean_logistic_loss(packer.decrypt_margins(dec, *mc, job.n_val)));
    }
  }
  if (weights.empty()) return Status::not_found(opt.model_dir + ": no epoch_001.weights (run server-train first)");
  rep.epochs = weights.size();
  rep.chosen_epoch = rep.val_loss.empty() ? rep.epochs : choose_epoch(rep.val_loss, opt.patience);
  const auto& w_enc = weights[rep.chosen_epoch - 1];
  const auto me = evaluate(test, w_enc);
  rep.rows.push_back({"encrypted", rep.chosen_epoch,
                      rep.val_loss.empty() ? 0.0 : rep.val_loss[rep.chosen_epoch - 1], me.acc, me.auc});

  if (opt.compare_plain) {
    const auto zt = ht::make_z(train.x, train.y, train.d);
    const auto poly = ht::SigmoidPoly::fit(job.degree, job.bound);
    std::optional<ht::PlainNag> val_rows;  // only for PlainNag::margins of the validation rows
    if (!zv.empty()) val_rows.emplace(zv, job.d, poly, schedule_of(job), val.n);
    for (const bool exact : {false, true}) {
      ht::PlainNag plain(zt, job.d, poly, schedule_of(job), job.batch_rows, exact);
      std::vector<std::vector<double>> pw;
      std::vector<double> pl;
      const std::size_t batches = plain.plan().batches();
      for (std::size_t e = 0; e < rep.epochs; ++e) {
        const auto tp = Clock::now();
        plain.run(batches);
        if (!exact) rep.plain_train_seconds += seconds_since(tp);
        pw.push_back(plain.w());
        if (val_rows) pl.push_back(ht::mean_logistic_loss(val_rows->margins(plain.w())));
      }
      const std::size_t ce = pl.empty() ? rep.epochs : choose_epoch(pl, opt.patience);
      const auto mp = evaluate(test, pw[ce - 1]);
      rep.rows.push_back({exact ? "plaintext (exact sigmoid)" : "plaintext (same polynomial)", ce,
                          pl.empty() ? 0.0 : pl[ce - 1], mp.acc, mp.auc});
      if (!exact) {
        rep.plain_val_loss = pl;
        double err = 0;
        const auto& same = pw[rep.chosen_epoch - 1];
        for (std::size_t j = 0; j < same.size() && j < w_enc.size(); ++j) err = std::max(err, std::abs(same[j] - w_enc[j]));
        rep.max_weight_error = err;
      }
    }
  }
  return rep;
}

}  // namespace heal::apps::he_train
