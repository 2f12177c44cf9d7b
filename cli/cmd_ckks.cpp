// heal ckks params|info: CKKS parameter presets (sizes, security) and serialized-object inspection.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "heal/ckks/params.h"
#include "heal/ckks/serialization.h"
#include "heal/core/bytes.h"
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
}

}  // namespace heal::cli
