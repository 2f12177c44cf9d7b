// heal ckks params|info|bootstrap-bench: CKKS parameter presets (sizes, security), serialized-object
// inspection, and bootstrapping precision and speed per preset.
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "heal/ckks/bootstrap.h"
#include "heal/ckks/params.h"
#include "heal/ckks/serialization.h"
#include "heal/core/bytes.h"
#include "heal/core/progress.h"
#include "heal/math/simd.h"

namespace heal::cli {
namespace {

using nlohmann::json;

struct Preset {
  std::string name;
  ckks::ParamsSpec spec;
};

std::vector<Preset> presets() {
  std::vector<Preset> out;
  for (int log_n = 13; log_n <= 16; ++log_n) out.push_back({"anchor-n" + std::to_string(log_n), ckks::anchor_params(log_n)});
  ckks::ParamsSpec test;
  test.log_n = 11;
  test.q_bits = {60, 40, 40};
  test.p_bits = {60};
  test.allow_insecure = true;
  out.push_back({"unit-test-n11", test});
  return out;
}

// Max log2(QP) for 128/192/256-bit classical security, uniform ternary secret, N = 2^10..2^16:
// Bossuat et al., ePrint 2024/463, Table 5.2 (0: that level is out of reach at this N). The 128-bit
// column is ckks::max_secure_log_qp, which Context::create enforces.
int table_bound(int log_n, int level) {
  static const int kTable[7][3] = {{26, 0, 0},      {53, 36, 27},     {106, 73, 56},    {214, 147, 114},
                                   {430, 297, 230}, {868, 597, 462}, {1747, 1199, 929}};
  if (log_n >= 10 && log_n <= 16) return kTable[log_n - 10][level];
  return 0;
}

struct Sizes {
  int log_q = 0, log_p = 0;
  std::size_t levels = 0, slots = 0, dnum = 0;
  int security = 0;  // 256, 192, 128 or 0 (below 128)
  std::size_t key_poly = 0, ct_poly = 0;
};

Sizes sizes(const ckks::ParamsSpec& s) {
  Sizes z;
  for (int b : s.q_bits) z.log_q += b;
  for (int b : s.p_bits) z.log_p += b;
  const std::size_t n = std::size_t{1} << s.log_n;
  z.levels = s.q_bits.size() - 1;
  z.slots = n / 2;
  z.dnum = s.dnum ? s.dnum : s.q_bits.size();
  const int qp = z.log_q + z.log_p;
  for (int lvl = 2; lvl >= 0; --lvl) {
    if (qp <= table_bound(s.log_n, lvl)) {
      z.security = lvl == 2 ? 256 : lvl == 1 ? 192 : 128;
      break;
    }
  }
  // Primes of b bits pack in b bits (docs/formats/ckks.md).
  z.key_poly = n * static_cast<std::size_t>(qp) / 8;
  z.ct_poly = n * static_cast<std::size_t>(z.log_q) / 8;
  return z;
}

std::string human(std::size_t bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1);
  if (bytes >= (1u << 20)) os << static_cast<double>(bytes) / (1 << 20) << " MiB";
  else os << static_cast<double>(bytes) / 1024 << " KiB";
  return os.str();
}

void run_params(bool json_out) {
  json arr = json::array();
  for (const auto& p : presets()) {
    const Sizes z = sizes(p.spec);
    // Headers, hashes and metadata add < 100 bytes per object and are left out here.
    const std::size_t pk_seeded = 32 + z.key_poly, pk_full = 2 * z.key_poly;
    const std::size_t ksw_seeded = 32 + z.dnum * z.key_poly, ksw_full = 2 * z.dnum * z.key_poly;
    const std::size_t ct = 2 * z.ct_poly, ct_seeded = 32 + z.ct_poly;
    if (json_out) {
      arr.push_back({{"name", p.name},
                     {"log_n", p.spec.log_n},
                     {"n", std::size_t{1} << p.spec.log_n},
                     {"log_q", z.log_q},
                     {"log_p", z.log_p},
                     {"log_qp", z.log_q + z.log_p},
                     {"levels", z.levels},
                     {"slots", z.slots},
                     {"dnum", z.dnum},
                     {"security_bits", z.security},
                     {"secure", z.security >= 128},
                     {"bytes",
                      {{"public_key_seeded", pk_seeded},
                       {"public_key_expanded", pk_full},
                       {"relin_key_seeded", ksw_seeded},
                       {"relin_key_expanded", ksw_full},
                       {"galois_key_seeded", ksw_seeded},
                       {"galois_key_expanded", ksw_full},
                       {"ciphertext", ct},
                       {"ciphertext_seeded", ct_seeded}}}});
      continue;
    }
    std::cout << p.name << ": N = 2^" << p.spec.log_n << ", log Q*P = " << z.log_q << " + " << z.log_p << " = "
              << z.log_q + z.log_p << ", " << z.levels << " levels, " << z.slots << " slots, dnum " << z.dnum << ", "
              << (z.security ? std::to_string(z.security) + "-bit secure" : std::string("INSECURE (< 128 bits, tests only)"))
              << "\n"
              << "  public key " << human(pk_seeded) << " seeded / " << human(pk_full) << " expanded; relin key "
              << human(ksw_seeded) << " / " << human(ksw_full) << "; Galois key (each) " << human(ksw_seeded) << " / "
              << human(ksw_full) << "\n  ciphertext (top level) " << human(ct) << ", seeded symmetric " << human(ct_seeded)
              << "\n";
  }
  if (json_out) {
    std::cout << arr.dump(2) << "\n";
  } else {
    std::cout << "SIMD kernels: " << math::simd_description() << " (HEAL_SIMD=scalar|avx2|avx512 lowers it)\n";
  }
}

void run_info(const std::string& path, bool json_out) {
  auto bytes = read_file(path);
  if (!bytes.ok()) throw StatusError(bytes.status());
  auto info = ckks::inspect(*bytes);
  if (!info.ok()) throw StatusError(info.status().with_context("reading '" + path + "'"));
  if (json_out) {
    std::cout << json{{"type", std::string(object_type_name(info->type))},
                      {"version", info->version},
                      {"payload_bytes", info->payload_size},
                      {"params_hash", digest_hex(info->params_hash)},
                      {"description", info->description}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << info->description << "\n";
  }
}

struct BootBenchArgs {
  std::string preset = "full";
  std::size_t inputs = 3;
  int threads = 1;
  bool complex_values = false;
  std::uint64_t seed = 1;
  int message_ratio = 0;
  std::string json_path;
};

void run_bootstrap_bench_cmd(const BootBenchArgs& a) {
  ckks::BootstrapPreset preset = ckks::bootstrap_preset(a.preset);
  if (a.message_ratio != 0) preset.config.message_ratio_log2 = a.message_ratio;
  ckks::BootstrapBenchOptions opt;
  opt.inputs = a.inputs;
  opt.threads = a.threads;
  opt.complex_values = a.complex_values;
  opt.seed = a.seed;
  const bool quiet = globals().quiet;
  if (!quiet) std::cerr << "bootstrap-bench " << preset.name << ": " << preset.description << "\n";
  std::unique_ptr<ProgressBar> bar;
  const auto r = ckks::run_bootstrap_bench(preset, opt, [&](const std::string& stage, std::size_t done, std::size_t total) {
    if (quiet) return;
    if (stage != "bootstrap") {
      std::cerr << (done == 0 ? "  " + stage + " ...\n" : "");
      return;
    }
    if (!bar) bar = std::make_unique<ProgressBar>("bootstrap", total);
    if (done == total) {
      bar->finish();
    } else if (done > 0) {
      bar->tick();
    }
  });
  const std::size_t rss = peak_rss_bytes();
  json j = {{"preset", r.preset},
            {"description", r.description},
            {"circuit", r.circuit},
            {"log_n", r.log_n},
            {"slots", r.slots},
            {"log_qp", r.log_qp},
            {"secure_128", r.secure},
            {"secret", r.secret},
            {"hamming_weight", r.hamming_weight},
            {"depth", r.depth},
            {"levels_after", r.levels_after},
            {"threads", a.threads},
            {"inputs", r.inputs},
            {"values", r.values},
            {"complex_values", a.complex_values},
            {"bits_min", r.bits_min},
            {"bits_median", r.bits_median},
            {"bits_mean", r.bits_mean},
            {"bits_max", r.bits_max},
            {"bits_of_mean_error", r.bits_of_mean_error},
            {"seconds", r.seconds},
            {"seconds_median", r.seconds_median},
            {"seconds_min", r.seconds_min},
            {"seconds_coeffs_to_slots", r.steps.coeffs_to_slots / static_cast<double>(r.inputs)},
            {"seconds_eval_mod", r.steps.eval_mod / static_cast<double>(r.inputs)},
            {"seconds_slots_to_coeffs", r.steps.slots_to_coeffs / static_cast<double>(r.inputs)},
            {"setup_seconds", r.setup_seconds},
            {"keygen_seconds", r.keygen_seconds},
            {"galois_keys", r.galois_keys},
            {"key_bytes", r.key_bytes},
            {"plaintext_bytes", r.plaintext_bytes},
            {"peak_rss_bytes", rss},
            {"mod_raise_failure_log2", r.failure_log2}};
  if (!a.json_path.empty()) {
    std::ofstream f(a.json_path);
    if (!f) throw std::runtime_error("cannot write " + a.json_path + " (check the directory exists and is writable)");
    f << j.dump(2) << "\n";
  }
  const double gib = 1024.0 * 1024.0 * 1024.0;
  std::cout << std::fixed << std::setprecision(2);
  std::cout << "preset            " << r.preset << (r.secure ? " (128-bit)" : " (INSECURE)") << "\n"
            << "parameters        N=2^" << r.log_n << ", " << r.slots << " slots, log QP " << std::setprecision(0) << r.log_qp
            << ", " << r.secret << (r.hamming_weight ? " h=" + std::to_string(r.hamming_weight) : "") << "\n"
            << "circuit           " << r.circuit << "\n"
            << std::setprecision(1) << "precision (bits)  min " << r.bits_min << "  median " << r.bits_median << "  mean "
            << r.bits_mean << "  max " << r.bits_max << "  (-log2 mean error " << r.bits_of_mean_error << "; "
            << r.values << " values from " << r.inputs << (a.complex_values ? " complex" : " real") << " inputs in [-1, 1])\n"
            << std::setprecision(2) << "bootstrap         median " << r.seconds_median << " s, min " << r.seconds_min
            << " s (" << a.threads << " thread" << (a.threads > 1 ? "s" : "") << "); per step: CoeffsToSlots "
            << r.steps.coeffs_to_slots / static_cast<double>(r.inputs) << " s, EvalMod "
            << r.steps.eval_mod / static_cast<double>(r.inputs) << " s, SlotsToCoeffs "
            << r.steps.slots_to_coeffs / static_cast<double>(r.inputs) << " s\n"
            << "setup / keygen    " << r.setup_seconds << " s / " << r.keygen_seconds << " s\n"
            << "memory            keys " << static_cast<double>(r.key_bytes) / gib << " GiB (" << r.galois_keys << " Galois + relin), DFT plaintexts "
            << static_cast<double>(r.plaintext_bytes) / gib << " GiB, peak RSS " << static_cast<double>(rss) / gib << " GiB\n"
            << std::setprecision(1) << "ModRaise failure  2^" << r.failure_log2 << " per bootstrap (|I| > K - 1/4)\n";
}

}  // namespace

void add_ckks_commands(CLI::App& app) {
  auto* ckks = app.add_subcommand("ckks", "CKKS parameters and serialized objects");
  ckks->require_subcommand(1);
  auto json_out = std::make_shared<bool>(false);
  auto* params = ckks->add_subcommand("params", "List parameter presets: sizes, levels, security, key and ciphertext sizes");
  params->add_flag("--json", *json_out, "JSON output");
  params->callback([json_out] { run_params(*json_out); });
  auto path = std::make_shared<std::string>();
  auto info_json = std::make_shared<bool>(false);
  auto* info = ckks->add_subcommand("info", "Describe a serialized CKKS object (key, ciphertext, share, parameters)");
  info->add_option("file", *path, "serialized object")->required();
  info->add_flag("--json", *info_json, "JSON output");
  info->callback([path, info_json] { run_info(*path, *info_json); });
  auto bb = std::make_shared<BootBenchArgs>();
  auto* boot = ckks->add_subcommand(
      "bootstrap-bench", "Bootstrapping precision and time for a preset (full, sparse, train, test, test-sparse, test-train)");
  boot->add_option("--preset", bb->preset,
                   "full (N=2^16, 2^15 slots), sparse (N=2^16, 2^10 slots), train (sparse + 1 level), "
                   "test, test-sparse, test-train (insecure)")
      ->check(CLI::IsMember(ckks::bootstrap_preset_names()));
  boot->add_option("--inputs", bb->inputs, "random input vectors, one timed bootstrap each")->check(CLI::Range(1, 1000));
  boot->add_option("--threads", bb->threads, "threads per bootstrap")->check(CLI::Range(1, 64));
  boot->add_flag("--complex", bb->complex_values, "complex inputs (default real)");
  boot->add_option("--seed", bb->seed, "seed of inputs and keys (benchmark only)");
  boot->add_option("--message-ratio", bb->message_ratio, "log2(q0 / scale) inside bootstrapping (default: the preset's, 12)")
      ->check(CLI::Range(6, 30));
  boot->add_option("--json", bb->json_path, "also write the results as JSON to this file");
  boot->callback([bb] { run_bootstrap_bench_cmd(*bb); });
}

}  // namespace heal::cli
