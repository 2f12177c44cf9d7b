#include "heal/math/simd.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace heal::math {
namespace {

SimdLevel detect() {
#if HEAL_X86_KERNELS
  // libgcc's checks include the OS's XSAVE support of the AVX and AVX-512 register state.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
  if (!avx2) return SimdLevel::kScalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
  return avx512 ? SimdLevel::kAvx512 : SimdLevel::kAvx2;
#else
  return SimdLevel::kScalar;
#endif
}

SimdLevel min_level(SimdLevel a, SimdLevel b) { return static_cast<int>(a) < static_cast<int>(b) ? a : b; }

struct State {
  SimdLevel cpu = SimdLevel::kScalar;
  bool ifma = false;
  bool env_lowered = false;
  std::atomic<SimdLevel> active{SimdLevel::kScalar};
  std::string description;

  State() {
    cpu = detect();
#if HEAL_X86_KERNELS
    ifma = cpu == SimdLevel::kAvx512 && __builtin_cpu_supports("avx512ifma");
#endif
    SimdLevel level = cpu;
    if (const char* env = std::getenv("HEAL_SIMD"); env && *env) {
      const auto asked = parse_simd_level(env);
      if (!asked) {
        std::fprintf(stderr, "heal: ignoring HEAL_SIMD=%s (expected scalar, avx2 or avx512)\n", env);
      } else {
        if (static_cast<int>(*asked) > static_cast<int>(cpu)) {
          std::fprintf(stderr, "heal: HEAL_SIMD=%s is above what this CPU supports; using %s\n", env,
                       simd_level_name(cpu));
        }
        env_lowered = static_cast<int>(*asked) < static_cast<int>(cpu);
        level = min_level(*asked, cpu);
      }
    }
    active.store(level, std::memory_order_relaxed);
  }
};

State& state() {
  static State s;
  return s;
}

}  // namespace

SimdLevel cpu_simd_level() { return state().cpu; }
bool cpu_has_ifma52() { return state().ifma; }
SimdLevel simd_level() { return state().active.load(std::memory_order_relaxed); }
bool simd_ifma() { return state().ifma && simd_level() == SimdLevel::kAvx512; }

SimdLevel set_simd_level(SimdLevel requested) {
  State& s = state();
  const SimdLevel level = min_level(requested, s.cpu);
  s.active.store(level, std::memory_order_relaxed);
  return level;
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

std::optional<SimdLevel> parse_simd_level(std::string_view name) {
  if (name == "scalar") return SimdLevel::kScalar;
  if (name == "avx2") return SimdLevel::kAvx2;
  if (name == "avx512") return SimdLevel::kAvx512;
  return std::nullopt;
}

std::string_view simd_description() {
  static thread_local std::string text;
  const State& s = state();
  const SimdLevel level = simd_level();
  text = simd_level_name(level);
  if (level == SimdLevel::kAvx512 && s.ifma) text += "+ifma";
  text += " (cpu: ";
  text += simd_level_name(s.cpu);
  if (s.ifma) text += "+ifma";
  if (level != s.cpu) text += s.env_lowered ? "; lowered by HEAL_SIMD" : "; lowered";
  text += ")";
  return text;
}

}  // namespace heal::math
