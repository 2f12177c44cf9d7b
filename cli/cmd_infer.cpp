// heal infer: encrypted CNN inference (he_infer) on a dataset split, plus the cost model.
//   heal infer --model m.heal --data PATH --encrypted [--mode batch|single] [--encrypt-weights] [--limit N] [--json]
//   heal infer cost --model m.heal [--mode batch|single] [--encrypt-weights] [--calibrate]
//   heal infer keygen|encrypt|eval|decrypt: the client/server split on files (he_infer/session.h)
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "heal/ckks/key_generator.h"
#include "heal/core/progress.h"
#include "heal/he_infer/batch_engine.h"
#include "heal/he_infer/cost_model.h"
#include "heal/he_infer/session.h"
#include "heal/he_infer/single_engine.h"
#include "heal/io/dataset.h"
#include "heal/nn/forward.h"
#include "heal/nn/metrics.h"
#include "infer_ensemble_cli.h"
#include "heal/apps/metrics_json.h"

namespace heal::cli {

namespace {

using nlohmann::json;
namespace hi = he_infer;

struct InferArgs {
  std::string model, data, split = "test", mode = "batch";
  bool encrypted = false, encrypt_weights = false, json_out = false, calibrate = false;
  int limit = 0, threads = 2, log_n = 0;
};


double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// CPU seconds of all threads of this process (contention-independent cost of what ran).
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double peak_rss_mib() { return static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0); }

std::size_t ct_bytes(const ckks::Ciphertext& c) { return c.size() * (c.level() + 1) * c.n() * 8; }

hi::Mode parse_mode(const std::string& m) { return m == "single" ? hi::Mode::kSingle : hi::Mode::kBatch; }

json cost_json(const hi::CostReport& r) {
  return {{"mode", hi::mode_name(r.mode)}, {"encrypted_weights", r.encrypted_weights}, {"params", r.params}, {"log_n", r.log_n},
          {"depth", r.depth}, {"levels", r.levels}, {"images_per_eval", r.images_per_eval}, {"rotations", r.rotations},
          {"hoisted_rotations", r.hoisted_rotations}, {"ct_ct_mul", r.ct_ct_mul}, {"ct_pt_mul", r.ct_pt_mul}, {"relin", r.relin},
          {"rescale", r.rescale}, {"mac_words", r.mac_words}, {"galois_keys", r.galois_keys}, {"relin_key_bytes", r.relin_key_bytes},
          {"galois_key_bytes", r.galois_key_bytes}, {"input_bytes", r.input_bytes}, {"output_bytes", r.output_bytes},
          {"weight_bytes", r.weight_bytes}, {"predicted_seconds", r.predicted_seconds}};
}

void run_cost(const InferArgs& a) {
  const nn::ModelIr m = value_or_throw(nn::load_model(a.model));
  const hi::Circuit c = hi::compile(m);
  const hi::ParamPlan batch_plan = hi::plan_params(c.depth(), {.log_n = a.log_n});
  // Single mode: without --log-n, the smallest N whose levels hold the output flood (he_infer/privacy.h).
  hi::ParamPlan single_plan = batch_plan;
  while (a.log_n == 0 && single_plan.spec.log_n < 16 && !hi::single_flood_fits(c, single_plan))
    single_plan = hi::plan_params(c.depth(), {.log_n = single_plan.spec.log_n + 1});
  json all = json::array();
  for (const std::string mode : {"batch", "single"}) {
    if (!a.mode.empty() && a.mode != "all" && a.mode != mode) continue;
    const hi::ParamPlan& plan = mode == "batch" ? batch_plan : single_plan;
    std::unique_ptr<hi::UnitCosts> unit;
    if (a.calibrate) unit = std::make_unique<hi::UnitCosts>(hi::calibrate(ckks::Context::create(plan.spec), a.threads));
    for (bool enc : {false, true}) {
      if (enc && mode == "batch") continue;
      if (enc && !a.encrypt_weights) continue;
      const auto r = hi::estimate_cost(c, plan, parse_mode(mode), enc, unit.get());
      if (a.json_out)
        all.push_back(cost_json(r));
      else
        std::cout << r.to_string();
    }
  }
  if (a.json_out) std::cout << json{{"circuit", c.summary()}, {"costs", all}}.dump(2) << "\n";
  else std::cout << c.summary();
}

void run_infer(const InferArgs& a) {
  const nn::ModelIr m = value_or_throw(nn::load_model(a.model));
  const std::string data_arg = a.data.empty() ? data_location() : a.data;
  if (data_arg.empty()) throw StatusError(Status::invalid_argument("no dataset: pass --data PATH or set HEAL_DATA"));
  const std::string path = value_or_throw(io::resolve_dataset_path(data_arg, data_location()));
  io::Dataset ds = value_or_throw(io::load_dataset(path));
  const io::Split s = a.split == "train" ? io::Split::kTrain : a.split == "val" ? io::Split::kVal : io::Split::kTest;
  io::SplitData d = ds.split(s);
  if (d.image_size() != m.input.size()) throw StatusError(Status::invalid_argument("model and dataset image sizes differ"));
  std::size_t count = d.size();
  if (a.limit > 0) count = std::min(count, static_cast<std::size_t>(a.limit));
  const std::size_t dim = d.image_size();
  const std::span<const float> images(d.images.data(), count * dim);
  const std::vector<int> labels(d.labels.begin(), d.labels.begin() + static_cast<long>(count));
  const int k = m.num_classes;
  const bool quiet = globals().quiet || a.json_out;

  const auto ref = nn::forward(m, images, count);
  const auto plain = nn::compute_metrics(nn::softmax_rows(ref, k), labels, k);
  json out = {{"model", a.model},
              {"dataset", ds.name},
              {"split", a.split},
              {"images", count},
              {"plaintext", apps::classification_metrics_json(plain, ds.class_names)}};
  if (!a.encrypted) {
    if (a.json_out) std::cout << out.dump(2) << "\n";
    else std::cout << "plaintext reference forward pass (no --encrypted):\n" << nn::format_metrics_table(plain, ds.class_names);
    return;
  }
  const hi::Mode mode = parse_mode(a.mode);
  if (a.encrypt_weights && mode == hi::Mode::kBatch)
    throw StatusError(Status::invalid_argument("--encrypt-weights is implemented in single-image mode (--mode single)"));
  const hi::Circuit c = hi::compile(m);
  hi::ParamPlan plan;
  json planner;
  if (mode == hi::Mode::kSingle && a.log_n == 0) {
    // Single-image mode: the ring size with the lowest predicted latency on this machine.
    const hi::PlanChoice choice = hi::choose_single_plan(c, a.encrypt_weights, a.threads);
    plan = choice.plan;
    for (const auto& r : choice.candidates) {
      planner.push_back({{"log_n", r.log_n}, {"predicted_seconds", r.predicted_seconds}, {"weight_bytes", r.weight_bytes},
                         {"galois_keys", r.galois_keys}});
      if (!quiet) {
        std::printf("planner: N=2^%d predicted %.3f s per image, %zu Galois keys, %.0f MiB of weights%s\n", r.log_n,
                    r.predicted_seconds, r.galois_keys, static_cast<double>(r.weight_bytes) / (1024.0 * 1024.0),
                    r.log_n == plan.spec.log_n ? "  <- chosen" : "");
      }
    }
  } else {
    plan = hi::plan_params(c.depth(), {.log_n = a.log_n});
  }
  const auto ctx = ckks::Context::create(plan.spec);
  if (!quiet) std::cout << c.summary() << "parameters: " << plan.describe() << "\n";

  // Client: keys. (In the split deployment `heal infer keygen` does this and publishes pk, rk, gk.)
  double t0 = now_s();
  ckks::KeyGenerator kg(ctx);
  const ckks::PublicKey pk = kg.create_public_key();
  const ckks::RelinKey rk = kg.create_relin_key();
  ckks::Encryptor enc(ctx, pk);
  const ckks::Decryptor dec(ctx, kg.secret_key());
  std::vector<double> he(count * static_cast<std::size_t>(k));
  json timing;
  std::size_t input_bytes = 0, output_bytes = 0, galois_bytes = 0, galois_count = 0, weight_bytes = 0;
  double eval_total = 0, enc_total = 0, dec_total = 0, eval_cpu = 0;
  std::vector<double> latencies;
  if (mode == hi::Mode::kBatch) {
    const hi::BatchEngine eng(c, ctx, a.threads);
    timing["keygen_s"] = now_s() - t0;
    ProgressBar bar("encrypted batch", count, !quiet);
    for (std::size_t lo = 0; lo < count; lo += eng.capacity()) {
      const std::size_t n = std::min(eng.capacity(), count - lo);
      t0 = now_s();
      auto cts = eng.encrypt(images.subspan(lo * dim, n * dim), n, enc);
      enc_total += now_s() - t0;
      input_bytes += cts.size() * ct_bytes(cts[0]);
      hi::StageTimes st;
      t0 = now_s();
      double c0 = cpu_now();
      auto res = eng.evaluate(std::move(cts), rk, pk, &st);
      eval_cpu += cpu_now() - c0;
      const double te = now_s() - t0;
      eval_total += te;
      latencies.push_back(te);
      if (lo == 0) {
        json stages = json::array();
        for (std::size_t i = 0; i < st.names.size(); ++i) stages.push_back({{"stage", st.names[i]}, {"seconds", st.seconds[i]}});
        timing["stages_first_batch"] = stages;
      }
      output_bytes += res.size() * ct_bytes(res[0]);
      t0 = now_s();
      const auto logits = eng.decrypt(res, n, dec);
      dec_total += now_s() - t0;
      std::copy(logits.begin(), logits.end(), he.begin() + static_cast<long>(lo * k));
      bar.tick(n);
    }
    bar.finish();
    timing["capacity_per_batch"] = eng.capacity();
    timing["batches"] = latencies.size();
    timing["batch_eval_s"] = latencies;
    timing["images_per_s_actual"] = static_cast<double>(count) / eval_total;
    timing["images_per_s_full_batch"] = static_cast<double>(eng.capacity()) * static_cast<double>(latencies.size()) / eval_total;
    timing["latency_per_image_s"] = eval_total / static_cast<double>(latencies.size());  // every image waits for its batch
  } else {
    const hi::SingleEngine eng(c, ctx, a.threads);
    const ckks::GaloisKeys gk = kg.create_galois_keys(eng.rotation_steps());
    for (const auto& [g, key] : gk.all()) galois_bytes += key.memory_bytes();
    galois_count = gk.size();
    timing["keygen_s"] = now_s() - t0;
    // Model owner: plaintext weights (server knows the model) or weights encrypted under the client's pk.
    t0 = now_s();
    ckks::Encryptor owner_enc(ctx, pk);
    const hi::WeightSet w = a.encrypt_weights ? eng.encrypt_weights(owner_enc) : eng.plain_weights();
    timing["weights_prepare_s"] = now_s() - t0;
    weight_bytes = w.bytes();
    ProgressBar bar("encrypted single", count, !quiet);
    for (std::size_t i = 0; i < count; ++i) {
      t0 = now_s();
      auto cts = eng.encrypt(images.subspan(i * dim, dim), enc);
      enc_total += now_s() - t0;
      if (i == 0) input_bytes = cts.size() * ct_bytes(cts[0]);
      hi::StageTimes st;
      t0 = now_s();
      const double c0 = cpu_now();
      const auto res = eng.evaluate(std::move(cts), w, rk, gk, pk, i == 0 ? &st : nullptr);
      eval_cpu += cpu_now() - c0;
      const double te = now_s() - t0;
      eval_total += te;
      latencies.push_back(te);
      if (i == 0) {
        output_bytes = ct_bytes(res);
        json stages = json::array();
        for (std::size_t j = 0; j < st.names.size(); ++j) stages.push_back({{"stage", st.names[j]}, {"seconds", st.seconds[j]}});
        timing["stages_first_image"] = stages;
      }
      t0 = now_s();
      const auto logits = eng.decrypt(res, dec);
      dec_total += now_s() - t0;
      std::copy(logits.begin(), logits.end(), he.begin() + static_cast<long>(i * k));
      bar.tick(1);
    }
    bar.finish();
    auto sorted = latencies;
    std::sort(sorted.begin(), sorted.end());
    timing["latency_per_image_s"] = eval_total / static_cast<double>(count);
    timing["latency_median_s"] = sorted[sorted.size() / 2];
    timing["latency_max_s"] = sorted.back();
    timing["images_per_s_actual"] = static_cast<double>(count) / eval_total;
  }
  timing["client_encrypt_s_total"] = enc_total;
  timing["client_decrypt_s_total"] = dec_total;
  timing["server_eval_s_total"] = eval_total;
  timing["server_eval_cpu_s_total"] = eval_cpu;  // all threads; wall time on an idle machine >= cpu / threads
  timing["server_eval_cpu_s_per_image"] = eval_cpu / static_cast<double>(count);
  timing["threads"] = a.threads;

  const auto encm = nn::compute_metrics(nn::softmax_rows(he, k), labels, k);
  std::size_t agree = 0;
  double max_err = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const auto* r = ref.data() + i * k;
    const auto* h = he.data() + i * k;
    agree += (std::max_element(r, r + k) - r) == (std::max_element(h, h + k) - h);
    for (int j = 0; j < k; ++j) max_err = std::max(max_err, std::fabs(r[j] - h[j]));
  }
  const double agreement = static_cast<double>(agree) / static_cast<double>(count);
  const std::size_t pk_bytes = (pk.b().num_limbs() + pk.a().num_limbs()) * pk.b().n() * 8;
  out["encrypted"] = apps::classification_metrics_json(encm, ds.class_names);
  out["mode"] = a.mode;
  out["encrypted_weights"] = a.encrypt_weights;
  out["params"] = plan.describe();
  if (!planner.is_null()) out["planner"] = planner;
  out["argmax_agreement"] = agreement;
  out["max_logit_error"] = max_err;
  out["timing"] = timing;
  out["peak_rss_mib"] = peak_rss_mib();
  out["sizes"] = {{"input_ciphertexts_bytes", input_bytes}, {"output_ciphertexts_bytes", output_bytes}, {"public_key_bytes", pk_bytes},
                  {"relin_key_bytes", rk.key().memory_bytes()}, {"galois_keys", galois_count}, {"galois_key_bytes", galois_bytes},
                  {"weights_bytes", weight_bytes}};
  if (a.json_out) {
    std::cout << out.dump(2) << "\n";
    return;
  }
  auto mib = [](std::size_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); };
  std::cout << std::fixed << std::setprecision(4);
  std::cout << "\n" << ds.name << " " << a.split << ", " << count << " images, mode " << a.mode
            << (a.encrypt_weights ? " (encrypted weights)" : "") << ", " << a.threads << " threads\n";
  std::cout << "                     plaintext   encrypted\n";
  std::cout << "  ACC                " << std::setw(9) << plain.accuracy << "   " << std::setw(9) << encm.accuracy << "\n";
  std::cout << "  AUC                " << std::setw(9) << plain.auc << "   " << std::setw(9) << encm.auc << "\n";
  std::cout << "  argmax agreement   " << agree << "/" << count << " = " << 100 * agreement << " %\n";
  std::cout << std::setprecision(3) << std::scientific << "  max |logit error|  " << max_err << "\n" << std::fixed;
  std::cout << "  latency per image  " << timing["latency_per_image_s"].get<double>() << " s (server evaluation"
            << (mode == hi::Mode::kBatch ? "; every image waits for its whole batch)" : ")") << "\n";
  std::cout << "  images/s           " << timing["images_per_s_actual"].get<double>() << " (actual)";
  if (mode == hi::Mode::kBatch) std::cout << ", " << timing["images_per_s_full_batch"].get<double>() << " at full batches of " << timing["capacity_per_batch"].get<std::size_t>();
  std::cout << "\n  server CPU         " << eval_cpu << " s total over " << a.threads << " threads (" << eval_cpu / static_cast<double>(count)
            << " s/image; the machine's other load inflates wall-clock time, not CPU time)";
  std::cout << "\n  client encrypt     " << enc_total << " s total, decrypt " << dec_total << " s total\n";
  std::cout << "  peak RSS           " << peak_rss_mib() << " MiB\n";
  std::cout << "  ciphertexts        input " << mib(input_bytes) << " MiB, output " << mib(output_bytes) << " MiB" << (mode == hi::Mode::kBatch ? " (all batches)" : " (per image)") << "\n";
  std::cout << "  keys               public " << mib(pk_bytes) << " MiB, relin " << mib(rk.key().memory_bytes()) << " MiB, Galois "
            << galois_count << " keys " << mib(galois_bytes) << " MiB\n";
  if (weight_bytes) std::cout << "  model weights      " << mib(weight_bytes) << " MiB (" << (a.encrypt_weights ? "ciphertexts" : "plaintexts") << ")\n";
  std::cout << "  parameters         " << plan.describe() << "\n";
}


struct SplitArgs {
  std::string model, data, split = "test", mode = "batch", keys, in, out;
  int limit = 0, threads = 2;
};

void check(const Status& s) {
  if (!s.ok()) throw StatusError(s);
}

io::SplitData load_split(const SplitArgs& a, const nn::ModelIr& m) {
  const std::string data_arg = a.data.empty() ? data_location() : a.data;
  if (data_arg.empty()) throw StatusError(Status::invalid_argument("no dataset: pass --data PATH or set HEAL_DATA"));
  io::Dataset ds = value_or_throw(io::load_dataset(value_or_throw(io::resolve_dataset_path(data_arg, data_location()))));
  const io::Split s = a.split == "train" ? io::Split::kTrain : a.split == "val" ? io::Split::kVal : io::Split::kTest;
  io::SplitData d = ds.split(s);
  if (d.image_size() != m.input.size()) throw StatusError(Status::invalid_argument("model and dataset image sizes differ"));
  return d;
}

void add_split_commands(CLI::App* infer) {
  auto a = std::make_shared<SplitArgs>();
  auto common = [&](CLI::App* c, bool needs_data) {
    c->add_option("--model", a->model, "Model file (.heal): its architecture fixes the circuit")->required();
    c->add_option("--keys", a->keys, "Key directory")->required();
    if (needs_data) {
      c->add_option("--data", a->data, "Dataset (default: global --data / $HEAL_DATA)");
      c->add_option("--split", a->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}));
      c->add_option("--limit", a->limit, "Use only the first N images");
    }
  };
  CLI::App* kg = infer->add_subcommand("keygen", "Client: plan parameters, generate keys; writes params, public/relin/Galois keys and secret.key");
  common(kg, false);
  kg->add_option("--mode", a->mode, "batch | single")->check(CLI::IsMember({"batch", "single"}));
  kg->callback([a] {
    const nn::ModelIr m = value_or_throw(nn::load_model(a->model));
    check(hi::client_keygen(m, parse_mode(a->mode), a->keys));
    std::cout << "keys written to " << a->keys << " (give the server params.heal, relin.key" << (a->mode == "single" ? ", galois.key" : "")
              << "; keep secret.key)\n";
  });
  CLI::App* en = infer->add_subcommand("encrypt", "Client: encrypt images with public.key into a query file");
  common(en, true);
  en->add_option("--mode", a->mode, "batch | single")->check(CLI::IsMember({"batch", "single"}));
  en->add_option("--out", a->out, "Query file")->required();
  en->callback([a] {
    const nn::ModelIr m = value_or_throw(nn::load_model(a->model));
    const io::SplitData d = load_split(*a, m);
    std::size_t count = d.size();
    if (a->limit > 0) count = std::min(count, static_cast<std::size_t>(a->limit));
    check(hi::client_encrypt(m, parse_mode(a->mode), a->keys, std::span<const float>(d.images.data(), count * d.image_size()), count, a->out));
    std::cout << count << " images encrypted into " << a->out << "\n";
  });
  CLI::App* ev = infer->add_subcommand("eval", "Server: evaluate a query with params, public (output flood), relin and Galois keys only; refuses result files");
  common(ev, false);
  ev->add_option("--in", a->in, "Query file")->required();
  ev->add_option("--out", a->out, "Result file")->required();
  ev->add_option("--threads", a->threads, "Threads")->check(CLI::Range(1, 256));
  ev->callback([a] {
    const nn::ModelIr m = value_or_throw(nn::load_model(a->model));
    const double t0 = now_s();
    check(hi::server_eval(m, a->keys, a->in, a->out, a->threads));
    std::cout << "evaluated " << a->in << " -> " << a->out << " in " << now_s() - t0 << " s\n";
  });
  CLI::App* de = infer->add_subcommand("decrypt", "Client: decrypt a result file; prints logits and metrics if --data is given (local only: never send them back to the server)");
  common(de, true);
  de->add_option("--in", a->in, "Result file")->required();
  de->callback([a] {
    const nn::ModelIr m = value_or_throw(nn::load_model(a->model));
    const auto logits = value_or_throw(hi::client_decrypt(m, a->keys, a->in));
    const std::size_t k = static_cast<std::size_t>(m.num_classes), count = logits.size() / k;
    json out = {{"count", count}, {"logits", logits}};
    if (!a->data.empty() || !data_location().empty()) {
      const io::SplitData d = load_split(*a, m);
      if (count <= d.size()) {
        const std::vector<int> labels(d.labels.begin(), d.labels.begin() + static_cast<long>(count));
        const auto ref = nn::forward(m, std::span<const float>(d.images.data(), count * d.image_size()), count);
        std::size_t agree = 0;
        double max_err = 0;
        for (std::size_t i = 0; i < logits.size(); ++i) max_err = std::max(max_err, std::abs(logits[i] - ref[i]));
        out["max_logit_error"] = max_err;
        for (std::size_t i = 0; i < count; ++i)
          agree += (std::max_element(ref.begin() + static_cast<long>(i * k), ref.begin() + static_cast<long>((i + 1) * k)) - ref.begin()) ==
                   (std::max_element(logits.begin() + static_cast<long>(i * k), logits.begin() + static_cast<long>((i + 1) * k)) - logits.begin());
        out["encrypted"] = apps::classification_metrics_json(
            nn::compute_metrics(nn::softmax_rows(logits, m.num_classes), labels, m.num_classes), m.meta.class_names);
        out["argmax_agreement"] = static_cast<double>(agree) / static_cast<double>(count);
      }
    }
    std::cout << out.dump(2) << "\n";
  });
}

}  // namespace

void add_infer_commands(CLI::App& app) {
  auto a = std::make_shared<InferArgs>();
  CLI::App* infer = app.add_subcommand("infer", "Encrypted CNN inference (CKKS): accuracy, agreement, latency, sizes");
  infer->add_option("--model", a->model, "Model file (.heal)");
  infer->add_option("--data", a->data, "Dataset (default: global --data / $HEAL_DATA)");
  infer->add_option("--split", a->split, "train | val | test")->check(CLI::IsMember({"train", "val", "test"}));
  infer->add_flag("--encrypted", a->encrypted, "Run under encryption (else only the plaintext reference)");
  infer->add_option("--mode", a->mode, "batch (SIMD across images) | single (one image per ciphertext)")
      ->check(CLI::IsMember({"batch", "single"}));
  infer->add_flag("--encrypt-weights", a->encrypt_weights, "Model owner encrypts the weights (single mode)");
  infer->add_option("--limit", a->limit, "Use only the first N images");
  infer->add_option("--threads", a->threads, "Evaluation threads")->check(CLI::Range(1, 256));
  infer->add_option("--log-n", a->log_n, "Force the ring degree 2^k (must stay 128-bit secure)");
  infer->add_flag("--json", a->json_out, "Print JSON");
  infer->callback([a, infer] {
    if (!infer->get_subcommands().empty()) return;
    if (a->model.empty()) throw CLI::RequiredError("--model");
    run_infer(*a);
  });

  auto ca = std::make_shared<InferArgs>();
  ca->mode = "all";
  CLI::App* cost = infer->add_subcommand("cost", "Cost model: operation counts, levels, N, key sizes, predicted time");
  cost->add_option("--model", ca->model, "Model file (.heal)")->required();
  cost->add_option("--mode", ca->mode, "batch | single | all")->check(CLI::IsMember({"batch", "single", "all"}));
  cost->add_flag("--encrypt-weights", ca->encrypt_weights, "Also cost single mode with encrypted weights");
  cost->add_flag("--calibrate", ca->calibrate, "Measure unit costs on this machine and predict time");
  cost->add_option("--threads", ca->threads, "Threads")->check(CLI::Range(1, 256));
  cost->add_option("--log-n", ca->log_n, "Force the ring degree 2^k");
  cost->add_flag("--json", ca->json_out, "Print JSON");
  cost->callback([ca] { run_cost(*ca); });

  add_split_commands(infer);
  add_infer_ensemble_command(*infer);

}

}  // namespace heal::cli
